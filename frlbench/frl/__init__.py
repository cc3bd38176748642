"""Frequency Representation Learning: multi-resolution data, frequency encoding, spectral loss."""

from frlbench.frl import variants  # noqa: F401  (registers the FRL variants)
