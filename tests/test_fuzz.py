"""Fuzzing every command: malformed input never crashes nncli.

Random and mutated matrices, files (.txt .csv .json .npy .npz, truncated, corrupted,
pickled, huge headers), YAML specs (keys removed, values of the wrong type or nesting,
anchors and aliases, duplicate keys, tags), weights from another model and wrong option
combinations go through the CLI. Every case must end with exit code 2 and one "error:
NAME: ..." line on stderr (or 0 when the input is valid, with --json output that validates
against the command's schema), never a traceback or an "internal error".

The number of cases is printed at the end of the run ("fuzz: N cases"). The suite is
derandomized and bounded (about 25 s on 2 cores); `python benchmarks/fuzz.py --examples
5000` runs the same properties with fresh random cases and many more of them
(NNCLI_FUZZ_EXAMPLES).
"""

from __future__ import annotations

import io
import itertools
import json
import os
import re
import shutil
import tempfile
import zipfile
from collections import Counter
from pathlib import Path

import jsonschema
import numpy as np
import pytest
import typer.main
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from nncli.cli import app
from nncli.commands.schema import load_schema

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs"
runner = CliRunner()
CASES: Counter = Counter()     # command -> cases run (reported by conftest.py)
EXITS: Counter = Counter()     # exit code -> cases
BUDGET = "64M"                 # NNCLI_MEMORY_BUDGET while fuzzing: huge inputs are refused
SERIAL = itertools.count()    # unique names for folders the cases create
LONG_RUN = int(os.environ.get("NNCLI_FUZZ_EXAMPLES", "0"))


def fuzz(examples: int):
    """Hypothesis settings: `examples` cases (NNCLI_FUZZ_EXAMPLES overrides), no deadline,
    derandomized in the normal suite so CI sees the same cases every time."""
    return settings(max_examples=LONG_RUN or examples, deadline=None,
                    derandomize=not LONG_RUN, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


# --------------------------------------------------------------------------- the contract

_SCHEMAS: dict[str, jsonschema.Validator] = {}
# "error: NAME: what was wrong" or "error: spec.yaml:7 layers[0] ...": it names something
ERROR = re.compile(r"^error: (\S.*?: \S|\S+:\d+ \S)")


def invoke(*args, stdin: bytes | str | None = None, allowed: tuple[int, ...] = (0, 2),
           failed: str | None = None):
    """Run nncli with args and check the contract; return the result.

    allowed: the exit codes this case may end with; exit 1 (a run that failed) must carry
    `failed` in its message (e.g. "training diverged")."""
    argv = [str(a) for a in args]
    command = next((a for a in argv if not a.startswith("-")), "nncli")
    result = runner.invoke(app, argv, input=stdin)
    CASES[command] += 1
    EXITS[result.exit_code] += 1
    where = "nncli " + " ".join(repr(a)[:80] for a in argv)
    exc = result.exception
    if exc is not None and not isinstance(exc, SystemExit):
        import traceback

        tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        raise AssertionError(f"{where} raised {type(exc).__name__}: {exc}\n{tb}")
    err = result.stderr
    assert "Traceback" not in err + result.stdout, f"{where} printed a traceback:\n{err}"
    assert "internal error" not in err, f"{where}: {err}"
    code = result.exit_code
    assert code in allowed, f"{where} exited {code}, expected {allowed}:\n{err[-800:]}"
    if code == 0:
        if "--json" in argv and command in _schema_commands():
            _validate(command, result.stdout, where)
        return result
    if code == 1:
        assert failed and failed in err, f"{where} exited 1 with:\n{err[-800:]}"
    if "Usage:" in err:                       # click's usage errors (exit 2)
        assert code == 2 and ("Error" in err or "error" in err), err
        return result
    lines = [line for line in err.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1 and lines[-1] == errors[0], f"{where}:\n{err[-800:]}"
    # Bad input names what was wrong; a failed run's line was checked against `failed`
    # above ("gradient check failed for 0.weight, ..." names no option).
    assert code == 1 or ERROR.match(errors[0]), f"{where}: the message names nothing: " \
        f"{errors[0]}"
    if "--json" in argv and code == 2:
        assert result.stdout == "", f"{where} printed JSON and then failed"
    return result


def _schema_commands() -> set[str]:
    if not _SCHEMAS:
        group = typer.main.get_command(app)
        for name, cmd in group.commands.items():
            if any("--json" in p.opts for p in cmd.params):
                _SCHEMAS[name] = jsonschema.Draft202012Validator(load_schema(name))
    return set(_SCHEMAS)


def _validate(command: str, stdout: str, where: str) -> None:
    lines = stdout.splitlines()
    # train prints a line per epoch it trains: none when the run has reached --epochs
    assert lines or command == "train", f"{where} printed no JSON"
    for line in lines:
        payload = json.loads(line)
        errors = list(_SCHEMAS[command].iter_errors(payload))
        assert not errors, f"{where}: output does not follow its schema: {errors[0].message}"


@pytest.fixture(scope="module", autouse=True)
def sandbox(tmp_path_factory):
    """A small memory budget and a scratch working folder (runs/ lands there)."""
    folder = tmp_path_factory.mktemp("fuzz")
    old_cwd, old_budget = os.getcwd(), os.environ.get("NNCLI_MEMORY_BUDGET")
    os.environ["NNCLI_MEMORY_BUDGET"] = BUDGET
    os.chdir(folder)
    yield folder
    os.chdir(old_cwd)
    if old_budget is None:
        os.environ.pop("NNCLI_MEMORY_BUDGET", None)
    else:
        os.environ["NNCLI_MEMORY_BUDGET"] = old_budget


# --------------------------------------------------------------------------- matrices

NUMBERS = st.one_of(st.integers(-10**6, 10**6), st.integers(-2**70, 2**70),
                    st.floats(width=64), st.sampled_from([0, 1, -1, 0.5, 1e308, -1e308, 5e-324]))
WEIRD = st.sampled_from(["nan", "inf", "-inf", "1e400", "0x10", "1_000", "--stride", "١",
                         "½", "", "true", "[", "]", ";", ",", ",,", "#", "\x00", "\ufeff",
                         "1e-400", str(2**64), "-" * 3, "1,2", "é", "🙂", "\t"])
TOKEN = st.one_of(NUMBERS.map(str), WEIRD)
TEXT_MATRIX = st.builds(
    lambda rows, sep, rsep: rsep.join(sep.join(r) for r in rows),
    st.lists(st.lists(TOKEN, max_size=6), max_size=6),
    st.sampled_from([" ", ",", ", ", "\t", "  "]), st.sampled_from([";", "\n", "; ", "\n\n"]))
JSON_VALUE = st.recursive(
    st.one_of(NUMBERS, st.none(), st.booleans(), st.text(max_size=3)),
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.sampled_from(["output", "shape", "x"]), inner,
                                            max_size=2)),
    max_leaves=24)
