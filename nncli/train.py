"""Training as a generator of events: the CLI draws them, tests read them.

A run folder holds the resolved `config.yaml`, `metrics.jsonl` (one line per epoch), and
`last.npz` / `best.npz` checkpoints. Every file is replaced atomically. A checkpoint holds
the weights, the optimizer's state arrays, and in `meta` the epoch, the position inside the
epoch, the random state at the epoch's start, the partial sums of the epoch in progress, the
optimizer's step count and the whole metrics history: resuming from it replays exactly what
an uninterrupted run does. The optimizer (`train.optimizer`, nncli/optim/) brings its own
options, which sit beside the others in `train:`.
"""

from __future__ import annotations

import copy
import json
import math
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from nncli import allocator, kernels, threads
from nncli.budget import check_budget
from nncli.checkpoint import load_checkpoint, read_npz, save_checkpoint, saved_epoch
from nncli.engines.numpy_engine import NumpyEngine
from nncli.errors import InputError, RunFailed
from nncli.evaluation import evaluate, per_sample_weight, perplexity
from nncli.formatting import plural
from nncli.optim import scheduled_lr
from nncli.output import atomic_write
from nncli.spec import Spec, load_spec
from nncli.train_setup import (
    LEGACY_DTYPE,
    in_dtype,
    load_data,
    make_optimizer,
    train_settings,
)

CONFIG_FILE, METRICS_FILE, LAST, BEST = "config.yaml", "metrics.jsonl", "last.npz", "best.npz"
CONFIG_HEADER = "# nncli train: the spec of this run, every option resolved\n"
METRICS_SCHEMA = "nncli.train/1"   # the "schema" of every metrics line (nncli schema train)


@dataclass
class Started:
    run_dir: Path
    start_epoch: int
    stop_epoch: int
    batches: int
    resumed: bool


@dataclass
class BatchDone:
    epoch: int          # 1-based
    batch: int          # 1-based, out of `batches`
    batches: int
    loss: float         # mean loss per sample so far this epoch


@dataclass
class EpochDone:
    metrics: dict


@dataclass
class Interrupted:
    epoch: int
    batch: int
    checkpoint: Path


@dataclass
class Finished:
    history: list[dict]
    best: dict | None


