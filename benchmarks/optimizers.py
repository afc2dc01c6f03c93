"""SGD and Adam on the same net: the learning curves behind the README's comparison.

    python benchmarks/optimizers.py                     # digits_cnn.yaml vs digits_cnn_adam.yaml
    python benchmarks/optimizers.py A.yaml B.yaml ...   # any configs with data: and train:

Each config is trained in this process with its own settings (nncli.train, no files kept),
then its best epoch (lowest validation loss) is scored on the test split. Prints, per
config: the optimizer and lr, validation loss and accuracy at a few epochs, the seconds
spent in training steps (the sum of the per-epoch `seconds`; evaluation and checkpoint
writes excluded) and the test accuracy. Measured here, never asserted in tests.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAIR = [ROOT / "configs" / "digits_cnn.yaml", ROOT / "configs" / "digits_cnn_adam.yaml"]
EPOCHS_SHOWN = (1, 2, 3, 5, 10, 15, 20)


def run(config: Path) -> dict:
    from nncli import train as core
    from nncli.checkpoint import load_weights

    with tempfile.TemporaryDirectory() as tmp:
        trainer = core.new_run(config, Path(tmp) / "run")
        started = time.perf_counter()
        for _ in trainer.run():
            pass
        wall = time.perf_counter() - started
        trainer.model.load_state(load_weights(Path(tmp) / "run" / core.BEST))
        test = core.evaluate(trainer.model, trainer.data.test)
    s = trainer.settings
    return {"config": config.name, "optimizer": s["optimizer"], "lr": s["lr"],
            "history": trainer.history, "wall": wall, "test": test,
            "best": trainer.best["epoch"],
            "steps": sum(m["seconds"] for m in trainer.history)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("configs", nargs="*", type=Path, default=PAIR)
    args = parser.parse_args()
    results = [run(config) for config in args.configs]
    for r in results:
        print(f"{r['config']}: {r['optimizer']}, lr {r['lr']:g}")
        print("  epoch  val loss  val acc")
        for m in r["history"]:
            if m["epoch"] in EPOCHS_SHOWN:
                acc = m.get("val_accuracy")
                shown = f"{100 * acc:6.1f}%" if acc is not None else "      -"
                print(f"  {m['epoch']:5d}  {m['val_loss']:8.4f}  {shown}")
        acc = r["test"].get("accuracy")
        print(f"  training steps {r['steps']:.1f} s (loop with evaluation and checkpoints "
              f"{r['wall']:.1f} s); best epoch {r['best']}: test loss "
              f"{r['test']['loss']:.4f}" + (f", accuracy {100 * acc:.1f}%" if acc else ""))


if __name__ == "__main__":
    main()
