"""The command-line options several commands share, declared once.

Every command that takes a model uses the same CONFIG argument, `--weights/-w`,
`--input/-x`, `--target/-y`, `--out/-o`, `--length/-n` and `--json`: the same flags, the
same metavar and the same help text, so `-w` works wherever `--weights` does. A command
whose option means a little more (a default, a shape) adds one sentence with `extra=`;
`--out` names what the command writes. New shared options go here too.

Each function returns a fresh typer declaration to use as a parameter's default:

    def forward_cmd(config: Path = CONFIG, weights: Path | None = WEIGHTS, ...)

Nothing here imports more than typer, so `nncli --help` stays fast.
"""

from __future__ import annotations

from typing import Any

import typer

CONFIG_HELP = ("A model spec (YAML), e.g. configs/seed_rnn.yaml, or a run folder made by "
               "'nncli train' (its config.yaml, with the weights in its best.npz, else "
               "last.npz).")
WEIGHTS_HELP = ("Weights or a checkpoint (.npz), as 'nncli init' and 'nncli train' write "
                "them. Default: a run folder's best.npz, else last.npz; with a spec file, "
                "the spec's seeded initial weights where the command can use them.")
INPUT_HELP = ('One sample or a batch: inline "1 0; 0 1", JSON, a file (.txt .csv .npy '
              ".npz[:key] .json) or - for stdin.")
TARGET_HELP = ("Targets in the same forms as --input: class labels for cross_entropy, "
               "values shaped like the output for mse.")
JSON_HELP = "Print plain JSON on stdout instead of tables."
LENGTH_HELP = "Tokens to add (characters or words, as the model reads)."


def _help(base: str, extra: str) -> str:
    return f"{base} {extra}" if extra else base


def config_argument(required: bool = True, help: str = CONFIG_HELP, extra: str = "") -> Any:
    """CONFIG: a spec or a run folder (`required=False`: the command has a default)."""
    return typer.Argument(... if required else None,
                          metavar="CONFIG" if required else "[CONFIG]",
                          show_default=False, help=_help(help, extra))


def weights_option(extra: str = "", help: str = WEIGHTS_HELP) -> Any:
    """--weights/-w FILE (a list annotation makes it repeatable)."""
    return typer.Option(None, "--weights", "-w", metavar="FILE", show_default=False,
                        help=_help(help, extra))


def input_option(required: bool = True, extra: str = "") -> Any:
    """--input/-x X: a sample or a batch, in any form nncli.io reads."""
    return typer.Option(... if required else None, "--input", "-x", metavar="X",
                        show_default=False, help=_help(INPUT_HELP, extra))


def target_option(required: bool = True, extra: str = "") -> Any:
    """--target/-y Y: the targets for a loss, in the same forms as --input."""
    return typer.Option(... if required else None, "--target", "-y", metavar="Y",
                        show_default=False, help=_help(TARGET_HELP, extra))


def out_option(help: str, required: bool = False, metavar: str = "PATH") -> Any:
    """--out/-o: `help` says what the command writes there."""
    return typer.Option(... if required else None, "--out", "-o", metavar=metavar,
                        show_default=False, help=help)


def json_option(extra: str = "") -> Any:
    """--json: plain JSON on stdout (each object names its schema, see `nncli schema`)."""
    return typer.Option(False, "--json", help=_help(JSON_HELP, extra))


def length_option(default: int, extra: str = "") -> Any:
    """--length/-n N: how many tokens (or steps) to produce."""
    return typer.Option(default, "--length", "-n", metavar="N", help=_help(LENGTH_HELP, extra))


# The common forms, for `param: type = NAME`.
CONFIG = config_argument()
WEIGHTS = weights_option()
INPUT = input_option()
TARGET = target_option()
JSON = json_option()
