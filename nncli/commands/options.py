"""The command-line options several commands share, declared once.

Every command that takes a model uses the same CONFIG argument, `--weights/-w`,
`--input/-x`, `--target/-y`, `--out/-o`, `--length/-n`, `--json` and `--full` (where they
apply): the same flags, the same metavar and the same help text, so `-w` works wherever
`--weights` does. A command whose option means a little more (a default, a shape) adds
one sentence with `extra=`; `--out` names what the command writes. New shared options go
here too.

CONFIG also takes the name of a built-in example config (`nncli train digits_cnn`): its
callback turns a name into the shipped file's path, so a command sees a path either way.
`--set PATH=VALUE` (SET) overrides a value of the spec on every command that takes one.
The completion functions (`complete_config`, `complete_layer`, `complete_set`) serve the
shell completion that `nncli --install-completion` sets up.

Each function returns a fresh typer declaration to use as a parameter's default:

    def forward_cmd(config: Path = CONFIG, weights: Path | None = WEIGHTS, ...)

Nothing here imports more than typer, so `nncli --help` stays fast.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer

CONFIG_HELP = ("A model spec (YAML), e.g. configs/seed_rnn.yaml, a run folder made by "
               "'nncli train' (its config.yaml, with the weights in its best.npz, else "
               "last.npz), or a built-in config's name, e.g. digits_cnn (nncli examples).")
SET_HELP = ("Override a value of the spec: PATH=VALUE, a dotted path (list entries by "
            "number) and a YAML value, e.g. --set train.lr=0.01 or --set "
            "layers.0.conv.filters=8. Repeatable.")
WEIGHTS_HELP = ("Weights (.npz or .safetensors) from 'nncli init', 'nncli train' or 'nncli "
                "export'. Default: a run folder's best.npz, else last.npz; with a spec "
                "file, its seeded initial weights where the command can use them.")
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
                          show_default=False, help=_help(help, extra),
                          callback=_config_path, autocompletion=complete_config)


def _config_path(value):
    """A path that exists, else a built-in config's file, else the error listing them."""
    if value is None:
        return None
    from nncli.loading import config_path

    return config_path(value)


def set_option() -> Any:
    """--set PATH=VALUE, repeatable: overrides applied to the spec before it is checked."""
    return typer.Option([], "--set", metavar="PATH=VALUE", show_default=False,
                        help=SET_HELP, autocompletion=complete_set)


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


FULL_HELP = ("Show every value: no rows, columns or maps cut (wide tables continue in "
             "blocks below). Without it, a note says what was cut.")


def full_option(extra: str = "") -> Any:
    """--full: tables and heatmaps uncut (forward, backward, conv, pool, eval)."""
    return typer.Option(False, "--full", help=_help(FULL_HELP, extra))


def length_option(default: int, extra: str = "") -> Any:
    """--length/-n N: how many tokens (or steps) to produce."""
    return typer.Option(default, "--length", "-n", metavar="N", help=_help(LENGTH_HELP, extra))


# ---- --save FILE: any view as a picture --------------------------------------------------

SAVE_HELP = ("Also write what the command shows to FILE: .svg (a picture), .html (a web "
             "page) or .txt, with the colours. Never overwrites without --force.")
FORCE_HELP = "Let --save overwrite FILE."


def draws(command: Callable[..., Any]) -> Callable[..., Any]:
    """Give a command that draws `--save FILE` and `--force`; put it under @app.command.

    The command's own parameters stay as they are; `--save` runs it inside
    nncli.render.recording.saving, which checks FILE first and writes it at the end, so
    every command saves the same way. `--save` with `--json` is refused (JSON is no
    picture)."""
    import functools
    import inspect
    from pathlib import Path

    @functools.wraps(command)
    def run(*args: Any, save_context: typer.Context, save: Path | None = None,
            force: bool = False, **kwargs: Any) -> Any:
        if save is None:
            return command(*args, **kwargs)
        from nncli.errors import InputError
        from nncli.render.recording import saving

        if kwargs.get("as_json"):
            raise InputError("--save: --json prints no picture to save; drop one of them")
        with saving(save, force, save_context.command_path):
            return command(*args, **kwargs)

    own = inspect.signature(command, eval_str=True)
    added = [inspect.Parameter("save", inspect.Parameter.KEYWORD_ONLY, annotation=Path | None,
                               default=typer.Option(None, "--save", metavar="FILE",
                                                    show_default=False, help=SAVE_HELP)),
             inspect.Parameter("force", inspect.Parameter.KEYWORD_ONLY, annotation=bool,
                               default=typer.Option(False, "--force", help=FORCE_HELP)),
             inspect.Parameter("save_context", inspect.Parameter.KEYWORD_ONLY,
                               annotation=typer.Context)]
    params = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own.parameters.values()]
    run.__signature__ = own.replace(parameters=params + added)      # type: ignore[attr-defined]
    run.__annotations__ = {p.name: p.annotation for p in params + added}
    return run


# ---- shell completion (run by the shell's completion script, never by a command) ----------

def complete_config(incomplete: str) -> list[tuple[str, str]]:
    """Built-in config names, then spec files (.yaml) and folders matching what is typed."""
    from nncli import resources

    found = [(name, description) for name, _, description in resources.builtin_configs()
             if name.startswith(incomplete)]
    return found + [(path, "") for path in _paths(incomplete, (".yaml", ".yml"))]


def _paths(incomplete: str, suffixes: tuple[str, ...]) -> list[str]:
    from pathlib import Path

    folder, slash, prefix = incomplete.rpartition("/")
    base = Path(folder or ("/" if slash else ".")).expanduser()
    try:
        entries = sorted(base.iterdir())
    except OSError:
        return []
    out = []
    for entry in entries:
        if not entry.name.startswith(prefix) or (entry.name.startswith(".")
                                                 and not prefix.startswith(".")):
            continue
        shown = f"{folder}{slash}{entry.name}"
        if entry.is_dir():
            out.append(shown + "/")
        elif entry.suffix in suffixes:
            out.append(shown)
    return out


def complete_layer(incomplete: str) -> list[tuple[str, str]]:
    """Layer names from the layer registry, with their one-line summaries."""
    from nncli.layers import registry

    return [(kind, registry.get(kind).summary) for kind in registry.kinds()
            if kind.startswith(incomplete)]


def complete_set(incomplete: str) -> list[str]:
    """--set paths: the spec's top-level keys and the train: options, each with '='."""
    from nncli.spec import TOP_KEYS
    from nncli.train_setup import TRAIN_OPTIONS

    paths = [f"{key}=" for key in TOP_KEYS if key not in ("layers", "train")]
    paths += ["layers.0."] + [f"train.{option}=" for option in TRAIN_OPTIONS]
    return [path for path in paths if path.startswith(incomplete)]


# The common forms, for `param: type = NAME`.
CONFIG = config_argument()
WEIGHTS = weights_option()
INPUT = input_option()
TARGET = target_option()
JSON = json_option()
SET = set_option()
FULL = full_option()
