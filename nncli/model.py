"""A sequential network: layers in order, a loss, named parameters, forward and backward.

Parameter names are `<layer index>.<param>`, like a torch Sequential's state_dict.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from nncli.budget import check_budget, memory_budget
from nncli.errors import InputError
from nncli.formatting import plural
from nncli.layers import Layer, Softmax
from nncli.losses import LOSSES, check_targets


@dataclass
class Pass:
    """What one forward/backward pass produced, for the inspection commands.

    outputs[i]: layer i's output (N, ...); output_grads[i]: dL/d(outputs[i]) after backward.
    """

    x: np.ndarray
    outputs: list[np.ndarray]
    loss: float | None = None
    output_grads: list[np.ndarray] = field(default_factory=list)
    input_grad: np.ndarray | None = None


class ShapeError(InputError):
    """An impossible layer shape; `index` and `detail` let a spec add file, line and path."""

    def __init__(self, index: int, kind: str, detail: str) -> None:
        super().__init__(f"layers[{index}] ({kind}) {detail}")
        self.index, self.kind, self.detail = index, kind, detail


def iter_shapes(layers: list[Layer], input_shape: tuple[int, ...]):
    """Yield each layer's per-sample output shape in turn; raise at the first impossible one,
    naming it (`layers[3] (dense): ...`), so callers can show the rows before the error."""
    shape = tuple(input_shape)
    for i, layer in enumerate(layers):
        try:
            shape = tuple(layer.output_shape(shape))
        except InputError as err:
            raise ShapeError(i, layer.kind, str(err)) from None
        yield shape


class Model:
    def __init__(self, layers: list[Layer], input_shape: tuple[int, ...], loss: str = "mse",
                 reduction: str = "sum", name: str = "model", seed: int = 0) -> None:
        self.layers, self.input_shape = layers, tuple(input_shape)
        self.loss_name, self.reduction, self.name, self.seed = loss, reduction, name, seed
        self.shapes = self.infer_shapes()
        # The float type of the parameters, of inputs made by `batch` and of loaded weights:
        # float64 as built; training casts to train.dtype (astype).
        self.dtype = np.dtype(np.float64)
        # A softmax at the end of a cross-entropy classifier is fused into the loss: the loss
        # is computed stably from the logits, and backward starts below the softmax.
        self.fused_softmax = loss == "cross_entropy" and isinstance(layers[-1], Softmax)
        self._sample_bytes: int | None = None      # see sample_activation_bytes

    # ---- shapes and parameters -------------------------------------------------------
    def infer_shapes(self) -> list[tuple[int, ...]]:
        """Every layer's per-sample output shape; a shape error names the layer index."""
        return list(iter_shapes(self.layers, self.input_shape))

    def init_params(self, rng: np.random.Generator) -> None:
        """Seeded initialisation of every layer, in order (see layers/base.py for the rules).
        Refused up front if the parameters would exceed the memory budget."""
        check_budget(self.param_bytes(0), "model", f"a model of "
                     f"{self.num_params(planned=True):,} parameters", "use a smaller model")
        for layer, shape in zip(self.layers, [self.input_shape, *self.shapes[:-1]], strict=True):
            layer.init_params(shape, rng)
            layer.zero_grad()

    @property
    def output_shape(self) -> tuple[int, ...]:
        return self.shapes[-1]

    def named_params(self) -> dict[str, np.ndarray]:
        return {f"{i}.{k}": v for i, layer in enumerate(self.layers)
                for k, v in layer.params.items()}

    def named_grads(self) -> dict[str, np.ndarray]:
        return {f"{i}.{k}": v for i, layer in enumerate(self.layers)
                for k, v in layer.grads.items()}

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        """Every parameter's shape, known before any array is allocated."""
        ins = [self.input_shape, *self.shapes[:-1]]
        return {f"{i}.{k}": s for i, (layer, shape) in enumerate(zip(self.layers, ins,
                                                                      strict=True))
                for k, s in layer.param_shapes(shape).items()}

    def num_params(self, planned: bool = False) -> int:
        """Parameter count: of the arrays that exist, or (planned) of those to be created."""
        if planned:
            return sum(int(np.prod(s)) for s in self.param_shapes().values())
        return sum(v.size for v in self.named_params().values())

    def param_bytes(self, optimizer_slots: int = 1) -> int:
        """Bytes for parameters, gradients and an optimizer's state in the model's dtype:
        2 + slots copies of each (Optimizer.slots: 0 for plain SGD, 2 for Adam; 0 for the
        parameters and gradients a build draws, in float64, before any cast). Before an
        optimizer is chosen, one slot (a momentum buffer) is assumed."""
        return (2 + optimizer_slots) * self.dtype.itemsize * self.num_params(planned=True)

    def activation_bytes(self, batch: int) -> int:
        """Bytes one forward+backward keeps for a batch in the model's dtype
        (sample_activation_bytes per sample)."""
        return batch * self.sample_activation_bytes()

    def sample_activation_bytes(self) -> int:
        """Bytes one forward+backward keeps per sample in the model's dtype: every layer's
        output and its gradient, and what each layer holds for backward (a recurrent
        layer's states and gates for every step, a conv's unfolded patches, a pool's
        winners, ...). float32 holds half of float64's, but for integer arrays (winners).

        Measured once, on a copy of the model and one sample of zeros, by adding up the
        arrays the layers hold afterwards, so any layer is counted as it really is. When 3
        copies of the outputs (the quick estimate) are already over the memory budget, that
        estimate is returned instead: the probe itself would not fit."""
        if self._sample_bytes is None:
            quick = 3 * self.dtype.itemsize * sum(int(np.prod(s)) for s in self.shapes)
            try:
                self._sample_bytes = quick if quick > memory_budget() else _probe_bytes(self)
            except InputError:          # a layer that refuses zeros: keep the estimate
                self._sample_bytes = quick
        return self._sample_bytes

    def zero_grad(self) -> None:
        for layer in self.layers:
            layer.zero_grad()

    def load_state(self, state: dict[str, np.ndarray], source: str = "weights") -> None:
        """Copy arrays into the parameters; any missing/extra key or wrong shape is an error."""
        own = self.named_params()
        missing = [k for k in own if k not in state]
        extra = [k for k in state if k not in own]
        if missing or extra:
            parts = ([f"missing {', '.join(missing)}"] if missing else []) + (
                [f"unexpected {', '.join(extra)}"] if extra else [])
            raise InputError(f"{source}: keys do not match the model ({'; '.join(parts)}); "
                             f"were these weights made for another spec?")
        for key, value in own.items():
            got = np.asarray(state[key])
            if got.dtype.kind not in "biuf":
                raise InputError(f"{source}: '{key}' holds {got.dtype} values; expected "
                                 f"real numbers")
            if got.shape != value.shape:
                raise InputError(f"{source}: '{key}' has shape {got.shape} but the model "
                                 f"needs {value.shape}")
            if not np.all(np.isfinite(got)):
                raise InputError(f"{source}: '{key}' holds NaN or infinite values")
        for i, layer in enumerate(self.layers):
            for k in layer.params:        # in the model's dtype: float64 weights load into
                layer.params[k] = np.array(state[f"{i}.{k}"], dtype=self.dtype)  # float32
        self.zero_grad()

    def astype(self, dtype) -> Model:
        """Cast every parameter (and gradient) to dtype, e.g. float32 for speed; weights
        loaded and inputs batched afterwards take that dtype too."""
        self.dtype = np.dtype(dtype)
        self._sample_bytes = None                 # measured again in the new dtype
        for layer in self.layers:
            for k in layer.params:
                layer.params[k] = layer.params[k].astype(dtype)
            layer.zero_grad()
        return self

    # ---- passes ----------------------------------------------------------------------
    def batch(self, x: np.ndarray, what: str = "input") -> np.ndarray:
        """Add the batch axis to a single sample (in the model's dtype); check the
        per-sample shape."""
        raw = np.asarray(x)
        with np.errstate(over="ignore"):     # a value beyond float32's range: named below
            x = np.asarray(raw, dtype=self.dtype)
        if x.shape == self.input_shape[1:] and self.input_shape[0] == 1:
            x = x[None]                                   # (H, W) for a 1-channel image
        if x.shape == self.input_shape:
            x = x[None]
        if x.shape[1:] != self.input_shape:
            raise InputError(f"{what}: expected one sample of shape {self.input_shape} or a "
                             f"batch (N, {', '.join(map(str, self.input_shape))}) but got "
                             f"{x.shape}".replace(", )", ")"))
        check_budget(self.activation_bytes(len(x)), what, f"running a batch of "
                     f"{plural(len(x), 'sample')} through the model",
                     "pass fewer samples at once")
        if not np.all(np.isfinite(x)):
            if np.all(np.isfinite(raw)):
                raise InputError(f"{what}: {float(np.max(np.abs(raw))):.3g} does not fit "
                                 f"{self.dtype}, the float type this model computes in "
                                 f"(at most {float(np.finfo(self.dtype).max):.3g}); scale "
                                 f"the input down")
            raise InputError(f"{what}: holds NaN or infinite values")
        return x

    def forward(self, x: np.ndarray, upto: int | None = None) -> Pass:
        """Run layers[0:upto] (all by default) on a batch; keep every layer's output."""
        outputs, h = [], x
        for layer in self.layers[:upto]:
            h = layer.forward(h)
            outputs.append(h)
        return Pass(x=x, outputs=outputs)

    def predict(self, x: np.ndarray) -> np.ndarray:
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def _loss_end(self) -> int:
        return len(self.layers) - 1 if self.fused_softmax else len(self.layers)

    def loss(self, x: np.ndarray, target: np.ndarray, handing_on: bool = False
             ) -> tuple[float, np.ndarray, list]:
        """Forward to the loss: (loss, dL/d(loss input), outputs of the layers that ran).
        handing_on: each layer hands the next what it takes best (Layer.forward_to), so an
        output may be no array; for training, which reads only the last."""
        layers = self.layers[: self._loss_end()]
        outputs = []
        h = x
        for i, layer in enumerate(layers):
            h = (layer.forward_to(layers[i + 1], h) if handing_on and i + 1 < len(layers)
                 else layer.forward(h))
            outputs.append(h)
        loss, grad = LOSSES[self.loss_name](h, target, self.reduction)
        return loss, grad, outputs

    def backward_from(self, grad: np.ndarray, keep: bool = False, input_grad: bool = True
                      ) -> tuple[np.ndarray | None, list]:
        """Backward through the layers below the loss; grads are added (+=) into layers.
        input_grad False: the first layer may skip dL/dx (returned as None)."""
        output_grads = []
        layers = self.layers[: self._loss_end()]
        layers[0].input_grad = input_grad
        for layer in reversed(layers):
            if keep:
                output_grads.append(grad)
            grad = layer.backward(grad)
        return grad, output_grads[::-1]

    def train_step(self, x: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray]:
        """zero_grad, forward, loss, backward: the gradients are left in each layer.grads.
        Returns the loss and the loss's input (the logits for a classifier)."""
        self.zero_grad()
        loss, grad, outputs = self.loss(x, target, handing_on=True)
        self.backward_from(grad, input_grad=False)        # nothing uses dL/dx in training
        return loss, outputs[-1]

    def inspect(self, x: np.ndarray, target: np.ndarray) -> Pass:
        """One full pass that keeps everything: outputs, loss, output and input gradients."""
        self.zero_grad()
        loss, grad, outputs = self.loss(x, target)
        if self.fused_softmax:
            outputs.append(self.layers[-1].forward(outputs[-1]))
        input_grad, output_grads = self.backward_from(grad, keep=True)
        return Pass(x=x, outputs=outputs, loss=loss, output_grads=output_grads,
                    input_grad=input_grad)

    def targets(self, y: np.ndarray, what: str = "target") -> np.ndarray:
        return check_targets(self.loss_name, self.shapes[self._loss_end() - 1], y, what)


