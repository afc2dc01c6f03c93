"""Write data/agreement.txt: the first 200 training sentences of `data: {name: agreement}`
at seed 0, one per line, for reading. nncli never reads this file: it generates the
dataset from the spec's seed (nncli/datasets/agreement.py).

    python data/make_agreement.py
"""

from pathlib import Path

from nncli.datasets import text_streams

if __name__ == "__main__":
    streams = text_streams({"name": "agreement", "train": 200, "val": 0, "test": 0}, Path("."), 0)
    words = streams.vocab.decode(streams.ids[0])
    lines = " ".join(words).replace(" . ", " .\n")
    out = Path(__file__).resolve().parent / "agreement.txt"
    out.write_text(lines.rstrip() + "\n", encoding="utf-8")
    print(f"wrote {out}")
