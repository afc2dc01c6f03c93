"""`nncli conv / pool / softmax` through the CLI: seed examples, JSON chaining, rendering,
every bad input (exit code 2, one-line message, no traceback), and the installed entry point.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console
from typer.testing import CliRunner

from nncli.cli import app
from nncli.render import tensor as render

ROOT = Path(__file__).resolve().parents[1]
A_FILE = str(ROOT / "configs" / "seed_conv_A.txt")
K_FILE = str(ROOT / "configs" / "seed_conv_K.txt")
A = "1 0 0 0 1; 0 1 0 0 1; 0 0 1 0 0; 0 1 1 1 0; 0 0 0 0 1"
K = "1 -1; -1 1"
SEED_OUT = [[2, -1, 0, 0], [-1, 2, -1, -1], [1, -1, 1, -1], [-1, 0, 0, 2]]
SEED_POOL = [[2, 0], [1, 2]]
NOTES_EXPLAIN = "1(1) + 1(1) + 0(-1) + 0(-1) = 2"

runner = CliRunner()


def run(*args, input=None, env=None):
    return runner.invoke(app, [str(a) for a in args], input=input, env=env)


def ok(*args, **kw):
    result = run(*args, **kw)
    assert result.exit_code == 0, result.output
    return result


def ok_json(*args, **kw):
    return json.loads(ok(*args, "--json", **kw).stdout)


def bad(*args, **kw) -> str:
    """Run a command that must fail with exit code 2 and one red line on stderr."""
    result = run(*args, **kw)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0][len("error: "):]


def table_rows(text: str, title: str) -> list[list[str]]:
    """The data rows of the table under `title` (row label dropped, marks kept)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(title))
    rows = []
    for line in lines[start + 3:]:
        if not line.strip() or line.startswith("shape "):
            break
        rows.append(line.split()[1:])
    return rows


def strip_marks(rows):
    return [[int(v.strip("[]*")) for v in r] for r in rows]


# --------------------------------------------------------------------------- seed example 1

@pytest.mark.parametrize("a, k", [(A, K), (A_FILE, K_FILE)], ids=["inline", "files"])
def test_seed_example_1_conv(a, k):
    data = ok_json("conv", a, k)
    assert data["schema"] == "nncli.conv/1"
    assert data["shape"] == [4, 4]
    assert data["output"] == SEED_OUT
    text = ok("conv", a, k).stdout
    assert strip_marks(table_rows(text, "OUTPUT (4x4)")) == SEED_OUT
    assert strip_marks(table_rows(text, "INPUT (5x5)")) == json.loads(
        json.dumps(np.array([r.split() for r in A.split(";")], dtype=int).tolist()))
    assert strip_marks(table_rows(text, "KERNEL (2x2)")) == [[1, -1], [-1, 1]]
    assert "rows: floor((5 + 2*0 - 2) / 1) + 1 = 4; cols: floor((5 + 2*0 - 2) / 1) + 1 = 4" \
        in text
    assert "2.0" not in text                           # integers stay integers


def test_seed_example_1_explain_uses_the_notes_form():
    text = ok("conv", A, K, "--explain", "0,0").stdout
    assert NOTES_EXPLAIN in text.splitlines()
    assert "grouped by kernel weight, largest first" in text
    # the patch is highlighted in the input, the cell in the output
    assert table_rows(text, "INPUT (5x5)")[0][:2] == ["[1]", "[0]"]
    assert table_rows(text, "INPUT (5x5)")[1][:2] == ["[0]", "[1]"]
    assert table_rows(text, "INPUT (5x5)")[0][2] == "0"
    assert table_rows(text, "OUTPUT (4x4)")[0][0] == "[2]"
    data = ok_json("conv", A, K, "--explain", "0,0")
    assert data["explain"]["expression"] == NOTES_EXPLAIN
    assert data["explain"]["terms"] == [[1, 1], [1, 1], [0, -1], [0, -1]]
    assert data["explain"]["rows"] == [0, 1] and data["explain"]["cols"] == [0, 1]


@pytest.mark.parametrize("cell", [(i, j) for i in range(4) for j in range(4)])
def test_explain_terms_add_up_for_every_cell(cell):
    e = ok_json("conv", A, K, "--explain", f"{cell[0]},{cell[1]}")["explain"]
    assert sum(x * w for x, w in e["terms"]) == e["value"] == SEED_OUT[cell[0]][cell[1]]
    weights = [w for _, w in e["terms"]]
    assert weights == sorted(weights, reverse=True)


