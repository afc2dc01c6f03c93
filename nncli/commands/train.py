"""`nncli train`, `nncli eval`, `nncli predict`: the training core (nncli.train) driven from
the command line.

`train` walks the Trainer's events and draws them: a progress bar per epoch, a table that
gains a row per epoch, then a summary, a loss chart and the commands to go on. With --json
the epoch records go to stdout (JSON Lines, the same lines as the run's metrics.jsonl) and
the drawing to stderr. Ctrl-C asks the trainer to stop after the current batch (it saves
last.npz with its position in the epoch); a second Ctrl-C stops at once.
numpy and rich are imported inside the functions so `nncli --help` stays fast.
"""

from __future__ import annotations

import functools
import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from nncli.app import EXIT_INTERRUPTED, app, warning_line
from nncli.commands.options import (
    CONFIG,
    JSON,
    SET,
    WEIGHTS,
    config_argument,
    draws,
    full_option,
    input_option,
    json_option,
    out_option,
)
from nncli.errors import InputError, check_int

if TYPE_CHECKING:

    from nncli.train import Trainer

SPLITS = ("test", "val", "train")
ERRORS_LIMIT = 20       # misclassified samples eval --errors lists by default


# =========================================================================== train

@app.command()
@draws
def train(
    config: Path | None = config_argument(required=False, help="Model spec (YAML) with "
                                          "data: and train: sections, or a built-in "
                                          "config's name, e.g. digits_cnn (nncli examples)."),
    resume: Path | None = typer.Option(None, "--resume", metavar="RUN_DIR",
                                       help="Continue the run in RUN_DIR from its last.npz "
                                       "(instead of CONFIG)."),
    out: Path | None = out_option("Run folder to create (must not exist or be empty). "
                                  "Default: runs/<name>-<date>-<time>.", metavar="DIR"),
    epochs: int | None = typer.Option(None, "--epochs", metavar="N",
                                      help="Train until epoch N in total (default: the "
                                      "spec's train.epochs). The lr schedule still spans "
                                      "train.epochs, so stopping and resuming changes "
                                      "nothing."),
    overrides: list[str] = SET,
    lr: float | None = typer.Option(None, "--lr", metavar="LR", show_default=False,
                                    help="Learning rate: --set train.lr=LR."),
    batch_size: int | None = typer.Option(None, "--batch-size", metavar="N",
                                          show_default=False,
                                          help="Samples per step: --set train.batch_size=N."),
    seed: int | None = typer.Option(None, "--seed", metavar="S", show_default=False,
                                    help="Seed of the initial weights and the data: --set "
                                    "seed=S."),
    dtype: str | None = typer.Option(None, "--dtype", metavar="float32|float64",
                                     show_default=False,
                                     help="Float type of weights, data and optimizer state: "
                                     "--set train.dtype=..."),
    threads: int | None = typer.Option(None, "--threads", metavar="N", show_default=False,
                                       help="BLAS threads while training (default 1, or "
                                       "NNCLI_THREADS; 0: the library's default, all "
                                       "cores). Not stored: a resumed run takes it again."),
    engine: str = typer.Option("numpy", "--engine", metavar="numpy|torch",
                               help="What computes the steps: nncli's own layers, or "
                               "PyTorch (pip install \"nncli[torch]\"). Not stored: a run "
                               "resumes with either."),
    device: str = typer.Option("cpu", "--device", metavar="cpu|cuda|mps",
                               help="With --engine torch: the device it trains on."),
    as_json: bool = json_option(extra="One object per epoch (JSON Lines); the display goes "
                                "to stderr."),
) -> None:
    """Train a network with the spec's optimizer and watch it learn, epoch by epoch.

    The run folder gets config.yaml (every option resolved), metrics.jsonl
    (one line per epoch), last.npz (weights, optimiser state and position:
    resumable) and best.npz (the epoch with the lowest validation loss).
    Every file is replaced atomically.

    [bold]--epochs N[/] means "until epoch N in total", also with --resume.
    The lr schedule always spans the spec's train.epochs, so training 3
    epochs and resuming to 5 gives exactly the weights of 5 epochs in one
    go; past train.epochs the schedule keeps its last value.

    [bold]Ctrl-C[/] stops after the current batch, saves last.npz (with the
    position inside the epoch) and prints the command to resume; a second
    Ctrl-C stops at once. Exit codes: 0 done, 1 diverged (the message names
    the epoch and batch), 2 bad input, 130 interrupted.

    [bold]--engine torch[/] trains the same spec with PyTorch: the module
    'nncli export --to torch' writes, nncli's initial weights, torch.optim's
    optimizer of the same name, the same batches, schedule, clipping and
    checks, the same display and run folder. Under torchrun each process
    trains its shard of every batch (DistributedDataParallel) and rank 0
    draws and writes.

    [bold]Examples[/]

      nncli train configs/digits_cnn.yaml

      nncli train configs/digits_cnn.yaml --out runs/cnn --epochs 5

      nncli train digits_mlp --lr 0.05 --batch-size 64 --set train.shuffle=false

      nncli train --resume runs/cnn --epochs 20

      nncli train configs/digits_mlp.yaml --json > metrics.jsonl

      nncli train digits_mlp --dtype float64 --threads 2 --epochs 1

      nncli train digits_mlp --engine torch --epochs 2

      torchrun --nproc-per-node 2 -m nncli train digits_mlp --engine torch
    """
    from nncli import train as core
    from nncli.formatting import shell_word

    if (config is None) == (resume is None):
        raise InputError("CONFIG: give a spec to start a run, or --resume RUN_DIR to continue "
                         "one (not both)")
    if epochs is not None and epochs < 1:
        raise InputError(f"--epochs: expected an integer >= 1, got {epochs}")
    changes = _overrides(overrides, lr, batch_size, seed, dtype)
    factory = _engine(engine, device)
    if resume is not None:
        if changes:
            raise InputError(f"{changes[0].given}: a resumed run keeps the options in its "
                             f"config.yaml; drop it, or start a new run from "
                             f"{shell_word(resume / 'config.yaml')} with it")
        if out is not None:
            raise InputError("--out: a resumed run stays in its folder; drop --out")
        trainer = core.resume_run(resume, epochs, threads, engine=factory)
        difference = trainer.resume_difference()
        if difference and trainer.engine.writes:        # under torchrun: rank 0 says it
            warning_line(difference)
        if epochs is not None and epochs < trainer.epoch:
            raise InputError(f"--epochs: the run in '{resume}' has already trained "
                             f"{trainer.epoch} epochs; pass --epochs {trainer.epoch + 1} or "
                             f"more to continue it")
    else:
        assert config is not None
        if config.is_dir():
            hint = (f"; to continue that run use --resume {shell_word(config)}"
                    if (config / core.CONFIG_FILE).is_file() else "")
            raise InputError(f"CONFIG: '{config}' is a folder, expected a YAML spec{hint}")
        if out is not None and out.exists() and not out.is_dir():
            raise InputError(f"--out: '{out}' exists and is not a folder; choose another --out")
        trainer = core.new_run(config, out, epochs, overrides=changes, thread_count=threads,
                               engine=factory)
    _drive(trainer, as_json, resumed=resume is not None)
    if trainer.engine.distributed:                 # every process ended well: leave together
        from nncli.engines import distributed

        distributed.finish()


