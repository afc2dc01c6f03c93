"""Rendering with rich: the last step of the one-way flow (cli -> commands -> core -> render).

No maths here: the core computes, a command hands the result to the view of its family
(`matrix`, `model`, `text`, `train` and `evaluate`, `trace`, `layers`, ...). `tensor` draws
arrays as heatmap tables, statistics lines and bars for all of them; `messages` the one-line
errors and warnings. Only this package imports rich (tests/test_layout.py checks it).

Importing this package is free: numpy and rich load only with the modules that draw, so
commands can read display constants at import time without slowing `nncli --help`."""