VALID = st.integers(1, 5).flatmap(lambda n: st.lists(
    st.lists(st.integers(-9, 9), min_size=n, max_size=n), min_size=1, max_size=5)).map(
    lambda rows: "; ".join(" ".join(map(str, r)) for r in rows))
MATRIX = st.one_of(VALID, TEXT_MATRIX, JSON_VALUE.map(json.dumps), st.text(max_size=40))


@fuzz(160)
@given(a=MATRIX, k=MATRIX, stride=st.sampled_from([-1, 0, 1, 2, 3]),
       padding=st.sampled_from([-1, 0, 1, 2]), explain=st.sampled_from(
           [None, "0,0", "9,9", "x", "0,0,0", "-1,0"]), as_json=st.booleans())
def test_conv_fuzz(a, k, stride, padding, explain, as_json):
    args = ["conv", a, k, "--stride", stride, "--padding", padding]
    args += ["--explain", explain] if explain is not None else []
    invoke(*args, *(["--json"] if as_json else []))


@fuzz(100)
@given(a=MATRIX, size=st.sampled_from([-1, 0, 1, 2, 3, 9]),
       stride=st.sampled_from([None, 0, 1, 2, 2**62]),
       mode=st.sampled_from(["max", "avg", "min", ""]), as_json=st.booleans())
def test_pool_fuzz(a, size, stride, mode, as_json):
    args = ["pool", a, "--size", size, "--mode", mode]
    args += ["--stride", stride] if stride is not None else []
    invoke(*args, *(["--json"] if as_json else []))


@fuzz(100)
@given(values=st.lists(MATRIX, min_size=1, max_size=3),
       temperature=st.sampled_from(["1", "0.5", "0", "-1", "1e-300", "1e300", "nan", "inf"]),
       as_json=st.booleans())
def test_softmax_fuzz(values, temperature, as_json):
    invoke("softmax", *values, "--temperature", temperature, *(["--json"] if as_json else []))


LAYER_NAMES = ["conv", "dense", "rnn", "gru-lite", "softmax", "", "cnov", "gru_lite", "DENSE",
               "dense ", "--kind", "relu\n", "ｄｅｎｓｅ", "lstm", "gru", "LSTM", "lstm "]


@fuzz(60)
@given(kind=st.one_of(st.sampled_from(LAYER_NAMES), st.text(max_size=30)),
       as_json=st.booleans())
def test_layers_fuzz(kind, as_json):
    invoke("layers", kind, *(["--json"] if as_json else []))


# --------------------------------------------------------------------------- files

def _npy_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=True)
    return buf.getvalue()


def _npz_bytes(arrays: dict, compressed: bool) -> bytes:
    buf = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buf, **arrays)
    return buf.getvalue()


