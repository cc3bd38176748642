"""``python -m frlbench.cli``: the ``frlbench`` command."""

from frlbench.cli import main

main()
