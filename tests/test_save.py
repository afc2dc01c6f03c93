"""--save FILE on every command that draws: the terminal's picture as .svg, .html or .txt.

The saved file holds what the command printed (the .txt equals stdout), with the colours
(also under NO_COLOR), as an SVG that parses as XML or an HTML page; nothing is overwritten
without --force; a bad FILE is one line with exit 2 and writes nothing; a live display
(train) is saved as its final screen. The browser tests open the files in Chromium.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import specs
import typer
from rich.live import Live
from rich.table import Table
from typer.testing import CliRunner

from nncli.cli import app
from nncli.render import recording

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs"
A, K, RNN = CONFIGS / "seed_conv_A.txt", CONFIGS / "seed_conv_K.txt", CONFIGS / "seed_rnn.yaml"
SINE = specs.sine()
AGREE = specs.agree(cell="rnn", train=100, held_out=10)
runner = CliRunner()
# Commands that draw nothing to save: they write files or print JSON only.
NO_PICTURE = {"init", "schema", "export", "report"}


def invoke(*args, env=None):
    return runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "80", **(env or {})})


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("save")
    for name, spec in (("run", SINE), ("text", AGREE)):
        (root / f"{name}.yaml").write_text(spec)
        result = invoke("train", root / f"{name}.yaml", "--out", root / name)
        assert result.exit_code == 0, result.stderr
    return root / "run"


def drawing_commands(run: Path) -> dict[str, list]:
    """A working invocation of every command that draws."""
    return {
        "layers": ["layers", "dense"], "examples": ["examples"], "check": ["check", RNN],
        "conv": ["conv", A, K, "--explain", "0,0"], "pool": ["pool", A],
        "softmax": ["softmax", "1 2 3"], "summary": ["summary", RNN],
        "forward": ["forward", RNN, "-x", "1; 2"],
        "backward": ["backward", RNN, "-x", "1; 2", "-y", "0.5; -0.25"],
        "gradcheck": ["gradcheck", RNN], "grad-trace": ["grad-trace", "--steps", "4"],
        "train": ["train", "--resume", run, "--epochs", "2"],      # nothing left to train
        "eval": ["eval", run], "predict": ["predict", run, "--sample", "1"],
        "complete": ["complete", run.parent / "text", "--prompt", "the", "-n", "3"],
        "agreement": ["agreement", run.parent / "text", "--pairs", "2", "--max-modifiers", "1"],
        "runs": ["runs", run.parent], "compare": ["compare", run, run],
        "weights": ["weights", run], "data": ["data", "digits", "--sample", "3"]}


def test_every_command_that_draws_has_save_and_force():
    group = typer.main.get_command(app)
    for name, cmd in group.commands.items():
        opts = {o for p in cmd.params for o in p.opts}
        if name in NO_PICTURE:
            assert "--save" not in opts, name
        else:
            assert {"--save", "--force"} <= opts, f"{name} has no --save/--force"


@pytest.mark.parametrize("name", sorted(set(drawing_commands(Path("x")))))
def test_save_txt_is_what_the_terminal_shows(run_dir, tmp_path, name):
    args = drawing_commands(run_dir)[name]
    plain = invoke(*args)
    assert plain.exit_code == 0, plain.stderr
    saved = invoke(*args, "--save", tmp_path / "out.txt")
    assert saved.exit_code == 0, saved.stderr
    assert saved.stdout == plain.stdout               # --save changes nothing on screen
    text = (tmp_path / "out.txt").read_text(encoding="utf-8")
    assert text.splitlines() == [line for line in saved.stdout.splitlines()]
    assert text.strip(), f"{name} saved an empty picture"


@pytest.mark.parametrize("name", ["conv", "eval", "weights", "runs"])
def test_save_svg_parses_as_xml_with_colours_and_no_web_font(run_dir, tmp_path, name):
    args = drawing_commands(run_dir)[name]
    result = invoke(*args, "--save", tmp_path / "out.svg", env={"NO_COLOR": "1"})
    assert result.exit_code == 0, result.stderr
    assert "\x1b[" not in result.stdout                # NO_COLOR: the terminal gets none
    svg = (tmp_path / "out.svg").read_text(encoding="utf-8")
    root = ET.fromstring(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.findall(".//{http://www.w3.org/2000/svg}text"), "no text in the picture"
    fills = {e.get("fill") for e in root.iter() if e.get("fill")} | {
        c for c in svg.split("fill: ")[1:] for c in [c[:7]]}
    assert len(fills) > 2, f"{name}: the SVG lost its colours ({fills})"
    assert "http" not in svg.replace("http://www.w3.org/2000/svg", "")   # nothing fetched
    assert "@font-face" not in svg and "url(" not in svg.replace("url(#", "")


def test_save_html_is_a_page_with_the_colours(tmp_path):
    result = invoke("conv", A, K, "--save", tmp_path / "conv.html", env={"NO_COLOR": "1"})
    assert result.exit_code == 0, result.stderr
    html = (tmp_path / "conv.html").read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and '<meta name="viewport"' in html
    assert "<title>nncli conv</title>" in html
    assert "background-color: #" in html               # the heatmap's cells kept their colour
    assert "<script" not in html and "http" not in html and "<link" not in html


def test_save_never_overwrites_without_force(tmp_path):
    target = tmp_path / "out.svg"
    target.write_text("mine")
    result = invoke("softmax", "1 2", "--save", target)
    assert result.exit_code == 2
    assert result.stderr.strip() == (f"error: --save: '{target}' already exists; pass --force "
                                     f"to overwrite it, or choose another name")
    assert result.stdout == "" and target.read_text() == "mine"    # nothing drawn or written
    forced = invoke("softmax", "1 2", "--save", target, "--force")
    assert forced.exit_code == 0 and target.read_text().startswith("<svg")


@pytest.mark.parametrize(("name", "message"), [
    ("out.png", "has '.png'; name a .svg, .html or .txt file"),
    ("out", "has no extension"),
    ("missing/out.svg", "the folder"),
    (".", "is a folder"),
])
def test_a_bad_save_file_is_one_line_and_writes_nothing(tmp_path, name, message):
    before = sorted(tmp_path.rglob("*"))
    result = invoke("softmax", "1 2", "--save", tmp_path / name)
    assert result.exit_code == 2
    assert result.stderr.startswith("error: --save: ") and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert sorted(tmp_path.rglob("*")) == before


def test_save_refuses_json_and_bad_input_writes_nothing(tmp_path):
    result = invoke("softmax", "1 2", "--json", "--save", tmp_path / "x.svg")
    assert result.exit_code == 2 and "--json prints no picture" in result.stderr
    bad = invoke("conv", A, "1 2; 3", "--save", tmp_path / "x.svg")
    assert bad.exit_code == 2 and bad.stderr.startswith("error: KERNEL:")
    assert not (tmp_path / "x.svg").exists()


def test_a_failed_run_saves_what_it_drew(tmp_path):
    """gradcheck that fails (exit 1) has drawn its table: that picture is saved."""
    target = tmp_path / "gradcheck.txt"
    result = invoke("gradcheck", CONFIGS / "digits_mlp.yaml", "--tol", "1e-300",
                    "--max-entries", "1", "--save", target)
    assert result.exit_code == 1 and "gradient check failed" in result.stderr
    assert target.read_text(encoding="utf-8").splitlines() == result.stdout.splitlines()


def test_an_exit_after_drawing_is_saved_and_an_error_is_not(tmp_path):
    with recording.saving(tmp_path / "a.txt", False, "t") as console:
        console.print("drawn")
    with pytest.raises(typer.Exit), recording.saving(tmp_path / "b.txt", False, "t") as console:
        console.print("interrupted run")
        raise typer.Exit(130)
    with pytest.raises(ValueError), recording.saving(tmp_path / "c.txt", False, "t"):
        raise ValueError
    assert (tmp_path / "a.txt").read_text() == "drawn\n"
    assert (tmp_path / "b.txt").read_text() == "interrupted run\n"
    assert not (tmp_path / "c.txt").exists() and recording.console() is None


def test_a_live_display_is_saved_as_its_final_screen(tmp_path):
    """On a terminal rich's Live redraws in place; the file holds the last frame once."""
    with recording.saving(tmp_path / "live.txt", False, "t") as rec:
        rec.file = open(tmp_path / "terminal", "w")     # noqa: SIM115 (closed below)
        rec._force_terminal = True
        rec.print("header")
        with Live(Table(), console=rec, auto_refresh=False) as live:
            for step in range(5):
                table = Table("step", "value")
                for i in range(step + 1):
                    table.add_row(str(i), f"v{i}-{step}")
                live.update(table, refresh=True)
        rec.print("footer")
    rec.file.close()
    assert "\x1b[" in (tmp_path / "terminal").read_text()     # it really redrew in place
    lines = (tmp_path / "live.txt").read_text().splitlines()
    assert lines[0] == "header" and lines[-1] == "footer"
    body = "\n".join(lines)
    assert body.count("step") == 1 and "v4-4" in body and "v0-3" not in body


