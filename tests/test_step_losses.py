"""The training step computes the losses it computed before it was made faster (to 1e-6)."""

from __future__ import annotations

import json
import math

import pytest

from tests.step_losses import FIXTURE, cases, step_losses

STORED = json.loads(FIXTURE.read_text())
# The default suite checks the families and variants whose step was changed most; -m slow all.
FAST = {("periodic3d", "fno", "full"), ("periodic3d", "unet", "full"), ("latlon2d", "cnn", "full")}


def _params():
    for case in cases():
        marks = () if case in FAST else (pytest.mark.slow,)
        yield pytest.param(*case, marks=marks, id="/".join(case))


def test_fixture_covers_every_case():
    assert sorted(STORED) == sorted("/".join(c) for c in cases())


@pytest.mark.parametrize(("grid", "backbone", "variant"), _params())
def test_step_losses_match_the_stored_ones(grid, backbone, variant):
    expected = STORED[f"{grid}/{backbone}/{variant}"]
    got = step_losses(grid, backbone, variant)
    assert len(got) == len(expected)
    for step, (g, e) in enumerate(zip(got, expected, strict=True)):
        assert sorted(g) == sorted(e), f"step {step}: terms {sorted(g)} vs {sorted(e)}"
        for key, value in e.items():
            assert math.isclose(g[key], value, rel_tol=1e-6, abs_tol=1e-9), (
                f"step {step} {key}: {g[key]!r} vs stored {value!r}"
            )
