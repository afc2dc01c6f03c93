"""Text models: tokens and vocabularies, text datasets, the embedding layer, `vocab` sizes in
specs, vocabularies in checkpoints, perplexity, sampling, completion, the agreement grammar
and scorer, and the `complete` / `agreement` commands with their bad inputs."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from nncli import text
from nncli.checkpoint import load_checkpoint, load_weights, read_npz, save_weights
from nncli.cli import app
from nncli.datasets import base, load_dataset, text_streams, windows
from nncli.errors import InputError
from nncli.evaluation import evaluate
from nncli.gradcheck import layer_gradcheck
from nncli.layers import Embedding
from nncli.spec import load_spec
from nncli.train import new_run

runner = CliRunner()
MEMO = "the cat sat on the mat. " * 12            # a tiny corpus to memorise


def run(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def write_spec(folder: Path, name: str = "tiny", cell: str = "gru-lite", hidden: int = 24,
               data: dict | None = None, window: int = 8, epochs: int = 40, **train) -> Path:
    """A char-level model spec over folder/corpus.txt (MEMO unless data says otherwise)."""
    if data is None:
        (folder / "corpus.txt").write_text(MEMO)
        data = {"path": "corpus.txt", "tokens": "chars", "window": window, "stride": 1,
                "split": [1, 0, 0]}
    spec = {"name": name, "seed": 0, "input": [window],
            "layers": [{"embedding": {"dim": 8}}, {cell: {"hidden": hidden}},
                       {"dense": {"units": "vocab"}}, "softmax"],
            "loss": "cross_entropy", "data": data,
            "train": {"epochs": epochs, "batch_size": 16, "lr": 0.5, "momentum": 0.9,
                      "clip": 1.0, **train}}
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def train_run(folder: Path, **kw) -> Path:
    trainer = new_run(write_spec(folder, **kw), folder / "run")
    for _ in trainer.run():
        pass
    return folder / "run"


@pytest.fixture(scope="module")
def memorised(tmp_path_factory) -> Path:
    """A gru-lite trained to reproduce MEMO (a few seconds of training)."""
    return train_run(tmp_path_factory.mktemp("memo"), epochs=20)


# --------------------------------------------------------------------------- tokens

@settings(max_examples=60, deadline=None)
@given(st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
               min_size=1, max_size=60))
def test_char_tokeniser_round_trip(s):
    tokens = text.tokenize(s, "chars")
    assert text.detokenize(tokens, "chars") == s
    vocab = text.Vocab.build(tokens, "chars")
    assert vocab.decode(vocab.encode(tokens)) == tokens
    assert list(vocab.tokens) == sorted(set(s)) and vocab.unk is None


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text("abcxyz.,'", min_size=1, max_size=6), min_size=1, max_size=12),
       st.sampled_from([" ", "\n", "  ", "\t "]))
def test_word_tokeniser_round_trip(words, sep):
    s = sep.join(words)
    assert text.tokenize(s, "words") == words
    assert text.detokenize(words, "words") == " ".join(words)
    vocab = text.Vocab.build(words, "words")
    assert vocab.decode(vocab.encode(words)) == words


def test_unk_only_when_val_or_test_has_unseen_tokens():
    assert text.Vocab.build(list("abc"), "chars", [list("cab")]).tokens == ("a", "b", "c")
    vocab = text.Vocab.build(list("abc"), "chars", [list("abz")])
    assert vocab.tokens == ("a", "b", "c", "\ufffd") and vocab.unk == 3
    assert vocab.encode(list("zab")).tolist() == [3, 0, 1]
    assert text.Vocab.build(["a"], "words", [["b"]]).tokens == ("a", "<unk>")


def test_vocab_arrays_round_trip_without_pickle(tmp_path):
    vocab = text.Vocab(("\n", " ", "é", "中", "z"), "chars")
    save_weights(tmp_path / "w.npz", {"0.weight": np.ones((2, 2))}, vocab.arrays())
    arrays = read_npz(tmp_path / "w.npz", "w")                 # allow_pickle=False
    assert arrays["vocab"].dtype.kind == "U"
    assert text.Vocab.from_arrays(arrays, "w") == vocab
    assert set(load_weights(tmp_path / "w.npz")) == {"0.weight"}
    with pytest.raises(InputError, match="holds no vocabulary"):
        text.Vocab.from_arrays({"0.weight": np.ones(2)}, "w.npz")


def test_nearest_known_tokens():
    vocab = text.Vocab(tuple("abcq"), "chars")
    assert vocab.nearest("Q") == ["q"] and vocab.nearest("é") == []
    words = text.Vocab(("dog", "dogs", "cat"), "words")
    assert words.nearest("dgos")[0] == "dogs"


# --------------------------------------------------------------------------- datasets

def test_windows_shift_labels_by_one_and_drop_the_tail():
    x, y = windows(np.arange(10), 3, 3)
    assert x.tolist() == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    assert y.tolist() == [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
    assert x.dtype == np.float64 and y.dtype == np.int64
    x, y = windows(np.arange(10), 4, 2)
    assert x[:, 0].tolist() == [0, 2, 4] and y[-1].tolist() == [5, 6, 7, 8]
    assert windows(np.arange(4), 4, 4)[0].shape == (0, 4)


def test_text_file_dataset_splits_in_order(tmp_path):
    (tmp_path / "t.txt").write_text("abcdefghij" * 10)
    ds = load_dataset({"path": "t.txt", "tokens": "chars", "window": 4,
                       "split": [0.8, 0.1, 0.1]}, tmp_path, 0)
    assert ds.vocab.tokens == tuple("abcdefghij") and ds.num_classes == 10
    assert ds.train.x.shape == (19, 4) and ds.val.x.shape == (2, 4)
    np.testing.assert_array_equal(ds.train.x[0], [0, 1, 2, 3])
    np.testing.assert_array_equal(ds.val.x[0], [0, 1, 2, 3])   # chars 80..83: "abcd"


def test_sonnets_dataset():
    ds = load_dataset({"name": "sonnets", "tokens": "chars", "window": 64}, Path("."), 0)
    assert len(ds.vocab) == 62 and ds.train.x.shape[1:] == (64,)
    n = len(base.shipped_file("sonnets.txt").read_text())
    train = n - 2 * round(0.05 * n)                        # split [0.9, 0.05, 0.05]
    assert len(ds.train) == (train - 1 - 64) // 64 + 1
    assert text.detokenize(ds.vocab.decode(ds.train.x[0]), "chars").startswith("THE SONNETS")


@pytest.mark.parametrize("cfg, message", [
    ({"name": "sonnets", "tokens": "bytes"}, "data.tokens: expected one of chars, words"),
    ({"name": "sonnets", "window": 0}, "data.window: expected an integer >= 1"),
    ({"name": "sonnets", "windw": 8}, "did you mean 'window'"),
    ({"path": "nope.txt", "tokens": "chars"}, "data.path: file 'nope.txt' not found"),
    ({"path": "empty.txt", "tokens": "chars"}, "holds no text"),
    ({"path": "short.txt", "tokens": "chars", "window": 8}, "too few for one window of 8"),
    ({"path": "latin1.txt", "tokens": "chars"}, "is not UTF-8 text"),
    ({"name": "agreement", "train": 0}, "data.train: expected an integer >= 1"),
])
def test_text_dataset_errors(tmp_path, cfg, message):
    (tmp_path / "empty.txt").write_text("  \n")
    (tmp_path / "short.txt").write_text("abc")
    (tmp_path / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    with pytest.raises(InputError, match=message.replace("(", r"\(")) as info:
        load_dataset(cfg, tmp_path, 0)
    assert "\n" not in str(info.value)


# --------------------------------------------------------------------------- embedding

@pytest.mark.parametrize("n, t, v, d", [(2, 3, 5, 4), (3, 5, 4, 2), (1, 1, 3, 3)])
def test_embedding_gradient_check(n, t, v, d):
    rng = np.random.default_rng(n * 100 + t)
    layer = Embedding(v, d)
    layer.init_params((t,), rng)
    x = rng.integers(0, v, size=(n, t)).astype(np.float64)
    x[0, :] = x[0, 0]                         # a repeated id: its gradients must add up
    dy = rng.normal(size=(n, t, d))
    for result in layer_gradcheck(layer, x, dy):
        assert result.passed, f"{result.name}: max rel error {result.max_rel_error:.2e}"
    layer.zero_grad()
    y = layer.forward(x)
    np.testing.assert_array_equal(y, layer.params["weight"][x.astype(int)])
    assert not layer.backward(dy).any()       # ids are not differentiable
    onehot = np.eye(v)[x.astype(int)]         # dL/dW = onehot^T dy
    np.testing.assert_allclose(layer.grads["weight"],
                               np.einsum("ntv,ntd->vd", onehot, dy), atol=1e-12)


@pytest.mark.parametrize("x, message", [([[0, 5]], "must be in 0..4"), ([[1.5]], "whole"),
                                        ([[-1]], "must be in 0..4"), ([[np.nan]], "finite")])
def test_embedding_rejects_bad_ids(x, message):
    layer = Embedding(5, 2)
    layer.init_params((1,), np.random.default_rng(0))
    with pytest.raises(InputError, match=message):
        layer.forward(np.array(x, dtype=np.float64))


# --------------------------------------------------------------------------- specs

def test_vocab_sizes_resolve_from_the_data(tmp_path):
    spec = load_spec(write_spec(tmp_path))
    assert len(spec.vocab) == len(set(MEMO)) == 11
    model = spec.build()
    assert model.layers[0].params["weight"].shape == (11, 8)
    assert model.output_shape == (8, 11)
    given_vocab = text.Vocab(tuple("abc"), "chars")
    assert load_spec(write_spec(tmp_path), vocab=given_vocab).build().output_shape == (8, 3)


def test_vocab_needs_a_text_dataset(tmp_path):
    path = write_spec(tmp_path, data={"name": "sine"})
    with pytest.raises(InputError, match=r"tiny\.yaml:\d+ layers\[0\]\.embedding\.vocab: "
                       "'vocab' means the size of a text dataset's vocabulary"):
        load_spec(path)
    raw = yaml.safe_load(write_spec(tmp_path).read_text())
    raw["layers"][2] = {"dense": {"units": "vocabs"}}
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(InputError, match="expected an integer >= 1 or 'vocab'"):
        load_spec(path)


# --------------------------------------------------------------------------- training

def test_checkpoints_store_the_vocab_and_metrics_the_perplexity(memorised):
    arrays = read_npz(memorised / "last.npz", "last")
    vocab = text.Vocab.from_arrays(arrays, "last")
    assert vocab.tokens == tuple(sorted(set(MEMO))) and vocab.mode == "chars"
    params, _, _ = load_checkpoint(memorised / "last.npz")
    assert "vocab" not in params and "vocab_tokens" not in params
    lines = (memorised / "metrics.jsonl").read_text().splitlines()
    history = [json.loads(line) for line in lines]
    last = history[-1]
    assert last["train_perplexity"] == pytest.approx(math.exp(last["train_loss"]))
    assert "val_perplexity" not in last                  # split [1, 0, 0]: no validation
    assert last["train_perplexity"] < 1.5 < history[0]["train_perplexity"]


def test_evaluate_reports_perplexity(memorised):
    spec = load_spec(memorised / "config.yaml")
    model = spec.build()
    model.load_state(load_weights(memorised / "best.npz"))
    ds = load_dataset(spec.raw["data"], spec.base_dir, 0)
    result = evaluate(model, ds.train)
    assert result["perplexity"] == pytest.approx(math.exp(result["loss"]))


def test_resume_reads_a_checkpoint_with_a_vocab(tmp_path):
    folder = train_run(tmp_path, epochs=2)
    result = run("train", "--resume", folder, "--epochs", "3", "--json")
    assert result.exit_code == 0, result.output
    assert "train_perplexity" in json.loads(result.stdout.splitlines()[-1])


# --------------------------------------------------------------------------- sampling

def test_sampling_probs_temperature_and_top_k():
    logp = np.log(np.array([0.1, 0.2, 0.3, 0.4]))
    np.testing.assert_allclose(text.sampling_probs(logp, 1.0, None), np.exp(logp))
    assert text.sampling_probs(logp, 0, None).tolist() == [0, 0, 0, 1]
    p = text.sampling_probs(logp, 1.0, 2)
    np.testing.assert_allclose(p, [0, 0, 3 / 7, 4 / 7])
    p = text.sampling_probs(logp, 0.5, None)
    np.testing.assert_allclose(p, np.array([1, 4, 9, 16]) / 30)
    tie = np.log(np.array([0.5, 0.5]))
    assert text.sampling_probs(tie, 0, None).tolist() == [1, 0]   # first max


def test_draw_is_inverse_cdf():
    class Fixed:
        def __init__(self, u):
            self.u = u

        def random(self):
            return self.u

    p = np.array([0.25, 0.0, 0.75])
    assert [text.draw(p, Fixed(u)) for u in (0.0, 0.2499, 0.25, 0.9999)] == [0, 0, 2, 2]


def test_greedy_completion_of_a_memorised_corpus(memorised):
    spec = load_spec(memorised / "config.yaml")
    model = spec.build()
    model.load_state(load_weights(memorised / "best.npz"))
    vocab = text.Vocab.from_arrays(read_npz(memorised / "best.npz", "w"), "w")
    out = text.complete(model, vocab, list("the cat s"), 30, temperature=0)
    assert out.text == "at on the mat. the cat sat on "
    assert all(s.p_sample == 1.0 and s.candidates[0][0] == s.token for s in out.steps)


def test_seeded_sampling_is_reproducible(memorised):
    args = ["complete", memorised, "--prompt", "the", "--length", "40", "--json"]
    first = json.loads(run(*args, "--seed", "7", "--temperature", "2").stdout)
    again = json.loads(run(*args, "--seed", "7", "--temperature", "2").stdout)
    other = json.loads(run(*args, "--seed", "8", "--temperature", "2").stdout)
    assert first == again and first["completion"] != other["completion"]
    assert first["text"] == "the" + first["completion"] and len(first["steps"]) == 40


# --------------------------------------------------------------------------- commands

def test_complete_command_explains(memorised):
    result = run("complete", memorised, "--prompt", "the cat", "-n", "4", "-t", "0",
                 "--explain")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "the cat sat\n" in out and "greedy" in out and "candidates" in out
    assert "␣" in out                              # spaces made visible in the table
    payload = json.loads(run("complete", memorised, "-p", "the", "-n", "2", "-t", "0",
                             "--top-k", "3", "--explain", "--json").stdout)
    assert payload["completion"] == " c" and len(payload["steps"][0]["candidates"]) == 3
    assert payload["steps"][0]["candidates"][0]["token"] == " "


def test_complete_header_wraps_between_pieces_at_80_columns(memorised, tmp_path,
                                                             monkeypatch):
    import shutil

    folder = tmp_path / "runs" / "a-run-folder-with-a-long-name"
    shutil.copytree(memorised, folder)
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["complete", str(folder.relative_to(tmp_path)), "-p", "the",
                                 "-n", "3", "-t", "0"], env={"COLUMNS": "80", "NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines), lines
    assert lines[0].endswith(" ·") is False and lines[1].startswith("  ")   # wrapped, indented
    assert "context: last" in result.stdout and "greedy (temperature 0)" in result.stdout


def test_complete_bad_inputs(memorised, tmp_path):
    save_weights(tmp_path / "novocab.npz", load_weights(memorised / "best.npz"))
    cases = [
        (["-p", ""], "--prompt: empty"),
        (["-p", "the Zed!"], "--prompt: 3 characters not in the model's vocabulary of 11: "
                             "'Z'; 'd'; '!'; rephrase, or pass --skip-unknown"),
        (["-p", "a", "-t", "-0.5"], "--temperature: expected a number >= 0"),
        (["-p", "a", "-n", "0"], "--length: expected an integer >= 1, got 0"),
        (["-p", "a", "--top-k", "0"], "--top-k: expected an integer >= 1"),
        (["-p", "a", "--seed", "-1"], "--seed: expected an integer >= 0"),
        (["-p", "a", "--weights", tmp_path / "novocab.npz"], "holds no vocabulary"),
    ]
    for args, message in cases:
        target = memorised / "config.yaml" if "--weights" in args else memorised
        result = run("complete", target, *args)
        assert result.exit_code == 2, (args, result.output)
        assert result.stderr.count("\n") == 1, result.stderr
        assert message in result.stderr, result.stderr
    result = run("complete", memorised, "-p", "the Zed!", "--skip-unknown", "-n", "3",
                 "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["prompt"] == "the e"
    assert "dropped 3 unknown characters" in result.stderr
    assert run("complete", memorised / "config.yaml", "-p", "a").exit_code == 2


# --------------------------------------------------------------------------- agreement

def test_grammar_agrees_and_test_pairs_have_attractors():
    u = text.Uniforms(np.random.default_rng(3))
    for _ in range(300):
        words, subject, verb = text.agreement_sentence(u)
        plural = words[subject].endswith("s")
        assert words[verb].endswith("s") != plural and words[-1] == "."
    for pair in text.agreement_pairs(0, 30, 4):
        words = pair.context[1:]
        subject_plural = words[1].endswith("s")
        between = words[2:]
        nouns = [w for w in between if w.rstrip("s") in text.NOUNS]
        assert len(nouns) == pair.modifiers
        assert all(n.endswith("s") != subject_plural for n in nouns)
        assert pair.right.endswith("s") != subject_plural
        assert {pair.right, pair.wrong} == {pair.right.rstrip("s"), pair.right.rstrip("s") + "s"}
        assert pair.distance == len(between) and 3 * pair.modifiers <= pair.distance \
            <= 4 * pair.modifiers


def test_fillers_are_number_neutral_and_uniformly_many():
    vocab = set(text.NOUNS) | {n + "s" for n in text.NOUNS} | set(text.VERBS) \
        | {v + "s" for v in text.VERBS} | set(text.TRANSITIVE) | set(text.ADJECTIVES)
    assert not set(text.FILLERS) & vocab and not any(f.rstrip("s") in vocab
                                                     for f in text.FILLERS)
    u = text.Uniforms(np.random.default_rng(5))
    counts = []
    for _ in range(3000):
        words, subject, verb = text.agreement_sentence(u, span=(0, 0), filler_span=(2, 6))
        between = words[subject + 1:verb]
        assert all(w in text.FILLERS for w in between)
        assert words[verb].endswith("s") != words[subject].endswith("s")
        counts.append(len(between))
    assert sorted(set(counts)) == [2, 3, 4, 5, 6]
    assert np.bincount(counts)[2:].min() > 0.17 * len(counts)       # ~0.2 each: uniform
    pairs = text.agreement_pairs(0, 20, fillers=[0, 3, 40])
    assert [(p.modifiers, p.fillers, p.distance) for p in pairs[::20]] == [
        (0, 0, 0), (0, 3, 3), (0, 40, 40)]
    assert all(set(p.context[3:]) <= set(text.FILLERS) for p in pairs)
    streams = text_streams({"name": "agreement", "train": 50, "val": 5, "test": 0,
                                 "modifiers": [0, 0], "fillers": [0, 4]}, Path("."), 0)
    assert set(text.FILLERS) <= set(streams.vocab.tokens)
    plain = text_streams({"name": "agreement", "train": 50, "val": 5, "test": 0},
                              Path("."), 0)
    assert not set(text.FILLERS) & set(plain.vocab.tokens)
    with pytest.raises(InputError, match="data.fillers: expected"):
        text_streams({"name": "agreement", "fillers": [5, 2]}, Path("."), 0)


def test_agreement_scorer_on_a_hand_made_model(tmp_path):
    """A model that only looks at the last word: after 'dog' it prefers 'runs' (right),
    after 'dogs' it also prefers 'runs' (wrong), by known margins."""
    tokens = (".", "dog", "dogs", "run", "runs", "the")
    vocab = text.Vocab(tokens, "words")
    v = len(tokens)
    w = np.zeros((v, v))                               # dense weight (out, in)
    w[4, 1], w[3, 1] = 2.0, 0.0                        # after dog:  runs 2, run 0
    w[4, 2], w[3, 2] = 1.0, 0.0                        # after dogs: runs 1, run 0
    spec = {"name": "hand", "input": [4], "loss": "cross_entropy",
            "layers": [{"embedding": {"vocab": v, "dim": v, "params": {"weight":
                                                                      np.eye(v).tolist()}}},
                       {"dense": {"units": v, "bias": False, "params": {"weight": w.tolist()}}}]}
    (tmp_path / "hand.yaml").write_text(yaml.safe_dump(spec))
    model = load_spec(tmp_path / "hand.yaml").build()
    pairs = [text.AgreementPair((".", "the", "dog"), "runs", "run", 0, 0),
             text.AgreementPair((".", "the", "dogs"), "run", "runs", 0, 0),
             text.AgreementPair((".", "the", "dog", "the", "dogs"), "runs", "run", 1, 2)]
    rows = text.score_agreement(model, vocab, pairs)
    assert [(r.modifiers, r.pairs, r.distance) for r in rows] == [(0, 2, (0, 0)),
                                                                 (1, 1, (2, 2))]
    assert rows[0].accuracy == 0.5 and rows[1].accuracy == 1.0
    sig = 1 / (1 + np.exp(-np.array([2.0, -1.0, 1.0])))
    assert rows[0].p_right == pytest.approx((sig[0] + sig[1]) / 2, abs=1e-12)
    assert rows[1].p_right == pytest.approx(sig[2], abs=1e-12)
    with pytest.raises(InputError, match="the vocabulary lacks 'cats'"):
        text.score_agreement(model, vocab, [text.AgreementPair((".", "cats"), "run", "runs",
                                                               0, 0)])


def test_agreement_command(tmp_path):
    data = {"name": "agreement", "window": 8, "train": 300, "val": 20, "test": 0}
    folder = train_run(tmp_path, data=data, window=8, epochs=1, hidden=8)
    result = run("agreement", folder, folder / "config.yaml", "-w", folder / "last.npz",
                 "--pairs", "5", "--max-modifiers", "2", "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert [m["model"] for m in payload["models"]] == ["tiny", "tiny"]
    rows = payload["models"][0]["rows"]
    assert [r["modifiers"] for r in rows] == [0, 1, 2] and rows[2]["pairs"] == 5
    assert payload["models"][0]["rows"] == payload["models"][1]["rows"]
    shown = run("agreement", folder, "--pairs", "3")
    assert shown.exit_code == 0 and "words" in shown.stdout and "mods" in shown.stdout
    assert "[" in shown.stdout and "e.g. 1 modifier" in shown.stdout
    bad = run("agreement", folder / "config.yaml", "--pairs", "3")
    assert bad.exit_code == 2 and "--weights: 1 spec file(s)" in bad.stderr
    (tmp_path / "memo").mkdir()
    memo = train_run(tmp_path / "memo", epochs=1)
    wrong = run("agreement", memo, "--pairs", "2")
    assert wrong.exit_code == 2 and "the vocabulary lacks" in wrong.stderr
    far_data = {**data, "modifiers": [0, 0], "fillers": [0, 3]}
    (tmp_path / "far").mkdir()
    far = train_run(tmp_path / "far", data=far_data, window=8, epochs=1, hidden=8)
    scored = run("agreement", far, "--pairs", "4", "--fillers", "3,0", "--json")
    assert scored.exit_code == 0, scored.output
    import jsonschema

    from nncli.commands.schema import load_schema

    jsonschema.validate(json.loads(scored.stdout), load_schema("agreement"),
                        cls=jsonschema.Draft202012Validator)
    assert "fillers" not in payload["models"][0]["rows"][0]       # unchanged without it
    rows = json.loads(scored.stdout)["models"][0]["rows"]
    assert [(r["fillers"], r["distance"], r["modifiers"]) for r in rows] == [
        (0, [0, 0], 0), (3, [3, 3], 0)]
    table = run("agreement", far, "--pairs", "2", "--fillers", "0,2")
    assert table.exit_code == 0 and "fillers" in table.stdout and "e.g. 2 fillers" in table.stdout
    assert run("agreement", far, "--fillers", "1,x").exit_code == 2


def test_model_commands_take_text_specs(tmp_path):
    spec = write_spec(tmp_path, hidden=4)
    checked = run("gradcheck", spec, "--max-entries", "5")      # random token ids as input
    assert checked.exit_code == 0, checked.output
    assert run("init", spec, "-o", tmp_path / "w0.npz").exit_code == 0
    assert text.Vocab.from_arrays(read_npz(tmp_path / "w0.npz", "w0"), "w0").mode == "chars"
    summary = run("summary", spec)
    assert summary.exit_code == 0 and "11 tokens -> 8 dims" in summary.stdout
