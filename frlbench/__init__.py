"""frlbench: does a forecasting model's error fall on finer grids, or stay anchored?"""

__version__ = "0.1.0"
