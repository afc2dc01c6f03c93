"""nncli report RUN_DIR: one self-contained HTML page per run.

The page is read as a document (its charts by their titles and SVG elements, its epoch
table against metrics.jsonl, its config against config.yaml) and opened in a real
headless Chromium (tests/chromium.py): it loads with no console errors and no request
besides itself, its charts are there, a screenshot is not blank, the numbers the browser
shows match metrics.jsonl, and on a phone-sized screen nothing runs off the side.
"""

from __future__ import annotations

import json
import re
import sys
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest
import specs
from typer.testing import CliRunner

from nncli.cli import app

pytest.importorskip("matplotlib", reason='nncli report needs matplotlib: pip install '
                    '"nncli[report]"')
pytestmark = pytest.mark.report

runner = CliRunner()
CNN = """name: digits-tiny-cnn
seed: 0
input: [1, 8, 8]
layers:
  - conv: {filters: 4, kernel: 3, padding: 1, activation: relu}
  - pool: {mode: max, size: 2}
  - flatten
  - dense: {units: 10}
  - softmax
loss: cross_entropy
data: digits
train: {epochs: 3, batch_size: 64, lr: 0.1, momentum: 0.9, schedule: cosine}
"""
SINE = specs.sine()
AGREE = specs.agree(epochs=2)
EXPECTED = {   # chart titles per run
    "cnn": ["Loss per epoch", "Accuracy per epoch", "Gradient norm per layer",
            "Learning rate", "Confusion matrix (test split)", "First-layer conv filters (0.conv)"],
    "sine": ["Loss per epoch", "Gradient norm per layer", "Learning rate",
             "Gradient through time (sine test[0])"],
    "text": ["Loss per epoch", "Accuracy per epoch", "Perplexity per epoch",
             "Gradient norm per layer", "Learning rate",
             "Gradient through time (agreement test[0])"],
}


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "80"})


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("report")
    out = {}
    for name, spec in (("cnn", CNN), ("sine", SINE), ("text", AGREE)):
        (root / f"{name}.yaml").write_text(spec)
        result = invoke("train", root / f"{name}.yaml", "--out", root / name)
        assert result.exit_code == 0, result.stderr
        out[name] = root / name
    return out


@pytest.fixture(scope="module")
def pages(runs) -> dict[str, Path]:
    for folder in runs.values():
        result = invoke("report", folder)
        assert result.exit_code == 0, result.stderr
        assert result.stdout.startswith(f"wrote {folder / 'report.html'} (")
    return {name: folder / "report.html" for name, folder in runs.items()}


