"""A model as the source of a self-contained `torch.nn.Module` (the `model.py` of an export).

`torch_source(model)` is a pure function, model -> Python source, and the one generator:
`nncli export --to torch` writes its result to model.py, and anything that trains with
torch can `load_module` the same text. The generated file imports only torch.

How the module keeps nncli's parameter names (`<layer index>.<torch name>`): it is an
`nn.Sequential` with one entry per spec layer, each torch's own class (Linear, Conv2d,
MaxPool2d, RNN, ...), so the state_dict keys are nncli's keys and `load_state_dict` takes an
nncli weights file unchanged. What a spec gives as a layer option rather than a layer (a
dense layer's activation, a recurrent layer's `return: last`, token ids cast to integers)
is written out in `forward`, one line per layer, instead of being a module of its own,
which would shift every later index. gru-lite, which torch lacks, is a small module in the
same file.

A classifier whose last layer is softmax and whose loss is cross-entropy has the softmax
fused into the loss, as in nncli: `forward` returns the logits (what the loss reads) and
`probabilities(x)` applies the softmax (what `nncli forward` shows as the last layer).
"""

from __future__ import annotations

import textwrap
import types
from collections.abc import Callable
from dataclasses import dataclass

from nncli.errors import InputError

# activation name -> the call forward writes around a layer's output (identity: none)
ACT_CALLS = {"identity": "", "relu": "torch.relu", "tanh": "torch.tanh",
             "sigmoid": "torch.sigmoid"}
ACT_MODULES = {"identity": "nn.Identity()", "relu": "nn.ReLU()", "tanh": "nn.Tanh()",
               "sigmoid": "nn.Sigmoid()"}


@dataclass
class TorchLayer:
    """How one spec layer reads in model.py: its module, and its line in forward."""

    module: str             # constructor expression, e.g. "nn.Linear(128, 10)"
    call: str = "{m}(x)"    # forward's expression, {m} standing for self[i]
    activation: str = "identity"


def _bias(layer) -> str:
    return "" if layer.use_bias else ", bias=False"


def _dense(layer, shape_in) -> TorchLayer:
    return TorchLayer(f"nn.Linear({shape_in[-1]}, {layer.units}{_bias(layer)})",
                      activation=layer.act.name)


def _conv(layer, shape_in) -> TorchLayer:
    return TorchLayer(f"nn.Conv2d({shape_in[0]}, {layer.filters}, {layer.kernel}, "
                      f"stride={layer.stride}, padding={layer.padding}{_bias(layer)})",
                      activation=layer.act.name)


def _pool(layer, shape_in) -> TorchLayer:
    cls = "nn.MaxPool2d" if layer.mode == "max" else "nn.AvgPool2d"
    return TorchLayer(f"{cls}({layer.size}, stride={layer.stride})")


def _recurrent(cls: str) -> Callable:
    """rnn, gru, lstm: torch's batch-first class; `return: last` keeps the last step."""

    def make(layer, shape_in) -> TorchLayer:
        extra = f", gate={layer.fixed_gate!r}" if getattr(layer, "fixed_gate", None) \
            is not None else ""
        last = "" if layer.return_sequences else "[:, -1]"
        batch_first = "" if cls == "GruLite" else ", batch_first=True"
        return TorchLayer(f"{cls}({shape_in[-1]}, {layer.hidden}{batch_first}"
                          f"{_bias(layer)}{extra})", call="{m}(x)[0]" + last)
    return make


TORCH_LAYERS: dict[str, Callable] = {
    "dense": _dense,
    "conv": _conv,
    "pool": _pool,
    "flatten": lambda layer, shape_in: TorchLayer("nn.Flatten()"),
    "softmax": lambda layer, shape_in: TorchLayer("nn.Softmax(dim=-1)"),
    "embedding": lambda layer, shape_in: TorchLayer(
        f"nn.Embedding({layer.vocab}, {layer.dim})", call="{m}(x.long())"),
    "rnn": _recurrent("nn.RNN"),
    "gru": _recurrent("nn.GRU"),
    "lstm": _recurrent("nn.LSTM"),
    "gru-lite": _recurrent("GruLite"),
    **{name: (lambda layer, shape_in, m=module: TorchLayer(m))
       for name, module in ACT_MODULES.items()},
}

