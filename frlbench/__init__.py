"""frlbench: does a forecasting model's error fall on finer grids, or stay anchored?"""

__version__ = "0.1.0"

#: Version of the benchmark itself: its tasks, their data and the evaluation protocol. Records
#: scored under different versions are never paired; every change that breaks comparability
#: raises it and is listed in docs/benchmark.md ("Changelog").
BENCHMARK_VERSION = 1
