"""`nncli examples` (the shipped example configs) and `nncli check` (a spec checked the way
`train` would, without training).

The configs ship inside the package (nncli.resources), so both work after
`pipx install nncli`, from any folder.
"""

from __future__ import annotations

from pathlib import Path

import typer

from nncli.app import app
from nncli.commands.options import CONFIG, JSON, SET, draws


def _complete_name(incomplete: str) -> list[tuple[str, str]]:
    from nncli import resources

    return [(name, description) for name, _, description in resources.builtin_configs()
            if name.startswith(incomplete)]


# =========================================================================== examples

@app.command("examples")
@draws
def examples_cmd(
    names: list[str] | None = typer.Argument(None, metavar="[NAME]...", show_default=False,
                                             autocompletion=_complete_name,
                                             help="Only these configs (default: all)."),
    copy: Path | None = typer.Option(None, "--copy", metavar="DIR", show_default=False,
                                     help="Write the configs into DIR (created if needed) "
                                     "to edit them. Never overwrites: if a file is already "
                                     "there, nothing is written."),
    as_json: bool = JSON,
) -> None:
    """List the example configs that ship with nncli, or copy them out to edit.

    Every command that takes a CONFIG also takes one of these names, from any
    folder: `nncli train digits_cnn`. With --copy, a config's companion files
    come along (seed_conv_A.txt with seed_conv).

    [bold]Examples[/]

      nncli examples

      nncli examples digits_cnn seed_conv --copy my-configs
    """
    from nncli import resources
    from nncli.errors import InputError
    from nncli.options import suggest

    listed = resources.builtin_configs()
    known = [name for name, _, _ in listed]
    for name in names or []:
        if name not in known:
            raise InputError(f"NAME: no example config '{name}'{suggest(name, known)}; "
                             f"examples: {', '.join(known)}")
    chosen = [row for row in listed if not names or row[0] in names]
    copied = _copy(chosen, copy, everything=not names) if copy is not None else None
    if as_json:
        from nncli.output import write_json

        write_json({"schema": "nncli.examples/1",
                    "configs": [{"name": name, "description": description,
                                 "path": str(path)} for name, path, description in chosen],
                    "copied": [str(p) for p in copied] if copied is not None else None})
        return
    from nncli.render.examples import show_examples
    from nncli.render.tensor import console

    show_examples(chosen, copied, copy, console())


def _copy(chosen: list, folder: Path, everything: bool) -> list[Path]:
    """Write the chosen configs (and their companion files) into folder, all or nothing."""
    from nncli import resources
    from nncli.errors import InputError

    files = [path for _, path, _ in chosen]
    stems = {path.stem for path in files}
    files += [p for p in resources.shipped_config_files() if p.suffix not in
              resources.CONFIG_SUFFIXES and (everything or any(p.name.startswith(f"{s}_")
                                                               for s in stems))]
    if folder.exists() and not folder.is_dir():
        raise InputError(f"--copy: '{folder}' exists and is not a folder; choose another DIR")
    targets = [(source, folder / source.name) for source in sorted(files)]
    taken = [str(target) for _, target in targets if target.exists()]
    if taken:
        raise InputError(f"--copy: '{taken[0]}' already exists"
                         f"{f' (and {len(taken) - 1} more)' if len(taken) > 1 else ''}; "
                         f"nncli never overwrites: choose another DIR or move it away")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for source, target in targets:
            with open(target, "xb") as out:       # "x": fails rather than overwrite
                out.write(source.read_bytes())
    except OSError as err:
        raise InputError(f"--copy: cannot write '{err.filename or folder}': "
                         f"{err.strerror or err}; choose another DIR") from None
    return [target for _, target in targets]


# =========================================================================== check

@app.command("check")
@draws
def check_cmd(config: Path = CONFIG, overrides: list[str] = SET, as_json: bool = JSON) -> None:
    """Check a spec the way 'nncli train' would, without training.

    The model, the train: options and the data: section (the dataset is
    loaded and matched against the model) are all checked; the first problem
    is one line naming the file:line (or the --set argument) and the fix,
    with exit code 2. Nothing is written.

    [bold]Examples[/]

      nncli check configs/digits_cnn.yaml

      nncli check digits_cnn --set train.lr=0.01 --json
    """
    from nncli.validate import check_config

    report = check_config(config, overrides)
    if as_json:
        from nncli.output import write_json

        write_json(report)
        return
    from nncli.render.examples import show_check
    from nncli.render.tensor import console

    show_check(report, console())
