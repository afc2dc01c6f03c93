"""Make docs/report.png, the README's picture of `nncli report`, with the browser the
tests use (Debian's chromium, driven by tests/chromium.py).

    python docs/make_report_png.py              # trains configs/digits_cnn.yaml first
    python docs/make_report_png.py runs/cnn     # or the report of an existing run

The top of the page (summary and training charts) at 900 x 1150 CSS pixels, reduced to 256
colours with Pillow (a matplotlib dependency) so the file stays small. Not run by tests.
"""

from __future__ import annotations

import io
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "report.png"
sys.path.insert(0, str(ROOT / "tests"))


def main() -> None:
    from chromium import Chromium
    from PIL import Image

    with tempfile.TemporaryDirectory() as tmp:
        run = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tmp) / "cnn"
        if len(sys.argv) == 1:
            subprocess.run(["nncli", "train", str(ROOT / "configs" / "digits_cnn.yaml"),
                            "--out", str(run)], check=True, capture_output=True)
        page = Path(tmp) / "report.html"
        subprocess.run(["nncli", "report", str(run), "-o", str(page)], check=True)
        browser = Chromium()
        try:
            browser.open_page(page, 900, 1150)
            png = browser.screenshot()
        finally:
            browser.close()
    image = Image.open(io.BytesIO(png)).convert("RGB").quantize(256, dither=Image.Dither.NONE)
    image.save(OUT, optimize=True)
    print(f"wrote {OUT} ({OUT.stat().st_size / 1024:.0f} KB)")


if __name__ == "__main__":
    main()
