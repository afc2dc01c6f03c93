"""A model as an ONNX graph, built node by node with onnx.helper (`nncli export --to onnx`).

The graph takes `input` (N, *input shape): float32, or int64 token ids for a model that
starts with an embedding. It gives `output`, the last layer's output (what `nncli forward`
shows), and, for a model whose last layer is softmax, `logits` (the softmax's input).

Layers map onto ONNX's own operators: dense = MatMul + Add, conv = Conv, pool = MaxPool /
AveragePool, flatten = Flatten, softmax = Softmax, activations = Relu / Tanh / Sigmoid,
embedding = Gather, rnn / gru / lstm = RNN / GRU / LSTM. ONNX's recurrent operators are
time-major and order their gates differently from torch: an LSTM's are i, o, f, c in ONNX
and i, f, g, o in torch; a GRU's z, r, h and r, z, n, with linear_before_reset = 1 for
torch's form of the candidate. gru-lite has no ONNX operator: it is unrolled over its
(fixed) number of steps. Initializers keep nncli's parameter names where an array is used
as it is (a conv's weight) and add a suffix where it is rearranged ("2.weight_t").
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from nncli.export.torch_code import check_layers, spec_kind

OPSET = 17
ACT_OPS = {"identity": "Identity", "relu": "Relu", "tanh": "Tanh", "sigmoid": "Sigmoid"}
# Rows of a torch gate stack, in the order ONNX wants them.
GRU_ORDER = (1, 0, 2)          # torch r, z, n -> ONNX z, r, h
LSTM_ORDER = (0, 3, 1, 2)      # torch i, f, g, o -> ONNX i, o, f, c


class Graph:
    """Nodes and initializers being collected; every tensor gets a fresh name."""

    def __init__(self, dtype) -> None:
        self.dtype = np.dtype(dtype)
        self.nodes: list = []
        self.initializers: list = []
        self._count = 0

    def name(self, hint: str) -> str:
        self._count += 1
        return f"{hint}_{self._count}"

    def const(self, name: str, value, dtype=None) -> str:
        from onnx import numpy_helper

        array = np.asarray(value, dtype=dtype or self.dtype)
        self.initializers.append(numpy_helper.from_array(array, name))
        return name

    def op(self, op_type: str, inputs: list[str], outputs: int = 1, **attrs):
        """Add a node; its output name (or names, when outputs > 1)."""
        from onnx import helper

        names = [self.name(op_type.lower()) for _ in range(outputs)]
        self.nodes.append(helper.make_node(op_type, inputs, names, **attrs))
        return names[0] if outputs == 1 else names

    def activation(self, x: str, name: str) -> str:
        return x if name == "identity" else self.op(ACT_OPS[name], [x])

    def axes(self, *axes: int) -> str:
        return self.const(self.name("axes"), axes, np.int64)


def _dense(g: Graph, x: str, layer, params: dict, i: int, shape_in) -> str:
    y = g.op("MatMul", [x, g.const(f"{i}.weight_t", params["weight"].T)])
    if layer.use_bias:
        y = g.op("Add", [y, g.const(f"{i}.bias", params["bias"])])
    return g.activation(y, layer.act.name)


def _conv(g: Graph, x: str, layer, params: dict, i: int, shape_in) -> str:
    inputs = [x, g.const(f"{i}.weight", params["weight"])]
    if layer.use_bias:
        inputs.append(g.const(f"{i}.bias", params["bias"]))
    k, p, s = layer.kernel, layer.padding, layer.stride
    y = g.op("Conv", inputs, kernel_shape=[k, k], pads=[p, p, p, p], strides=[s, s])
    return g.activation(y, layer.act.name)


def _pool(g: Graph, x: str, layer, params: dict, i: int, shape_in) -> str:
    op = "MaxPool" if layer.mode == "max" else "AveragePool"
    return g.op(op, [x], kernel_shape=[layer.size] * 2, strides=[layer.stride] * 2)


def _embedding(g: Graph, x: str, layer, params: dict, i: int, shape_in) -> str:
    return g.op("Gather", [g.const(f"{i}.weight", params["weight"]), x], axis=0)


def _gates(w: np.ndarray, order: tuple[int, ...]) -> np.ndarray:
    """A torch gate stack (G*H, ...) with its G blocks reordered for ONNX."""
    blocks = np.split(w, len(order))
    return np.concatenate([blocks[j] for j in order])


def _recurrent(op: str, order: tuple[int, ...], **attrs) -> Callable:
    """rnn / gru / lstm on ONNX's RNN / GRU / LSTM operator (one direction, time-major)."""

    def build(g: Graph, x: str, layer, params: dict, i: int, shape_in) -> str:
        w = _gates(params["weight_ih_l0"], order)[None]
        r = _gates(params["weight_hh_l0"], order)[None]
        inputs = [g.op("Transpose", [x], perm=[1, 0, 2]),
                  g.const(f"{i}.W", w), g.const(f"{i}.R", r)]
        if layer.use_bias:
            b = np.concatenate([_gates(params["bias_ih_l0"], order),
                                _gates(params["bias_hh_l0"], order)])
            inputs.append(g.const(f"{i}.B", b[None]))
        count = 3 if op == "LSTM" else 2
        y_all, y_last, *_ = g.op(op, inputs, outputs=count, hidden_size=layer.hidden,
                                 **attrs)
        if not layer.return_sequences:
            return g.op("Squeeze", [y_last, g.axes(0)])                # (N, H)
        y = g.op("Squeeze", [y_all, g.axes(1)])                        # (T, N, H)
        return g.op("Transpose", [y], perm=[1, 0, 2])
    return build


