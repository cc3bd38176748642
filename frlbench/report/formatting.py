"""How the leaderboard writes numbers: significant digits, intervals, units, table cells."""

from __future__ import annotations

import math

from frlbench.stats import BOTH, MISMATCH, NO_SKILL, SCALE_ANCHORING, SEEDS_ONLY

MISSING = "—"
TRUTH = "= truth"


def _sig(value: float, digits: int = 3) -> str:
    """``digits`` significant digits, trailing zeros kept but no bare trailing point."""
    text = f"{value:#.{digits}g}"
    return text[:-1] if text.endswith(".") else text


def fmt_num(value: float) -> str:
    """Three significant digits, trailing zeros kept (0.120, 1.03, 12.0, 320)."""
    return _sig(value) if math.isfinite(value) else MISSING


def _slope_digits(value: float, sign: str) -> str:
    """Two decimals, or two significant digits where two decimals would print 0.00.

    Below 1e-9 a value is rounding noise of a zero slope (a least-squares fit of constant
    RMSE) and prints as 0.00.
    """
    if abs(value) < 1e-9:
        value = 0.0
    if value == 0 or abs(value) >= 0.005:
        return f"{value:{sign}.2f}"
    return f"{value:{sign}.2g}"


def fmt_interval(mean: float, low: float, high: float, *, slope: bool = False) -> str:
    """``mean ± half-width`` (just the mean when there is no interval).

    Slopes read with two decimals (``-0.10 ± 0.08``); a slope or half-width that would print
    as 0.00 keeps two significant digits instead (``+0.0031 ± 0.0012``), so a label decided
    by a small but nonzero interval is not shown next to ``+0.00 ± 0.00``.
    """
    if not math.isfinite(mean):
        return MISSING
    text = _slope_digits(mean, "+") if slope else fmt_num(mean)
    half = (high - low) / 2
    if math.isfinite(half):
        text += f" ± {_slope_digits(half, '')}" if slope else f" ± {_sig(half, 2)}"
    return text


def fmt_slope(mean: float, low: float, high: float) -> str:
    """``mean [low, high]`` of a slope (just the mean when there is no interval).

    Bootstrap intervals need not be symmetric, hence both ends rather than ±. Two decimals,
    or two significant digits where two decimals would print 0.00.
    """
    if not math.isfinite(mean):
        return MISSING
    text = _slope_digits(mean, "+")
    if math.isfinite(low) and math.isfinite(high):
        text += f" [{_slope_digits(low, '+')}, {_slope_digits(high, '+')}]"
    return text


def fmt_skill(value: float) -> str:
    """Skill as a signed number: two decimals, two significant digits below 0.005 (-0.0031)."""
    return _slope_digits(value, "+") if math.isfinite(value) else MISSING


def fmt_label(row: dict) -> str:
    """The label, marked when its interval came from seeds only, with its mechanism where one
    is named (:func:`frlbench.stats.mechanism`; "both" spelled out)."""
    label = row["label"]
    if label != NO_SKILL and row.get("slope_interval") == SEEDS_ONLY:
        label = f"{label} ({SEEDS_ONLY})"
    named = row.get("mechanism") or ""
    if named in (MISMATCH, SCALE_ANCHORING):
        label = f"{label}: {named}"
    elif named == BOTH:
        label = f"{label}: {MISMATCH} and {SCALE_ANCHORING}"
    return label


def fmt_seconds(value: float) -> str:
    """A duration with a readable unit (s, ms, µs)."""
    if not math.isfinite(value):
        return MISSING
    for scale, unit in ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs")):
        if abs(value) >= scale:
            return f"{_sig(value / scale)} {unit}"
    return f"{_sig(value / 1e-9)} ns"


def fmt_count(value: float) -> str:
    """A parameter count (1.23M, 45.6k, 789)."""
    if not math.isfinite(value) or value <= 0:
        return MISSING
    for scale, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= scale:
            return f"{_sig(value / scale)}{unit}"
    return f"{int(value)}"


def fmt_ratio(value: float) -> str:
    """An overhead or speed-up factor (1.25×)."""
    return f"{_sig(value)}×" if math.isfinite(value) else MISSING


def fmt_resolution(text: object) -> str:
    """An equivalent resolution as the summary holds it (a number or "coarser/finer than ρ")."""
    if not isinstance(text, str) or not text:
        return MISSING
    try:
        return f"{float(text):.0f}"
    except ValueError:
        return text


def pair(off: str, frl: str) -> str:
    """``baseline → FRL`` cell."""
    return MISSING if off == frl == MISSING else f"{off} → {frl}"
