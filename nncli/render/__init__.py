"""Rendering with rich; no maths here. `tensor`: arrays as heatmap tables, statistics lines
and bars (used by every command); `trace` and `train`: those commands' result views.

Importing this package is free: numpy and rich load only with the modules that draw, so
commands can read display constants at import time without slowing `nncli --help`."""
