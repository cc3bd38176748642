"""asv benchmarks of frlbench (see asv.conf.json at the repository root)."""