def _huge_header(shape: tuple, descr: str = "<f8") -> bytes:
    header = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}"
    header += " " * (63 - (len(header) + 10) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode()


ARRAYS = st.one_of(
    st.builds(lambda shape, dt, seed: np.random.default_rng(seed).normal(
        size=shape).astype(dt),
        st.lists(st.integers(0, 4), max_size=5).map(tuple),
        st.sampled_from(["f8", "f4", "f2", "i1", "i8", "u8", ">f8", "c16", "?"]),
        st.integers(0, 9)),
    st.sampled_from([np.array(["a", "bc"]), np.array([1, None], dtype=object),
                     np.zeros(3, dtype=[("a", "f8"), ("b", "i4")]),
                     np.array(["2020-01-01"], dtype="M8[D]"), np.array(np.nan),
                     np.array([[1.0, np.inf]]), np.array(2**63, dtype=np.uint64),
                     np.asfortranarray(np.ones((2, 3)))]))


BOMB = _npz_bytes({"x": np.zeros((4096, 4096))}, True)     # 128 MB in 130 KB


@st.composite
def file_contents(draw) -> bytes:
    kind = draw(st.sampled_from(["npy", "npz", "text", "bytes", "huge"]))
    if kind == "npy":
        data = _npy_bytes(draw(ARRAYS))
    elif kind == "npz":
        members = draw(st.dictionaries(st.sampled_from(["x", "y", "0.weight", "arr_0"]),
                                       ARRAYS, min_size=0, max_size=3))
        data = _npz_bytes(members, draw(st.booleans()))
    elif kind == "text":
        data = draw(st.one_of(MATRIX, JSON_VALUE.map(json.dumps))).encode("utf-8",
                                                                         "surrogatepass")
    elif kind == "huge":
        data = draw(st.sampled_from([
            _huge_header((10**6, 10**6)), _huge_header((2**40,)), _huge_header((3,), "|O"),
            _huge_header((2, 2), "<U99999999"), _huge_header((1, 1, 1, 1, 1, 1)),
            _huge_header((3,)).replace(b"'shape': (3,)", b"'shape':[(3,) "),  # TokenError
            b"\x93NUMPY\x00\x00", _huge_header((3,)).replace(b"\x01\x00", b"\x03\x00", 1),
            _npz_bytes({"x": np.zeros(3)}, False).replace(b"(3,)", b"(9999999999,)"),
            BOMB]))
    else:
        data = draw(st.binary(max_size=64))
    mutation = draw(st.sampled_from(["none", "truncate", "flip", "append"]))
    if mutation == "truncate" and data:
        data = data[:draw(st.integers(0, len(data) - 1))]
    elif mutation == "flip" and data:
        i = draw(st.integers(0, len(data) - 1))
        data = data[:i] + bytes([data[i] ^ draw(st.integers(1, 255))]) + data[i + 1:]
    elif mutation == "append":
        data += draw(st.binary(min_size=1, max_size=16))
    return data


SUFFIXES = st.sampled_from([".npy", ".npz", ".txt", ".csv", ".json", ".tsv", ".bin", ""])


@fuzz(150)
@given(data=file_contents(), suffix=SUFFIXES, how=st.sampled_from(
    ["conv", "pool", "softmax", "stdin", "npz-key", "forward"]))
def test_matrix_files_fuzz(data, suffix, how):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"m{suffix}"
        path.write_bytes(data)
        if how == "conv":
            invoke("conv", path, "1", "--json")
        elif how == "pool":
            invoke("pool", path, "--size", 1)
        elif how == "softmax":
            invoke("softmax", path, "--json")
        elif how == "stdin":
            invoke("pool", "-", "--size", 1, "--json", stdin=data)
        elif how == "npz-key":
            invoke("conv", f"{path}:x", "1")
        else:
            invoke("forward", CONFIGS / "seed_rnn.yaml", "--input", path, "--json")


# --------------------------------------------------------------------------- specs

CSV = "".join(f"{i % 3} {i % 5} {(i * 7) % 4} {i % 2}\n".replace(" ", ",") for i in range(40))
BASE_SPECS = {
    "mlp": {"name": "mlp", "seed": 1, "input": [3], "layers": [
        {"dense": {"units": 4, "activation": "relu"}}, {"dense": {"units": 2}}, "softmax"],
        "loss": "cross_entropy", "data": {"path": "xy.csv", "split": [0.5, 0.25, 0.25]},
        "train": {"epochs": 1, "batch_size": 8, "lr": 0.1, "momentum": 0.5}},
    "cnn": {"name": "cnn", "seed": 0, "input": [1, 4, 4], "layers": [
        {"conv": {"filters": 2, "kernel": 3, "padding": 1, "activation": "relu"}},
        {"pool": {"mode": "max", "size": 2}}, "flatten", {"dense": {"units": 2}}, "softmax"],
        "loss": "cross_entropy",
        "data": {"name": "bars", "size": 4, "noise": 0.1, "train": 24, "val": 8, "test": 8},
        "train": {"epochs": 1, "batch_size": 8, "optimizer": "adam", "lr": 0.01,
                  "amsgrad": True, "schedule": "cosine"}},
    "rnn": {"name": "rnn", "seed": 2, "input": [4, 1], "layers": [
        {"gru-lite": {"hidden": 3, "return": "last", "gate": None}}, {"dense": {"units": 1}}],
        "loss": {"mse": {"reduction": "mean"}},
        "data": {"name": "sine", "steps": 4, "train": 24, "val": 8, "test": 0},
        "train": {"epochs": 1, "batch_size": 8, "optimizer": "rmsprop", "lr": 0.01,
                  "centered": True, "clip": 1.0}},
    "text": {"name": "text", "seed": 0, "input": [6], "layers": [
        {"embedding": {"dim": 3}}, {"rnn": {"hidden": 4}}, {"dense": {"units": "vocab"}},
        "softmax"], "loss": "cross_entropy",
        "data": {"path": "corpus.txt", "tokens": "chars", "window": 6, "stride": 3,
                 "split": [0.8, 0.1, 0.1]},
        "train": {"epochs": 1, "batch_size": 8, "lr": 0.5}},
    "lstm": {"name": "lstm", "seed": 3, "input": [4, 2], "layers": [
        {"lstm": {"hidden": 3, "return": "last", "forget_bias": 1.0}}, {"dense": {"units": 1}}],
        "loss": {"mse": {"reduction": "mean"}},
        "data": {"name": "adding", "steps": 4, "train": 24, "val": 8, "test": 0},
        "train": {"epochs": 1, "batch_size": 8, "optimizer": "adam", "lr": 0.01, "clip": 1.0}},
    "gru": {"name": "gru", "seed": 4, "input": [4, 1], "layers": [
        {"gru": {"hidden": 3, "bias": False}}, {"dense": {"units": 1}}], "loss": "mse",
        "data": {"name": "sine", "steps": 4, "train": 24, "val": 8, "test": 0},
        "train": {"epochs": 1, "batch_size": 8, "lr": 0.01}},
    **{name: yaml.safe_load((CONFIGS / f"{name}.yaml").read_text())
       for name in ("seed_rnn", "seed_conv", "seed_gru_lite")},
}
INPUTS = {"mlp": "1 2 3", "cnn": "[[[1, 0, 0, 1], [0, 1, 1, 0], [1, 1, 1, 1], [0, 0, 0, 0]]]",
          "rnn": "1; 2; 3; 4", "text": "1 2 3 4 5 6", "seed_rnn": "1; 2",
          "lstm": "1 0; 0 1; 1 1; 0 0", "gru": "1; 2; 3; 4",
          "seed_conv": str(CONFIGS / "seed_conv_A.txt"), "seed_gru_lite": "1; 2"}
VALUES = st.one_of(
    st.sampled_from([None, True, False, 0, 1, 2, -1, 3, 2**70, 1.5, -0.5, float("nan"),
                     float("inf"), "", "x", "vocab", "relu", "max", "mean", "all", "chars",
                     [], {}, [1, 2], [0], [1, 8, 8], [[1.0]], {"a": 1}, {"units": 2},
                     "corpus.txt", "../corpus.txt", "/etc/passwd", "xy.csv", "~/nope.npz",
                     "digits", "sonnets", "agreement", [0.5, 0.5, 0.0], "sgd", "adam",
                     "adamw", "rmsprop", "adagrad", [0.9, 0.999], [0.9, 1.0]]),
    st.text(max_size=8), st.integers(-3, 10**4), st.floats(width=32))


def _paths(tree, prefix=()):
    yield prefix
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(tree, list):
        for i, value in enumerate(tree):
            yield from _paths(value, (*prefix, i))


def _get(tree, path):
    for part in path:
        tree = tree[part]
    return tree


@st.composite
def mutated_spec(draw) -> tuple[str, str]:
    """(base name, YAML text): a base spec with a few tree and text mutations."""
    import copy

    name = draw(st.sampled_from(sorted(BASE_SPECS)))
    tree = copy.deepcopy(BASE_SPECS[name])
    for _ in range(draw(st.integers(0, 3))):
        paths = list(_paths(tree))
        path = draw(st.sampled_from(paths[1:])) if len(paths) > 1 else ()
        if not path:
            break
        parent, key = _get(tree, path[:-1]), path[-1]
        op = draw(st.sampled_from(["delete", "replace", "wrap-list", "wrap-dict", "rename",
                                   "add"]))
        if op == "delete":
            del parent[key]
        elif op == "replace":
            parent[key] = draw(VALUES)
        elif op == "wrap-list":
            parent[key] = [parent[key]]
        elif op == "wrap-dict":
            parent[key] = {draw(st.sampled_from(["x", "dense", "params", "name"])): parent[key]}
        elif op == "rename" and isinstance(parent, dict):
            parent[draw(st.sampled_from(["units ", "Units", "layer", "unit", "lr ", "data",
                                         "nmae", "epoch"]))] = parent.pop(key)
        elif op == "add" and isinstance(parent, dict):
            parent[draw(st.sampled_from(["bias", "extra", "stride", "tokens", "window",
                                         "path", "name", "seed", "gate", "optimizer",
                                         "betas", "momentum", "nesterov", "amsgrad",
                                         "centered", "lr_decay", "eps",
                                         "forget_bias"]))] = draw(VALUES)
    text = yaml.safe_dump(tree, sort_keys=False, allow_unicode=True)
    for _ in range(draw(st.integers(0, 2))):
        op = draw(st.sampled_from(["truncate", "char", "tag", "alias", "duplicate", "tab",
                                   "document", "nothing"]))
        lines = text.splitlines()
        i = draw(st.integers(0, max(len(lines) - 1, 0)))
        if op == "truncate":
            text = text[:draw(st.integers(0, len(text)))]
        elif op == "char" and text:
            j = draw(st.integers(0, len(text) - 1))
            text = text[:j] + draw(st.sampled_from(list(":-[]{}&*!|>'\"%@`#,?\t\x00é"))) + \
                text[j + 1:]
        elif op == "tag" and lines:
            tag = draw(st.sampled_from([
                "!!python/object/apply:os.system ['echo pwned']", "!!python/name:os.system",
                "!!python/object:collections.OrderedDict {}", "!!binary aGVsbG8=",
                "!!set {a, b}", "!!omap [a: 1]", "!!timestamp 2001-12-14", "!custom 3",
                "!!float 1", "!!int '7'", "!!str 3", "!!null ''"]))
            lines[i] = re.sub(r":\s.*$", f": {tag}", lines[i], count=1) if ": " in lines[i] \
                else lines[i]
            text = "\n".join(lines) + "\n"
        elif op == "alias":
            text = "x-anchor: &a [1, 2]\n" + text.replace("[1", "*a #", 1) if "[1" in text \
                else "a: &a {units: 2}\nb: *a\n" + text
        elif op == "duplicate" and lines:
            text = "\n".join([*lines[:i + 1], lines[i], *lines[i + 1:]]) + "\n"
        elif op == "tab" and lines:
            lines[i] = "\t" + lines[i]
            text = "\n".join(lines) + "\n"
        elif op == "document":
            text = text + "---\n" + text
    return name, text


def _spec_folder(folder: Path, text: str) -> Path:
    (folder / "xy.csv").write_text(CSV)
    (folder / "corpus.txt").write_text("the cat sat on the mat. " * 4)
    path = folder / "spec.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    return path


def _schema_accepts(document, section_free: bool) -> None:
    """Whatever nncli accepts, the spec schema accepts (the schema is never stricter)."""
    if section_free:
        document = {k: v for k, v in document.items() if k not in ("data", "train")}
    validator = jsonschema.Draft202012Validator(load_schema("spec"))
    errors = list(validator.iter_errors(document))
    assert not errors, f"nncli accepted a spec its schema rejects: {errors[0].message}"


@fuzz(200)
@given(spec=mutated_spec(), command=st.sampled_from(
    ["summary", "summary-json", "forward", "init", "train", "backward"]))
def test_spec_fuzz(spec, command):
    name, text = spec
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = _spec_folder(folder, text)
        if command.startswith("summary"):
            result = invoke("summary", path, *(["--json"] if command == "summary-json" else []))
            if result.exit_code == 0:
                _schema_accepts(yaml.safe_load(text), section_free=True)
        elif command == "forward":
            invoke("forward", path, "--input", INPUTS[name], "--json")
        elif command == "backward":
            target = {"mlp": "1", "cnn": "0", "text": "1 2 3 4 5 6"}.get(name, "0.5")
            invoke("backward", path, "--input", INPUTS[name], "--target", target, "--json",
                   allowed=(0, 1, 2), failed="non-finite")
        elif command == "init":
            out = folder / "w.npz"
            result = invoke("init", path, "-o", out)
            assert out.exists() == (result.exit_code == 0)
        else:
            out = folder / "run"
            result = invoke("train", path, "--out", out, "--epochs", 1, "--json",
                            allowed=(0, 1, 2), failed="training diverged")
            if result.exit_code == 0:
                _schema_accepts(yaml.safe_load(text), section_free=False)
                assert {p.name for p in out.iterdir()} >= {"config.yaml", "last.npz"}
            elif result.exit_code == 2:
                assert not out.exists(), "a refused spec left a run folder behind"


def _dotted(path: tuple) -> str:
    return ".".join(str(p) for p in path)


@st.composite
def overrides(draw, tree: dict) -> list[str]:
    """1-3 `--set PATH=VALUE` texts: real paths of the spec (or near misses), YAML values."""
    paths = [_dotted(p) for p in _paths(tree) if p]
    out = []
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.one_of(st.sampled_from(paths), st.sampled_from(
            ["train.lr", "train.epochs", "train.batch_size", "train.optimizer", "seed",
             "data.name", "data", "layers.0", "layers.9.dense.units", "layers.x",
             "input", "trian.lr", "loss.mse.reduction", "", "a..b", "name.x"])))
        value = draw(st.one_of(
            VALUES.map(lambda v: yaml.safe_dump(v, default_flow_style=True, width=10**6)
                       .removesuffix("\n...\n").strip()),
            st.sampled_from(["", "[1,", "&a [*a]", "!!python/name:os.system", "{", "'",
                             "1e-3", "0x10", "- 1", "a: b: c", "\t", "null"]),
            st.text(max_size=6)))
        out.append(f"{path}={value}" if draw(st.integers(0, 9)) else path)  # no '=' at times
    return out


