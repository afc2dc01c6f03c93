"""nncli export: torch (generated model.py + weights), safetensors and ONNX.

Every registered layer kind, and the variants of each (no bias, return last, fixed gate,
avg pooling, every activation), is exported to torch (float64 and float32) and to ONNX
(float32) with random weights, biases included, and `--check` must pass: the export run in
torch / onnxruntime agrees with nncli's forward pass to 1e-10 (float64) or 1e-5 (float32).
The torch and onnx tests are marked and skip only where the package is absent.
"""

from __future__ import annotations

import ast
import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from nncli.checkpoint import save_weights
from nncli.cli import app
from nncli.layers import registry
from nncli.loading import load

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs"
runner = CliRunner()

# Hand-written variants on top of each kind's registry EXAMPLE.
VARIANTS = {
    "cnn": ([1, 7, 7], [{"conv": {"filters": 3, "kernel": 3, "padding": 1,
                                  "activation": "relu"}},
                        {"pool": {"mode": "avg", "size": 2, "stride": 1}},
                        {"conv": {"filters": 2, "kernel": 2, "stride": 2, "bias": False,
                                  "activation": "sigmoid"}},
                        {"pool": {"size": 2}}, "flatten",
                        {"dense": {"units": 3, "activation": "tanh"}},
                        {"dense": {"units": 4, "bias": False}}, "softmax"], "cross_entropy"),
    "mlp": ([5], [{"dense": {"units": 4, "activation": "relu"}}, "sigmoid", "tanh", "relu",
                  "identity", {"dense": {"units": 2, "activation": "identity"}}], "mse"),
    "text": ([6], [{"embedding": {"vocab": 7, "dim": 3}}, {"rnn": {"hidden": 4}},
                   {"gru-lite": {"hidden": 3, "bias": False}},
                   {"dense": {"units": 7}}, "softmax"], "cross_entropy"),
    "rnn": ([5, 2], [{"rnn": {"hidden": 3, "bias": False}},
                     {"rnn": {"hidden": 2, "return": "last"}}, {"dense": {"units": 1}}], "mse"),
    "gated": ([4, 2], [{"gru-lite": {"hidden": 3, "gate": 0.25}},
                       {"gru-lite": {"hidden": 2, "return": "last"}}], "mse"),
}
if {"gru", "lstm"} <= set(registry.kinds()):
    VARIANTS["torch-cells"] = ([5, 3], [{"lstm": {"hidden": 4, "bias": False}},
                                        {"gru": {"hidden": 3, "bias": False}},
                                        {"gru": {"hidden": 3}},
                                        {"lstm": {"hidden": 2, "return": "last"}},
                                        {"dense": {"units": 3}}, "softmax"], "cross_entropy")


def spec_text(name: str, input_shape, layers, loss: str) -> str:
    return yaml.safe_dump({"name": name, "seed": 3, "input": list(input_shape),
                           "layers": layers, "loss": loss}, sort_keys=False)


def all_cases() -> dict[str, str]:
    """name -> spec YAML: each registered kind alone (its EXAMPLE), then the variants."""
    cases = {}
    for kind in registry.kinds():
        example = registry.get(kind).EXAMPLE
        cases[kind] = spec_text(kind, example.input_shape, [{kind: dict(example.options)}],
                                "mse")
    cases.update({name: spec_text(name, *v) for name, v in VARIANTS.items()})
    return cases


CASES = all_cases()


def write_case(folder: Path, name: str) -> tuple[Path, Path]:
    """(spec, weights): the spec and random weights for it, every parameter drawn, so that
    a bias or gate block in the wrong place shows."""
    spec = folder / f"{name}.yaml"
    spec.write_text(CASES[name])
    model = load(spec).model
    rng = np.random.default_rng(7)
    params = {k: rng.normal(scale=0.6, size=v.shape) for k, v in model.named_params().items()}
    weights = folder / f"{name}.npz"
    save_weights(weights, params)
    return spec, weights


def run(*args, code: int = 0):
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == code, (args, result.stdout, result.stderr)
    return result


