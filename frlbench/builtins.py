"""Importing this module registers every built-in component."""

from frlbench import data, frl, models, profiles  # noqa: F401