def _overrides(sets: list[str], lr: float | None, batch_size: int | None,
               seed: int | None, dtype: str | None = None) -> list:
    """--set values, then the short forms (which win over a --set of the same path)."""
    from nncli.overrides import parse, shortcut

    changes = [parse(text) for text in sets]
    for keys, value, flag in (("train.lr", lr, "--lr"),
                              ("train.batch_size", batch_size, "--batch-size"),
                              ("seed", seed, "--seed"), ("train.dtype", dtype, "--dtype")):
        if value is not None:
            changes.append(shortcut(keys, value, flag))
    return changes


def _engine(engine: str, device: str):
    """The engine --engine and --device ask for (None: numpy's), checked before any work;
    torch is imported only here, for --engine torch."""
    from nncli.engines import DEVICES, ENGINES, distributed
    from nncli.options import suggest

    if engine not in ENGINES:
        raise InputError(f"--engine: expected numpy or torch, got '{engine}'"
                         f"{suggest(engine, ENGINES)}")
    if device not in DEVICES:
        raise InputError(f"--device: expected cpu, cuda or mps, got '{device}'"
                         f"{suggest(device, DEVICES)}")
    if engine == "numpy":
        if device != "cpu":
            raise InputError(f"--device {device}: the numpy engine runs on the cpu; add "
                             f"--engine torch")
        world = distributed.from_env()
        if world.distributed:
            raise InputError(f"--engine numpy trains in one process, but torchrun started "
                             f"{world.size} (WORLD_SIZE); add --engine torch")
        return None
    from nncli.engines.torch_engine import TorchEngine, require_torch

    require_torch()
    return functools.partial(TorchEngine, device=device)