class Page(HTMLParser):
    """The parts of a report the tests read: figures (caption, svg), the epoch table,
    the config, meta tags, completions."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.figures: dict[str, str] = {}          # caption -> the figure's svg markup
        self.table: list[list[str]] = []
        self.keys: list[str] = []
        self.metas: list[dict] = []
        self.tags: set[str] = set()
        self._in, self._text, self._row = None, [], None
        self.feed(html)
        for caption, svg in re.findall(r"<figcaption>(.*?)</figcaption>\n(<svg.*?</svg>)",
                                       html, re.S):
            self.figures[caption.replace("&amp;", "&")] = svg
        self.config = re.search(r'<pre id="config">(.*?)</pre>', html, re.S).group(1)

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        attrs = dict(attrs)
        if tag == "meta":
            self.metas.append(attrs)
        if tag == "th" and "data-key" in attrs:
            self.keys.append(attrs["data-key"])
        if tag == "tr":
            self._row = []
        if tag == "td":
            self._in, self._text = "td", []

    def handle_endtag(self, tag):
        if tag == "td" and self._row is not None:
            self._row.append("".join(self._text).strip())
            self._in = None
        if tag == "tr" and self._row:
            self.table.append(self._row)
            self._row = None

    def handle_data(self, data):
        if self._in:
            self._text.append(data)


def metrics(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def shown(key: str, value) -> str:
    """How the report writes a metrics.jsonl value (the test's own formatting)."""
    if value is None:
        return "—"
    if key.endswith("accuracy"):
        return f"{100 * value:.2f}%"
    if key == "seconds":
        return f"{value:.2f}"
    if key == "epoch":
        return str(value)
    return f"{value:.6g}"


# --------------------------------------------------------------------------- the document

@pytest.mark.parametrize("name", ["cnn", "sine", "text"])
def test_the_page_has_its_charts_as_svg(pages, name):
    html = pages[name].read_text(encoding="utf-8")
    page = Page(html)
    assert list(page.figures) == EXPECTED[name]
    for caption, svg in page.figures.items():
        root = ET.fromstring(svg)                             # each chart parses as XML
        paths = root.findall(".//{http://www.w3.org/2000/svg}path")
        assert len(paths) >= 3, f"{caption}: no drawing"
        assert root.get("viewBox") and root.get("width") is None  # scales to the screen
    ids = re.findall(r' id="([^"]+)"', html)
    assert len(ids) == len(set(ids)), "two charts share an SVG id"


@pytest.mark.parametrize("name", ["cnn", "sine", "text"])
def test_the_page_is_self_contained_and_fits_a_phone(pages, name):
    html = pages[name].read_text(encoding="utf-8")
    page = Page(html)
    assert {"name": "viewport", "content": "width=device-width, initial-scale=1"} in page.metas
    assert not page.tags & {"script", "link", "iframe", "img", "object"}
    outside = re.findall(r"""(?:href|src)=["'](?!#|data:)[^"']+|url\((?!#)[^)]*\)|@import""",
                         html)
    assert outside == [], outside
    namespaces = re.sub(r' xmlns(:\w+)?="http://www\.w3\.org/[^"]*"', "", html)
    assert "http" not in namespaces, "an address on another server"    # only XML namespaces


@pytest.mark.parametrize("name", ["cnn", "sine", "text"])
def test_the_epoch_table_is_metrics_jsonl_and_the_config_is_config_yaml(runs, pages, name):
    page = Page(pages[name].read_text(encoding="utf-8"))
    history = metrics(runs[name])
    assert len(page.table) == len(history)
    best = min(history, key=lambda m: m["val_loss"])["epoch"]
    for row, m in zip(page.table, history, strict=True):
        want = [shown(k, m.get(k)) for k in page.keys]
        if m["epoch"] == best:
            want[0] += " ★"
        assert row == want
    assert {"epoch", "train_loss", "val_loss", "lr", "seconds"} <= set(page.keys)
    from html import unescape

    assert unescape(page.config) == (runs[name] / "config.yaml").read_text()


def test_a_text_model_shows_greedy_completions_and_the_classifier_its_filters(runs, pages):
    html = pages["text"].read_text(encoding="utf-8")
    items = re.findall(r'<li class="completion">(.*?) <b>(.*?)</b></li>', html)
    assert len(items) == 3 and all(prompt and text for prompt, text in items)
    from nncli import text
    from nncli.loading import load

    loaded = load(runs["text"], need_weights=True)
    prompt, continuation = items[0]
    again = text.complete(loaded.model, loaded.vocab, prompt.split(), len(continuation.split()),
                          temperature=0.0)
    assert again.text == continuation                     # greedy: the same text again
    cnn = pages["cnn"].read_text(encoding="utf-8")
    assert "weight 4 x 1 x 3 x 3" in cnn


def test_report_never_overwrites_and_names_bad_input(runs, tmp_path):
    target = tmp_path / "mine.html"
    target.write_text("mine")
    again = invoke("report", runs["sine"], "-o", target)
    assert again.exit_code == 2 and "already exists; pass --force" in again.stderr
    assert target.read_text() == "mine"
    assert invoke("report", runs["sine"], "-o", target, "--force").exit_code == 0
    assert target.read_text().startswith("<!DOCTYPE html>")
    for args, message in (([tmp_path], "is not a run folder (no config.yaml)"),
                          ([tmp_path / "nope"], "is not a folder"),
                          ([runs["sine"], "-o", tmp_path / "r.pdf"],
                           "has '.pdf'; name a .html or .htm file, e.g. --out r.html"),
                          ([runs["sine"], "-o", tmp_path / "no" / "r.html"], "does not exist")):
        result = invoke("report", *args)
        assert result.exit_code == 2 and message in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


def test_a_run_without_epochs_still_gets_its_page(runs, tmp_path):
    """A run killed before its first epoch ended: config.yaml only."""
    folder = tmp_path / "early"
    folder.mkdir()
    (folder / "config.yaml").write_text((runs["sine"] / "config.yaml").read_text())
    result = invoke("report", folder)
    assert result.exit_code == 0, result.stderr
    html = (folder / "report.html").read_text()
    assert "No epoch has finished yet" in html and "no weights yet" in html
    assert Page(html).figures == {}


def test_without_matplotlib_the_error_names_the_extra(runs, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)        # import matplotlib fails
    result = invoke("report", runs["sine"], "-o", tmp_path / "r.html")
    assert result.exit_code == 2
    assert result.stderr.strip() == ('error: nncli report draws its charts with matplotlib, '
                                     'which is not installed; pip install "nncli[report]"')
    assert not (tmp_path / "r.html").exists()


# --------------------------------------------------------------------------- in a browser

@pytest.mark.browser
def test_reports_in_chromium(runs, pages):
    """No console errors, no requests, the charts by title and SVG, a screenshot that is not
    blank, the numbers metrics.jsonl holds; on a phone the page is no wider than it."""
    from chromium import Chromium, colours

    browser = Chromium()
    try:
        for name, page in pages.items():
            browser.open_page(page, 1000, 800)
            assert browser.requests() == [], browser.requests()
            assert browser.console_errors() == [], browser.console_errors()
            found = browser.evaluate(
                "[...document.querySelectorAll('figure')].map(f => [f.querySelector("
                "'figcaption').textContent, f.querySelectorAll('svg path').length, "
                "f.querySelector('svg').getBoundingClientRect().height])")
            assert [f[0] for f in found] == EXPECTED[name]
            assert all(paths >= 3 and height > 50 for _, paths, height in found), found
            assert colours(browser.screenshot()) > 20, f"{name}: the page looks blank"
            keys = browser.evaluate("[...document.querySelectorAll('#epochs th')]"
                                    ".map(th => th.dataset.key)")
            rows = browser.evaluate("[...document.querySelectorAll('#epochs tbody tr')].map("
                                    "tr => [...tr.cells].map(td => td.textContent))")
            history = metrics(runs[name])
            assert [[cell.removesuffix(" ★") for cell in row] for row in rows] == \
                [[shown(k, m.get(k)) for k in keys] for m in history]
            browser.open_page(page, 390, 844)                    # a phone
            wide = browser.evaluate("[document.documentElement.scrollWidth, innerWidth, "
                                    "Math.max(...[...document.querySelectorAll('figure svg')]"
                                    ".map(s => s.getBoundingClientRect().right))]")
            assert wide[0] <= wide[1] and wide[2] <= wide[1], wide
    finally:
        browser.close()
