"""Which spec and weights a command means, and the model they make.

CONFIG is a spec file, a run folder made by `nncli train` (its config.yaml; the weights
default to its best.npz, else last.npz), or the name of a built-in example config
(`digits_cnn`, see `nncli examples`): a path that exists wins over a name. Weights that
carry a vocabulary (a text model's) size the spec's `vocab` layers, so a trained text model
loads without its training text. `overrides` (`--set train.lr=0.01`, nncli.overrides) are
applied to the spec before it is validated. The model is float64 as built, unless asked for
the dtype its weights were trained in (`trained_dtype`): eval, predict and report then
repeat training's numbers (a float32 run's val loss to the last digit).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nncli import resources
from nncli.checkpoint import parameters, read_weights, saved_epoch
from nncli.errors import InputError
from nncli.model import Model
from nncli.options import suggest
from nncli.overrides import Override
from nncli.spec import Spec, load_spec
from nncli.train import BEST, LAST
from nncli.train import CONFIG_FILE as RUN_CONFIG
from nncli.train_setup import training_dtype


@dataclass
class Loaded:
    spec: Spec
    model: Model
    weights: Path | None      # None: the spec's seeded initialisation
    epoch: int | None         # the epoch a training checkpoint was saved at
    vocab: Any                # nncli.text.vocab.Vocab of a text model's weights, else None

    @property
    def source(self) -> str:
        """'digits-cnn · weights runs/cnn/best.npz (epoch 13)', for a display's header."""
        if self.weights is None:
            return f"{self.spec.name} · seeded initial weights"
        epoch = f" (epoch {self.epoch})" if self.epoch is not None else ""
        return f"{self.spec.name} · weights {self.weights}{epoch}"


def config_path(config: str | Path, what: str = "CONFIG") -> Path:
    """CONFIG as a path: a file or folder that exists, else the built-in config of that name
    ('digits_cnn' or 'digits_cnn.yaml'), else an error that lists the built-in names."""
    path = Path(config)
    if path.exists():
        return path
    builtin = resources.builtin_config(str(config))
    if builtin is not None:
        return builtin
    names = resources.builtin_names()
    stem = resources.config_stem(path.name)
    raise InputError(f"{what}: '{config}' not found; pass a spec YAML, a run folder or the "
                     f"name of a built-in config{suggest(stem, names)}: "
                     f"{', '.join(names) or 'none installed'} (nncli examples)")


def resolve(config: Path, weights: Path | None, need_weights: bool,
            what: str = "CONFIG") -> tuple[Path, Path | None]:
    """(spec file, weights file or None) from CONFIG (a spec, a run folder or a built-in
    config's name) and --weights."""
    config = config_path(config, what)
    if config.is_dir():
        spec = config / RUN_CONFIG
        if not spec.is_file():
            raise InputError(f"{what}: '{config}' is a folder without {RUN_CONFIG}; pass a "
                             f"spec YAML or a run folder made by 'nncli train'")
        if weights is None:
            weights = next((config / n for n in (BEST, LAST) if (config / n).is_file()), None)
            if weights is None:
                raise InputError(f"--weights: the run folder '{config}' has no {BEST} or "
                                 f"{LAST} yet; train it first or pass --weights")
        return spec, weights
    if weights is None and need_weights:
        raise InputError(f"--weights: required with a spec file ({config}), e.g. --weights "
                         f"runs/NAME/best.npz; or pass the run folder instead")
    return config, weights


def trained_dtype(spec: Spec, run_folder: bool, params: dict[str, np.ndarray]) -> str:
    """The float type weights were trained in: a run folder's train.dtype (float64 for a
    run from before train.dtype existed), else the weights' own (a run saves float32
    weights only when it trained in float32; anything else counts as float64)."""
    if run_folder:
        return training_dtype(spec, run_folder=True)
    kinds = {a.dtype for a in params.values() if a.dtype.kind == "f"}
    return "float32" if kinds == {np.dtype(np.float32)} else "float64"


def load(config: Path, weights: Path | None = None, need_weights: bool = False,
         what: str = "CONFIG", overrides: Sequence[str | Override] = (),
         adjust: Callable[[Spec], None] | None = None,
         in_trained_dtype: bool = False) -> Loaded:
    """The model of CONFIG with its weights loaded (the weights file is read once).
    `adjust(spec)` may change the validated spec before the model is built (grad-trace's
    --steps sets its input length). in_trained_dtype: cast the model to the dtype its
    weights were trained in (trained_dtype), else float64."""
    adjust = adjust or (lambda spec: None)
    from nncli.text.vocab import VOCAB_KEY, Vocab

    spec_path, weights = resolve(config, weights, need_weights, what)
    if weights is None:
        spec = load_spec(spec_path, overrides=overrides)
        adjust(spec)
        return Loaded(spec, spec.build(), None, None, None)
    source = f"--weights {weights}"
    arrays = read_weights(weights, "--weights")
    vocab = Vocab.from_arrays(arrays, source) if VOCAB_KEY in arrays else None
    spec = load_spec(spec_path, vocab=vocab, overrides=overrides)
    adjust(spec)
    model = spec.build()
    params = parameters(arrays)
    if in_trained_dtype:
        model.astype(trained_dtype(spec, Path(config).is_dir(), params))
    model.load_state(params, source=source)
    return Loaded(spec, model, weights, saved_epoch(arrays), vocab)
