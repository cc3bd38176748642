"""Configuration keys and the leaderboard's row order (shared by every aggregated frame)."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from frlbench.frl.variants import VARIANT_NAMES
from frlbench.report.evidence import PERSISTENCE, SOLVER

SECTION_KEYS = ["task", "profile"]
CONFIG_KEYS = [*SECTION_KEYS, "kind", "baseline", "frl"]
FRL_ORDER = VARIANT_NAMES
REFERENCE_ORDER = (PERSISTENCE, SOLVER)


def index_rows(frame: pd.DataFrame, keys: Sequence[str]) -> dict[tuple, dict]:
    """The rows of ``frame`` as dicts, by the tuple of their ``keys`` values."""
    return {tuple(row[k] for k in keys): row for row in frame.to_dict("records")}


def frl_rank(name: str) -> tuple[int, str]:
    """Sort key of an FRL variant: off, full, the known ablations, then others by name."""
    return (FRL_ORDER.index(name), "") if name in FRL_ORDER else (len(FRL_ORDER), name)


def config_rank(kind: str, baseline: str, frl: str) -> tuple:
    """Sort key of a configuration: models by baseline and variant, then the references."""
    if kind == "reference":
        ref = REFERENCE_ORDER.index(baseline) if baseline in REFERENCE_ORDER else 99
        return (1, ref, baseline, frl_rank(frl))
    return (0, 0, baseline, frl_rank(frl))


def sort_configs(frame: pd.DataFrame, extra: Sequence[str] = ()) -> pd.DataFrame:
    """Rows in leaderboard order: section, configuration rank, then the ``extra`` columns."""
    keys = [
        (
            row["task"],
            row["profile"],
            config_rank(row["kind"], row["baseline"], row["frl"]),
            *(row[c] for c in extra),
        )
        for row in frame.to_dict("records")
    ]
    order = sorted(range(len(keys)), key=keys.__getitem__)
    return frame.iloc[order].reset_index(drop=True)