@fuzz(80)
@given(data=st.data(), name=st.sampled_from(sorted(BASE_SPECS)), command=st.sampled_from(
    ["check", "summary", "forward", "check-then-train"]))
def test_set_fuzz(data, name, command):
    """--set on a valid spec: the contract holds, and check agrees with train."""
    tree = BASE_SPECS[name]
    sets = [a for text in data.draw(overrides(tree)) for a in ("--set", text)]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = _spec_folder(folder, yaml.safe_dump(tree, sort_keys=False))
        if command == "summary":
            invoke("summary", path, "--json", *sets)
        elif command == "forward":
            invoke("forward", path, "--input", INPUTS[name], "--json", *sets,
                   allowed=(0, 1, 2), failed="non-finite")
        elif command == "check":
            invoke("check", path, "--json", *sets)
        elif "data" in tree:
            # check says what train would: ok exactly when train gets past its checks
            checked = invoke("check", path, *sets)
            out = folder / "run"
            trained = invoke("train", path, "--out", out, "--epochs", 1, "--json", *sets,
                             allowed=(0, 1, 2), failed="training diverged")
            assert (checked.exit_code == 0) == (trained.exit_code != 2), (
                sets, checked.stderr, trained.stderr)


@fuzz(30)
@given(name=st.sampled_from(["mlp", "rnn", "gru"]),
       engine=st.one_of(st.sampled_from(["numpy", "torch", "Torch", "jax", "", "numpy "]),
                        st.text(max_size=8)),
       device=st.one_of(st.sampled_from(["cpu", "cuda", "mps", "gpu", "cuda:0", ""]),
                        st.text(max_size=6)))