GRU_LITE_SOURCE = '''

class GruLite(nn.Module):
    """gru-lite, nncli's gated recurrent cell (batch first, s_0 = 0):

        g_t = sigmoid(x_t Wg^T + s_{t-1} Ug^T + bg)     the gate
        c_t = tanh(x_t W^T + s_{t-1} U^T + b)           the candidate state
        s_t = g_t * c_t + (1 - g_t) * s_{t-1}

    W = weight_ih_l0, U = weight_hh_l0, b = bias_l0, Wg = weight_ig_l0, Ug = weight_hg_l0,
    bg = bias_g_l0. With `gate` a number, g_t is that constant and Wg, Ug, bg do not exist.
    forward returns (every state (N, T, H), the last state (1, N, H)), as nn.RNN does.
    """

    def __init__(self, input_size, hidden_size, bias=True, gate=None):
        super().__init__()
        self.hidden_size, self.gate = hidden_size, gate
        h, i = hidden_size, input_size
        self.weight_ih_l0 = nn.Parameter(torch.empty(h, i))
        self.weight_hh_l0 = nn.Parameter(torch.empty(h, h))
        self.bias_l0 = nn.Parameter(torch.empty(h)) if bias else None
        if gate is None:
            self.weight_ig_l0 = nn.Parameter(torch.empty(h, i))
            self.weight_hg_l0 = nn.Parameter(torch.empty(h, h))
            self.bias_g_l0 = nn.Parameter(torch.empty(h)) if bias else None
        self.reset_parameters()

    def reset_parameters(self):
        """U(-1/sqrt(H), 1/sqrt(H)) for every parameter, as nn.RNN initialises."""
        bound = self.hidden_size ** -0.5
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def forward(self, x):
        a_c = nn.functional.linear(x, self.weight_ih_l0, self.bias_l0)   # all steps at once
        if self.gate is None:
            a_g = nn.functional.linear(x, self.weight_ig_l0, self.bias_g_l0)
        s = x.new_zeros(x.shape[0], self.hidden_size)
        states = []
        for t in range(x.shape[1]):
            c = torch.tanh(a_c[:, t] + s @ self.weight_hh_l0.T)
            if self.gate is None:
                g = torch.sigmoid(a_g[:, t] + s @ self.weight_hg_l0.T)
            else:
                g = self.gate
            s = g * c + (1 - g) * s
            states.append(s)
        return torch.stack(states, 1), s.unsqueeze(0)
'''


def unsupported(kind: str, fmt: str, table: dict, where: str) -> InputError:
    """'model.yaml:9 layers[3]: foo has no torch equivalent; torch takes ...'"""
    return InputError(f"{where}: {kind} has no {fmt} equivalent, so the model cannot be "
                      f"exported to {fmt} (it takes {', '.join(table)}); --to safetensors "
                      f"writes the weights of any model")


def spec_kind(layer) -> str:
    """The name a spec gives the layer ('relu', where an activation layer's `kind` says
    'activation' for the summaries)."""
    kind = type(layer).kind
    return layer.name if kind == "activation" else kind


def check_layers(model, table: dict, fmt: str,
                 where: Callable[[int], str] = lambda i: f"layers[{i}]") -> None:
    """Refuse a model with a layer kind `table` has no mapping for, naming the layer."""
    for i, layer in enumerate(model.layers):
        if spec_kind(layer) not in table:
            raise unsupported(spec_kind(layer), fmt, table, where(i))


def _shape(shape) -> str:
    """'(N, 10)': a batch of the per-sample shape."""
    return "(" + ", ".join(["N", *map(str, shape)]) + ")"


