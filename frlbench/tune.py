"""``python -m frlbench.tune``: an alias of ``frlbench tune`` (:mod:`frlbench.tools.tune`)."""

from frlbench.tools.tune import main

if __name__ == "__main__":
    main()