def test_engine_fuzz(name, engine, device):
    """train --engine/--device: the run trains (torch where installed), or the options are
    refused in one line before a run folder exists."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = _spec_folder(folder, yaml.safe_dump(BASE_SPECS[name], sort_keys=False))
        out = folder / "run"
        result = invoke("train", path, "--out", out, "--epochs", 1, "--json", "--engine",
                        engine, "--device", device, allowed=(0, 1, 2),
                        failed="training diverged")
        if result.exit_code == 2:
            assert not out.exists(), "refused engine options left a run folder behind"
        if engine not in ("numpy", "torch") or device not in ("cpu", "cuda", "mps"):
            assert result.exit_code == 2


# --------------------------------------------------------------------------- weights

@pytest.fixture(scope="module")
def trained(sandbox) -> dict[str, Path]:
    """A trained run per base spec with data (used as weights, run folders, resumes)."""
    runs = {}
    for name in ("mlp", "cnn", "rnn", "text"):
        folder = sandbox / f"base-{name}"
        folder.mkdir()
        path = _spec_folder(folder, yaml.safe_dump(BASE_SPECS[name], sort_keys=False))
        result = runner.invoke(app, ["train", str(path), "--out", str(folder / "run")])
        assert result.exit_code == 0, result.stderr
        runs[name] = folder / "run"
    return runs


@st.composite
def mutated_weights(draw, params: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    arrays = {k: v.copy() for k, v in params.items()}
    for _ in range(draw(st.integers(1, 3))):
        key = draw(st.sampled_from(sorted(arrays))) if arrays else "0.weight"
        op = draw(st.sampled_from(["drop", "add", "reshape", "dtype", "nan", "scalar",
                                   "rename", "huge"]))
        value = arrays.get(key, np.zeros(1))
        value = np.zeros(1) if isinstance(value, str) else value     # HUGE
        if op == "drop":
            arrays.pop(key, None)
        elif op == "add":
            arrays[draw(st.sampled_from(["9.weight", "0.gate", "meta", "optim/0.weight",
                                         "vocab"]))] = np.ones(2)
        elif op == "reshape":
            arrays[key] = value.reshape(-1)[:max(value.size - 1, 1)]
        elif op == "dtype":
            arrays[key] = value.astype(draw(st.sampled_from(
                ["f4", "i8", "c16", "U4", "?", "O", "M8[D]"])), casting="unsafe") \
                if draw(st.booleans()) else np.array(["x"] * value.size)
        elif op == "nan":
            arrays[key] = np.full_like(value, draw(st.sampled_from([np.nan, np.inf])),
                                       dtype=float)
        elif op == "scalar":
            arrays[key] = np.array(1.0)
        elif op == "rename":
            arrays[key.replace(".", "_")] = arrays.pop(key, value)
        else:
            arrays[key] = HUGE              # a header claiming 2 GB, written by _npz_blob
    return arrays


HUGE = "huge"


def _npz_blob(arrays: dict) -> bytes:
    """An .npz as np.savez writes it; HUGE members get a header claiming a 2 GB array."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for key, value in arrays.items():
            member = _huge_header((2**14, 2**14)) if isinstance(value, str) and \
                value == HUGE else _npy_bytes(value)
            zf.writestr(f"{key}.npy", member)
    return buf.getvalue()


@fuzz(120)
@given(data=st.data(), name=st.sampled_from(["mlp", "cnn", "rnn", "text"]),
       other=st.sampled_from(["mlp", "cnn", "rnn", "text", None]),
       corrupt=st.sampled_from(["none", "truncate", "flip"]),
       command=st.sampled_from(["forward", "predict", "eval", "resume", "grad-trace",
                                "complete"]))