def torch_source(model, title: str = "") -> str:
    """The model.py of `model` (an nncli.model.Model; only its structure is read).

    title: the first line of the module docstring (what the model is, where from)."""
    check_layers(model, TORCH_LAYERS, "torch")
    shapes_in = [model.input_shape, *model.shapes[:-1]]
    mapped = [TORCH_LAYERS[spec_kind(layer)](layer, shape_in)
              for layer, shape_in in zip(model.layers, shapes_in, strict=True)]
    fused = model.fused_softmax
    ends = len(model.layers) - 1 if fused else len(model.layers)
    out_shape = model.shapes[ends - 1]
    what = "logits" if fused else "output"
    ids = spec_kind(model.layers[0]) == "embedding"
    x_doc = f"token ids {_shape(model.input_shape)} (integers)" if ids else \
        f"x {_shape(model.input_shape)}"

    notes = [f"{i} {spec_kind(layer)}" + (f": {layer.describe()}" if layer.describe()
                                          not in ("", spec_kind(layer)) else "")
             for i, layer in enumerate(model.layers)]
    entries = _comments([f"{m.module}," for m in mapped], notes)
    forward = []
    for i, m in enumerate(mapped[:ends]):
        call = m.call.format(m=f"self[{i}]")
        act = ACT_CALLS[m.activation]
        forward.append(f"x = {act}({call})" if act else f"x = {call}")
    forward = _comments(forward, [f"{i} {spec_kind(model.layers[i])} -> "
                                  f"{_shape(model.shapes[i])}"
                                  for i in range(ends)])
    if model.loss_name == "cross_entropy":
        loss = ("return nn.functional.cross_entropy(\n"
                "            output.reshape(-1, output.shape[-1]), target.reshape(-1).long(),\n"
                f'            reduction="{model.reduction}")')
        loss_doc = (f"cross-entropy of the logits and the integer labels "
                    f"{_shape(out_shape[:-1])}, {model.reduction} over every labelled position")
    else:
        loss = f'return nn.functional.mse_loss(output, target, reduction="{model.reduction}")'
        loss_doc = f"the squared error, {model.reduction} over every element"
    softmax_note = (
        f"\nThe spec's last layer (softmax) is fused with the cross-entropy loss: forward()\n"
        f"returns the logits {_shape(out_shape)}, probabilities() their softmax.\n"
        if fused else "")
    probabilities = (
        f'\n    def probabilities(self, x):\n'
        f'        """softmax(forward(x)) over the last axis: {_shape(out_shape)}, what '
        f'nncli shows\n        as layer {len(model.layers) - 1}\'s output."""\n'
        f'        return self[{len(model.layers) - 1}](self(x))\n' if fused else "")
    return f'''"""{title or model.name}

Generated by `nncli export --to torch`: a torch.nn.Module with nncli's parameter names
(`<layer index>.<torch name>`), so `load_state_dict` takes nncli's weights unchanged. Each
spec layer is the entry of this nn.Sequential at its index; an activation given as a
layer option is applied in forward().
{softmax_note}"""

import torch
from torch import nn

INPUT_SHAPE = {tuple(model.input_shape)!r}  # one sample; a batch adds a leading axis N
{GRU_LITE_SOURCE if any(spec_kind(la) == "gru-lite" for la in model.layers) else ""}

class Model(nn.Sequential):
    """{model.name}: {x_doc} -> {what} {_shape(out_shape)}."""

    def __init__(self):
        super().__init__(
{_lines(entries, 12)}
        )

    def forward(self, x):
        """{x_doc} -> {what} {_shape(out_shape)}."""
{_lines(forward, 8)}
        return x
{probabilities}
    def loss(self, output, target):
        {_docstring(f"The spec's loss of forward()'s output: {loss_doc}.", 8)}
        {loss}
'''.replace("\n\n\n\n", "\n\n\n")


def _comments(code: list[str], notes: list[str]) -> list[str]:
    """Lines of code with their notes as trailing comments, aligned in one column."""
    width = max(len(line) for line in code)
    return [f"{line:<{width}}  # {note}" for line, note in zip(code, notes, strict=False)]


def _docstring(text: str, indent: int) -> str:
    """A docstring wrapped to 88 columns, continuation lines indented."""
    return textwrap.fill(f'"""{text}"""', 88 - indent, subsequent_indent=" " * indent)


def _lines(lines: list[str], indent: int) -> str:
    return "\n".join(" " * indent + line for line in lines)


def load_module(source: str, name: str = "nncli_torch_model") -> types.ModuleType:
    """The generated source as a module (its `Model` class), without a file."""
    module = types.ModuleType(name)
    exec(compile(source, f"<{name}>", "exec"), module.__dict__)
    return module
