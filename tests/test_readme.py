"""The README is a short user guide: at most 250 lines, the two set-up commands exactly as
they are, the cost of the first said before it, and the smoke grid as the first thing to try."""

from __future__ import annotations

from pathlib import Path

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
SETUP = ("pip install -e . && frlbench run --all", 'pip install -e ".[test]" && pytest')


def test_readme_is_at_most_250_lines():
    assert len(README.splitlines()) <= 250


def test_quick_start_keeps_its_commands_with_their_cost_before_and_smoke_after():
    start = README.index("## Quick start")
    end = README.index("\n## ", start + 1)
    quick = README[start:end]
    first = quick.index(SETUP[0])
    assert SETUP[1] in quick
    assert "3 h 45 min on 2 quiet CPU cores" in quick[:first]
    assert "*estimate*" in quick[:first]  # the GPU figure is marked as an estimate
    smoke = quick.index("frlbench run --all --profile smoke")
    assert smoke > first and "not expected to have skill" in quick[smoke:]
