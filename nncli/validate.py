"""Check a spec the way `nncli train` would, without training (`nncli check`, `summary`).

Training checks far more than the model: the `train:` options, the optimizer, the dataset
(it is loaded and matched against the model's input and output) and the memory a batch
needs. All of that happens when a Trainer is made, before its first step and before any
file is written, so the check makes one and stops there: it can never disagree with what
`train` would do.

Pure: no printing, no rich/typer.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from nncli.errors import InputError
from nncli.overrides import Override
from nncli.spec import Spec, load_spec

# A Trainer is given this as its run folder and never writes (new_run creates the folder
# after the Trainer exists); were that to change, writing here fails loudly.
_NO_RUN_DIR = Path(os.devnull)


def check_config(config: Path, overrides: Sequence[str | Override] = ()) -> dict:
    """Everything train checks, as a report (schema nncli.check/1); InputError at the first
    problem. A spec without data: and train: (one for forward/backward) checks its model."""
    spec = load_spec(_spec_file(Path(config)), overrides=overrides)
    model = spec.build()
    report: dict[str, Any] = {
        "schema": "nncli.check/1", "ok": True, "config": str(config), "name": spec.name,
        "overrides": list(dict.fromkeys(spec.overrides.values())),
        "model": {"layers": len(model.layers), "params": model.num_params(),
                  "input_shape": list(model.input_shape),
                  "output_shape": list(model.output_shape), "loss": model.loss_name},
        "trainable": False, "data": None, "train": None,
    }
    if "data" not in spec.raw and "train" not in spec.raw:
        return report
    trainer = _trainer(spec)
    data = trainer.data
    report["trainable"] = True
    report["data"] = {"source": _data_source(spec.raw.get("data")),
                      "samples": {name: len(data.split(name).x)
                                  for name in ("train", "val", "test")},
                      "sample_shape": list(data.train.x.shape[1:])}
    report["train"] = {"settings": _plain(trainer.settings),
                       "batches_per_epoch": trainer.batches_per_epoch()}
    return report


def _spec_file(config: Path) -> Path:
    """CONFIG's spec: the file itself, or a run folder's config.yaml."""
    if not config.is_dir():
        return config
    from nncli.train import CONFIG_FILE

    if not (config / CONFIG_FILE).is_file():
        raise InputError(f"CONFIG: '{config}' is a folder without {CONFIG_FILE}; pass a spec "
                         f"YAML, a run folder made by 'nncli train' or a built-in config's "
                         f"name")
    return config / CONFIG_FILE


def training_problem(spec: Spec) -> str | None:
    """What would stop `train` on this (already loaded, valid-model) spec, else None.
    Only for specs with data: or train:; others are not meant for training."""
    if "data" not in spec.raw and "train" not in spec.raw:
        return None
    try:
        _trainer(spec)
    except InputError as err:
        return str(err)
    return None


def _trainer(spec: Spec):
    from nncli.train import Trainer

    return Trainer(spec, _NO_RUN_DIR)


def _data_source(data: Any) -> str:
    if isinstance(data, dict):
        return str(data.get("name") or data.get("path") or data)
    return str(data)


def _plain(value: Any) -> Any:
    """Settings as JSON values (tuples become lists)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