def test_explain_with_padding_names_padding_cells():
    text = ok("conv", A, K, "--padding", "1", "--explain", "0,0").stdout
    assert "0(1) + 1(1) + 0(-1) + 0(-1) = 1" in text
    assert "zero-padded by 1 -> 7x7" in text
    assert "(cells outside the input are zero padding)" in text
    assert ok_json("conv", A, K, "--padding", "1", "--explain", "0,0")["explain"]["rows"] == [
        -1, 0]


# --------------------------------------------------------------------------- seed example 2

def test_seed_example_2_pool_chained_from_conv_json():
    conv_json = ok("conv", A, K, "--json").stdout
    data = ok_json("pool", "-", "--size", "2", "--stride", "2", input=conv_json)
    assert data["schema"] == "nncli.pool/1"
    assert data["output"] == SEED_POOL and data["shape"] == [2, 2]
    assert data["winners"] == [[[0, 0], [0, 2]], [[2, 0], [3, 3]]]
    text = ok("pool", "-", "--size", "2", "--stride", "2", input=conv_json).stdout
    assert strip_marks(table_rows(text, "OUTPUT (2x2)")) == SEED_POOL
    marked = table_rows(text, "INPUT (4x4)")
    assert marked[0][0] == "2*" and marked[0][2] == "0*" and marked[3][3] == "2*"
    assert sum(v.endswith("*") for r in marked for v in r) == 4


def test_pool_json_chains_again_and_avg_mode():
    pooled = ok("pool", json.dumps(SEED_OUT), "--json").stdout
    assert ok_json("pool", "-", "--size", "2", input=pooled)["output"] == [[2]]
    data = ok_json("pool", json.dumps(SEED_OUT), "--mode", "avg")
    assert data["output"] == [[0.5, -0.5], [-0.25, 0.5]] and "winners" not in data


def test_pool_three_d_and_overlapping_windows():
    x = np.arange(2 * 4 * 4).reshape(2, 4, 4)
    data = ok_json("pool", json.dumps(x.tolist()), "--size", "3", "--stride", "1")
    assert data["shape"] == [2, 2, 2]
    assert data["output"][1] == [[26, 27], [30, 31]]


# --------------------------------------------------------------------------- channels, filters

def test_three_d_input_sums_over_channels_and_four_d_kernel_gives_maps():
    rng = np.random.default_rng(0)
    x = rng.integers(-3, 4, size=(3, 5, 6))
    w3 = rng.integers(-2, 3, size=(3, 2, 3))
    w4 = rng.integers(-2, 3, size=(4, 3, 2, 3))
    y = ok_json("conv", json.dumps(x.tolist()), json.dumps(w3.tolist()), "--stride", "2",
                "--padding", "1")
    assert y["shape"] == [3, 3]
    expect = sum(np.pad(x[c], 1)[0:2, 0:3] * w3[c] for c in range(3)).sum()
    assert y["output"][0][0] == expect
    y4 = ok_json("conv", json.dumps(x.tolist()), json.dumps(w4.tolist()),
                 "--explain", "2,1,1")
    assert y4["shape"] == [4, 4, 4]
    e = y4["explain"]
    assert len(e["terms"]) == 3 * 2 * 3
    assert sum(a * b for a, b in e["terms"]) == e["value"] == y4["output"][2][1][1]
    text = ok("conv", json.dumps(x.tolist()), json.dumps(w4.tolist()), "--explain",
              "2,1,1").stdout
    assert "filter 3" in text and "channel 2" in text and e["expression"] in text


def test_large_integers_never_wrap_around():
    big = 2**52
    y = ok_json("conv", f"[[{big}, {big}]]", f"[[{big}]]")["output"]
    assert y == [[float(big) ** 2, float(big) ** 2]]          # computed in float64, no wrap


def test_negative_numbers_are_arguments_not_options():
    assert ok_json("conv", "1 2; 3 4", "-1 1; 1 -1")["output"] == [[0]]
    assert ok_json("softmax", "-1", "0", "1")["values"] == [-1, 0, 1]


# --------------------------------------------------------------------------- softmax