def export_json(*args) -> dict:
    return json.loads(run("export", *args, "--json").stdout)


def one_error_line(result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    return lines[0]


# --------------------------------------------------------------------------- torch

@pytest.mark.torch
@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_every_layer_exports_to_torch_and_checks(tmp_path, name, dtype):
    pytest.importorskip("torch")
    spec, weights = write_case(tmp_path, name)
    out = tmp_path / "torch"
    record = export_json(spec, "--weights", weights, "--to", "torch", "-o", out, "--dtype",
                         dtype, "--check")
    check = record["check"]
    assert check["passed"] and check["dtype"] == dtype
    assert check["max_abs_diff"] <= {"float64": 1e-10, "float32": 1e-5}[dtype]
    assert check["outputs"] == (["logits", "output"] if CASES[name].rstrip().endswith(
        "loss: cross_entropy") else ["output"])
    assert sorted(p.name for p in out.iterdir()) == ["USAGE.md", "model.py",
                                                     "weights.safetensors"]


@pytest.mark.torch
@pytest.mark.parametrize("name", ["cnn", "text", "gated"])
def test_generated_code_imports_only_torch_and_loads_nncli_keys(tmp_path, name):
    torch = pytest.importorskip("torch")
    from safetensors.torch import load_file

    from nncli.export.check import import_model_file

    spec, weights = write_case(tmp_path, name)
    run("export", spec, "--weights", weights, "--to", "torch", "-o", tmp_path / "out")
    source = (tmp_path / "out" / "model.py").read_text()
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module)
    assert imported and all(m == "torch" or m.startswith("torch.") for m in imported)
    nncli_params = load(spec, weights).model.named_params()
    module = import_model_file(tmp_path / "out" / "model.py").Model()
    assert list(module.state_dict()) == list(nncli_params)
    stored = load_file(str(tmp_path / "out" / "weights.safetensors"))
    assert sorted(stored) == sorted(nncli_params)      # safetensors orders keys itself
    for key, value in nncli_params.items():
        assert stored[key].dtype == torch.float64
        assert np.array_equal(stored[key].numpy(), value)
    assert ("class GruLite(nn.Module)" in source) == (name in ("text", "gated"))


@pytest.mark.torch
def test_usage_note_runs_and_trained_weights_come_back_to_nncli(tmp_path, monkeypatch):
    """The USAGE.md snippets run as written; the weights they save load with --weights."""
    torch = pytest.importorskip("torch")
    spec, weights = write_case(tmp_path, "cnn")
    out = tmp_path / "out"
    run("export", spec, "--weights", weights, "--to", "torch", "-o", out)
    blocks = re.findall(r"```python\n(.*?)```", (out / "USAGE.md").read_text(), re.S)
    assert len(blocks) == 2
    monkeypatch.chdir(out)
    monkeypatch.syspath_prepend(str(out))
    monkeypatch.delitem(sys.modules, "model", raising=False)
    scope: dict = {}
    exec(blocks[0], scope)
    assert scope["probabilities"].shape == (4, 4)
    assert torch.allclose(scope["probabilities"].sum(-1), torch.ones(4, dtype=torch.float64))
    x = torch.randn(8, 1, 7, 7, dtype=torch.float64)
    scope["batches"] = [(x, torch.arange(8) % 4)] * 3
    before = scope["model"].loss(scope["model"](x), torch.arange(8) % 4).item()
    exec(blocks[1], scope)
    after = scope["model"].loss(scope["model"](x), torch.arange(8) % 4).item()
    assert after < before
    sys.modules.pop("model", None)
    got = json.loads(run("forward", spec, "--weights", out / "trained.safetensors", "--input",
                         json.dumps(x[:2].tolist()), "--json").stdout)
    with torch.no_grad():
        want = scope["model"].probabilities(x[:2]).numpy()
    assert np.allclose(got["layers"][-1]["output"], want, atol=1e-12)


# --------------------------------------------------------------------------- onnx

