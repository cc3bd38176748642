"""Evaluation: forecasters, the truth constructions, rollout, and the one ``evaluate``."""