def test_softmax_large_values_are_stable():
    data = ok_json("softmax", "1000 1001 1002")
    assert data["schema"] == "nncli.softmax/1" and data["shape"] == [3]
    np.testing.assert_allclose(data["output"], [0.09003057317038046, 0.24472847105479764,
                                                0.6652409557748219], rtol=1e-12)
    text = ok("softmax", "1000", "1001", "1002").stdout
    for cell in ("1000", "0.1353", "0.09003", "0.6652", "exp(z - max)", "█"):
        assert cell in text


def test_softmax_temperature_and_rows():
    hot = ok_json("softmax", "1 2 3", "--temperature", "100")["output"]
    cold = ok_json("softmax", "1 2 3", "--temperature", "0.01")["output"]
    assert max(hot) < 0.34 and cold[2] > 0.999
    rows = ok_json("softmax", "1 2; 3 3")
    assert rows["shape"] == [2, 2] and rows["output"][1] == [0.5, 0.5]
    assert "exp((z - max) / 2)" in ok("softmax", "1 2 3", "--temperature", "2").stdout
    assert "row 1:" in ok("softmax", "1 2; 3 3").stdout


# --------------------------------------------------------------------------- bad inputs

BAD = [
    (("conv", "1 0 1 0 1; 0 1 0", K),
     "INPUT: row 2 has 3 values but row 1 has 5; every row needs the same number of values"),
    (("conv", A, "1 x; 1 1"), "KERNEL: row 1, value 2 is 'x', which is not a number"),
    (("conv", "1 2; nan 1", K), "INPUT: row 2, value 1 is nan; every value must be a finite"),
    (("conv", "[[1, Infinity]]", K), "INPUT: JSON holds Infinity; every value must be"),
    (("conv", "", K), "INPUT: the matrix is empty"),
    (("conv", A, "[[]]"), "KERNEL: the matrix is empty"),
    (("conv", "1 2; 3 4", "1 1 1; 1 1 1; 1 1 1"),
     "KERNEL: 3x3 kernel is larger than the padded 2x2 input; use a smaller kernel or "
     "--padding 1"),
    (("conv", A, K, "--stride", "0"), "--stride: expected an integer >= 1, got 0"),
    (("conv", A, K, "--padding", "-1"), "--padding: expected an integer >= 0, got -1"),
    (("conv", "[[[1,2],[3,4]],[[1,2],[3,4]]]", "[[[[1]]],[[[1]]],[[[1]]]]"),
     "KERNEL: the kernel has 1 channel but INPUT has 2; expected a kernel of shape (2, kh, "
     "kw) or (F, 2, kh, kw)"),
    (("conv", "[1, 2, 3]", K), "INPUT: expected a 2-D matrix (H, W) or a 3-D tensor (C, H, W),"
                               " got a 1-D array of shape 3"),
    (("conv", "missing.txt", K), "INPUT: file 'missing.txt' not found; expected an inline"),
    (("conv", A, K, "--explain", "a,b"), "--explain: expected ROW,COL (like 0,0), got 'a,b'"),
    (("conv", A, K, "--explain", "4,0"),
     "--explain: cell (4, 0) is outside the 4x4 output; ROW 0..3, COL 0..3"),
    (("conv", A, "[[[[1]]],[[[2]]]]", "--explain", "0,0"),
     "--explain: expected F,ROW,COL (like 0,0,0), got '0,0'; the output has 2 maps"),
    (("conv", "-", "-"), "KERNEL: only one of INPUT and KERNEL can be - (standard input)"),
    (("conv", A, K, "--padding", "1000000"), "INPUT: convolving the 5x5 input (padded "
                                             "2000005x2000005, output 1x2000004x2000004) needs"),
    (("conv", "1e200 1e200", "1e200"), "INPUT: the result overflows a 64-bit float"),
    (("pool", A, "--size", "0"), "--size: expected an integer >= 1, got 0"),
    (("pool", A, "--stride", "0"), "--stride: expected an integer >= 1, got 0"),
    (("pool", A, "--mode", "min"), "--mode: expected max or avg, got 'min'"),
    (("pool", "1 2; 3 4", "--size", "3"),
     "INPUT: 3x3 window (--size 3) is larger than the 2x2 input; use --size 2 or smaller"),
    (("softmax", "1 2 3", "--temperature", "0"), "--temperature: expected a number > 0, got 0"),
    (("softmax", "1 2 3", "--temperature", "nan"), "--temperature: expected a number > 0"),
    (("softmax", "1", "2", "--temp", "2"), "VALUES: unknown option '--temp'"),
    (("softmax", "1 two"), "VALUES: row 1, value 2 is 'two', which is not a number"),
]