class Trainer:
    """Owns one run: the model, data, optimiser, random state and run folder."""

    def __init__(self, spec: Spec, run_dir: Path, stop_epoch: int | None = None,
                 checkpoint: Path | None = None, thread_count: int | None = None,
                 engine: Callable | None = None) -> None:
        self.spec, self.run_dir = spec, Path(run_dir)
        self.settings = train_settings(spec)
        self.threads = threads.choose(thread_count)    # BLAS threads while run() runs
        kernels.name()                                 # a bad NNCLI_KERNELS: said here
        if stop_epoch is not None and stop_epoch < 1:
            raise InputError(f"--epochs: expected an integer >= 1, got {stop_epoch}")
        self.stop_epoch = stop_epoch or self.settings["epochs"]
        self.model = spec.build().astype(self.settings["dtype"])
        check_budget(self.model.activation_bytes(self.settings["batch_size"]),
                     spec.where(("train", "batch_size")),
                     f"a batch of {self.settings['batch_size']}", "use a smaller batch_size")
        self.data = in_dtype(load_data(spec, self.model), self.model)
        self.optim = make_optimizer(self.settings)
        check_budget(self.model.param_bytes(self.optim.slots),
                     spec.where(("train", "optimizer")),
                     f"training {self.model.num_params():,} parameters with "
                     f"{self.optim.name} ({self.optim.slots} state arrays per parameter)",
                     "use a smaller model or an optimizer that keeps less state")
        self.rng = np.random.default_rng([spec.seed, 1])      # shuffling only
        self.epoch, self.batch = 0, 0                         # position: next batch to run
        self.epoch_rng_state = self.rng.bit_generator.state
        self.partial: dict = {}
        self.history: list[dict] = []
        self.best: dict | None = None
        self.stop_requested = False
        self.saved_compute: dict | None = None     # how the checkpoint was computed
        if checkpoint is not None:
            self._restore(checkpoint)
        # What computes and applies the steps (nncli.engines), made from the model and
        # optimizer as initialised or resumed: engine(self); numpy's by default.
        self.engine = (engine or NumpyEngine)(self)

    # ---- state -----------------------------------------------------------------------
    def _restore(self, path: Path) -> None:
        params, optim_state, meta = load_checkpoint(path, what="--resume")
        source = f"--resume {path}"
        self.model.load_state(params, source=source)
        try:
            self.epoch, self.batch = meta["epoch"], meta["batch"]
            # Checkpoints from before the optimizer interface were SGD's and carry no step
            # count (SGD does not use it): the steps taken so far.
            saved = meta.get("optimizer") or {
                "name": "sgd", "step": self.epoch * self.batches_per_epoch() + self.batch}
            if saved["name"] != self.optim.name:
                raise InputError(f"{source}: the checkpoint holds the state of optimizer "
                                 f"{saved['name']}, but the run's {CONFIG_FILE} says "
                                 f"optimizer: {self.optim.name}")
            self.optim.load_state(optim_state, {"step": saved["step"]},
                                  self.model.named_params(), source)
            self.epoch_rng_state = meta["epoch_rng"]
            self.rng.bit_generator.state = meta["epoch_rng"]
            self.partial, self.history, self.best = (meta["partial"], meta["history"],
                                                     meta["best"])
            self.saved_compute = meta.get("compute")       # None before it was saved
        except (KeyError, TypeError, ValueError) as err:
            raise InputError(f"--resume: '{path}' has an incomplete meta record ({err!r}); "
                             f"it was not written by 'nncli train'") from None

    def _save(self, path: Path) -> None:
        if not self.engine.writes:          # under torchrun, rank 0 writes the run folder
            return
        self.engine.sync()                  # the engine's weights and optimizer state
        meta = {"epoch": self.epoch, "batch": self.batch, "epoch_rng": self.epoch_rng_state,
                "partial": self.partial, "history": self.history, "best": self.best,
                "model": self.spec.name,
                "optimizer": {"name": self.optim.name, **self.optim.scalars()},
                "compute": self._compute()}
        vocab = self.data.vocab.arrays() if self.data.vocab is not None else None
        save_checkpoint(path, self.model.named_params(), self.optim.state(), meta, vocab)

    def _compute(self) -> dict:
        """What the step results depend on besides the run's files: the engine and its thread
        count (None: the library's default), since BLAS splits a product differently for
        another count; and for nncli's own float32 layers, what computes tanh, sigmoid and
        per-id sums (nncli.kernels: 'compiled' or 'numpy'). Each changes the last bits."""
        compute = {"engine": self.engine.name, "threads": self.threads.threads}
        if self.engine.name == "numpy" and self.settings["dtype"] == "float32":
            compute["kernels"] = kernels.name()
        return compute

    def resume_difference(self) -> str | None:
        """Why this resumed run will not go on bit for bit as an unbroken one would (another
        engine, thread count or kernels than the checkpoint's), or None."""
        saved, now = self.saved_compute, self._compute()
        if saved is None:
            return None
        if "kernels" in now:                 # checkpoints from before it was recorded: numpy
            saved = {"kernels": "numpy", **saved}
        if saved == now:
            return None

        other_kernels = saved.get("kernels") != now.get("kernels")

        def said(c: dict) -> str:
            count = c.get("threads")
            threads = ("the library's default threads" if count is None
                       else plural(count, "thread"))
            named = f" and {c.get('kernels', 'no')} kernels" if other_kernels else ""
            return f"the {c.get('engine')} engine with {threads}{named}"

        if saved.get("engine") != now["engine"]:
            fixes = [f"--engine {saved.get('engine')}"]
        else:
            fixes = [f"--threads {saved.get('threads') or 0}"] \
                if saved.get("threads") != now["threads"] else []
            if other_kernels:
                fixes.append(f"{kernels.ENV}=numpy" if saved.get("kernels") == "numpy" else
                             "nncli's compiled kernels (install it where a C compiler is)")
        return (f"this run was trained with {said(saved)} and resumes with {said(now)}: "
                f"from here its results differ in the last bits from an unbroken run's; "
                f"resume with {' and '.join(fixes)} to continue it bit for bit")

    def _write_metrics(self) -> None:
        if not self.engine.writes:
            return
        atomic_write(self.run_dir / METRICS_FILE, self._metrics_text())

    def _metrics_text(self) -> str:
        return "".join(_json_line(metrics_record(m)) for m in self.history)

    def repair(self) -> list[str]:
        """Bring a resumed run's other files in line with last.npz, after a kill (even
        SIGKILL) between the atomic writes at an epoch's end: metrics.jsonl is rewritten
        from the checkpoint's history, best.npz re-saved if it lags behind the best epoch,
        and temporary files of interrupted writes are removed. Returns what was repaired."""
        repaired = []
        for tmp in self.run_dir.glob(".*.tmp"):
            if tmp.name.split(".")[1] in ("last", "best", "metrics", "config"):
                tmp.unlink(missing_ok=True)
                repaired.append(f"removed {tmp.name}")
        metrics = self.run_dir / METRICS_FILE
        try:
            current = metrics.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            current = None
        if current != self._metrics_text() and (self.history or current is not None):
            self._write_metrics()
            repaired.append(f"rewrote {METRICS_FILE}")
        if (self.best is not None and self.best["epoch"] == self.epoch and self.batch == 0
                and _checkpoint_epoch(self.run_dir / BEST) != self.epoch):
            self._save(self.run_dir / BEST)       # last.npz holds exactly the best weights
            repaired.append(f"re-saved {BEST}")
        return repaired

    def request_stop(self) -> None:
        """Ask the loop to stop after the current batch (the CLI's Ctrl-C handler)."""
        self.stop_requested = True

    # ---- the loop --------------------------------------------------------------------
    def batches_per_epoch(self) -> int:
        return math.ceil(len(self.data.train.x) / self.settings["batch_size"])

    def run(self) -> Iterator:
        allocator.keep_freed_memory()       # every batch allocates the same arrays again
        with threads.limited(self.threads):
            yield from self._run()

    def _run(self) -> Iterator:
        s, train = self.settings, self.data.train
        n, nb = len(train.x), self.batches_per_epoch()
        yield Started(self.run_dir, self.epoch, self.stop_epoch, nb, bool(self.history))
        while self.epoch < self.stop_epoch:
            lr = scheduled_lr(s["lr"], self.epoch, s["schedule"], s["epochs"], s["step_size"],
                              s["gamma"], s["min_lr"])
            if self.batch == 0:
                self.epoch_rng_state = self.rng.bit_generator.state
                self.partial = {"loss": 0.0, "correct": 0, "count": 0, "labels": 0,
                                "norms": [0.0] * len(self.model.layers), "seconds": 0.0}
            else:
                self.rng.bit_generator.state = self.epoch_rng_state
            order = self.rng.permutation(n) if s["shuffle"] else np.arange(n)
            p = self.partial
            while self.batch < nb:
                started = time.perf_counter()
                idx = order[self.batch * s["batch_size"]:(self.batch + 1) * s["batch_size"]]
                self._step(idx, lr)
                self.batch += 1
                p["seconds"] += time.perf_counter() - started
                yield BatchDone(self.epoch + 1, self.batch, nb, p["loss"] / p["count"])
                if self.batch < nb and self.engine.any_rank(self.stop_requested):
                    self._save(self.run_dir / LAST)
                    yield Interrupted(self.epoch + 1, self.batch, self.run_dir / LAST)
                    return
            metrics = self._end_epoch(lr)
            yield EpochDone(metrics)
            if self.epoch < self.stop_epoch and self.engine.any_rank(self.stop_requested):
                yield Interrupted(self.epoch, 0, self.run_dir / LAST)
                return
        yield Finished(self.history, self.best)

    def _step(self, idx: np.ndarray, lr: float) -> None:
        model, p = self.model, self.partial
        step = self.engine.gradients(self.data.train, idx)
        loss, squares = step.loss, step.squares
        norms = [math.sqrt(s) for s in squares]           # per layer, for the epoch table
        total = math.sqrt(sum(squares))                   # the global norm, from the same sums
        if not math.isfinite(loss) or not math.isfinite(total):
            what = "loss" if not math.isfinite(loss) else "gradient"
            raise RunFailed(
                f"training diverged at epoch {self.epoch + 1}, batch {self.batch + 1}: the "
                f"{what} is {loss if what == 'loss' else 'not finite'}; lower train.lr (now "
                f"{lr:g}) or set train.clip; {self._last_good()}")
        self.engine.update(lr, self.settings["clip"], total)
        p["loss"] += loss * per_sample_weight(model, len(idx))
        p["count"] += len(idx)
        p["norms"] = [a + b for a, b in zip(p["norms"], norms, strict=True)]
        p["correct"] += step.correct
        p["labels"] += step.labels

    def _last_good(self) -> str:
        last = self.run_dir / LAST
        return (f"the last good checkpoint is {last}" if last.is_file()
                else "no checkpoint was saved yet")

    def _end_epoch(self, lr: float) -> dict:
        p, nb = self.partial, self.batches_per_epoch()
        self.epoch, self.batch = self.epoch + 1, 0
        self.epoch_rng_state = self.rng.bit_generator.state   # where the next epoch starts
        metrics = {"epoch": self.epoch, "train_loss": p["loss"] / p["count"]}
        if p["labels"]:
            metrics["train_accuracy"] = p["correct"] / p["labels"]
        train_ppl = perplexity(self.model, metrics["train_loss"])
        if train_ppl is not None:
            metrics["train_perplexity"] = train_ppl
        val = evaluate(self.model, self.data.val, loss_of=self.engine.loss_of)
        metrics["val_loss"] = val["loss"]
        if "accuracy" in val:
            metrics["val_accuracy"] = val["accuracy"]
        if "perplexity" in val:
            metrics["val_perplexity"] = val["perplexity"]
        metrics["optimizer"] = self.optim.name
        metrics["lr"] = lr
        metrics["seconds"] = round(p["seconds"], 4)
        metrics["grad_norms"] = {f"{i}.{layer.kind}": p["norms"][i] / nb
                                 for i, layer in enumerate(self.model.layers) if layer.params}
        if metrics["val_loss"] is not None and not math.isfinite(metrics["val_loss"]):
            raise RunFailed(               # the last step's update blew the weights up
                f"training diverged in epoch {self.epoch}: the validation loss is "
                f"{metrics['val_loss']}; lower train.lr (now {lr:g}) or set train.clip; "
                f"{self._last_good()}")
        self.history.append(metrics)
        score = metrics["val_loss"] if metrics["val_loss"] is not None else metrics["train_loss"]
        improved = self.best is None or score < self.best["score"]
        if improved:
            self.best = {"epoch": self.epoch, "score": score}
        self._save(self.run_dir / LAST)
        if improved:
            self._save(self.run_dir / BEST)
        self._write_metrics()
        return metrics