def test_long_lines_wrap_in_a_picture_like_a_terminal():
    from rich.segment import Segment

    lines = [[Segment("x" * 30), Segment("y" * 15)], [], [Segment("z")]]
    text = "".join(s.text for s in recording._wrap(lines, 20))
    assert text.splitlines() == ["x" * 20, "x" * 10 + "y" * 10, "y" * 5, "", "z"]
    assert "".join(s.text for s in recording._wrap(lines, None)).splitlines()[0] == \
        "x" * 30 + "y" * 15


# --------------------------------------------------------------------------- in a browser

@pytest.mark.browser
def test_saved_html_and_svg_open_in_chromium_without_errors_or_requests(run_dir, tmp_path):
    from chromium import Chromium, colours

    pictures = []
    for suffix in ("html", "svg"):
        target = tmp_path / f"eval.{suffix}"
        assert invoke("eval", run_dir, "--save", target).exit_code == 0
        pictures.append(target)
    browser = Chromium()
    try:
        for target in pictures:
            browser.open_page(target, 900, 700)
            assert browser.requests() == [], f"{target.name} fetched {browser.requests()}"
            assert browser.console_errors() == [], browser.console_errors()
            shown = browser.evaluate("document.documentElement.textContent")
            assert "mse loss" in shown.replace("\xa0", " ")
            assert colours(browser.screenshot()) > 3, f"{target.name} looks blank"
    finally:
        browser.close()