@pytest.mark.onnx
@pytest.mark.parametrize("name", sorted(CASES))
def test_every_layer_exports_to_onnx_and_checks(tmp_path, name):
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    spec, weights = write_case(tmp_path, name)
    out = tmp_path / "m.onnx"
    record = export_json(spec, "--weights", weights, "--to", "onnx", "-o", out, "--check")
    assert record["dtype"] == "float32" and record["check"]["passed"]
    assert record["check"]["max_abs_diff"] <= 1e-5
    ops = {node.op_type for node in onnx.load(str(out)).graph.node}
    kinds = {next(iter(layer)) if isinstance(layer, dict) else layer
             for layer in yaml.safe_load(CASES[name])["layers"]}
    for kind, op in (("rnn", "RNN"), ("gru", "GRU"), ("lstm", "LSTM"), ("conv", "Conv")):
        assert (op in ops) == (kind in kinds), (kind, ops)


@pytest.mark.onnx
def test_onnx_graph_keeps_nncli_names_and_the_spec(tmp_path):
    onnx = pytest.importorskip("onnx")
    spec, weights = write_case(tmp_path, "cnn")
    run("export", spec, "--weights", weights, "--to", "onnx", "-o", tmp_path / "m.onnx")
    proto = onnx.load(str(tmp_path / "m.onnx"))
    names = {t.name for t in proto.graph.initializer}
    assert {"0.weight", "0.bias", "2.weight", "5.bias", "5.weight_t"} <= names
    assert [o.name for o in proto.graph.output] == ["output", "logits"]
    meta = {p.key: p.value for p in proto.metadata_props}
    assert yaml.safe_load(meta["nncli.spec"]) == yaml.safe_load(CASES["cnn"])
    assert "nncli.text_arrays" not in meta


@pytest.mark.onnx
def test_onnx_export_of_a_text_model_keeps_its_vocabulary(tmp_path):
    onnx = pytest.importorskip("onnx")
    config = CONFIGS / "agreement_gru_lite.yaml"
    run("init", config, "-o", tmp_path / "w.npz")
    run("export", config, "-w", tmp_path / "w.npz", "--to", "onnx", "-o", tmp_path / "m.onnx")
    proto = onnx.load(str(tmp_path / "m.onnx"))
    meta = {p.key: p.value for p in proto.metadata_props}
    vocab = load(config, tmp_path / "w.npz").vocab
    assert json.loads(meta["nncli.text_arrays"]) == {"vocab": list(vocab.tokens),
                                                     "vocab_tokens": vocab.mode}
    assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.INT64


# --------------------------------------------------------------------------- safetensors

@pytest.mark.torch
def test_safetensors_export_round_trips_through_weights(tmp_path):
    pytest.importorskip("torch")
    spec, weights = write_case(tmp_path, "rnn")
    out = tmp_path / "w.safetensors"
    record = export_json(spec, "--weights", weights, "--to", "safetensors", "-o", out,
                         "--check")
    assert record["check"]["passed"] and record["files"] == [str(out)]
    from nncli.export.safetensors_file import read_safetensors

    arrays, meta = read_safetensors(out)
    assert yaml.safe_load(meta["nncli.spec"]) == yaml.safe_load(CASES["rnn"])
    x = "[[1, 0], [0.5, -1], [2, 2], [0, 1], [-1, 3]]"
    via_npz = run("forward", spec, "--weights", weights, "--input", x, "--json").stdout
    via_st = run("forward", spec, "--weights", out, "--input", x, "--json").stdout
    assert via_npz == via_st


def test_a_text_model_keeps_its_vocabulary_in_safetensors(tmp_path):
    """A text model's weights carry its vocabulary; the .safetensors file keeps it in the
    metadata, so complete/predict run from it as from the .npz."""
    config = CONFIGS / "agreement_gru_lite.yaml"
    npz = tmp_path / "w.npz"
    run("init", config, "-o", npz)
    out = tmp_path / "w.safetensors"
    run("export", config, "--weights", npz, "--to", "safetensors", "-o", out)
    args = ("--prompt", "the dogs", "-n", 4, "--json")
    via_st = json.loads(run("complete", config, "--weights", out, *args).stdout)
    via_npz = json.loads(run("complete", config, "--weights", npz, *args).stdout)
    assert via_st.pop("weights") == str(out) and via_npz.pop("weights") == str(npz)
    assert via_st == via_npz