def test_weights_fuzz(trained, data, name, other, corrupt, command):
    """Weights from another model, with keys, shapes and dtypes mutated, or damaged files,
    as --weights of every command that takes them, and as a run's last.npz for --resume."""
    source = trained[other or name] / "last.npz"
    with np.load(source) as archive:
        arrays = {k: archive[k] for k in archive.files}
    if other is None:                       # its own weights, mutated
        params = {k: v for k, v in arrays.items() if k[0].isdigit()}
        rest = {k: v for k, v in arrays.items() if not k[0].isdigit()}
        arrays = {**rest, **data.draw(mutated_weights(params))}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        weights = folder / "w.npz"
        blob = _npz_blob(arrays)
        if corrupt == "truncate":
            blob = blob[:data.draw(st.integers(0, len(blob) - 1))]
        elif corrupt == "flip":
            i = data.draw(st.integers(0, len(blob) - 1))
            blob = blob[:i] + bytes([blob[i] ^ 0x5A]) + blob[i + 1:]
        weights.write_bytes(blob)
        run = trained[name]
        if command == "forward":
            invoke("forward", run / "config.yaml", "--input", INPUTS[name], "--weights",
                   weights, "--json")
        elif command == "predict":
            invoke("predict", run, "--weights", weights, "--input", INPUTS[name], "--json")
        elif command == "eval":
            invoke("eval", run, "--weights", weights, "--split", "train", "--json")
        elif command == "grad-trace":
            invoke("grad-trace", CONFIGS / "seed_rnn.yaml", "--weights", weights, "--json",
                   allowed=(0, 1, 2), failed="overflow")
        elif command == "complete":
            invoke("complete", run / "config.yaml", "--weights", weights, "--prompt", "the",
                   "-n", 2, "--json")
        else:
            copy = folder / "run"
            shutil.copytree(run, copy)
            shutil.copy(weights, copy / "last.npz")
            invoke("train", "--resume", copy, "--epochs", 2, "--json", allowed=(0, 1, 2),
                   failed="training diverged")


@fuzz(60)
@given(data=st.data(), name=st.sampled_from(["mlp", "cnn", "rnn", "text"]),
       damage=st.sampled_from(["none", "truncate", "flip", "header"]))
def test_safetensors_weights_fuzz(trained, data, name, damage):
    """.safetensors weights (as `nncli export` writes them) with mutated tensors, or with
    damaged bytes or header, as --weights."""
    from nncli.export.safetensors_file import encode

    with np.load(trained[name] / "last.npz") as archive:
        arrays = {k: archive[k] for k in archive.files}
    params = {k: v for k, v in arrays.items() if k[0].isdigit()}
    rest = {k: v for k, v in arrays.items() if k.startswith("vocab")}
    if data.draw(st.booleans()):
        params = data.draw(mutated_weights(params))
    # what safetensors can hold: numbers (and strings, kept in the metadata)
    params = {k: v for k, v in params.items() if not isinstance(v, str) and
              v.dtype.kind in "biufU"}
    blob = encode({**rest, **params})
    header_end = 8 + int.from_bytes(blob[:8], "little")
    if damage == "truncate":
        blob = blob[:data.draw(st.integers(0, len(blob) - 1))]
    elif damage in ("flip", "header"):
        i = data.draw(st.integers(0, (header_end if damage == "header" else len(blob)) - 1))
        blob = blob[:i] + bytes([blob[i] ^ data.draw(st.integers(1, 255))]) + blob[i + 1:]
    with tempfile.TemporaryDirectory() as tmp:
        weights = Path(tmp) / "w.safetensors"
        weights.write_bytes(blob)
        invoke("forward", trained[name] / "config.yaml", "--input", INPUTS[name],
               "--weights", weights, "--json")


def test_weights_of_another_model_are_refused_by_name(trained):
    result = invoke("forward", trained["mlp"] / "config.yaml", "--input", INPUTS["mlp"],
                    "--weights", trained["cnn"] / "best.npz")
    assert result.exit_code == 2 and "were these weights made for another spec" in \
        result.stderr


# --------------------------------------------------------------------------- options

def _option_pools(trained: dict[str, Path], scratch: Path) -> dict[str, list]:
    junk = scratch / "junk.npz"
    junk.write_bytes(b"PK\x03\x04 not really a zip")
    text = scratch / "m.txt"
    text.write_text("1 2; 3 4\n")
    existing = scratch / "exists.npz"
    existing.write_bytes(b"")
    spec_copy = scratch / "seed_rnn.yaml"          # a spec that output options may clobber
    shutil.copy(CONFIGS / "seed_rnn.yaml", spec_copy)
    return {
        "int": [-1, 0, 1, 2, 3, 2**31, 2**62, 2**64, "x", "1.5", ""],
        "float": ["-1", "0", "1e-9", "0.5", "1", "1e300", "nan", "inf", "x", ""],
        "str": ["", "x", "1,2", "rnn,gru-lite", "last", "every", "max", "test", "0,0",
                "1; 2", "-1", "--json", "🙂", str(text), "0.5,1"],
        "path": [trained["cnn"], trained["cnn"] / "config.yaml", trained["text"],
                 trained["cnn"] / "best.npz", junk, text, scratch / "nope.npz", scratch,
                 existing, "/proc/nope/x", spec_copy],
        "config": [trained["cnn"], trained["cnn"] / "config.yaml", trained["text"],
                   trained["rnn"] / "config.yaml", trained["mlp"] / "config.yaml",
                   CONFIGS / "seed_rnn.yaml", CONFIGS / "seed_gru_lite.yaml",
                   CONFIGS / "seed_conv.yaml", text, scratch / "nope.yaml", scratch, "-", ""],
        "matrix": ["1 2; 3 4", "[[1]]", "1", "-", str(text), "x", "", "1; 2", "1 2 3"],
        "data": ["digits", "sine", "sonnets", "bars", "digitz", "", trained["cnn"],
                 trained["text"], trained["rnn"] / "config.yaml", CONFIGS / "seed_rnn.yaml",
                 "digits_cnn", scratch],
    }


def _kind(param) -> str:
    """int, float, path or str: from typer's annotation (or click's type name)."""
    desc = getattr(param, "type_descriptor", None)
    text = str(desc.annotation) if desc is not None else \
        getattr(getattr(param, "type", None), "name", "")
    for key, kind in (("int", "int"), ("float", "float"), ("Path", "path"), ("path", "path")):
        if key in text:
            return kind
    return "str"