def _json_line(obj: dict) -> str:
    return json.dumps(obj) + "\n"


def metrics_record(metrics: dict) -> dict:
    """One epoch's metrics as printed by --json and stored in metrics.jsonl."""
    return {"schema": METRICS_SCHEMA, **metrics}


def _checkpoint_epoch(path: Path) -> int | None:
    try:
        return saved_epoch(read_npz(path, "checkpoint"))
    except InputError:
        return None


# ---- starting and resuming runs ---------------------------------------------------------
def new_run(config: Path, out: Path | None, stop_epoch: int | None = None,
            runs_root: Path = Path("runs"), overrides: Sequence = (),
            thread_count: int | None = None, engine: Callable | None = None) -> Trainer:
    """Validate everything, then create the run folder and write the resolved config
    (with the --set overrides, nncli.overrides, applied). thread_count: --threads;
    engine: see Trainer."""
    spec = load_spec(config, overrides=overrides)
    settings = train_settings(spec)
    if out is not None and out.exists() and any(out.iterdir()):
        raise InputError(f"--out: '{out}' already exists and is not empty; nncli never "
                         f"overwrites a run (use --resume {out} to continue it, or another "
                         f"--out)")
    run_dir = out or _fresh_dir(runs_root, spec.name)
    trainer = Trainer(spec, run_dir, stop_epoch,    # loads and checks data: may raise
                      thread_count=thread_count, engine=engine)
    if not trainer.engine.writes:       # under torchrun, rank 0 makes the run folder
        return trainer
    resolved = copy.deepcopy(spec.raw)
    resolved["train"] = settings
    data = resolved.get("data")
    if isinstance(data, dict) and "path" in data:   # checked by Trainer: a file name
        data["path"] = str((spec.base_dir / Path(data["path"]).expanduser()).resolve())
    trainer.run_dir = run_dir = _make_run_dir(out, runs_root, spec.name)
    atomic_write(run_dir / CONFIG_FILE,
                 CONFIG_HEADER + yaml.safe_dump(resolved, sort_keys=False))
    trainer.spec = load_spec(run_dir / CONFIG_FILE)
    return trainer