@pytest.mark.parametrize("blob", [b"", b"hello", b"\x08\x00\x00\x00\x00\x00\x00\x00{\"a\":1}",
                                  b"PK\x03\x04 an npz"])
def test_a_damaged_safetensors_file_is_one_line(tmp_path, blob):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(blob)
    result = run("forward", CONFIGS / "seed_rnn.yaml", "--weights", bad, "--input", "1; 2",
                 code=2)
    assert f"--weights: cannot read '{bad}'" in one_error_line(result)


# --------------------------------------------------------------------------- bad input

def test_unknown_format_is_one_line_and_writes_nothing(tmp_path):
    result = run("export", CONFIGS / "seed_rnn.yaml", "--to", "toch", "-o", tmp_path / "x",
                 code=2)
    assert one_error_line(result) == ("error: --to: unknown format 'toch' (did you mean "
                                      "'torch'?); formats: torch, safetensors, onnx")
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("fmt", ["torch", "onnx"])
def test_a_layer_a_format_cannot_express_names_the_layer(tmp_path, monkeypatch, fmt):
    from nncli.export import onnx_graph, torch_code

    table = torch_code.TORCH_LAYERS if fmt == "torch" else onnx_graph.ONNX_LAYERS
    monkeypatch.delitem(table, "gru-lite")
    spec = tmp_path / "m.yaml"
    spec.write_text(CASES["gated"])
    result = run("export", spec, "--to", fmt, "-o", tmp_path / "out", code=2)
    line = one_error_line(result)
    assert line.startswith(f"error: m.yaml:7 layers[0]: gru-lite has no {fmt} equivalent, "
                           f"so the model cannot be exported to {fmt}"), line
    assert not (tmp_path / "out").exists()
    run("export", spec, "--to", "safetensors", "-o", tmp_path / "w.safetensors")  # any model


@pytest.mark.parametrize("fmt,name", [("torch", "out/model.py"),
                                      ("torch", "out/weights.safetensors"),
                                      ("safetensors", "w.safetensors"), ("onnx", "m.onnx")])
def test_existing_output_is_never_overwritten_without_force(tmp_path, fmt, name):
    if fmt == "onnx":
        pytest.importorskip("onnx")
    target = tmp_path / name
    target.parent.mkdir(exist_ok=True)
    target.write_text("mine")
    out = target.parent if fmt == "torch" else target
    result = run("export", CONFIGS / "seed_rnn.yaml", "--to", fmt, "-o", out, code=2)
    assert one_error_line(result) == (f"error: --out: '{target}' already exists; pass "
                                      f"--force to overwrite it")
    assert target.read_text() == "mine"
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name]
    run("export", CONFIGS / "seed_rnn.yaml", "--to", fmt, "-o", out, "--force")
    assert target.read_bytes() != b"mine"