# Options whose large values are valid but slow: a small pool instead (time is not fuzzed).
SLOW = {("train", "epochs"): [-1, 0, 1, 2, "x"], ("complete", "length"): [-1, 0, 1, 3, 2**40],
        ("agreement", "pairs"): [-1, 0, 1, 2, 2**40], ("grad-trace", "steps"): [-1, 0, 1, 5, 2**40],
        ("grad-trace", "hidden"): [-1, 0, 1, 3, 2**40], ("agreement", "max_modifiers"):
        [-1, 0, 1, 11], ("gradcheck", "max_entries"): [-1, 0, 1, 3],
        ("export", "to"): ["torch", "safetensors", "onnx", "toch", "", "x"],
        ("export", "dtype"): ["float32", "float64", "float16", "x", ""],
        ("train", "dtype"): ["float32", "float64", "float16", "x", ""],
        ("forward", "dtype"): ["float32", "float64", "float16", "x", ""],
        ("backward", "dtype"): ["float32", "float64", "float16", "x", ""],
        ("train", "threads"): [-1, 0, 1, 2, 1024, 1025, 2**64, "x"],
        # grad-trace's cells: each registered one, a pair, near misses
        ("grad-trace", "cell"): ["rnn", "gru-lite", "gru", "lstm", "LSTM", "gru_lite", ""],
        ("grad-trace", "compare"): ["rnn,lstm", "gru,gru-lite", "lstm", "rnn,,gru", "rnn,x"]}
MAY_FAIL = {"train": "training diverged", "gradcheck": "gradient check failed",
            "grad-trace": "overflow", "backward": "non-finite"}


@fuzz(220)
@given(data=st.data(), command=st.sampled_from(
    ["conv", "pool", "softmax", "summary", "forward", "backward", "gradcheck", "init",
     "grad-trace", "train", "eval", "predict", "complete", "agreement", "schema", "export",
     "examples", "check", "runs", "compare", "report", "weights", "data"]))
def test_option_combinations_fuzz(trained, sandbox, data, command):
    """Any subset of a command's options with values of the right and the wrong type."""
    cmd = typer.main.get_command(app).commands[command]
    pools = _option_pools(trained, sandbox)
    argv: list = [command]
    for param in cmd.params:
        if param.param_type_name == "argument":
            if not param.required and data.draw(st.booleans()):
                continue
            kind = "data" if command == "data" else \
                "matrix" if param.name in ("source", "kernel", "values") else \
                "str" if param.name == "name" else "config"
            argv += [data.draw(st.sampled_from(pools[kind]))
                     for _ in range(data.draw(st.integers(1, 2)) if param.multiple or
                                    param.nargs == -1 else 1)]
            continue
        if param.name in ("help",) or not data.draw(st.booleans()):
            continue
        flag = data.draw(st.sampled_from(param.opts))
        if param.is_flag:
            argv.append(flag)
            continue
        if (command, param.name) == ("init", "out"):     # never a file other tests read
            argv += [flag, data.draw(st.sampled_from([sandbox / f"w{next(SERIAL)}.npz",
                                                      pools["path"][-1], "/proc/nope/w.npz",
                                                      sandbox]))]
            continue
        if (command, param.name) == ("export", "out"):   # only into the sandbox
            n = next(SERIAL)
            argv += [flag, data.draw(st.sampled_from([
                sandbox / f"e{n}", sandbox / f"e{n}.safetensors", sandbox / f"e{n}.onnx",
                pools["path"][-1], "/proc/nope/e", sandbox]))]
            continue
        if param.name == "save":        # a new picture, one taken, bad names, no folder
            taken = sandbox / "taken.svg"
            taken.write_text("<svg/>")
            n = next(SERIAL)
            argv += [flag, data.draw(st.sampled_from([
                sandbox / f"p{n}.svg", sandbox / f"p{n}.html", sandbox / f"p{n}.txt",
                sandbox / f"p{n}.png", taken, sandbox, "/proc/nope/p.svg"]))]
            continue
        if (command, param.name) == ("report", "out"):   # only into the sandbox
            n = next(SERIAL)
            argv += [flag, data.draw(st.sampled_from([
                sandbox / f"rep{n}.html", sandbox / f"rep{n}.pdf", sandbox / "taken.svg",
                "/proc/nope/r.html", sandbox]))]
            continue
        if (command, param.name) == ("examples", "copy"):  # a fresh folder, or one taken
            argv += [flag, data.draw(st.sampled_from([sandbox / f"c{next(SERIAL)}", sandbox,
                                                      "/proc/nope", pools["path"][-1]]))]
            continue
        if (command, param.name) == ("train", "out"):
            argv += [flag, data.draw(st.sampled_from([sandbox / f"r{next(SERIAL)}", sandbox,
                                                      "/proc/nope", trained["cnn"]]))]
            continue
        kind = _kind(param)
        if param.name in ("input_", "target", "source"):
            kind = "matrix"
        if param.name in ("weights", "resume", "out", "config"):
            kind = "path"
        pool = SLOW.get((command, param.name), pools[kind])
        argv += [flag, data.draw(st.sampled_from(pool))]
    if (command == "train" and not {"-o", "--out"} & set(map(str, argv))
            and "--resume" not in argv):
        argv += ["--out", sandbox / f"r{next(SERIAL)}"]
    if command == "train" and "--resume" in argv:
        i = argv.index("--resume") + 1
        if isinstance(argv[i], Path) and argv[i].is_dir() and argv[i] in trained.values():
            copy = sandbox / f"resume{next(SERIAL)}"
            shutil.copytree(argv[i], copy)
            argv[i] = copy
        if "--epochs" not in argv:
            argv += ["--epochs", 2]
    if command == "report" and not {"-o", "--out"} & set(map(str, argv)):
        argv += ["--out", sandbox / f"rep{next(SERIAL)}.html"]     # never into a run folder
    if command == "export" and not {"-o", "--out"} & set(map(str, argv)):
        argv += ["--out", sandbox / f"e{next(SERIAL)}"]
    if command == "train" and "--epochs" not in argv:
        argv += ["--epochs", 1]
    if command in ("train", "gradcheck"):      # keep it small: only tiny models train
        argv = [a if a not in (CONFIGS / "seed_conv.yaml",) else CONFIGS / "seed_rnn.yaml"
                for a in argv]
    failed = MAY_FAIL.get(command)
    invoke(*argv, allowed=(0, 1, 2) if failed else (0, 2), failed=failed)


@fuzz(50)
@given(data=st.data(), to=st.sampled_from(["torch", "safetensors", "onnx", "onnx", "toch"]),
       dtype=st.sampled_from([None, None, "float32", "float64", "half"]), check=st.booleans(),
       force=st.booleans())