def _probe_bytes(model: Model) -> int:
    """The bytes a copy of `model` holds after a forward and backward pass on one sample
    of zeros in the model's dtype: the outputs, their gradients and the arrays the layers
    keep (each buffer once, however many views of it there are; parameters and gradients
    are left out: Model.param_bytes counts them)."""
    import copy

    probe = copy.deepcopy(model)
    x = np.zeros((1, *probe.input_shape), dtype=probe.dtype)
    outputs = probe.forward(x, upto=probe._loss_end()).outputs
    _, grads = probe.backward_from(np.zeros_like(outputs[-1]), keep=True)
    seen: dict[int, int] = {}
    for array in _arrays([outputs, grads, *(vars(layer) for layer in probe.layers)]):
        base = array
        while isinstance(base.base, np.ndarray):
            base = base.base
        seen[id(base)] = base.nbytes
    return sum(seen.values())


def _arrays(value, depth: int = 0):
    """The numpy arrays in `value`: itself, or inside lists, tuples, dicts and objects a
    few levels down (a layer's activation), skipping parameters and their gradients."""
    if isinstance(value, np.ndarray):
        yield value
    elif depth < 4 and isinstance(value, (list, tuple)):
        for item in value:
            yield from _arrays(item, depth + 1)
    elif depth < 4 and isinstance(value, dict):
        for key, item in value.items():
            if key not in ("params", "grads"):
                yield from _arrays(item, depth + 1)
    elif depth < 4 and hasattr(value, "__dict__") and not isinstance(value, type):
        yield from _arrays(vars(value), depth + 1)