@pytest.mark.parametrize("args,message", [
    (["--to", "onnx", "--dtype", "float64"], "--dtype: the onnx export is float32"),
    (["--to", "torch", "--dtype", "float16"], "--dtype: expected float32 or float64"),
    (["--to", "safetensors", "-o", "w.npz"], "--out: 'w.npz' should end in .safetensors"),
    (["--to", "onnx", "-o", "."], "--out: '.' is a folder; --to onnx writes one file"),
])
def test_bad_options_are_one_line(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    if "-o" not in args:
        args = [*args, "-o", "out"]
    result = run("export", CONFIGS / "seed_rnn.yaml", *args, code=2)
    assert message in one_error_line(result)
    assert list(tmp_path.iterdir()) == []


def test_weights_beyond_float32_are_refused_for_a_float32_export(tmp_path):
    spec = tmp_path / "huge.yaml"
    spec.write_text("input: [2]\nlayers: [{dense: {units: 1, params: {weight: "
                    "[[1.0e+300, 1.0]]}}}]\n")
    result = run("export", spec, "--to", "torch", "--dtype", "float32", "-o",
                 tmp_path / "out", code=2)
    assert one_error_line(result) == ("error: --dtype: '0.weight' holds values beyond "
                                      "float32's range (largest |w| 1e+300); export in "
                                      "float64")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("fmt,missing,extra", [("torch", "torch", "torch"),
                                               ("safetensors", "torch", "torch"),
                                               ("onnx", "onnx", "onnx"),
                                               ("onnx", "onnxruntime", "onnx")])
def test_without_the_runtime_the_message_says_what_to_install(tmp_path, monkeypatch, fmt,
                                                              missing, extra):
    monkeypatch.setitem(sys.modules, missing, None)        # `import missing` fails
    out = tmp_path / ("out" if fmt == "torch" else f"m.{fmt}")
    result = run("export", CONFIGS / "seed_rnn.yaml", "--to", fmt, "-o", out, "--check",
                 code=2)
    assert f'pip install "nncli[{extra}]"' in one_error_line(result)
    assert not out.exists()


@pytest.mark.torch
def test_a_wrong_export_fails_the_check_with_exit_1(tmp_path, monkeypatch):
    """--check catches a generator that writes the wrong activation."""
    pytest.importorskip("torch")
    from nncli.export import torch_code

    monkeypatch.setitem(torch_code.ACT_CALLS, "tanh", "torch.sigmoid")
    spec, weights = write_case(tmp_path, "cnn")
    result = run("export", spec, "--weights", weights, "--to", "torch", "-o", tmp_path / "o",
                 "--check", code=1)
    assert "export check failed: max |Δ|" in result.stderr
    assert "FAIL" in result.stdout


# --------------------------------------------------------------------------- display

@pytest.mark.torch
def test_output_fits_80_columns_without_colour(tmp_path):
    pytest.importorskip("torch")
    result = runner.invoke(app, ["export", "seed_gru_lite", "--to", "torch", "-o",
                                 str(tmp_path / "a-long-folder-name" / "export"), "--check"],
                           env={"COLUMNS": "80", "NO_COLOR": "1"})
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "exported seed-gru-lite to torch (float64, 5 parameters):"
    assert re.fullmatch(r"check \(torch [\d.]+, float64\): max \|Δ\| \S+ <= 1e-10 ok",
                        lines[-1]), lines[-1]
    assert all(len(line) <= 80 for line in lines) and "\x1b[" not in result.stdout


@pytest.mark.torch
@pytest.mark.onnx
def test_help_examples_run(tmp_path, monkeypatch):
    pytest.importorskip("torch")
    pytest.importorskip("onnxruntime")
    text = runner.invoke(app, ["export", "--help"], env={"COLUMNS": "200"}).stdout
    examples = [line.strip() for line in text.splitlines()
                if line.strip().startswith("nncli export ")]
    assert len(examples) >= 2
    monkeypatch.chdir(tmp_path)
    for example in examples:
        run(*example.split()[1:])


def test_readme_table_matches_what_each_format_takes():
    """The README's support table lists every registered layer, marked as the export
    tables say."""
    from nncli.export.onnx_graph import ONNX_LAYERS
    from nncli.export.torch_code import TORCH_LAYERS

    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Past one machine"):]
    end = section.find("\n## ", 1)
    section = section if end < 0 else section[:end]
    rows = {m[0]: m[1:] for m in re.findall(
        r"^\| `([\w-]+)` \| ([^|]+?) \| ([^|]+?) \| ([^|]+?) \|$", section, re.M)}
    for kind in registry.kinds():
        assert kind in rows, f"README's export table has no row for {kind}"
        torch_cell, onnx_cell, st_cell = rows[kind]
        assert (torch_cell != "no") == (kind in TORCH_LAYERS), kind
        assert (onnx_cell != "no") == (kind in ONNX_LAYERS), kind
        assert st_cell == "yes", kind
