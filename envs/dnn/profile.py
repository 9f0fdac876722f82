"""DNN profiles: blocks of typed layers with their true tensor sizes (docs/model.md §2).

A profile is derived from a real ``torch.nn.Module`` by one forward pass with hooks on
every leaf module; no weights are needed (random initialisation is fine). Each leaf layer
is mapped to one of the cost-model rows of Ren et al. Table 1 (``conv``, ``relu``, ``pool``,
``norm``, ``fc``) or to ``free`` (zero cost: Flatten, Dropout, Identity, Softmax; residual
adds and other functional ops are not modules and cost nothing, docs/model.md §2).

Sizes follow docs/model.md §1: intermediate tensors are float32 (``KB = elements * 4 / 1000``), the
raw input is uint8 (``KB = elements * 1 / 1000``, configurable with ``input_bytes``).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from envs.limits import MAX_COUNT, MAX_TENSOR_KB, check_alloc

LAYER_KINDS: tuple[str, ...] = ("conv", "relu", "pool", "norm", "fc", "free")
FLOAT_BYTES = 4.0

# Module type -> cost-model row (docs/model.md §2). Checked with isinstance, in order.
DEFAULT_KIND_MAP: tuple[tuple[type[nn.Module], str], ...] = (
    (nn.Conv1d, "conv"),
    (nn.Conv2d, "conv"),
    (nn.Conv3d, "conv"),
    (nn.ConvTranspose2d, "conv"),
    (nn.ReLU, "relu"),
    (nn.ReLU6, "relu"),
    (nn.LeakyReLU, "relu"),
    (nn.PReLU, "relu"),
    (nn.ELU, "relu"),
    (nn.GELU, "relu"),
    (nn.SiLU, "relu"),
    (nn.Hardswish, "relu"),
    (nn.Hardtanh, "relu"),
    (nn.Sigmoid, "relu"),
    (nn.Tanh, "relu"),
    (nn.MaxPool1d, "pool"),
    (nn.MaxPool2d, "pool"),
    (nn.AvgPool1d, "pool"),
    (nn.AvgPool2d, "pool"),
    (nn.AdaptiveAvgPool1d, "pool"),
    (nn.AdaptiveAvgPool2d, "pool"),
    (nn.AdaptiveMaxPool2d, "pool"),
    (nn.BatchNorm1d, "norm"),
    (nn.BatchNorm2d, "norm"),
    (nn.LocalResponseNorm, "norm"),
    (nn.LayerNorm, "norm"),
    (nn.GroupNorm, "norm"),
    (nn.InstanceNorm2d, "norm"),
    (nn.Linear, "fc"),
    (nn.Flatten, "free"),
    (nn.Dropout, "free"),
    (nn.Identity, "free"),
    (nn.Softmax, "free"),
    (nn.LogSoftmax, "free"),
)


def _where(ctx: str, field: str) -> str:
    return f"{ctx}.{field}" if ctx else field


def _check_count(ctx: str, field: str, value: Any, minimum: int = 0) -> int:
    """An integer (or integral float, as JSON writers may emit) in [minimum, MAX_COUNT]."""
    if isinstance(value, float | np.floating) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{_where(ctx, field)} must be an integer, got {value!r}")
    if not minimum <= value <= MAX_COUNT:
        raise ValueError(
            f"{_where(ctx, field)} must be an integer in [{minimum}, {MAX_COUNT}], got {value!r}"
        )
    return int(value)


def _check_kb(ctx: str, field: str, value: Any) -> float:
    """A size in KB: a finite number in [0, MAX_TENSOR_KB] (keeps 8·G/B and sums finite)."""
    is_num = isinstance(value, int | float | np.integer | np.floating)
    if isinstance(value, bool) or not is_num or not 0 <= value <= MAX_TENSOR_KB:
        raise ValueError(
            f"{_where(ctx, field)} must be a finite number of KB in [0, {MAX_TENSOR_KB:.0e}], "
            f"got {value!r}"
        )
    return float(value)


def _check_str(ctx: str, field: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{_where(ctx, field)} must be a string, got {value!r}")
    return value


def _check_keys(ctx: str, data: Any, required: set[str]) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise ValueError(
            f"{ctx or 'profile'} must be a mapping with keys {sorted(required)}, "
            f"got {type(data).__name__}"
        )
    missing = required - set(data)
    if missing:
        raise ValueError(f"{ctx or 'profile dict'} is missing keys {sorted(missing)}")
    unknown = set(data) - required
    if unknown:  # a typo ("in_kbs") would otherwise be silently ignored
        raise ValueError(
            f"{ctx or 'profile dict'} has unknown keys {sorted(map(repr, unknown))}; "
            f"allowed {sorted(required)}"
        )
    return data


def _check_list(ctx: str, field: str, value: Any) -> list[Any]:
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Sequence):
        raise ValueError(f"{_where(ctx, field)} must be a list, got {type(value).__name__}")
    return list(value)


@dataclass(frozen=True)
class Layer:
    """One leaf layer: its cost-model row and input/output element counts."""

    kind: str
    in_elems: int
    out_elems: int

    def __post_init__(self) -> None:
        if not isinstance(self.kind, str) or self.kind not in LAYER_KINDS:
            raise ValueError(f"layer kind must be one of {LAYER_KINDS}, got {self.kind!r}")
        for field in ("in_elems", "out_elems"):
            object.__setattr__(self, field, _check_count("layer", field, getattr(self, field)))


@dataclass(frozen=True)
class Block:
    """A partitioning unit G_i: consecutive layers that always run on one platform."""

    name: str
    in_kb: float
    out_kb: float
    layers: tuple[Layer, ...]

    def __post_init__(self) -> None:
        _check_str("block", "name", self.name)
        for field in ("in_kb", "out_kb"):
            v = getattr(self, field)
            is_num = isinstance(v, int | float | np.integer | np.floating)
            if isinstance(v, bool) or not is_num or not 0 <= v <= MAX_TENSOR_KB:
                raise ValueError(
                    f"block {self.name!r}: {field} must be finite and in [0, "
                    f"{MAX_TENSOR_KB:.0e}] KB, got {v!r}"
                )
        if not isinstance(self.layers, tuple) or not all(
            isinstance(lay, Layer) for lay in self.layers
        ):
            raise ValueError(f"block {self.name!r}: layers must be a tuple of Layer")


@dataclass(frozen=True)
class DNNProfile:
    """An ordered list of blocks G_1..G_n (docs/model.md §2); ``blocks[i].in_kb`` is G_{i+1}^in.

    Every field is validated on construction (also by :meth:`from_dict`): names are strings,
    element counts integers in ``[0, MAX_COUNT]``, sizes finite KB in ``[0, MAX_TENSOR_KB]``
    (:mod:`envs.limits`), layer kinds among ``LAYER_KINDS``; errors name the field, e.g.
    ``blocks[2].layers[0].in_elems``.
    """

    name: str
    input_shape: tuple[int, ...]
    input_kb: float
    blocks: tuple[Block, ...]

    def __post_init__(self) -> None:
        _check_str("profile", "name", self.name)
        shape = self.input_shape
        if not isinstance(shape, tuple) or len(shape) == 0:
            raise ValueError(
                f"profile {self.name!r}: input_shape must be a non-empty tuple, got {shape!r}"
            )
        object.__setattr__(
            self,
            "input_shape",
            tuple(_check_count("profile", f"input_shape[{i}]", d, 1) for i, d in enumerate(shape)),
        )
        _check_kb("profile", "input_kb", self.input_kb)
        if not isinstance(self.blocks, tuple) or not all(isinstance(b, Block) for b in self.blocks):
            raise ValueError(f"profile {self.name!r}: blocks must be a tuple of Block")
        if len(self.blocks) == 0:
            raise ValueError(f"profile {self.name!r}: blocks must be non-empty (n >= 1), got 0")

    @property
    def n_blocks(self) -> int:
        return len(self.blocks)

    def to_dict(self) -> dict[str, Any]:
        """The JSON-able form: ``{"name", "input_shape", "input_kb", "blocks": [...]}``."""
        return {
            "name": self.name,
            "input_shape": list(self.input_shape),
            "input_kb": float(self.input_kb),
            "blocks": [
                {
                    "name": b.name,
                    "in_kb": float(b.in_kb),
                    "out_kb": float(b.out_kb),
                    "layers": [
                        {
                            "kind": lay.kind,
                            "in_elems": int(lay.in_elems),
                            "out_elems": int(lay.out_elems),
                        }
                        for lay in b.layers
                    ],
                }
                for b in self.blocks
            ],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DNNProfile:
        """Read a profile written by :meth:`to_dict` (or by hand, e.g. from JSON).

        Raises:
            ValueError: a missing or unknown key, a wrong type (numbers given as strings
                included), a negative or out-of-range size, a non-finite number, an unknown
                layer kind; the message names the field (``blocks[1].layers[0].kind``).
        """
        _check_keys("", data, {"name", "input_shape", "input_kb", "blocks"})
        blocks = []
        for bi, b in enumerate(_check_list("", "blocks", data["blocks"])):
            bctx = f"blocks[{bi}]"
            _check_keys(bctx, b, {"name", "in_kb", "out_kb", "layers"})
            layers = []
            for li, lay in enumerate(_check_list(bctx, "layers", b["layers"])):
                lctx = f"{bctx}.layers[{li}]"
                _check_keys(lctx, lay, {"kind", "in_elems", "out_elems"})
                kind = lay["kind"]
                if not isinstance(kind, str) or kind not in LAYER_KINDS:
                    raise ValueError(
                        f"{lctx}.kind: layer kind must be one of {LAYER_KINDS}, got {kind!r}"
                    )
                layers.append(
                    Layer(
                        kind,
                        _check_count(lctx, "in_elems", lay["in_elems"]),
                        _check_count(lctx, "out_elems", lay["out_elems"]),
                    )
                )
            blocks.append(
                Block(
                    _check_str(bctx, "name", b["name"]),
                    _check_kb(bctx, "in_kb", b["in_kb"]),
                    _check_kb(bctx, "out_kb", b["out_kb"]),
                    tuple(layers),
                )
            )
        shape = _check_list("", "input_shape", data["input_shape"])
        return cls(
            name=_check_str("", "name", data["name"]),
            input_shape=tuple(
                _check_count("", f"input_shape[{i}]", d, 1) for i, d in enumerate(shape)
            ),
            input_kb=_check_kb("", "input_kb", data["input_kb"]),
            blocks=tuple(blocks),
        )

    def fingerprint(self) -> str:
        """A short stable hash of the profile, stored in checkpoints to detect mismatches."""
        blob = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


# The forward pass holds a few activations up to ~64/3 times the input (first conv layers);
# bytes per float32 input element, for the size check below.
_FORWARD_BYTES_PER_INPUT_ELEM = 4 * 64


def check_input_shape(input_shape: Any, ndim: int | None = None) -> tuple[int, ...]:
    """``input_shape`` as a tuple of positive ints; ValueError naming it otherwise.

    Also refuses shapes whose profiling forward pass would exceed ``MAX_ALLOC_BYTES``.
    """
    want = (
        f"{ndim} positive integers (channels, height, width)"
        if ndim
        else ("a non-empty sequence of positive integers")
    )
    if isinstance(input_shape, str | bytes | Mapping) or not isinstance(input_shape, Sequence):
        raise ValueError(f"input_shape must be {want}, got {input_shape!r}")
    if len(input_shape) == 0 or (ndim is not None and len(input_shape) != ndim):
        raise ValueError(f"input_shape must be {want}, got {input_shape!r}")
    shape = tuple(_check_count("", f"input_shape[{i}]", d, 1) for i, d in enumerate(input_shape))
    check_alloc(
        "input_shape",
        float(_FORWARD_BYTES_PER_INPUT_ELEM) * math.prod(shape),
        f"profiling runs one forward pass on a {shape} input, whose activations take up to "
        f"~{_FORWARD_BYTES_PER_INPUT_ELEM} bytes per input element",
    )
    return shape


def _numel(x: Any) -> int:
    if isinstance(x, torch.Tensor):
        return int(x.numel())
    if isinstance(x, (tuple, list)):
        return sum(_numel(v) for v in x)
    return 0


def _kind_of(module: nn.Module, kind_map: Sequence[tuple[type[nn.Module], str]]) -> str | None:
    for typ, kind in kind_map:
        if isinstance(module, typ):
            return kind
    return None


def profile_module(
    module: nn.Module,
    input_shape: Sequence[int],
    block_boundaries: Sequence[str] | Sequence[int] | None = None,
    *,
    name: str | None = None,
    input_bytes: float = 1.0,
    kind_map: Mapping[type[nn.Module], str] | None = None,
) -> DNNProfile:
    """Profile ``module`` by one forward pass of a zero tensor of shape ``(1, *input_shape)``.

    Args:
        module: any ``torch.nn.Module``; only its leaf modules are recorded (a module without
            children, e.g. a bare ``nn.Linear``, is profiled as one block of one layer).
        input_shape: shape of one input sample without the batch dimension, e.g. ``(3, 32, 32)``.
        block_boundaries: how leaf layers are grouped into blocks:

            * ``None``: each direct child of ``module`` is one block;
            * a list of qualified submodule names (``"features.0"``, ``"layer1.2"``): each named
              submodule is one block, in the given order; every leaf must lie in one of them;
            * a list of increasing ints: leaf-layer indices (in execution order) at which a new
              block starts after the first, e.g. ``[3, 7]`` splits 10 leaves as 0-2, 3-6, 7-9.
        name: profile name (default: the module's class name, lower-cased).
        input_bytes: bytes per raw input element (1 for uint8 images, docs/model.md §1).
        kind_map: extra ``{module type: kind}`` entries, checked before the defaults, for
            custom layers; kinds must be among ``LAYER_KINDS``.

    Raises:
        ValueError: on a bad shape, an unknown leaf type, or boundaries that do not cover the
            leaves; the message names the offending field.
    """
    if next(module.children(), None) is None:  # a bare layer (e.g. nn.Linear): one block
        label = type(module).__name__.lower()
        return profile_module(
            nn.Sequential(OrderedDict([(label, module)])),
            input_shape,
            block_boundaries,
            name=name or label,
            input_bytes=input_bytes,
            kind_map=kind_map,
        )
    shape = check_input_shape(input_shape)
    is_num = isinstance(input_bytes, int | float | np.integer | np.floating)
    if isinstance(input_bytes, bool) or not is_num or not 0 < input_bytes <= 1e3:
        raise ValueError(f"input_bytes must be a number in (0, 1000], got {input_bytes!r}")
    extra = tuple((kind_map or {}).items())
    for typ, kind in extra:
        if kind not in LAYER_KINDS:
            raise ValueError(f"kind_map[{typ.__name__}] must be one of {LAYER_KINDS}, got {kind!r}")
    kmap = extra + DEFAULT_KIND_MAP

    leaves = [(qn, m) for qn, m in module.named_modules() if qn and len(list(m.children())) == 0]
    if not leaves:
        raise ValueError("module has no leaf layers to profile")
    records: list[tuple[str, str, int, int]] = []  # (qualified name, kind, in, out)
    hooks = []
    for qn, m in leaves:
        kind = _kind_of(m, kmap)
        if kind is None:
            raise ValueError(
                f"leaf layer {qn!r} has type {type(m).__name__}, which has no cost-model row; "
                f"pass kind_map={{{type(m).__name__}: one of {LAYER_KINDS}}}"
            )

        def hook(mod, inp, out, _qn=qn, _kind=kind):
            records.append((_qn, _kind, _numel(inp), _numel(out)))

        hooks.append(m.register_forward_hook(hook))

    block_names: list[str]
    block_io: dict[str, tuple[int, int]] = {}
    if block_boundaries is None:
        block_names = [n for n, _ in module.named_children()]
    elif all(isinstance(b, str) for b in block_boundaries):
        block_names = list(block_boundaries)  # type: ignore[arg-type]
    else:
        block_names = []
    named = dict(module.named_modules())
    for bn in block_names:
        if bn not in named:
            raise ValueError(f"block_boundaries names unknown submodule {bn!r}")

        def bhook(mod, inp, out, _bn=bn):
            block_io.setdefault(_bn, (_numel(inp), _numel(out)))

        hooks.append(named[bn].register_forward_hook(bhook))

    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            try:
                out = module(torch.zeros((1, *shape)))
            except RuntimeError as exc:  # e.g. an input too small for the pooling layers
                raise ValueError(
                    f"input_shape {shape} does not fit the model {name or type(module).__name__}: "
                    f"its forward pass failed ({str(exc).splitlines()[0]})"
                ) from None
    finally:
        for h in hooks:
            h.remove()
        module.train(was_training)

    input_elems = math.prod(shape)
    in_kb_first = input_elems * input_bytes / 1000.0
    groups: list[tuple[str, list[tuple[str, str, int, int]], int, int]] = []
    if block_names:
        for bn in block_names:
            members = [r for r in records if r[0] == bn or r[0].startswith(bn + ".")]
            if not members:
                raise ValueError(f"block {bn!r} ran no leaf layer in the forward pass")
            bi, bo = block_io[bn]
            groups.append((bn, members, bi, bo))
        covered = {r[0] for _, ms, _, _ in groups for r in ms}
        stray = sorted({r[0] for r in records} - covered)
        if stray:
            raise ValueError(f"block_boundaries leave leaf layers outside every block: {stray}")
    else:
        cuts = [int(c) for c in block_boundaries]  # type: ignore[union-attr]
        if cuts != sorted(set(cuts)) or (cuts and (cuts[0] <= 0 or cuts[-1] >= len(records))):
            raise ValueError(
                f"block_boundaries must be strictly increasing ints in (0, {len(records)}), got {cuts}"
            )
        edges = [0, *cuts, len(records)]
        for k in range(len(edges) - 1):
            members = records[edges[k] : edges[k + 1]]
            groups.append((f"block{k + 1}", members, members[0][2], members[-1][3]))

    blocks = []
    for k, (bn, members, _bi, bo) in enumerate(groups):
        in_kb = in_kb_first if k == 0 else blocks[-1].out_kb
        out_elems = _numel(out) if k == len(groups) - 1 else bo
        blocks.append(
            Block(
                name=bn,
                in_kb=in_kb,
                out_kb=out_elems * FLOAT_BYTES / 1000.0,
                layers=tuple(Layer(kind, i, o) for _, kind, i, o in members),
            )
        )
    return DNNProfile(
        name=name or type(module).__name__.lower(),
        input_shape=shape,
        input_kb=in_kb_first,
        blocks=tuple(blocks),
    )
