"""What a training run is made of, before the first step: the `train:` options (the common
ones and the chosen optimizer's), the optimizer itself, and the dataset checked against the
model and cast to the run's dtype once, so nothing is cast or checked inside the loop.
"""

from __future__ import annotations

from dataclasses import replace

from nncli import optim
from nncli.datasets import Dataset, Split, load_dataset
from nncli.model import Model
from nncli.options import Option, check_options, check_value
from nncli.spec import Spec

# The options of every optimizer; the chosen optimizer's own (optim/<name>.py OPTIONS) are
# added after `lr`, whose default is the optimizer's (LR). Documented in the README.
TRAIN_OPTIONS = {
    "epochs": Option("int>=1", 10, "epochs to train; also the horizon of the lr schedule"),
    "batch_size": Option("int>=1", 32, "samples per step (the last batch of an epoch may "
                         "be smaller)"),
    "optimizer": Option(optim.names(), optim.registry.DEFAULT, "the update rule"),
    "lr": Option("float>0", None, "learning rate"),
    "clip": Option("float>0?", None, "scale the gradients so their global norm is at most "
                   "this"),
    "schedule": Option(("constant", "step", "cosine"), "constant", "lr schedule over the "
                       "epochs"),
    "step_size": Option("int>=1", 10, "step: epochs between lr drops"),
    "gamma": Option("float>0", 0.1, "step: factor per drop"),
    "min_lr": Option("float>=0", 0.0, "cosine: the final lr"),
    "shuffle": Option("bool", True, "reshuffle the training set every epoch"),
    "dtype": Option(("float32", "float64"), "float32", "the float type of the weights, "
                    "data batches, optimizer state and checkpoints (float32 as torch: about "
                    "twice as fast)"),
}
# A run folder's config.yaml written before train.dtype existed trained in float64 (see
# resume_run); new runs always record the dtype.
LEGACY_DTYPE = "float64"


def training_dtype(spec: Spec, run_folder: bool = False) -> str:
    """The float type `nncli train` uses for this spec: train.dtype (float32 by default).
    A run folder's config.yaml without train.dtype is a run from before it existed, which
    trained in float64 (resume_run reads it so too). An invalid value is a file:line
    InputError."""
    given = spec.raw.get("train")
    if isinstance(given, dict) and "dtype" in given:
        entry = TRAIN_OPTIONS["dtype"]
        return check_value(spec, ("train", "dtype"), given["dtype"], entry.kind)
    return LEGACY_DTYPE if run_folder else TRAIN_OPTIONS["dtype"].default


def train_options(optimizer: str) -> dict[str, Option]:
    """The `train:` option table when `optimizer` is chosen: the common options with the
    optimizer's own after `lr`, and `lr` defaulting to the optimizer's LR."""
    cls = optim.get(optimizer)
    table: dict[str, Option] = {}
    for key, entry in TRAIN_OPTIONS.items():
        if key == "lr":
            table[key] = entry._replace(default=cls.LR)
            table.update(cls.OPTIONS)
        else:
            table[key] = entry
    return table


def train_settings(spec: Spec) -> dict:
    """The `train:` section with every default filled in, validated with file:line errors.
    An option of another optimizer is named as such: `train.betas: not an option of sgd
    (did you mean optimizer: adam?)`."""
    given = spec.raw.get("train") or {}
    if not isinstance(given, dict):
        raise spec.error(("train",), f"expected a mapping of training options, got {given!r}")
    entry = TRAIN_OPTIONS["optimizer"]
    name = check_value(spec, ("train", "optimizer"), given.get("optimizer", entry.default),
                       entry.kind)
    table = train_options(name)
    foreign = [key for key in given if key not in table and optim.having(key)]
    for key in foreign:
        fits = [other for other in optim.having(key)
                if all(k in train_options(other) for k in foreign)] or optim.having(key)
        raise spec.error(("train", key), f"not an option of {name} (did you mean optimizer: "
                         f"{fits[0]}?)")
    settings = check_options(spec, ("train",), given, table)
    clash = optim.get(name).check(settings)
    if clash is not None:
        raise spec.error(("train", clash[0]), clash[1])
    return settings


def make_optimizer(settings: dict) -> optim.Optimizer:
    """The optimizer a validated `train:` section names, with its options."""
    cls = optim.get(settings["optimizer"])
    return cls(**{key: settings[key] for key in cls.OPTIONS})


def load_data(spec: Spec, model: Model) -> Dataset:
    """The spec's dataset, checked against the model before any training step."""
    if "data" not in spec.raw:
        raise spec.error((), "no 'data:' section; name a dataset (e.g. 'data: digits') or a "
                         "file ('data: {path: mydata.npz}')")
    data = load_dataset(spec.raw["data"], spec.base_dir, spec.seed, spec)   # errors: file:line
    if data.train.x.shape[1:] != model.input_shape:
        raise spec.error(("data",), f"samples have shape {data.train.x.shape[1:]} but the "
                         f"model's input is {model.input_shape}; change 'input:' or the data")
    for name in ("train", "val", "test"):
        model.targets(data.split(name).y, what=f"{spec.where(('data',))}: {name} targets")
    return data


def in_dtype(data: Dataset, model: Model) -> Dataset:
    """The dataset as training uses it: inputs in the model's dtype, targets checked once
    and batched (model.targets) with float targets in that dtype too, so no batch is cast
    or checked again inside the loop."""
    def cast(split: Split) -> Split:
        y = model.targets(split.y)
        if y.dtype.kind == "f":
            y = y.astype(model.dtype, copy=False)
        return Split(split.x.astype(model.dtype, copy=False), y)

    return replace(data, train=cast(data.train), val=cast(data.val), test=cast(data.test))
