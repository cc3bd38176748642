"""What a leaderboard section says about its profile before its verdict."""

from __future__ import annotations


def skill_note(profile: str) -> str:
    """A sentence for a profile whose models are not trained to skill (``smoke``), else ``""``.

    An unknown profile (records of another catalog) is taken to train to skill.
    """
    import frlbench.profiles  # noqa: F401  (registers the built-in profiles)
    from frlbench.registry import PROFILES

    if profile not in PROFILES.list() or PROFILES.get(profile).expects_skill:
        return ""
    return (
        f"{profile} profile: a few optimizer steps per run on tiny grids, so its models are not "
        "expected to have skill (it checks that everything runs; the quick profile is the "
        "benchmark). "
    )