def _follow(trainer: Trainer) -> None:
    """Under torchrun, a process other than rank 0: train in step with the others (the
    trainer writes nothing here) and draw nothing; a Ctrl-C stops it with them."""
    import numpy as np

    from nncli import train as core

    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGINT, lambda signum, frame: trainer.request_stop())
    try:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            stopped = [e for e in trainer.run() if isinstance(e, core.Interrupted)]
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    if stopped:
        raise typer.Exit(EXIT_INTERRUPTED)


def _drive(trainer: Trainer, as_json: bool, resumed: bool) -> None:
    """Run the trainer's loop with a SIGINT handler installed; draw every event."""
    import numpy as np

    from nncli import output
    from nncli import train as core
    from nncli.render import tensor as render
    from nncli.render.train import TrainView, show_nothing_to_train

    if not trainer.engine.writes:            # under torchrun, rank 0 draws
        _follow(trainer)
        return
    console = render.console(stderr=as_json)
    if trainer.epoch >= trainer.stop_epoch:
        show_nothing_to_train(console, trainer)
        return
    view = TrainView(trainer, console)
    previous = None

    def on_sigint(signum, frame):            # first Ctrl-C: stop after this batch
        # Under torchrun the launcher passes a Ctrl-C on to every process at once (a
        # second SIGINT): there a repeat only asks again, and the processes stop together.
        if trainer.stop_requested and not trainer.engine.distributed:
            raise KeyboardInterrupt
        trainer.request_stop()

    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGINT, on_sigint)
    stopped = None
    try:
        # Overflow on the way to a divergence is reported once, as RunFailed, not as warnings.
        with view, np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            for event in trainer.run():
                if isinstance(event, core.EpochDone) and as_json:
                    output.write_json(core.metrics_record(event.metrics))
                if isinstance(event, core.Interrupted):
                    stopped = event
                view.handle(event)
    except KeyboardInterrupt:
        # A second Ctrl-C: stop at once, unless the trainer has already saved its position
        # (then it only cut the drawing short and the run is resumable as usual).
        if stopped is None:
            view.hard_stop_hint()
            raise
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    if stopped is not None:
        view.interrupted(stopped)
        raise typer.Exit(EXIT_INTERRUPTED)
    view.finished(resumed)


# =========================================================================== eval / predict