@pytest.mark.parametrize("args, message", BAD, ids=[b[1][:40] for b in BAD])
def test_bad_input_exits_2_with_one_line(args, message):
    assert bad(*args).startswith(message)


def test_bad_files(tmp_path):
    obj = tmp_path / "obj.npy"
    np.save(obj, np.array([None], dtype=object), allow_pickle=True)
    assert bad("conv", obj, K).startswith(f"INPUT: '{obj}' holds Python objects")
    xl = tmp_path / "a.xlsx"
    xl.write_text("1")
    assert bad("pool", xl).startswith("INPUT: unknown file type '.xlsx'")
    assert "is a folder" in bad("conv", A, tmp_path)
    raw = tmp_path / "raw.csv"
    raw.write_bytes(b"\x89PNG\xff")
    assert bad("pool", raw) == (f"INPUT: '{raw}' is not UTF-8 text; expected numbers as "
                                "text, or a .npy/.npz file")


def test_too_large_for_the_memory_budget(tmp_path):
    env = {"NNCLI_MEMORY_BUDGET": "4K"}
    big = "; ".join(" ".join(["1"] * 30) for _ in range(30))
    assert "over the memory budget of 4.0 KB" in bad("conv", big, K, env=env)
    assert "over the memory budget" in bad("pool", "-", input=big, env=env)
    huge = tmp_path / "huge.npy"
    with open(huge, "wb") as fh:
        np.lib.format.write_array_header_1_0(
            fh, {"descr": "<f8", "fortran_order": False, "shape": (10**6, 10**6)})
    assert "7.3 TB, over the memory budget" in bad("pool", huge)


def test_json_output_is_refused_when_over_the_budget(tmp_path):
    x = tmp_path / "x.npy"
    np.save(x, np.ones((10, 10), dtype=np.int64))
    env = {"NNCLI_MEMORY_BUDGET": "4K"}
    assert ok_json("conv", x, "1", env={"NNCLI_MEMORY_BUDGET": "8K"})["shape"] == [10, 10]
    assert "needs about" not in ok("conv", x, "1", env=env).stdout     # the table still fits
    message = bad("conv", x, "1", "--json", env=env)
    assert message.startswith("--json: printing 100 values as JSON needs about 6.2 KB, over "
                              "the memory budget of 4.0 KB")


def test_empty_stdin_and_json_object_without_output():
    assert bad("pool", "-", input="").startswith("INPUT: the matrix is empty")
    assert bad("pool", "-", input='{"loss": 1}').startswith(
        'INPUT: JSON object has no "output" field')


def test_markup_in_user_input_is_shown_literally():
    assert "'a[b]'" in bad("conv", "1 a[b]", K)


def test_usage_errors_exit_2():
    result = run("conv", A)
    assert result.exit_code == 2 and "Missing argument" in result.output


# --------------------------------------------------------------------------- rendering

def _render(obj, **console_kw) -> str:
    """What a terminal would receive (escape codes included when one is forced)."""
    out = io.StringIO()
    Console(width=100, file=out, **console_kw).print(obj)
    return out.getvalue()


def test_heatmap_diverging_colours_and_no_color_fallback():
    m = np.array([[2, -1], [0, 1]])
    colour = _render(render.heatmap(m, "M"), force_terminal=True, color_system="truecolor")
    assert "48;2;178;24;43" in colour             # strongest positive: dark red background
    assert "48;2;" in colour and "2;33;102;172" not in colour
    plain = _render(render.heatmap(m, "M"), force_terminal=True, no_color=True)
    assert "48;2" not in plain and "38;2" not in plain
    assert "\x1b[1m" in plain                      # |v| >= max/2 stays bold without colour
    assert "-1" in plain and "\x1b[2m" in plain    # sign in the number; zero is dim


def test_heatmap_truncates_but_stats_cover_everything():
    m = np.zeros((40, 60))
    m[20, 30] = 9.5                                # hidden in the cut-out middle
    m[0, 0] = -3.25
    text = _render(render.heatmap(m, "big", max_rows=10, max_cols=8))
    assert "…" in text and "9.5" not in text.split("shape")[0]
    assert "shape 40x60 · min -3.25 · max 9.5" in text
    labels = [r.split()[0] for r in text.splitlines()[3:] if r.strip()]
    assert labels[:6] == ["0", "1", "2", "3", "4", "…"] and "39" in labels


