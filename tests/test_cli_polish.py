"""The command line a class can live in: usage errors as one line with the fix, options
parsed as options wherever they appear (negative numbers stay values), and the wording of
counts and closing lines."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import specs
import yaml
from typer.testing import CliRunner

from nncli.cli import app

runner = CliRunner()
ENV = {"COLUMNS": "80", "NO_COLOR": "1", "TERM": "dumb"}


def run(*args, env=None):
    return runner.invoke(app, [str(a) for a in args], env={**ENV, **(env or {})})


def one_error_line(result) -> str:
    assert result.exit_code == 2, (result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and "Traceback" not in result.stderr
    return lines[0].removeprefix("error: ")


# --------------------------------------------------------------------------- usage errors

@pytest.mark.parametrize("args, expected", [
    (["eval", "configs/digits_mlp.yaml", "--lr", "0.5"],
     "No such option: --lr for 'nncli eval'; 'nncli eval --help' lists the options"),
    (["train", "digits_mlp", "--epoch", "3"],
     "No such option: --epoch for 'nncli train'; did you mean --epochs?"),
    (["--bogus"], "No such option: --bogus for 'nncli'; 'nncli --help' lists the options"),
    (["trian"], "No such command: 'trian'; did you mean 'train'?"),
    (["conv", "1"], "Missing argument 'KERNEL'; usage: nncli conv [OPTIONS] INPUT KERNEL"),
    (["softmax"], "Missing argument 'VALUES'; usage: nncli softmax [OPTIONS] VALUES..."),
    (["train", "--epochs"], "--epochs: requires an argument; see 'nncli train --help'"),
    (["softmax", "1", "--temperature", "abc"],
     "Invalid value for '--temperature' / '-t': 'abc' is not a valid number. See 'nncli "
     "softmax --help'"),
    (["conv", "1", "1", "3"],
     "nncli conv: Got unexpected extra argument(s) (3); see 'nncli conv --help'"),
])
def test_usage_errors_are_one_line_with_the_fix(args, expected):
    result = run(*args)
    line = one_error_line(result)
    assert line == expected
    assert "Possible options" not in line and "╭" not in result.stderr
    assert result.stdout == ""


def test_no_arguments_still_prints_the_help():
    result = run()
    assert result.exit_code == 2 and "Usage: nncli [OPTIONS] COMMAND" in result.output


# --------------------------------------------------------------------------- options anywhere

def _probabilities(result) -> list[str]:
    assert result.exit_code == 0, result.stderr
    return [line.split()[3] for line in result.stdout.splitlines()
            if line[:1].isdigit() and len(line.split()) >= 4]


def test_softmax_reads_options_wherever_they_appear():
    expected = _probabilities(run("softmax", "1", "2", "3", "--temperature", "2"))
    assert expected == ["0.1863", "0.3072", "0.5065"]
    assert _probabilities(run("softmax", "1", "2", "3", "-t", "2")) == expected
    assert _probabilities(run("softmax", "-t", "2", "1", "2", "3")) == expected
    # negative numbers are values, before and after options
    negative = _probabilities(run("softmax", "-1", "0", "1", "-t", "0.5"))
    assert negative == _probabilities(run("softmax", "-t", "0.5", "-1", "0", "1"))
    assert negative == ["0.01588", "0.1173", "0.8668"]
    assert _probabilities(run("softmax", "-1.5", "-.5", "-1e0")) == ["0.1863", "0.5065",
                                                                      "0.3072"]
    assert one_error_line(run("softmax", "1", "2", "-z")).startswith(
        "VALUES: unknown option '-z'")


def test_conv_and_pool_take_negative_matrices_and_refuse_unknown_options():
    assert json.loads(run("conv", "-1 1; 1 -1", "1 -1; -1 1", "--json").stdout)["output"] \
        == [[-4]]
    assert json.loads(run("pool", "-1 2; 3 -4", "--size", "2", "--json").stdout)["output"] \
        == [[3]]
    assert one_error_line(run("conv", "1", "1", "--strid", "2")) == (
        "No such option: --strid for 'nncli conv'; did you mean --stride?")


# --------------------------------------------------------------------------- training table

def _shipped_configs() -> list[str]:
    from nncli import resources

    return sorted(name for name, path, _ in resources.builtin_configs()
                  if "data" in yaml.safe_load(Path(path).read_text()))


SMALL = {"adding": 64, "sine": 64, "bars": 64, "agreement": 120}   # generated data: a few


@pytest.mark.parametrize("name", _shipped_configs())
def test_every_shipped_configs_training_output_fits_80_columns(tmp_path, monkeypatch, name):
    from nncli import resources

    path = next(p for n, p, _ in resources.builtin_configs() if n == name)
    spec = yaml.safe_load(Path(path).read_text())
    data = spec["data"]
    kind = data if isinstance(data, str) else data.get("name")
    sets = []
    if kind in SMALL:
        sets = [f"data.train={SMALL[kind]}", "data.val=16", "data.test=16"]
    monkeypatch.chdir(tmp_path)        # a short run folder: the closing commands hold it whole
    result = run("train", name, "--epochs", 1, "--out", "run",
                 *[a for s in sets for a in ("--set", s)])
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    # Every line: the header (wrapped between its pieces), the table, the closing lines.
    assert all(len(line) <= 80 for line in lines), result.stdout
    header = lines[:1 + next(i for i, x in enumerate(lines) if "run folder run" in x)]
    assert " · ".join(header).startswith(f"training {spec['name']} · "), header
    assert any("BLAS thread" in x for x in header) and header[-1].endswith("run folder run")
    assert any(re.search(r"\b\d+ batch(es)? of \d+\b", x) for x in header), header
    table = lines[len(header):lines.index(next(x for x in lines if x.startswith("done: ")))]
    assert "epoch" in table[1] and "loss" in table[1], "\n".join(table)
    assert not any("…" in line for line in table), "a cell or header was cut:\n" + \
        "\n".join(table)
    assert "done: epoch 1 in" in result.stdout


def test_the_table_folds_then_drops_gradient_columns_and_says_so_once():
    from nncli.render.train import GRAD, fit_columns

    columns = [("epoch", ["1", "2"]), ("train\nloss", ["3.979", "3.557"]),
               ("train\nacc", ["3.0%", "25.5%"]), ("val\nloss", ["3.55", "3.433"]),
               ("lr", ["0.5", "0.491"]), ("time\n(s)", ["0.01", "0.01"])] + \
        [(f"{GRAD}{i}.layer", ["0.123", "1.49"]) for i in range(3)]
    fold = (f"{GRAD}all", ["1.61", "1.14"])
    kept, note = fit_columns(columns, 200, fold)
    assert kept == columns and note is None
    kept, note = fit_columns(columns, 60, fold)
    assert [h for h, _ in kept][-1] == f"{GRAD}all" and len(kept) == 7
    assert note.startswith("|grad| all: 3 layers' gradient norms as one L2 norm")
    kept, note = fit_columns(columns, 40, fold)
    assert [h for h, _ in kept] == ["epoch", "train\nloss", "val\nloss", "lr", "time\n(s)"]
    assert note == "left out to fit 40 columns: |grad|, train acc (see metrics.jsonl)"


# --------------------------------------------------------------------------- --full

CONFIGS = Path(__file__).resolve().parent.parent / "configs"


@pytest.fixture(scope="module")
def digit(tmp_path_factory) -> Path:
    import numpy as np

    path = tmp_path_factory.mktemp("digit") / "digit.npy"
    np.save(path, np.load(CONFIGS.parent / "data" / "digits.npz")["x_test"][0])
    return path


def _fits(text: str) -> None:
    assert max(len(line) for line in text.splitlines()) <= 80, text


def test_forward_cuts_with_a_note_and_full_shows_every_value(digit):
    cut = run("forward", "digits_cnn", "-x", digit).stdout
    _fits(cut)
    assert "… 8 more maps not shown (stats cover all; --full shows all)" in cut
    assert re.search(r"… \d of 10 values shown \(stats cover all; --full shows all\)", cut)
    assert "channel 15" not in cut
    full = run("forward", "digits_cnn", "-x", digit, "--full").stdout
    _fits(full)
    assert "…" not in full and "channel 15" in full
    softmax = full[full.index("[4] softmax"):]
    header = " ".join(line for line in softmax.splitlines() if line.lstrip()[:1].isdigit()
                      and "e-" not in line and "." not in line)
    assert header.split() == [str(j) for j in range(10)]        # every class, in blocks


def test_backward_and_pool_take_full():
    import numpy as np

    x = "[[" + ",".join("[" + ",".join(str(v) for v in row) + "]"
                        for row in np.arange(64).reshape(8, 8) % 5) + "]]"
    cut = run("backward", "digits_cnn", "-x", x, "-y", "3").stdout
    assert "… 8 more maps not shown" in cut and "filter 15" not in cut
    assert "filter 0, channel 0" in cut and "axis 0" not in cut     # conv maps named
    full = run("backward", "digits_cnn", "-x", x, "-y", "3", "--full").stdout
    assert "filter 15, channel 0" in full and "more maps" not in full
    _fits(full)
    big = "; ".join(" ".join(str((i * j) % 7 - 3) for j in range(40)) for i in range(30))
    assert "of 30 rows" in run("pool", big).stdout
    full = run("pool", big, "--full").stdout
    _fits(full)
    assert "…" not in full and all(f"\n{i:>2} " in full for i in range(30))


def test_conv_explain_shows_the_rows_and_columns_around_the_cell(tmp_path):
    import numpy as np

    big = tmp_path / "big.npy"
    np.save(big, np.arange(100 * 100).reshape(100, 100) % 7 - 3)
    text = run("conv", big, "1 0; 0 -1", "--explain", "50,50").stdout
    _fits(text)
    rows = {line.split()[0] for line in text.splitlines() if line.strip()}
    assert {"50", "51"} <= rows                       # the patch's rows are shown
    patch = [line for line in text.splitlines() if line.split()[:1] == ["50"]][0]
    assert "[0]" in patch and "[1]" in patch        # highlighted, columns 50 and 51 shown
    assert re.search(r"\n… 14 of 100 rows, \d+ of 100 columns shown \(stats cover all; "
                     r"--full shows all\)\n", text)
    full = run("conv", big, "1 0; 0 -1", "--full").stdout
    _fits(full)
    assert "…" not in full


# --------------------------------------------------------------------------- text models

AGREE = specs.agree(cell="rnn", train=100, held_out=10, test=40)


@pytest.fixture(scope="module")
def text_run(tmp_path_factory) -> tuple[Path, str]:
    folder = tmp_path_factory.mktemp("text")
    (folder / "agree.yaml").write_text(AGREE)
    result = run("train", folder / "agree.yaml", "--out", folder / "run")
    assert result.exit_code == 0, result.stderr
    return folder / "run", result.stdout


def test_the_closing_hint_of_a_text_model_suggests_complete_and_agreement(text_run):
    folder, shown = text_run
    assert f"complete    nncli complete {folder} --prompt TEXT" in shown
    assert f"agreement   nncli agreement {folder}" in shown
    assert "predict" not in shown.split("done: ")[1]
    assert "done: epoch 1 in" in shown and "epochs 1-1" not in shown


def test_the_closing_hint_of_a_classifier_suggests_predict(tmp_path):
    shown = run("train", "digits_mlp", "--epochs", 1, "--out", tmp_path / "mlp").stdout
    assert f"predict     nncli predict {tmp_path / 'mlp'} --input FILE" in shown
    assert "nncli complete" not in shown


def test_eval_full_draws_a_large_confusion_matrix_in_blocks(text_run):
    folder, _ = text_run
    cut = run("eval", folder).stdout
    classes = int(re.search(r"\((\d+) classes: the confusion matrix is in --json, or drawn "
                            r"with --full\)", cut).group(1))
    assert classes > 20
    full = run("eval", folder, "--full").stdout
    _fits(full)
    headers = [line.split() for line in full.splitlines() if line.startswith("true")]
    assert len(headers) > 1                                     # several blocks
    assert [c for h in headers for c in h if c != "true"] == \
        [str(j) for j in range(classes)] + ["recall"]


def test_gradcheck_samples_by_default_and_skips_token_ids(text_run):
    folder, _ = text_run
    report = json.loads(run("gradcheck", folder, "--json").stdout)
    assert report["passed"] and "input" not in {r["name"] for r in report["results"]}
    sizes = {r["name"]: int(np.prod(r["shape"])) for r in report["results"]}
    checked = {r["name"]: r["checked"] for r in report["results"]}
    assert checked == {name: min(100, size) for name, size in sizes.items()}
    assert any(size > 100 for size in sizes.values())                # really sampled
    text = run("gradcheck", folder).stdout
    assert "no input row: the model reads token ids" in text and "of " in text
    every = json.loads(run("gradcheck", folder, "--all", "--json").stdout)
    assert {r["name"]: r["checked"] for r in every["results"]} == sizes
    assert one_error_line(run("gradcheck", folder, "--all", "--max-entries", "3")).startswith(
        "--all: checks every entry")
    conv = json.loads(run("gradcheck", "seed_conv", "--json").stdout)
    assert "input" in {r["name"] for r in conv["results"]}           # real inputs keep it


def test_gradcheck_shows_progress_on_a_long_check(text_run, monkeypatch):
    from nncli.render import model as view

    folder, _ = text_run
    monkeypatch.setattr(view, "PROGRESS_AFTER", 0.0)
    result = run("gradcheck", folder, "--max-entries", "30",
                 env={"TTY_COMPATIBLE": "1", "TERM": "xterm"})
    assert result.exit_code == 0 and "gradcheck: entries" in result.stderr
    assert "gradcheck: entries" not in result.stdout
    quiet = run("gradcheck", folder, "--max-entries", "30")       # not a terminal: nothing
    assert quiet.exit_code == 0 and quiet.stderr == ""


def test_agreement_names_missing_fillers_and_the_model_that_failed(text_run, tmp_path):
    folder, _ = text_run
    one = one_error_line(run("agreement", folder, "--fillers", "0,5", "--pairs", "2"))
    assert one.startswith(f"MODEL {folder}: the vocabulary lacks the filler words ")
    assert "trained without data.fillers" in one and "--set data.fillers=[0,30]" in one
    assert "data: {name: agreement}" not in one
    far = tmp_path / "far.yaml"
    far.write_text(AGREE.replace("test: 40}", "test: 40, fillers: [0, 3]}"))
    trained = run("train", far, "--out", tmp_path / "far")
    assert trained.exit_code == 0, trained.stderr
    assert run("agreement", tmp_path / "far", "--fillers", "0,2", "--pairs", "2").exit_code \
        == 0
    both = one_error_line(run("agreement", tmp_path / "far", folder, "--fillers", "0,2",
                              "--pairs", "2"))
    assert both.startswith(f"MODEL {folder}: ")                  # the second one failed


def test_agreement_with_one_model_has_a_full_width_title(text_run):
    folder, _ = text_run
    lines = run("agreement", folder, "--pairs", "2").stdout.splitlines()
    assert lines[0] == "subject-verb agreement: P(right form) > P(wrong form)?"
    caption = lines[lines.index(next(x for x in lines if x.startswith("mods:"))):]
    assert len(caption[0]) > 60                        # wrapped to 80, not the table's width


# --------------------------------------------------------------------------- backward

def test_backward_shows_a_dash_for_a_parameter_at_zero(digit):
    args = ("backward", "digits_cnn", "-x", digit, "-y", "3")
    params = json.loads(run(*args, "--json").stdout)["params"]
    assert params["0.bias"]["param_l2"] == 0 and params["0.bias"]["rel_norm"] is None
    assert params["0.weight"]["rel_norm"] == pytest.approx(
        params["0.weight"]["l2"] / params["0.weight"]["param_l2"])
    cells = {}
    for line in run(*args).stdout.splitlines():
        cell = [c.strip() for c in line.strip("│").split("│")]
        if cell[0] in ("0.bias", "0.weight") and len(cell) == 4:
            cells[cell[0]] = cell[3]
    assert cells == {"0.weight": f"{params['0.weight']['rel_norm']:.4g}", "0.bias": "—"}


def test_a_narrow_heatmap_keeps_its_labels_whole():
    lines = run("pool", "[[[1]],[[2]]]", "--size", "1").stdout.splitlines()
    assert "channel 0" in lines and "channel 1" in lines
    assert not any(line.strip() in ("chann", "el 0", "el 1") for line in lines)


# --------------------------------------------------------------------------- wording, init

def test_counts_of_one_are_singular(tmp_path):
    conv = run("summary", "seed_conv").stdout
    assert "1 filter 2x2" in conv and "1 filters" not in conv
    rnn = run("summary", "seed_rnn").stdout
    assert "1 unit," in rnn and "1 units" not in rnn
    assert run("softmax", "3").stdout.startswith("softmax of 1 value, T = 1")
    assert "softmax of 3 values" in run("softmax", "1", "2", "3").stdout
    line = one_error_line(run("backward", "seed_rnn", "-x", "[[[1], [2]]]", "-y",
                              "[[[1], [2]], [[1], [2]]]"))
    assert line == "--target: 2 targets for 1 input sample"


def test_init_writes_seeded_initial_weights_also_from_a_run_folder(text_run, tmp_path):
    folder, _ = text_run
    result = run("init", folder, "-o", tmp_path / "w0.npz")
    assert result.exit_code == 0, result.stderr
    initial = np.load(tmp_path / "w0.npz")
    trained = np.load(folder / "best.npz")
    spec_init = run("init", folder / "config.yaml", "-o", tmp_path / "spec.npz")
    assert spec_init.exit_code == 0
    from_spec = np.load(tmp_path / "spec.npz")
    assert sorted(initial) == sorted(from_spec)        # the vocabulary rides along
    for key in ("0.weight", "2.weight"):
        np.testing.assert_array_equal(initial[key], from_spec[key])     # the seeded init
        assert not np.array_equal(initial[key], trained[key])           # not the trained
    np.testing.assert_array_equal(initial["vocab"], trained["vocab"])


def test_init_wants_an_npz_name_and_never_overwrites(tmp_path):
    bare = tmp_path / "w0"
    assert one_error_line(run("init", "seed_rnn", "-o", bare)) == (
        f"--out: '{bare}' has no extension; name a .npz file, e.g. --out w0.npz")
    assert not bare.exists()
    assert "has '.txt'" in one_error_line(run("init", "seed_rnn", "-o", tmp_path / "w.txt"))
    assert run("init", "seed_rnn", "-o", tmp_path / "w0.npz").exit_code == 0
    assert "already exists" in one_error_line(run("init", "seed_rnn", "-o",
                                                  tmp_path / "w0.npz"))


def test_an_npz_input_with_several_arrays_is_refused_and_listed(tmp_path):
    two = tmp_path / "two.npz"
    np.savez(two, a=np.ones((2, 2)), b=-np.ones((2, 2)))
    assert one_error_line(run("pool", two, "--size", "1")) == (
        f"INPUT: '{two}' holds 2 arrays (a, b); pick one, e.g. '{two}:a'")
    chosen = json.loads(run("pool", f"{two}:b", "--size", "1", "--json").stdout)
    assert chosen["output"] == [[-1, -1], [-1, -1]]


# --------------------------------------------------------------------------- summary memory

@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", ["adding_gru_lite", "adding_lstm", "digits_cnn",
                                  "chars_rnn"])
def test_summary_counts_what_a_forward_and_backward_keep(name, dtype):
    """Checked against tracemalloc: the memory a forward and backward pass of one sample
    leave allocated (outputs, gradients, the layers' caches), in either dtype. summary
    counts in train.dtype (float32 by default, as these configs train)."""
    import tracemalloc

    from nncli.spec import load_spec

    summary = json.loads(run("summary", name, "--json").stdout)
    model = load_spec(CONFIGS / f"{name}.yaml").build().astype(dtype)
    reported = model.sample_activation_bytes()
    if dtype == "float32":
        assert summary["dtype"] == "float32"
        assert summary["activation_bytes_per_sample"] == reported
    assert model.activation_bytes(32) == 32 * reported          # the budget scales it
    x = np.zeros((1, *model.input_shape), dtype=model.dtype)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        outputs = model.forward(x, upto=model._loss_end()).outputs
        _, grads = model.backward_from(np.zeros_like(outputs[-1]), keep=True)
        kept = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    assert reported <= kept <= 1.1 * reported + 4096, (reported, kept)
    outputs_only = model.dtype.itemsize * sum(int(np.prod(s)) for s in model.shapes)
    if name.startswith("adding"):         # return: last, 50 steps: the states dominate
        assert reported > 100 * outputs_only


def test_summary_counts_memory_in_the_dtype_that_will_be_used(tmp_path):
    """train.dtype for a spec meant for training (float32 by default; float64 for a run
    folder from before train.dtype existed), float64 for one only run by forward."""
    from nncli.spec import load_spec

    def summary(config):
        return json.loads(run("summary", config, "--json").stdout)

    built = load_spec(CONFIGS / "digits_cnn.yaml").build()
    float64 = built.sample_activation_bytes()
    assert summary("digits_cnn")["dtype"] == "float32"
    assert summary("digits_cnn")["activation_bytes_per_sample"] < float64
    assert summary(CONFIGS / "seed_conv.yaml")["dtype"] == "float64"
    text = run("summary", CONFIGS / "seed_conv.yaml", env={"COLUMNS": "80"}).stdout
    assert "counted in float64, 8 bytes a value" in text
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    config = yaml.safe_load((CONFIGS / "digits_cnn.yaml").read_text())
    (legacy / "config.yaml").write_text(yaml.safe_dump(config))
    assert "dtype" not in config["train"]
    assert summary(legacy)["dtype"] == "float64"
    assert summary(legacy)["activation_bytes_per_sample"] == float64
    config["train"]["dtype"] = "float32"
    (legacy / "config.yaml").write_text(yaml.safe_dump(config))
    assert summary(legacy)["dtype"] == "float32"


def test_the_memory_budget_of_grad_trace_blames_steps():
    result = run("grad-trace", "--steps", "100000", "--hidden", "64",
                 env={"NNCLI_MEMORY_BUDGET": "10M"})
    assert one_error_line(result).startswith("--steps: the Jacobians of 1 x 100000 steps")


def test_predict_names_a_mistyped_option(tmp_path):
    assert one_error_line(run("predict", "digits_mlp", "--sampl", "3")) == (
        "No such option: --sampl for 'nncli predict'; did you mean --sample?")


# --------------------------------------------------------------------------- colour words

# A colour terminal, and one with NO_COLOR (bold and dim, no colours); ENV alone is a pipe.
COLOUR = {"NO_COLOR": None, "FORCE_COLOR": "1", "TERM": "xterm-256color"}
STYLES = {"FORCE_COLOR": "1", "TERM": "xterm-256color"}


def test_weights_names_colours_only_where_they_are_shown():
    helped = run("weights", "--help").stdout
    assert "Blue is negative, red positive" not in helped and "NO_COLOR" in helped

    def key(env=None) -> str:
        result = run("weights", "digits_mlp", "--layer", 2, env=env)
        assert result.exit_code == 0, result.stderr
        return result.stdout.splitlines()[-1]

    assert "colour: blue < 0 < red (white = 0); bold: |v| >= max|v|/2" in key(COLOUR)
    styled = key(STYLES)
    assert "\x1b[" in styled and "blue" not in styled and "red" not in styled
    assert "no colour: the numbers carry their sign; bold: |v| >= max|v|/2; dim: 0" in styled
    assert key() == "plain text: the numbers carry their sign"


def test_complete_explain_says_green_only_in_colour(text_run):
    folder, _ = text_run

    def caption(env=None) -> str:
        result = run("complete", folder, "-p", "the", "-n", 2, "-t", 0, "--explain", env=env)
        assert result.exit_code == 0, result.stderr
        shown = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout)        # the caption wraps
        return " ".join(shown[shown.index("candidates:"):].split())

    assert "the chosen one is green" in caption(COLOUR)
    assert "the chosen one is bold" in caption(STYLES)
    plain = caption()
    assert "green" not in plain and "bold" not in plain


# --------------------------------------------------------------------------- wrapped lines

def test_flowed_breaks_only_between_pieces():
    from nncli.render.tensor import flowed

    pieces = ["training a-model", "4,810 parameters", "1,259 training samples",
              "40 batches of 32", "sgd", "run folder /a/path/longer/than/the/width"]
    text = flowed(pieces, 30).plain
    assert text.splitlines() == ["training a-model", "4,810 parameters",
                                 "1,259 training samples", "40 batches of 32 · sgd",
                                 "run folder /a/path/longer/than/the/width"]
    assert flowed(pieces, 200).plain == " · ".join(pieces)
    words = flowed(["e.g.:", "a", "bb", "ccc", "[x / y]"], 12, sep=" ", indent=6).plain
    assert words.splitlines() == ["e.g.: a bb", "      ccc", "      [x / y]"]


def test_agreement_examples_wrap_under_their_sentence(text_run):
    folder, _ = text_run
    result = run("agreement", folder, env={"COLUMNS": "50"})
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert all(len(line) <= 50 for line in lines), result.stdout
    first = next(i for i, x in enumerate(lines) if x.startswith("e.g. "))
    examples = lines[first:]
    heads = [x for x in examples if x.startswith("e.g. ")]
    assert heads and all(re.match(r"e\.g\. \d+ modifiers?: \S", x) for x in heads)
    for x in examples:                   # a further line stands under the sentence's start
        assert x.startswith("e.g. ") or x.startswith(" " * len("e.g. 1 modifier: ")), x
    pairs = re.findall(r"\[[^\]]*\]", result.stdout.split("e.g. ", 1)[1])
    assert len(pairs) == len(heads) and all(re.fullmatch(r"\[\w+ / \w+\]", q) for q in pairs)


# --------------------------------------------------------------------------- counts

def test_counts_read_with_thousands_separators_and_json_keeps_integers(tmp_path):
    from nncli.formatting import plural

    assert plural(12345, "parameter") == "12,345 parameters"
    assert [plural(1, "batch"), plural(2, "batch"), plural(3, "entry"), plural(2, "key")] == \
        ["1 batch", "2 batches", "3 entries", "2 keys"]
    wide = ("--set", "layers.1.dense.units=1024")
    shown = run("summary", "digits_mlp", *wide).stdout
    assert "1,024 units, relu" in shown
    record = json.loads(run("summary", "digits_mlp", *wide, "--json").stdout)
    assert record["layers"][1]["options"] == "1,024 units, relu"      # text for people
    assert record["layers"][1]["params"] == 66560 and record["total_params"] == 66560 + 10250
    result = run("init", "digits_mlp", *wide, "-o", tmp_path / "w0.npz")
    assert result.exit_code == 0, result.stderr
    assert f"wrote 76,810 parameters in 4 arrays to {tmp_path / 'w0.npz'}" in result.stderr
    trained = run("train", "digits_mlp", "--epochs", 1, "--set", "train.batch_size=2000",
                  "--out", tmp_path / "run").stdout
    assert "1,259 training samples" in trained
    assert re.search(r"(^| · )1 batch of 2000( · |$)", trained, re.M), trained


# --------------------------------------------------------------------------- thin commands

def test_the_prompt_check_lives_in_the_core_with_its_messages():
    from nncli import text
    from nncli.commands import text as command
    from nncli.errors import InputError

    assert not hasattr(command, "_prompt_tokens")        # the command only calls the core
    vocab = text.Vocab(tuple(" acehst"), "chars")
    heard: list[list[str]] = []
    assert text.prompt_tokens("the cat", vocab, False, heard.append) == list("the cat")
    assert heard == []
    with pytest.raises(InputError, match=r"^--prompt: empty; give at least one character "
                                         r"to continue, e\.g\. --prompt \"the\"$"):
        text.prompt_tokens("", vocab, False)
    with pytest.raises(InputError) as refused:
        text.prompt_tokens("the Zed!", vocab, False, heard.append)
    assert str(refused.value) == ("--prompt: 3 characters not in the model's vocabulary of "
                                  "7: 'Z'; 'd'; '!'; rephrase, or pass --skip-unknown to "
                                  "drop them")
    assert heard == []
    assert text.prompt_tokens("the Zed!", vocab, True, heard.append) == list("the e")
    assert heard == [["Z", "d", "!"]]
    with pytest.raises(InputError, match="^--prompt: no known characters or words left "):
        text.prompt_tokens("Zd!", vocab, True, heard.append)
    assert heard[-1] == ["Z", "d", "!"]              # noted before the refusal, as before
    words = text.Vocab(("cat", "cats", "the"), "words")
    with pytest.raises(InputError, match=r"^--prompt: 1 word not in the model's vocabulary "
                                         r"of 3: 'Cat' \(nearest: 'cat'\); rephrase"):
        text.prompt_tokens("the Cat", words, False)


def test_the_tiny_specs_tests_train_are_written_once():
    """tests/specs.py holds them; a module that needs one calls it (no copies to drift)."""
    here = Path(__file__).resolve().parent
    for marker in ("name: " + name for name in ("agree-tiny", "sine-tiny")):  # not here
        holders = sorted(p.name for p in here.glob("*.py") if marker in p.read_text())
        assert holders == ["specs.py"], (marker, holders)


# --------------------------------------------------------------------------- signed options

def test_forget_bias_takes_any_finite_number(tmp_path):
    import jsonschema

    from nncli import spec_schema
    from nncli.layers import registry

    def spec(value: str) -> Path:
        path = tmp_path / "lstm.yaml"
        path.write_text("input: [4, 2]\nlayers:\n  - lstm: {hidden: 3, forget_bias: "
                        f"{value}}}\nloss: mse\n")
        return path

    built = registry.build("lstm", {"hidden": 3, "forget_bias": -1.5})
    built.init_params((4, 2), np.random.default_rng(0))
    assert built.forget_bias == -1.5
    assert np.all(built.params["bias_ih_l0"][3:6] == -1.5)       # the forget block
    assert np.all(np.delete(built.params["bias_ih_l0"], np.s_[3:6]) == 0)
    assert run("summary", spec("-1.5")).exit_code == 0
    for value, got in ((".inf", "inf"), (".nan", "nan"), ("'one'", "'one'"),
                       ("true", "True")):
        assert one_error_line(run("summary", spec(value))) == (
            f"lstm.yaml:3 layers[0].lstm.forget_bias: expected a finite "
            f"number, got {got}")
    lstm = next(e for e in spec_schema.build()["$defs"]["layer"]["oneOf"][1:]
                if "lstm" in e["properties"])
    assert lstm["properties"]["lstm"]["properties"]["forget_bias"] == {
        "type": "number", "default": 0.0,
        "description": registry.get("lstm").OPTIONS["forget_bias"].help}
    jsonschema.validate(yaml.safe_load(spec("-1.5").read_text()), spec_schema.build(),
                        cls=jsonschema.Draft202012Validator)
    assert "(number)" in run("layers", "lstm", env={"COLUMNS": "200"}).stdout