def test_export_fuzz(trained, sandbox, data, to, dtype, check, force):
    """export of every kind of model, with weights of the right or wrong model, into new,
    existing or impossible places: 0 with the files written, or one line and nothing
    written."""
    pools = _option_pools(trained, sandbox)
    config = data.draw(st.sampled_from(pools["config"]))
    n = next(SERIAL)
    fresh = sandbox / {"safetensors": f"x{n}.safetensors", "onnx": f"x{n}.onnx"}.get(to, f"x{n}")
    out = data.draw(st.one_of(st.just(fresh), st.sampled_from([
        sandbox / f"x{n}", sandbox / f"x{n}.onnx", pools["path"][-1], "/proc/nope/x",
        sandbox])))
    argv = ["export", config, "--to", to, "-o", out]
    if data.draw(st.integers(0, 3)) == 0:
        argv += ["--weights", data.draw(st.sampled_from(pools["path"]))]
    argv += (["--dtype", dtype] if dtype else []) + (["--check"] if check else []) + \
        (["--force"] if force else []) + (["--json"] if data.draw(st.booleans()) else [])
    existed = Path(out).exists()
    result = invoke(*argv)
    if result.exit_code == 0:
        assert Path(out).exists()
    elif not existed:
        assert not Path(out).exists(), f"a refused export wrote {out}"


# --------------------------------------------------------------------------- YAML safety

@pytest.mark.parametrize("tag", [
    "!!python/object/apply:os.system ['touch PWNED']",
    "!!python/object/new:os.system ['touch PWNED']",
    "!!python/name:os.system", "!!python/module:os"])
def test_yaml_never_constructs_python_objects(sandbox, tag):
    path = sandbox / "evil.yaml"
    path.write_text(f"name: {tag}\ninput: [1]\nlayers: [relu]\n")
    result = invoke("summary", path)
    assert result.exit_code == 2 and "not valid YAML" in result.stderr
    assert not (sandbox / "PWNED").exists()


def test_npy_and_npz_are_never_unpickled(sandbox):
    evil = np.array([{"a": 1}], dtype=object)
    np.save(sandbox / "evil.npy", evil, allow_pickle=True)
    np.savez(sandbox / "evil.npz", **{"0.weight": evil})
    with zipfile.ZipFile(sandbox / "evil.npz") as zf:
        assert zf.namelist()
    for args in (("conv", sandbox / "evil.npy", "1"), ("conv", sandbox / "evil.npz", "1"),
                 ("forward", CONFIGS / "seed_rnn.yaml", "--input", "1; 2", "--weights",
                  sandbox / "evil.npz")):
        result = invoke(*args)
        assert result.exit_code == 2 and ("unpickle" in result.stderr
                                          or "Python objects" in result.stderr)


def test_alias_bomb_and_recursion_are_refused(sandbox):
    levels = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    for i, name in enumerate("bcdefghi"):
        prev = "abcdefghi"[i]
        levels.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    bomb = sandbox / "bomb.yaml"
    bomb.write_text("\n".join(levels) + "\ninput: [1]\nlayers: [relu]\n")
    result = invoke("summary", bomb)
    assert result.exit_code == 2 and "aliases" in result.stderr
    loop = sandbox / "loop.yaml"
    loop.write_text("input: &x [1, *x]\nlayers: [relu]\n")
    assert "recursive" in invoke("summary", loop).stderr
    deep = sandbox / "deep.yaml"
    deep.write_text("input: " + "[" * 3000 + "]" * 3000 + "\nlayers: [relu]\n")
    assert "nested" in invoke("summary", deep).stderr


def test_spec_paths_are_relative_to_the_spec_and_only_read(sandbox):
    folder = sandbox / "specdir"
    (folder / "sub").mkdir(parents=True)
    spec = dict(BASE_SPECS["mlp"], data={"path": "sub/xy.csv"})
    (folder / "sub" / "xy.csv").write_text(CSV)
    before = (folder / "sub" / "xy.csv").stat().st_mtime_ns
    path = folder / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    # run from another folder: the path is still found next to the spec
    result = invoke("train", path, "--out", sandbox / "rel-run", "--epochs", 1)
    assert result.exit_code == 0
    assert (folder / "sub" / "xy.csv").stat().st_mtime_ns == before
    assert sorted(p.name for p in folder.rglob("*")) == ["spec.yaml", "sub", "xy.csv"]
    written = yaml.safe_load((sandbox / "rel-run" / "config.yaml").read_text())
    assert written["data"]["path"] == str((folder / "sub" / "xy.csv").resolve())


def test_a_spec_name_cannot_escape_the_runs_folder(sandbox):
    spec = dict(BASE_SPECS["mlp"], name="../../escape/../x")
    folder = sandbox / "escape-test"
    folder.mkdir()
    path = _spec_folder(folder, yaml.safe_dump(spec))
    os.chdir(folder)
    try:
        assert invoke("train", path, "--epochs", 1).exit_code == 0
        (run,) = (folder / "runs").iterdir()
        assert run.parent == folder / "runs" and run.name.startswith("escape-..-x-")
        assert sorted(p.name for p in folder.iterdir()) == ["corpus.txt", "runs",
                                                             "spec.yaml", "xy.csv"]
    finally:
        os.chdir(sandbox)


def test_memory_budget_refuses_up_front_with_the_estimate(sandbox):
    huge = sandbox / "huge.yaml"
    huge.write_text("input: [100000]\nlayers: [{dense: {units: 100000}}]\n")
    line = invoke("summary", huge).stderr
    assert "needs about" in line and "over the memory budget of 64.0 MB" in line
    result = invoke("conv", "1", "1", "--padding", 10**6)
    assert result.exit_code == 2 and "memory budget" in result.stderr
    data = sandbox / "bigdata.yaml"
    data.write_text("input: [50, 2]\nlayers: [{rnn: {hidden: 2}}]\n"
                    "data: {name: adding, train: 100000000}\n")
    result = invoke("train", data, "--out", sandbox / "big-run")
    assert "generating 100,002,000 samples needs about 152.0 GB" in result.stderr
    assert not (sandbox / "big-run").exists()