def _gru_lite(g: Graph, x: str, layer, params: dict, i: int, shape_in) -> str:
    """Unrolled over the steps: s_t = g_t * c_t + (1 - g_t) * s_{t-1}, s_0 = 0."""
    steps = shape_in[0]

    def input_terms(w: str, b: str) -> str:
        y = g.op("MatMul", [x, g.const(f"{i}.{w}_t", params[w].T)])
        return g.op("Add", [y, g.const(f"{i}.{b}", params[b])]) if layer.use_bias else y

    learned = layer.fixed_gate is None
    a_c = input_terms("weight_ih_l0", "bias_l0")
    u = g.const(f"{i}.weight_hh_l0_t", params["weight_hh_l0"].T)
    if learned:
        a_g = input_terms("weight_ig_l0", "bias_g_l0")
        ug = g.const(f"{i}.weight_hg_l0_t", params["weight_hg_l0"].T)
    else:
        gate, ungate = g.const(f"{i}.gate", layer.fixed_gate), \
            g.const(f"{i}.one_minus_gate", 1.0 - layer.fixed_gate)
    one = g.const(f"{i}.one", 1.0)
    s, states = None, []
    for t in range(steps):
        at = g.const(g.name("step"), t, np.int64)
        pre_c = g.op("Gather", [a_c, at], axis=1)                      # (N, H)
        if s is not None:
            pre_c = g.op("Add", [pre_c, g.op("MatMul", [s, u])])
        c = g.op("Tanh", [pre_c])
        if learned:
            pre_g = g.op("Gather", [a_g, at], axis=1)
            if s is not None:
                pre_g = g.op("Add", [pre_g, g.op("MatMul", [s, ug])])
            gt = g.op("Sigmoid", [pre_g])
            keep = g.op("Sub", [one, gt])
        else:
            gt, keep = gate, ungate
        new = g.op("Mul", [gt, c])
        s = new if s is None else g.op("Add", [new, g.op("Mul", [keep, s])])   # s_0 = 0
        states.append(s)
    if not layer.return_sequences:
        return s
    return g.op("Concat", [g.op("Unsqueeze", [st, g.axes(1)]) for st in states], axis=1)


ONNX_LAYERS: dict[str, Callable] = {
    "dense": _dense,
    "conv": _conv,
    "pool": _pool,
    "flatten": lambda g, x, *_: g.op("Flatten", [x], axis=1),
    "softmax": lambda g, x, *_: g.op("Softmax", [x], axis=-1),
    "embedding": _embedding,
    "rnn": _recurrent("RNN", (0,)),
    "gru": _recurrent("GRU", GRU_ORDER, linear_before_reset=1),
    "lstm": _recurrent("LSTM", LSTM_ORDER),
    "gru-lite": _gru_lite,
    **{name: (lambda g, x, *_, a=name: g.activation(x, a)) for name in ACT_OPS},
}


def onnx_model(model, params: dict[str, np.ndarray], dtype=np.float32, doc: str = "",
               metadata: dict[str, str] | None = None):
    """The onnx.ModelProto of `model` with `params` (nncli names) as initializers in dtype.

    Raises InputError for a layer ONNX cannot express (naming it); the model is checked
    with onnx.checker before it is returned."""
    import onnx
    from onnx import TensorProto, helper

    check_layers(model, ONNX_LAYERS, "onnx")
    g = Graph(dtype)
    ids = spec_kind(model.layers[0]) == "embedding"
    x = "input"
    elem = TensorProto.INT64 if ids else helper.np_dtype_to_tensor_dtype(g.dtype)
    inputs = [helper.make_tensor_value_info(x, elem, ["N", *model.input_shape])]
    shapes_in = [model.input_shape, *model.shapes[:-1]]
    outputs = []
    for i, (layer, shape_in) in enumerate(zip(model.layers, shapes_in, strict=True)):
        own = {k.split(".", 1)[1]: v for k, v in params.items() if k.split(".")[0] == str(i)}
        if spec_kind(layer) == "softmax" and i == len(model.layers) - 1:
            outputs.append(("logits", x, shape_in))
        x = ONNX_LAYERS[spec_kind(layer)](g, x, layer, own, i, shape_in)
    x = g.op("Identity", [x]) if x == "input" else x
    outputs.insert(0, ("output", x, model.shapes[-1]))
    out_elem = helper.np_dtype_to_tensor_dtype(g.dtype)
    for name, tensor, _ in outputs:
        g.nodes.append(helper.make_node("Identity", [tensor], [name]))
    graph = helper.make_graph(
        g.nodes, model.name, inputs,
        [helper.make_tensor_value_info(name, out_elem, ["N", *shape])
         for name, _, shape in outputs], g.initializers)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="nncli", doc_string=doc)
    proto.ir_version = min(proto.ir_version, 8)    # readable by onnxruntime >= 1.14
    helper.set_model_props(proto, metadata or {})
    onnx.checker.check_model(proto, full_check=True)
    return proto