@app.command("eval")
@draws
def eval_command(
    config: Path = CONFIG,
    weights: Path | None = WEIGHTS,
    overrides: list[str] = SET,
    split: str = typer.Option("test", "--split", help="Which split of the spec's data: "
                              "test, val or train."),
    errors: bool = typer.Option(False, "--errors", help="Also list the misclassified "
                                "samples: index, true and predicted class (a classifier "
                                "with one class per sample)."),
    limit: int | None = typer.Option(None, "--limit", metavar="K", show_default=False,
                                     help=f"With --errors: list at most K samples (default "
                                     f"{ERRORS_LIMIT})."),
    # 20: nncli.render.evaluate.CONFUSION_MAX (not imported here: keeps --help fast).
    full: bool = full_option(extra="Also the confusion matrix of more than 20 classes."),
    as_json: bool = JSON,
) -> None:
    """Loss and accuracy of trained weights on one split of the spec's data.

    For a classifier it also shows the confusion matrix: rows are the true
    classes, columns the predicted ones, so the diagonal holds the correct
    answers. --errors lists the samples it gets wrong; 'nncli data' and
    'nncli predict --sample' show one of them.

    [bold]Examples[/]

      nncli eval runs/cnn

      nncli eval digits_cnn -w runs/cnn/last.npz --split val --json

      nncli eval runs/cnn --errors --limit 5
    """
    from nncli import output, samples
    from nncli.evaluation import evaluate
    from nncli.loading import load
    from nncli.train_setup import in_dtype, load_data

    if split not in SPLITS:
        raise InputError(f"--split: expected test, val or train, got '{split}'")
    if limit is not None and not errors:
        raise InputError("--limit: only with --errors (it caps the misclassified samples "
                         "listed)")
    limit = ERRORS_LIMIT if limit is None else check_int("--limit", limit, 1)
    # In the dtype the weights were trained in, data cast as training casts it: a run's val
    # loss comes out as its metrics.jsonl has it.
    loaded = load(config, weights, need_weights=True, overrides=overrides,
                  in_trained_dtype=True)
    spec, model = loaded.spec, loaded.model
    data = in_dtype(load_data(spec, model), model)
    part = data.split(split)
    if len(part) == 0:
        raise InputError(f"--split: the {split} split of this spec's data is empty; choose "
                         f"another split")
    wrong = samples.misclassified(model, part, limit) if errors else None
    result = evaluate(model, part)
    payload: dict[str, Any] = {"schema": "nncli.eval/1", "model": spec.name,
                               "weights": str(loaded.weights), "epoch": loaded.epoch,
                               "split": split,
                               "samples": len(part), "loss_name": model.loss_name, **result}
    if wrong is not None:
        payload.update(errors=wrong.rows, errors_total=wrong.total)
    if as_json:
        output.write_json(payload)
        return
    from nncli.render.evaluate import show_eval

    show_eval(payload, loaded.source, full)
    if wrong is not None:
        from nncli.render.inspect import show_errors

        show_errors(wrong, split, config, weights)


@app.command()
@draws
def predict(
    config: Path = CONFIG,
    weights: Path | None = WEIGHTS,
    overrides: list[str] = SET,
    source: str | None = input_option(required=False, extra="A single sample may leave out "
                                      "axes of size 1 (an 8x8 matrix for a [1, 8, 8] "
                                      "input). Or --sample."),
    sample: int | None = typer.Option(None, "--sample", metavar="I", show_default=False,
                                      help="Instead of --input: sample I of the spec's own "
                                      "data (--split), shown with its true class."),
    split: str = typer.Option("test", "--split", help="With --sample: test, val or train."),
    as_json: bool = JSON,
) -> None:
    """Run trained weights on new input and show the outputs.

    A classifier shows each class's probability with a bar and the predicted
    class; a regression model shows its output values. --sample I takes the
    input from the spec's own data, so no input file is needed.

    [bold]Examples[/]

      nncli predict runs/bars --input bar.txt

      nncli predict digits_cnn -w runs/cnn/best.npz -x digits.npy

      nncli predict runs/cnn --sample 5 --split test
    """
    from nncli import inspection, io, output, samples
    from nncli.loading import load
    from nncli.render.evaluate import show_predict

    if (source is None) == (sample is None):
        raise InputError("--input: give --input X, or --sample I for a sample of the spec's "
                         "own data (not both)")
    if sample is None and split != "test":
        raise InputError("--split: only with --sample (it says which split the sample is "
                         "from)")
    samples.check_split(split)
    loaded = load(config, weights, need_weights=True, overrides=overrides,
                  in_trained_dtype=True)
    spec, model = loaded.spec, loaded.model
    truth = None
    if sample is not None:
        from nncli.train_setup import load_data

        truth = samples.sample(load_data(spec, model), split, sample)
        x = model.batch(truth.x[None], "--sample")
    else:
        x = inspection.as_batch(model, io.read_array(source, "--input"))
    payload: dict[str, Any] = {"schema": "nncli.predict/1", "model": spec.name,
                               "weights": str(loaded.weights), "input_shape": list(x.shape),
                               **inspection.predict(model, x)}
    if truth is not None:
        payload["sample"] = {"split": split, "index": sample, "target": truth.y}
    if as_json:
        output.write_json(payload)
        return
    show_predict(payload, loaded.source)
    if truth is not None:
        from nncli.render.inspect import show_truth

        show_truth(truth, payload.get("predicted"))
