"""The layers and losses against independently computed float64 references (tests/oracle/).

Every file listed in tests/oracle/index.json is one case: input, parameters under PyTorch's
names, output y, upstream gradient dy and the gradients of sum(y * dy). A new file added to
index.json is picked up without touching this test: its "layer" is a registered kind and
the entry's keys that are options of that layer build it through the registry (`out` is
dense's `units`). Agreement is expected to 1e-10 relative.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from nncli import layers as L
from nncli.layers import registry
from nncli.losses import LOSSES

ORACLE = Path(__file__).parent / "oracle"
INDEX = json.loads((ORACLE / "index.json").read_text())
RTOL, ATOL = 1e-10, 1e-13

# gru-lite: the oracle's names (README) -> the project's parameter names. Other layers'
# oracle files use the project's (PyTorch's) names.
GRU_LITE_NAMES = {"W": "weight_ih_l0", "U": "weight_hh_l0", "b": "bias_l0",
                  "Wg": "weight_ig_l0", "Ug": "weight_hg_l0", "bg": "bias_g_l0"}
ORACLE_NAMES = {"gru-lite": GRU_LITE_NAMES}
ALIASES = {"dense": {"out": "units"}}       # index.json key -> option name


def close(actual, expected, what):
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=ATOL, err_msg=what)


def make_layer(entry: dict, ref) -> tuple[L.Layer, dict[str, str]]:
    """The layer an index entry describes (built through the registry), and oracle name ->
    project parameter name."""
    kind = entry["layer"]
    cls = registry.get(kind)
    aliases = ALIASES.get(kind, {})
    options = {aliases.get(key, key): value for key, value in entry.items()
               if aliases.get(key, key) in cls.OPTIONS}
    for opt in options:
        if opt in ref.files:
            assert int(ref[opt]) == options[opt], f"index.json and the file disagree on {opt}"
    layer = registry.build(kind, options)
    ours = layer.param_shapes(tuple(ref["x"].shape[1:]))
    names = ORACLE_NAMES.get(kind, {name: name for name in ours})
    assert set(names.values()) == set(ours), f"{entry['file']}: parameter names"
    return layer, names


LAYER_CASES = [e for e in INDEX if "layer" in e]
LOSS_CASES = [e for e in INDEX if "loss" in e]


def test_index_lists_every_reference_file():
    listed = {e["file"] for e in INDEX}
    # optim_*.npz are the optimizers' references, read and checked by tests/test_optim.py.
    on_disk = {p.name for p in ORACLE.glob("*.npz") if not p.name.startswith("optim_")}
    assert on_disk == listed, f"not in index.json: {on_disk - listed}; missing: {listed - on_disk}"
    assert all(("layer" in e) != ("loss" in e) for e in INDEX)


@pytest.mark.parametrize("entry", LAYER_CASES, ids=[e["file"] for e in LAYER_CASES])
def test_layer_matches_oracle(entry):
    ref = np.load(ORACLE / entry["file"], allow_pickle=False)
    name = entry["file"]
    layer, names = make_layer(entry, ref)
    layer.params = {ours: np.array(ref[theirs], dtype=np.float64)
                    for theirs, ours in names.items()}
    layer.zero_grad()
    x = ref["x"]
    y = layer.forward(x)
    assert y.shape[1:] == tuple(layer.output_shape(x.shape[1:])), f"{name}: output_shape"
    close(y, ref["y"], f"{name}: forward output y")
    if "gates" in ref.files:
        close(layer.gates, ref["gates"], f"{name}: gates g_t")
    close(layer.backward(ref["dy"]), ref["dx"], f"{name}: dx")
    for theirs, ours in names.items():
        close(layer.grads[ours], ref[f"d{theirs}"], f"{name}: d{theirs} (grads['{ours}'])")
    # Every gradient the reference holds was compared.
    assert {k for k in ref.files if k.startswith("d") and k != "dy"} == {
        "dx", *(f"d{t}" for t in names)}


@pytest.mark.parametrize("entry", LOSS_CASES, ids=[e["file"] for e in LOSS_CASES])
def test_loss_matches_oracle(entry):
    ref = np.load(ORACLE / entry["file"], allow_pickle=False)
    loss_fn = LOSSES[entry["loss"]]
    if entry["loss"] == "cross_entropy":
        loss, grad = loss_fn(ref["logits"], ref["labels"], entry["reduction"])
        expected_grad = ref["dlogits"]
    else:
        loss, grad = loss_fn(ref["y"], ref["target"], entry["reduction"])
        expected_grad = ref["dy"]
    close(loss, ref["loss"], f"{entry['file']}: loss value")
    close(grad, expected_grad, f"{entry['file']}: loss gradient")