def resume_run(run_dir: Path, stop_epoch: int | None = None,
               thread_count: int | None = None, engine: Callable | None = None) -> Trainer:
    """Continue the run in run_dir from last.npz; a run stopped before its first checkpoint
    (config.yaml but no last.npz yet) starts again from epoch 0."""
    run_dir = Path(run_dir)
    last = run_dir / LAST
    if not (run_dir / CONFIG_FILE).is_file() or not (last.is_file() or _made_by_train(run_dir)):
        raise InputError(f"--resume: '{run_dir}' is not an nncli run folder (it needs "
                         f"{CONFIG_FILE} and {LAST}); pass the folder 'nncli train' printed")
    spec = load_spec(run_dir / CONFIG_FILE)
    given = spec.raw.get("train")
    if isinstance(given, dict) and "dtype" not in given:
        given["dtype"] = LEGACY_DTYPE         # a run from before train.dtype: float64 as then
    trainer = Trainer(spec, run_dir, stop_epoch, last if last.is_file() else None,
                      thread_count, engine)
    if trainer.engine.writes:
        trainer.repair()
    return trainer


def _made_by_train(run_dir: Path) -> bool:
    """Was run_dir's config.yaml written by new_run (a run stopped before its first
    checkpoint), rather than by hand?"""
    try:
        with open(run_dir / CONFIG_FILE, encoding="utf-8") as f:
            return f.readline() == CONFIG_HEADER
    except (OSError, UnicodeDecodeError):
        return False


