"""nncli: a command-line workbench for running and inspecting small neural networks."""

__version__ = "0.1.0"