def test_heatmap_fits_the_console_width():
    m = np.arange(100 * 30).reshape(30, 100) * 1.5
    console = Console(width=60, record=True, file=io.StringIO())
    console.print(render.heatmap(m, "wide"))
    assert max(len(line) for line in console.export_text().splitlines()) <= 60


def test_heatmap_one_d_three_d_and_marks():
    text = _render(render.heatmap(np.array([0.5, -0.25]), "v"))
    assert "0.5" in text and "-0.25" in text
    cube = np.arange(2 * 2 * 3).reshape(2, 2, 3)
    text = _render(render.heatmap(cube, "c", axis_names=("channel",), mark={(1, 0, 2)},
                                  highlight={(0, 1, 1)}))
    assert "channel 0" in text and "channel 1" in text and "8*" in text and "[4]" in text
    many = _render(render.heatmap(np.zeros((20, 2, 2)), "maps", max_maps=3))
    assert "17 more maps not shown" in many
    mask = np.zeros((2, 3), dtype=bool)
    mask[1, 2] = True
    masked = _render(render.heatmap(np.arange(6).reshape(2, 3), "m", mark=mask,
                                    highlight=mask))
    assert "[5]*" in masked and "[4]" not in masked
    with pytest.raises(ValueError, match="mask shape"):
        render.heatmap(np.zeros((2, 2)), mark=mask)


def test_number_formats_stats_and_bar():
    assert render.number_formatter(np.array([1.0, 2.0]))(2.0) == "2"
    assert render.number_formatter(np.array([1.5, 2.0]))(2.0) == "2"
    assert render.number_formatter(np.array([1.5]))(1 / 3) == "0.3333"
    assert render.format_number(-0.0) == "0"
    assert render.stats_line(np.array([[1, 3]])) == "shape 1x2 · min 1 · max 3 · mean 2 · std 1"
    assert render.bar(0.5, 10) == "█████     "
    assert render.bar(1.7, 4) == "████" and render.bar(-1, 4) == "    "
    assert render.bar(float("nan"), 3) == "   "
    assert render.bar(0.25, 1) == "▎"


# --------------------------------------------------------------------------- help, entry points

@pytest.mark.parametrize("command", ["conv", "pool", "softmax"])
def test_every_command_has_help_with_examples(command):
    text = ok(command, "--help").stdout
    assert "Examples" in text and f"nncli {command}" in text


def _entry_point() -> str | None:
    local = Path(sys.executable).parent / "nncli"
    return str(local) if local.exists() else shutil.which("nncli")


@pytest.mark.skipif(_entry_point() is None, reason="nncli is not installed (pip install -e .)")
def test_installed_entry_point_pipeline():
    exe = _entry_point()
    conv = subprocess.run([exe, "conv", A_FILE, K_FILE, "--json"], capture_output=True,
                          text=True, timeout=60)
    assert conv.returncode == 0, conv.stderr
    pool = subprocess.run([exe, "pool", "-", "--size", "2", "--stride", "2", "--json"],
                          input=conv.stdout, capture_output=True, text=True, timeout=60)
    assert json.loads(pool.stdout)["output"] == SEED_POOL
    fail = subprocess.run([exe, "conv", A_FILE, K_FILE, "--stride", "0"], capture_output=True,
                          text=True, timeout=60)
    assert fail.returncode == 2 and fail.stdout == ""
    assert fail.stderr.strip() == "error: --stride: expected an integer >= 1, got 0"


def test_python_dash_m_nncli():
    env = {**os.environ, "NO_COLOR": "1"}
    out = subprocess.run([sys.executable, "-m", "nncli", "conv", A_FILE, K_FILE, "--explain",
                          "0,0"], capture_output=True, text=True, timeout=60, cwd=ROOT, env=env)
    assert out.returncode == 0, out.stderr
    assert NOTES_EXPLAIN in out.stdout.splitlines()
    assert "\x1b[" not in out.stdout
    bad_run = subprocess.run([sys.executable, "-m", "nncli", "pool", "nope.npy"],
                             capture_output=True, text=True, timeout=60, cwd=ROOT, env=env)
    assert bad_run.returncode == 2 and re.match(r"error: INPUT: file 'nope.npy' not found",
                                                bad_run.stderr)