def _fresh_dir(root: Path, name: str) -> Path:
    """runs/<name>-<date>-<time>[-k], named after the spec's name made safe as one folder
    name (no '/', '..' or control characters: a run is never written outside `root`)."""
    slug = re.sub(r"[^\w.+-]+", "-", name).strip(".-")[:60] or "run"
    stamp = time.strftime("%Y%m%d-%H%M%S")
    candidate, k = root / f"{slug}-{stamp}", 1
    while candidate.exists():
        k += 1
        candidate = root / f"{slug}-{stamp}-{k}"
    return candidate


def _make_run_dir(out: Path | None, root: Path, name: str) -> Path:
    """Create the run folder: --out (missing or empty), else a fresh runs/<name>-<time>,
    created exclusively: if another run took the name meanwhile, the next free one is used,
    so no run ever writes into another's folder."""
    while True:
        run_dir = out if out is not None else _fresh_dir(root, name)
        try:
            run_dir.mkdir(parents=True, exist_ok=out is not None)
            return run_dir
        except FileExistsError:
            if out is not None:
                raise InputError(f"--out: '{out}' exists and is not a folder; choose another "
                                 f"--out") from None
        except OSError as err:
            raise InputError(f"--out: cannot create the run folder '{run_dir}': "
                             f"{err.strerror or err}") from None
