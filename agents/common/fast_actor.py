"""Decisions in microseconds: a trained actor as a plain numpy forward pass.

Agents describe their deterministic policy as an *actor spec* (:func:`mlp_actor_spec`): the
MLP's weights plus how to read its output. The spec is stored in checkpoints under
``"actor"`` and :class:`NumpyActor` evaluates it without torch (no autograd graph, no
dispatcher): about 3 µs per :meth:`~NumpyActor.decide` of IoRLO's 50-unit actor (one compiled
numba loop; 6-7 µs in numpy) and about 1 ms for 4096 decisions (numpy, or onnxruntime where
it is installed and gives the same actions), see ``benchmarks/bench_decisions.py``. Batches run one BLAS gemm per layer with
numpy's BLAS limited to ``blas_threads`` threads (default 1, through threadpoolctl) for the
duration of the call: for these small layers a multi-threaded OpenBLAS is an order of
magnitude slower (38-72 ms instead of 0.7-1.0 ms for 4096 decisions on 2 shared cores), and
the caller no longer needs ``OPENBLAS_NUM_THREADS=1`` for that speed.

Spec (plain values and tensors, ``torch.load(weights_only=True)``-safe)::

    kind         "mlp"
    weights      [W_1, ..., W_L]  tensors (out, in), as in nn.Linear
    biases       [b_1, ..., b_L]
    activation   "relu" | "tanh"              hidden layers
    output       "sigmoid"  -> float32 vector in [0, 1] (IoRLO; Box(0, 1) action)
                 "tanh"     -> float32, tanh rescaled to [action_low, action_high]
                 "identity" -> float32, clipped to [action_low, action_high] if given
                 "argmax"   -> int64 index of the largest logit (Discrete; DRLoS), or one
                               index per group of ``argmax_groups`` equal groups (MultiDiscrete)
    obs_mean, obs_std, obs_clip   optional observation normalisation
                 ``clip((obs - mean) / std, -clip, clip)``; folded into the first layer
                 (the clip becomes a clip of the raw observation to ``mean ± clip * std``)
    action_low, action_high       bounds for "tanh" / "identity" (None otherwise)
    argmax_groups                 int, "argmax" only (1 -> a scalar action)
    log_inputs   optional int64 tensor of observation indices: the MLP's input is the
                 observation followed by :func:`log_ratios` of those entries (before the
                 normalisation; ``obs_mean``/``obs_std`` then cover both parts); absent or
                 None: the observation itself
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from threadpoolctl import ThreadpoolController
from torch import nn

from agents.common.fileio import atomic_write
from envs.model import kernels
from envs.model.thresholds import discretise, logit_thresholds
from envs.partition.common import LOG_RATIO_EPS, log_ratio

ACTIVATIONS: tuple[str, ...] = ("relu", "tanh")
OUTPUTS: tuple[str, ...] = ("sigmoid", "tanh", "identity", "argmax")
EXPORT_FORMATS: tuple[str, ...] = ("torchscript", "onnx")


#: BLAS thread count of :meth:`NumpyActor.act_batch` unless ``blas_threads`` says otherwise
DEFAULT_BLAS_THREADS = 1
#: batched forward backends (``"auto"`` picks the fastest whose logits equal numpy's)
BATCH_BACKENDS: tuple[str, ...] = ("auto", "numpy", "onnxruntime")
#: ``"auto"`` decides at the first batch of at least this many observations
AUTO_MIN_BATCH = 256
_BLAS: Any = None  # the BLAS libraries loaded when first needed (numpy's included)
# :func:`log_ratios` clips its inputs to ``[LOG_RATIO_EPS, 1 - LOG_RATIO_EPS]`` (±13.8); the
# clip bounds in float32, as both log_ratios and the compiled decide apply them
_LOG_LO, _LOG_HI = np.float32(LOG_RATIO_EPS), np.float32(1.0 - LOG_RATIO_EPS)


def log_ratios(obs: np.ndarray, index: np.ndarray) -> np.ndarray:
    """``obs`` ``(..., D)`` float32 followed by ``log(v / (1 - v))`` of its entries ``index``
    (``v`` clipped to ``[LOG_RATIO_EPS, 1 - LOG_RATIO_EPS]``), float32 ``(..., D + k)``.

    For an entry ``v = x / (x + a)`` (the partition envs' ``ratio_features``) this is
    ``log(x / a)``: the squash undone, so values far outside the training range (a 0.5 Mbps
    uplink, an RTT spike of seconds) stay apart where ``v`` itself saturates at 0 or 1.
    """
    logs = log_ratio(obs[..., index], _LOG_LO, _LOG_HI)  # float32 throughout
    return np.concatenate([obs, logs], axis=-1, dtype=np.float32)


def blas_controller() -> Any:
    """A threadpoolctl controller of the loaded BLAS libraries (built once: scanning the
    loaded libraries costs ~1 ms, setting a limit through it ~10 µs)."""
    global _BLAS
    if _BLAS is None:
        _BLAS = ThreadpoolController().select(user_api="blas")
    return _BLAS


def _tensor(x: Any) -> torch.Tensor:
    return torch.as_tensor(np.asarray(x, dtype=np.float32)).clone()


def mlp_actor_spec(
    layers: Sequence[nn.Linear] | Sequence[tuple[Any, Any]],
    *,
    activation: str = "relu",
    output: str = "sigmoid",
    obs_mean: Any = None,
    obs_std: Any = None,
    obs_clip: float | None = None,
    action_low: Any = None,
    action_high: Any = None,
    argmax_groups: int = 1,
    log_inputs: Any = None,
) -> dict[str, Any]:
    """The actor spec of an MLP given its ``nn.Linear`` layers (or ``(W, b)`` pairs).

    The spec is a detached copy: later training does not change it.
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
    if output not in OUTPUTS:
        raise ValueError(f"output must be one of {OUTPUTS}, got {output!r}")
    weights, biases = [], []
    for layer in layers:
        if isinstance(layer, nn.Linear):
            w = layer.weight.detach().cpu().float().clone()
            b = (
                layer.bias.detach().cpu().float().clone()
                if layer.bias is not None
                else torch.zeros(layer.out_features)
            )
        else:
            w, b = (_tensor(v) for v in layer)
        weights.append(w)
        biases.append(b)
    if not weights:
        raise ValueError("layers must hold at least one linear layer")
    if (obs_mean is None) != (obs_std is None):
        raise ValueError("obs_mean and obs_std must be given together")
    return {
        "kind": "mlp",
        "weights": weights,
        "biases": biases,
        "activation": activation,
        "output": output,
        "obs_mean": None if obs_mean is None else _tensor(obs_mean),
        "obs_std": None if obs_std is None else _tensor(obs_std),
        "obs_clip": None if obs_clip is None else float(obs_clip),
        "action_low": None if action_low is None else _tensor(action_low),
        "action_high": None if action_high is None else _tensor(action_high),
        "argmax_groups": int(argmax_groups),
        "log_inputs": None if log_inputs is None else _indices(log_inputs),
    }


def _indices(x: Any) -> torch.Tensor:
    a = np.asarray(x.cpu() if isinstance(x, torch.Tensor) else x)
    if a.dtype.kind not in "iu":
        raise ValueError(f"log_inputs must be integer indices, got {a.dtype} {a.tolist()}")
    return torch.as_tensor(a.astype(np.int64))


def _np(x: Any) -> np.ndarray | None:
    if x is None:
        return None
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    return np.ascontiguousarray(x, dtype=np.float32)


def _mlp_decide_py(
    x: np.ndarray,  # (D - k,) float32 observation
    params: np.ndarray,  # float32: per layer W^T (in * out, row-major) and b (out); lo, hi (D)
    layout: np.ndarray,  # int64: [L, clip (0/1), D, width_1, ..., width_L]
    th: np.ndarray,  # (K,) float32 logit thresholds, increasing
    dec: np.ndarray,  # (width_L,) int64 out: number of thresholds each logit reaches
    log_idx: np.ndarray,  # (k,) int64: entries whose log ratios follow the observation
) -> None:
    """:meth:`NumpyActor.decide` of a ReLU MLP in one compiled pass (no numpy call per
    layer, nor for the log ratios of :func:`log_ratios`). Float32 like the numpy path; the
    sums run in another order than BLAS's and the logarithms may round differently in the
    last bit, so a logit within float32 rounding of a threshold may fall on the other side."""
    L, D = layout[0], layout[2]
    k = log_idx.shape[0]
    width = 0
    for i in range(L + 1):
        width = max(width, layout[2 + i])
    a = np.empty(width, np.float32)
    o_clip = 0
    for i in range(L):
        o_clip += layout[2 + i] * layout[3 + i] + layout[3 + i]
    for i in range(D):
        if i < D - k:
            v = x[i]
        else:  # log(v / (1 - v)) of an entry, v clipped as log_ratios does
            u = min(max(x[log_idx[i - (D - k)]], _LOG_LO), _LOG_HI)
            v = np.float32(np.log(u)) - np.float32(np.log1p(-u))
        if layout[1] != 0:  # np.clip(x, lo, hi)
            v = min(max(v, params[o_clip + i]), params[o_clip + D + i])
        a[i] = v
    off = 0
    for layer in range(L):
        n_in, n_out = layout[2 + layer], layout[3 + layer]
        b = np.zeros(n_out, np.float32)
        for i in range(n_in):  # the inner loop runs over outputs: SIMD without reordering
            ai = a[i]
            if ai == 0.0:  # adds exactly 0 (finite weights): ReLU zeros, zero features
                continue
            # a slice of the row: the loop vectorises (indexing params directly did not)
            w = params[off + i * n_out : off + (i + 1) * n_out]
            for j in range(n_out):
                b[j] += w[j] * ai
        off += n_in * n_out
        bias = params[off : off + n_out]
        for j in range(n_out):
            v = b[j] + bias[j]
            if layer < L - 1:
                a[j] = v if not v < 0.0 else np.float32(0.0)  # relu (keeps NaN)
            else:
                d = 0
                for t in range(th.shape[0]):
                    if v >= th[t]:
                        d += 1
                dec[j] = d
        off += n_out


def _mlp_decide_signatures() -> list[Any]:
    if kernels.numba is None:
        return []
    t = kernels.numba.types
    f4, i8 = t.float32[::1], t.int64[::1]
    x_ro = t.Array(t.float32, 1, "C", readonly=True)
    return [t.void(x, f4, i8, f4, i8, i8) for x in (f4, x_ro)]


# float32 C-contiguous observations only (others are converted first); None without numba
_mlp_decide = kernels.jit(_mlp_decide_py, _mlp_decide_signatures())


class NumpyActor:
    """A deterministic policy evaluated with numpy (see the module docstring).

    Same interface as the baseline policies of :func:`agents.make_policy`:
    ``act(obs) -> action`` (an element of the env's action space) and
    ``act_batch(obs_batch) -> actions``. Partitioning actors with a sigmoid output also
    offer ``decide``/``decide_batch``: the platform of every block by the intent thresholds
    (``a < ε -> 0``, ``ε <= a < φ -> 1``, ``a >= φ -> 2``; docs/model.md §4/§5), computed on the
    pre-activation against ``logit(threshold)`` (no sigmoid needed; equal to discretising
    ``act`` up to float32 rounding exactly at a threshold).

    Args:
        spec: Actor spec (:func:`mlp_actor_spec`).
        signature: The env signature recorded with the actor (:func:`env_signature`).
        thresholds: Intent thresholds for ``decide``; default: the signature's.
        blas_threads: BLAS threads of the batched calls (``act_batch``, ``decide_batch``),
            applied with threadpoolctl for each call and restored after it; ``None`` leaves
            the process's setting (e.g. ``OPENBLAS_NUM_THREADS``) as it is.
        batch_backend: The batched forward pass: ``"numpy"`` (BLAS), ``"onnxruntime"`` (the
            MLP as an in-memory ONNX graph; needs the ``export`` extra; its sums may run in
            another order than BLAS's), or ``"auto"``: at the first batch of at least
            :data:`AUTO_MIN_BATCH` observations, time both and keep the faster,
            onnxruntime only where it is installed and its logits equal numpy's bit for bit
            on that batch (so the actions do not depend on the choice), and only for
            batches of that size or more. :attr:`batch_backend_used` says which one runs.
        compiled: :meth:`decide` of a ReLU MLP as one compiled loop (numba, where installed;
            ``EDGERL_NO_NUMBA=1`` or ``False`` here: numpy). :attr:`compiled` says which.
    """

    def __init__(
        self,
        spec: Mapping[str, Any],
        signature: Mapping[str, Any] | None = None,
        thresholds: Sequence[float] | None = None,
        blas_threads: int | None = DEFAULT_BLAS_THREADS,
        batch_backend: str = "auto",
        compiled: bool = True,
    ) -> None:
        if blas_threads is not None and int(blas_threads) < 1:
            raise ValueError(f"blas_threads must be >= 1 or None, got {blas_threads}")
        if batch_backend not in BATCH_BACKENDS:
            raise ValueError(
                f"batch_backend must be one of {BATCH_BACKENDS}, got {batch_backend!r}"
            )
        self.batch_backend = batch_backend
        #: the batched backend in use (``None``: ``"auto"`` has not decided yet)
        self.batch_backend_used: str | None = None if batch_backend == "auto" else batch_backend
        self._ort: Any = None
        self.blas_threads = None if blas_threads is None else int(blas_threads)
        if spec.get("kind") != "mlp":
            raise ValueError(f"actor spec kind must be 'mlp', got {spec.get('kind')!r}")
        self.spec = dict(spec)
        self.signature = None if signature is None else dict(signature)
        self.activation = spec["activation"]
        self.output = spec["output"]
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {ACTIVATIONS}, got {self.activation!r}")
        if self.output not in OUTPUTS:
            raise ValueError(f"output must be one of {OUTPUTS}, got {self.output!r}")
        Ws = [_np(w) for w in spec["weights"]]
        bs = [_np(b) for b in spec["biases"]]
        for i, (w, b) in enumerate(zip(Ws, bs, strict=True)):
            if w.ndim != 2 or b.shape != (w.shape[0],):
                raise ValueError(f"layer {i}: weight {w.shape} and bias {b.shape} do not fit")
            if i and w.shape[1] != Ws[i - 1].shape[0]:
                raise ValueError(
                    f"layer {i} takes {w.shape[1]} inputs, layer {i - 1} gives {Ws[i - 1].shape[0]}"
                )
        if not all(np.isfinite(x).all() for x in (*Ws, *bs)):
            raise ValueError("actor weights hold NaN or inf")
        #: the MLP's input size: the observation's, plus the log ratios with ``log_inputs``
        self.in_dim = int(Ws[0].shape[1])
        log_idx = spec.get("log_inputs")
        self._log_idx = None
        if log_idx is not None:
            log_idx = _indices(log_idx).numpy()
            k = log_idx.size
            if log_idx.ndim != 1 or not 0 < k < self.in_dim:
                raise ValueError(
                    f"log_inputs must be 1-D integer indices, fewer than the {self.in_dim} "
                    f"inputs, got {log_idx!r}"
                )
            if log_idx.min() < 0 or log_idx.max() >= self.in_dim - k:
                raise ValueError(
                    f"log_inputs must index the observation's {self.in_dim - k} entries, got "
                    f"{log_idx.tolist()}"
                )
            self._log_idx = log_idx
        #: the observation size (without the appended log ratios)
        self.obs_dim = self.in_dim - (0 if self._log_idx is None else self._log_idx.size)
        self.out_dim = int(Ws[-1].shape[0])
        mean, std = _np(spec.get("obs_mean")), _np(spec.get("obs_std"))
        self.obs_clip = spec.get("obs_clip")
        self._obs_lo = self._obs_hi = None
        if mean is not None:
            if mean.shape != (self.in_dim,) or std.shape != (self.in_dim,):
                raise ValueError(f"obs_mean/obs_std must have shape ({self.in_dim},)")
            if not np.all(std > 0) or not np.all(np.isfinite(std)):
                raise ValueError("obs_std entries must be finite and > 0")
            m64, s64 = mean.astype(np.float64), std.astype(np.float64)
            if self.obs_clip is not None:
                # clip((x - m) / s, -c, c) == (clip(x, m - c s, m + c s) - m) / s
                self._obs_lo = (m64 - self.obs_clip * s64).astype(np.float32)
                self._obs_hi = (m64 + self.obs_clip * s64).astype(np.float32)
            # W (x - m) / s + b == (W / s) x + (b - (W / s) m): fold it into layer 1.
            w0 = Ws[0].astype(np.float64) / s64
            bs[0] = (bs[0] - w0 @ m64).astype(np.float32)
            Ws[0] = w0.astype(np.float32)
        self._W = [np.ascontiguousarray(w) for w in Ws]  # (out, in): gemv on 1-D inputs
        self._WT = [np.ascontiguousarray(w.T) for w in Ws]  # (in, out): gemm on batches
        self._b = bs
        self._low = _np(spec.get("action_low"))
        self._high = _np(spec.get("action_high"))
        self.groups = int(spec.get("argmax_groups", 1))
        if self.output == "argmax" and (self.groups < 1 or self.out_dim % self.groups):
            raise ValueError(
                f"argmax_groups must divide the output size {self.out_dim}, got {self.groups}"
            )
        if self.output == "tanh" and (self._low is None or self._high is None):
            self._low = np.full(self.out_dim, -1.0, np.float32)
            self._high = np.full(self.out_dim, 1.0, np.float32)
        if thresholds is None and self.signature and self.signature.get("thresholds"):
            thresholds = list(self.signature["thresholds"].values())
        self.thresholds = None if thresholds is None else np.asarray(thresholds, np.float64)
        self._logit_th = None
        if self.thresholds is not None:
            th = self.thresholds
            if th.ndim != 1 or not np.all((th > 0) & (th < 1)) or np.any(np.diff(th) <= 0):
                raise ValueError(f"thresholds must be increasing in (0, 1), got {thresholds}")
            self._logit_th = logit_thresholds(th.tolist())
        # The common IoRLO case (one hidden ReLU layer) gets a fully unrolled act().
        self._simple = len(self._W) == 2 and self.activation == "relu"
        if self._simple:
            self._W0, self._W1 = self._W
            self._b0, self._b1 = self._b
        # decide() of a ReLU MLP: one compiled call on packed weights (see _mlp_decide_py)
        #: decide() runs the compiled loop
        self.compiled = bool(compiled) and _mlp_decide is not None and self.activation == "relu"
        if self.compiled:
            clip = self._obs_lo is not None
            parts = [p for w, b in zip(self._WT, self._b, strict=True) for p in (w.ravel(), b)]
            parts += [self._obs_lo, self._obs_hi] if clip else []
            self._params = np.concatenate(parts).astype(np.float32)
            self._layout = np.array(
                [len(self._W), clip, self.in_dim, *(w.shape[0] for w in self._W)], np.int64
            )
            if self._logit_th is not None:
                self._th32 = np.array(self._logit_th, np.float32)
            self._log_idx64 = np.ascontiguousarray(
                np.zeros(0) if self._log_idx is None else self._log_idx, np.int64
            )
        if self.batch_backend == "onnxruntime":
            self._ort = self._ort_session()  # errors now rather than at the first batch

    # ------------------------------------------------------------------ forward
    def _bad_obs(self, x: np.ndarray, batch: bool) -> None:
        want = f"(batch, {self.obs_dim})" if batch else f"({self.obs_dim},)"
        raise ValueError(f"obs must have shape {want}, got {x.shape}")

    def logits(self, obs: Any) -> np.ndarray:
        """Pre-activation output for one observation ``(obs_dim,)`` (float32)."""
        x = (
            obs
            if type(obs) is np.ndarray and obs.dtype == np.float32
            else np.asarray(obs, dtype=np.float32)
        )
        if x.shape != (self.obs_dim,):
            self._bad_obs(x, False)
        if self._log_idx is not None:
            x = log_ratios(x, self._log_idx)
        if self._obs_lo is not None:
            x = np.clip(x, self._obs_lo, self._obs_hi)  # a copy: the caller's obs is kept
        if self._simple:
            h = np.dot(self._W0, x)
            h += self._b0
            np.maximum(h, 0.0, out=h)
            z = np.dot(self._W1, h)
            z += self._b1
            return z
        return self._forward(x, self._W)

    def _forward_batch(self, x: np.ndarray) -> np.ndarray:
        """Logits of a 2-D batch by the batch backend (numpy: BLAS at ``blas_threads``)."""
        used, auto = self.batch_backend_used, self.batch_backend == "auto"
        if used is None and len(x) >= AUTO_MIN_BATCH:
            used = self.batch_backend_used = self._pick_backend(x)
        # "auto" keeps small batches on numpy (a runtime may switch kernels by batch size)
        if used == "onnxruntime" and (not auto or len(x) >= AUTO_MIN_BATCH):
            return self._ort.run(None, {"obs": x})[0]
        return self._forward_numpy(x)

    def _forward_numpy(self, x: np.ndarray) -> np.ndarray:
        if self.blas_threads is None:
            return self._forward(x, self._WT)
        with blas_controller().limit(limits=self.blas_threads):
            return self._forward(x, self._WT)

    def _ort_session(self) -> Any:
        """An onnxruntime session of the logits (ONNX built from the weights, in memory)."""
        try:
            import onnxruntime as ort
            from onnx import TensorProto, helper, numpy_helper
        except ImportError as e:
            raise ImportError(
                "batch_backend='onnxruntime' needs onnx and onnxruntime (the 'export' extra)"
            ) from e
        init = [numpy_helper.from_array(v, n) for n, v in (("lo", self._obs_lo), ("hi", self._obs_hi)) if v is not None]  # fmt: skip
        nodes, x = [], "obs"
        if self._obs_lo is not None:  # np.clip(x, lo, hi) == min(max(x, lo), hi)
            nodes += [helper.make_node("Max", [x, "lo"], ["xl"]), helper.make_node("Min", ["xl", "hi"], ["xc"])]  # fmt: skip
            x = "xc"
        last = len(self._WT) - 1
        for i, (w, b) in enumerate(zip(self._WT, self._b, strict=True)):
            init += [numpy_helper.from_array(w, f"W{i}"), numpy_helper.from_array(b, f"b{i}")]
            out = "logits" if i == last else f"h{i}"
            nodes += [helper.make_node("MatMul", [x, f"W{i}"], [f"m{i}"]),
                      helper.make_node("Add", [f"m{i}", f"b{i}"], [out if i == last else f"a{i}"])]  # fmt: skip
            if i < last:
                act = "Relu" if self.activation == "relu" else "Tanh"
                nodes.append(helper.make_node(act, [f"a{i}"], [out]))
            x = out
        graph = helper.make_graph(
            nodes, "actor", [helper.make_tensor_value_info("obs", TensorProto.FLOAT, ["B", self.in_dim])],
            [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["B", self.out_dim])], init,
        )  # fmt: skip
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        model.ir_version = 8
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = opts.inter_op_num_threads = self.blas_threads or 0
        return ort.InferenceSession(
            model.SerializeToString(), opts, providers=["CPUExecutionProvider"]
        )

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)  # an onnxruntime session does not pickle: rebuilt after
        state["_ort"] = None
        if self.batch_backend == "auto":
            state["batch_backend_used"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        if self.batch_backend == "onnxruntime":
            self._ort = self._ort_session()

    def _pick_backend(self, x: np.ndarray) -> str:
        """``"auto"``: the faster backend on this batch among those whose logits equal
        numpy's exactly (this thread's CPU time, best of 3)."""
        try:
            self._ort = self._ort_session()
        except ImportError:
            return "numpy"
        ref = self._forward_numpy(x)
        if not np.array_equal(self._ort.run(None, {"obs": x})[0], ref):
            self._ort = None
            return "numpy"
        best = {}
        for name, fn in (("numpy", self._forward_numpy), ("onnxruntime", lambda v: self._ort.run(None, {"obs": v})[0])):  # fmt: skip
            times = []
            for _ in range(3):
                t0 = time.thread_time()
                fn(x)
                times.append(time.thread_time() - t0)
            best[name] = min(times)
        if best["onnxruntime"] >= best["numpy"]:
            self._ort = None
            return "numpy"
        return "onnxruntime"

    def _forward(self, x: np.ndarray, mats: list[np.ndarray]) -> np.ndarray:
        """General MLP on a 1-D (``mats = self._W``) or 2-D (``mats = self._WT``) input.

        Observation normalisation is folded into the first layer; only the clip of
        normalised 2-D inputs happens here (``logits`` clips 1-D inputs itself).
        """
        if x.ndim == 2 and self._obs_lo is not None:
            x = np.clip(x, self._obs_lo, self._obs_hi)
        last = len(mats) - 1
        one_d = x.ndim == 1
        for i, (w, b) in enumerate(zip(mats, self._b, strict=True)):
            x = np.dot(w, x) if one_d else x @ w
            x += b
            if i < last:
                if self.activation == "relu":
                    np.maximum(x, 0.0, out=x)
                else:
                    np.tanh(x, out=x)
        return x

    def _transform(self, z: np.ndarray) -> np.ndarray:
        out = self.output
        if out == "sigmoid":
            # 1 / (1 + exp(-z)) in place; exp overflow -> inf -> 0 is the right limit.
            with np.errstate(over="ignore"):
                np.negative(z, out=z)
                np.exp(z, out=z)
            z += 1.0
            np.reciprocal(z, out=z)
            return z
        if out == "tanh":
            np.tanh(z, out=z)
            return (self._low + (z + 1.0) * 0.5 * (self._high - self._low)).astype(np.float32)
        if out == "identity":
            if self._low is not None:
                np.clip(z, self._low, self._high, out=z)
            return z
        # argmax
        if self.groups == 1:
            if z.ndim == 1:
                return np.int64(z.argmax())
            return z.argmax(axis=-1).astype(np.int64)
        shaped = z.reshape(*z.shape[:-1], self.groups, self.out_dim // self.groups)
        return shaped.argmax(axis=-1).astype(np.int64)

    def act(self, obs: Any) -> Any:
        """The action for one observation: a float32 vector, or an int for ``argmax``."""
        return self._transform(self.logits(obs))

    def act_batch(self, obs_batch: Any) -> np.ndarray:
        """Actions for a batch ``(B, obs_dim)`` (one gemm per layer, ``blas_threads``)."""
        return self._transform(self._forward_batch(self._batch_input(obs_batch)))

    def _batch_input(self, obs_batch: Any) -> np.ndarray:
        x = np.asarray(obs_batch, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != self.obs_dim:
            self._bad_obs(x, True)
        return x if self._log_idx is None else log_ratios(x, self._log_idx)

    def network_input(self, obs_batch: Any) -> np.ndarray:
        """The MLP's input of a batch ``(B, obs_dim)``: the observations followed by their
        log ratios with ``log_inputs`` (float32, before the normalisation)."""
        return self._batch_input(obs_batch)

    __call__ = act

    # ---------------------------------------------------------------- decisions
    def _need_thresholds(self) -> list[np.float32]:
        if self.output != "sigmoid" or self._logit_th is None:
            raise ValueError(
                "decide() needs a sigmoid actor and intent thresholds (pass thresholds= or "
                "load an actor whose signature has them)"
            )
        return self._logit_th

    def decide(self, obs: Any) -> np.ndarray:
        """Platform per block (int64 ``(n,)``): the env's discretisation of :meth:`act`."""
        th = self._need_thresholds()
        if self.compiled:  # one compiled call (ReLU MLPs, numba)
            x = obs if type(obs) is np.ndarray else np.asarray(obs, dtype=np.float32)
            if x.shape != (self.obs_dim,):
                self._bad_obs(x, False)
            d, idx = np.empty(self.out_dim, np.int64), self._log_idx64
            try:  # the log ratios are computed in the compiled call
                _mlp_decide(x, self._params, self._layout, self._th32, d, idx)
            except TypeError:  # not float32 C-contiguous: convert
                _mlp_decide(np.array(x, np.float32), self._params, self._layout, self._th32, d, idx)
            return d
        return discretise(self.logits(obs), th)

    def decide_batch(self, obs_batch: Any) -> np.ndarray:
        """Platforms ``(B, n)`` for a batch of observations."""
        th = self._need_thresholds()
        return discretise(self._forward_batch(self._batch_input(obs_batch)), th)

    # ------------------------------------------------------------------- export
    def to_torch(self) -> nn.Module:
        """An equivalent ``nn.Module`` (eval mode) mapping ``(B, obs_dim)`` to actions."""
        return _TorchActor(self.spec).eval().requires_grad_(False)

    def export(self, path: str | os.PathLike[str], format: str = "torchscript") -> Path:
        """Write the actor as TorchScript (``torch.jit.load``) or ONNX (input ``obs``
        ``(batch, obs_dim)`` float32, output ``action``). Written atomically; returns the path.
        """
        if format not in EXPORT_FORMATS:
            raise ValueError(f"format must be one of {EXPORT_FORMATS}, got {format!r}")
        module = self.to_torch()
        example = torch.zeros(1, self.obs_dim)

        def write(tmp: str) -> None:
            if format == "torchscript":
                # torch.jit is deprecated in favour of torch.export but still the format
                # that C++/mobile runtimes load without Python.
                with torch.no_grad(), warnings.catch_warnings():
                    warnings.simplefilter("ignore", DeprecationWarning)
                    traced = torch.jit.trace(module, example)
                    traced.save(tmp)
            else:
                _export_onnx(module, example, Path(tmp))

        return atomic_write(path, write)

    @classmethod
    def from_checkpoint(cls, payload: Mapping[str, Any], **kwargs: Any) -> NumpyActor:
        """The actor of a loaded checkpoint dict (``payload["actor"]``, ``["signature"]``)."""
        if "actor" not in payload or not isinstance(payload["actor"], Mapping):
            raise ValueError(
                f"checkpoint has no actor spec (algo {payload.get('algo')!r}); keys: "
                f"{sorted(payload)}"
            )
        return cls(payload["actor"], signature=payload.get("signature"), **kwargs)

    def check_fits(self, env: Any) -> None:
        """ValueError unless the actor's input and output sizes fit ``env``'s (single)
        observation and action spaces (a signature can be forged or stale; the weights are
        what act)."""
        from gymnasium import spaces

        obs_space = getattr(env, "single_observation_space", None) or env.observation_space
        act_space = getattr(env, "single_action_space", None) or env.action_space
        n_obs = int(np.prod(obs_space.shape)) if obs_space.shape is not None else None
        if n_obs is not None and n_obs != self.obs_dim:
            raise ValueError(
                f"actor takes {self.obs_dim} observation values, the env gives {n_obs}"
            )
        if self.output == "argmax":
            if isinstance(act_space, spaces.Discrete):
                want, groups = int(act_space.n), 1
            elif isinstance(act_space, spaces.MultiDiscrete):
                nvec = np.asarray(act_space.nvec).ravel()
                want, groups = int(nvec.sum()), len(nvec)
            else:
                raise ValueError(f"an argmax actor needs a discrete action space, got {act_space}")
            if self.out_dim != want or self.groups != groups:
                raise ValueError(
                    f"actor gives {self.out_dim} logits in {self.groups} group(s), the env's "
                    f"action space {act_space} needs {want} in {groups}"
                )
        elif isinstance(act_space, spaces.Box):
            want = int(np.prod(act_space.shape))
            if self.out_dim != want:
                raise ValueError(
                    f"actor gives {self.out_dim} action values, the env's action space "
                    f"{act_space} needs {want}"
                )
        else:
            raise ValueError(f"a {self.output} actor needs a Box action space, got {act_space}")

    def __repr__(self) -> str:
        sizes = [self.in_dim, *(w.shape[0] for w in self._W)]
        return f"NumpyActor({'-'.join(map(str, sizes))}, {self.activation}, {self.output})"


class _TorchActor(nn.Module):
    """The actor spec as torch layers (for export and for the benchmark's torch forward)."""

    def __init__(self, spec: Mapping[str, Any]) -> None:
        super().__init__()
        self.linears = nn.ModuleList()
        for w, b in zip(spec["weights"], spec["biases"], strict=True):
            lin = nn.Linear(w.shape[1], w.shape[0])
            with torch.no_grad():
                lin.weight.copy_(torch.as_tensor(w))
                lin.bias.copy_(torch.as_tensor(b))
            self.linears.append(lin)
        self.activation = spec["activation"]
        self.output = spec["output"]
        self.groups = int(spec.get("argmax_groups", 1))
        self.obs_clip = spec.get("obs_clip")
        for name in ("obs_mean", "obs_std", "action_low", "action_high"):
            v = spec.get(name)
            self.register_buffer(name, None if v is None else torch.as_tensor(v).float().clone())
        v = spec.get("log_inputs")
        self.register_buffer("log_inputs", None if v is None else torch.as_tensor(v).long().clone())
        if self.output == "tanh" and self.action_low is None:
            out = self.linears[-1].out_features
            self.action_low, self.action_high = -torch.ones(out), torch.ones(out)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        x = obs
        if self.log_inputs is not None:  # log_ratios
            v = x[:, self.log_inputs].clamp(LOG_RATIO_EPS, 1.0 - LOG_RATIO_EPS)
            x = torch.cat([x, torch.log(v) - torch.log1p(-v)], dim=1)
        if self.obs_mean is not None:
            x = (x - self.obs_mean) / self.obs_std
            if self.obs_clip is not None:
                x = x.clamp(-self.obs_clip, self.obs_clip)
        last = len(self.linears) - 1
        for i, lin in enumerate(self.linears):
            x = lin(x)
            if i < last:
                x = torch.relu(x) if self.activation == "relu" else torch.tanh(x)
        if self.output == "sigmoid":
            return torch.sigmoid(x)
        if self.output == "tanh":
            return self.action_low + (torch.tanh(x) + 1.0) * 0.5 * (
                self.action_high - self.action_low
            )
        if self.output == "identity":
            if self.action_low is not None:
                x = torch.maximum(torch.minimum(x, self.action_high), self.action_low)
            return x
        if self.groups == 1:
            return x.argmax(dim=-1)
        return x.reshape(x.shape[0], self.groups, -1).argmax(dim=-1)


def _export_onnx(module: nn.Module, example: torch.Tensor, path: Path) -> None:
    kwargs = dict(
        input_names=["obs"],
        output_names=["action"],
        dynamic_axes={"obs": {0: "batch"}, "action": {0: "batch"}},
        opset_version=17,
    )
    try:
        # The TorchScript-based exporter needs no onnxscript (not installed here).
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(module, (example,), str(path), dynamo=False, **kwargs)
    except (TypeError, RuntimeError, ImportError):  # a torch without the legacy exporter
        torch.onnx.export(module, (example,), str(path), dynamo=True, **kwargs)
