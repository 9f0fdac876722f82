"""Trace replay: real traces (:mod:`envs.traces`) per field, resampled onto the frame grid
and replayed in a loop; fields without a trace come from a fallback process."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from envs.dynamics.base import LinkProcess, _check_num
from envs.dynamics.table2 import field_unit
from envs.limits import check_alloc
from envs.traces import Trace

INTERP_MODES: tuple[str, ...] = ("hold", "linear")

__all__ = ["INTERP_MODES", "TraceReplay"]


def _offsets(offset: int | np.ndarray, n: int, mask: np.ndarray | None = None) -> np.ndarray:
    arr = np.asarray(offset)
    if not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(
            f"offset must be an integer frame index or an integer array, got {offset!r}"
        )
    if arr.ndim == 0:
        return np.full(n if mask is None else int(mask.sum()), int(arr), dtype=np.int64)
    if mask is not None and arr.shape == mask.shape:
        return arr[mask].astype(np.int64)
    want = n if mask is None else int(mask.sum())
    if arr.shape != (want,):
        raise ValueError(f"offset array must have shape ({want},), got {arr.shape}")
    return arr.astype(np.int64)


def _resample(trace: Trace, frame_s: float, interp: str) -> np.ndarray:
    """Values of ``trace`` on the frame grid ``k * frame_s`` over one loop of its duration."""
    t = trace.times_s - trace.times_s[0]
    dur = trace.duration_s
    frames = dur / frame_s
    check_alloc(
        "frame_s",
        8.0 * frames,
        f"{trace.source} lasts {dur:g} s, {frames:.3g} frames of {frame_s:g} s in its table",
    )
    n = max(1, math.ceil(frames - 1e-9))
    grid = np.arange(n) * frame_s
    if interp == "hold":
        # Tolerance: sample times like 30 * 0.1 = 3.0000000000000004 must count as reached.
        idx = np.searchsorted(t, grid + 1e-6 * trace.period_s, side="right") - 1
        return trace.values[idx].copy()
    # Linear, wrapping from the last sample back to the first at t = duration.
    return np.interp(grid, np.append(t, dur), np.append(trace.values, trace.values[0]))


class TraceReplay(LinkProcess):
    """Replay real traces per field; fields without a trace come from a fallback process.

    Each trace is resampled once onto the frame grid ``t_k = k * frame_s`` (``k = 0..L-1``,
    ``L = ceil(duration / frame_s)``, the trace's last sample held for one sample period)
    by sample-and-hold or linear interpolation, then replayed in a loop: copy ``i`` shows,
    ``k`` frames after reset, entry ``(offset_i + k) mod L`` of every trace.

    * ``offset=None`` in :meth:`reset`: each copy starts each trace at an independent random
      frame, ``rng.integers(0, L_field)`` (one ``integers`` call of shape ``(num, n_traces)``),
      then the fallback is reset with the same ``rng``.
    * ``offset`` given (int or per-copy array): every trace of a copy starts at that frame
      (mod its length), no randomness for the traces; repeatable evaluations.

    Bandwidth samples below ``min_bandwidth_mbps`` (outages, 0 Mbps in the real traces) are
    raised to it, so transfer times ``8 G / B`` (docs/model.md §1) stay finite. Latency traces are used
    as they are: a ping RTT is taken as the link latency ``L`` (docs/model.md §1 charges ``L`` once
    per transfer). The v1 envs read it as a round trip and charge half of it
    (``latency_reading="one_way"``); do not also scale it here.

    Args:
        fields: Column names, e.g. :data:`MEC_LINK_FIELDS`.
        series: Field -> :class:`~envs.traces.Trace` (unit must match: ``b*`` Mbps, ``l*`` ms).
        fallback: Process providing the fields without a trace (its ``fields`` must contain
            them); stepped with the same ``rng`` after the traces. Unused (never reset or
            stepped, no randomness) when every field has a trace.
        frame_s: Seconds of trace per frame (> 0).
        interp: ``"hold"`` (sample-and-hold) or ``"linear"``.
        min_bandwidth_mbps: Floor for bandwidth samples (> 0).
        scales: Optional field -> multiplier applied to the trace before the floor.
    """

    def __init__(
        self,
        fields: Sequence[str],
        series: Mapping[str, Trace],
        fallback: LinkProcess | None = None,
        frame_s: float = 1.0,
        interp: str = "hold",
        min_bandwidth_mbps: float = 0.1,
        scales: Mapping[str, float] | None = None,
    ) -> None:
        super().__init__(fields)
        if not frame_s > 0:
            raise ValueError(f"frame_s must be > 0 seconds, got {frame_s}")
        if interp not in INTERP_MODES:
            raise ValueError(f"interp must be one of {INTERP_MODES}, got {interp!r}")
        if not min_bandwidth_mbps > 0:
            raise ValueError(f"min_bandwidth_mbps must be > 0, got {min_bandwidth_mbps}")
        scales = dict(scales or {})
        for name in list(series) + list(scales):
            if name not in self.fields:
                raise ValueError(f"trace field must be one of {self.fields}, got {name!r}")
        self.frame_s = float(frame_s)
        self.interp = interp
        self.min_bandwidth_mbps = float(min_bandwidth_mbps)
        self.series = dict(series)
        self.trace_fields = tuple(f for f in self.fields if f in self.series)
        self.fallback_fields = tuple(f for f in self.fields if f not in self.series)
        tables = []
        for name in self.trace_fields:
            tr = self.series[name]
            if tr.unit != field_unit(name):
                raise ValueError(
                    f"field {name!r} needs a trace in {field_unit(name)}, got {tr.unit} "
                    f"({tr.source})"
                )
            scale = float(scales.get(name, 1.0))
            if not scale > 0:
                raise ValueError(f"scales[{name!r}] must be > 0, got {scale}")
            tab = _resample(tr, self.frame_s, interp) * scale
            if tr.unit == "Mbps":
                np.maximum(tab, self.min_bandwidth_mbps, out=tab)
            tables.append(tab)
        self._len = np.array([t.size for t in tables], dtype=np.int64)
        self._base = np.concatenate([[0], np.cumsum(self._len)[:-1]]).astype(np.int64)
        self._flat = np.concatenate(tables) if tables else np.zeros(0)
        self._tcols = np.array([self.fields.index(f) for f in self.trace_fields], dtype=np.intp)
        self._fcols = np.array([self.fields.index(f) for f in self.fallback_fields], dtype=np.intp)
        if self.fallback_fields:
            if fallback is None:
                raise ValueError(
                    f"fields {list(self.fallback_fields)} have no trace; give a fallback process"
                )
            missing = [f for f in self.fallback_fields if f not in fallback.fields]
            if missing:
                raise ValueError(
                    f"fallback provides {fallback.fields}, missing {missing} (no trace given)"
                )
            self._fsrc = np.array([fallback.fields.index(f) for f in self.fallback_fields])
        self.fallback = fallback if self.fallback_fields else None
        # Replay state: absolute indices into the concatenated tables; _next maps an index to
        # the following frame of the same trace (wrapping), so a step is one gather.
        nxt = np.arange(1, self._flat.size + 1, dtype=np.intp)
        nxt[self._base + self._len - 1] = self._base
        self._next = nxt
        self._idx = np.zeros((0, len(self.trace_fields)), dtype=np.intp)

    @property
    def lengths(self) -> dict[str, int]:
        """Loop length in frames of each replayed field."""
        return dict(zip(self.trace_fields, self._len.tolist(), strict=True))

    def _assemble(self) -> np.ndarray:
        out = np.empty((self._idx.shape[0], len(self.fields)))
        if self.trace_fields:
            out[:, self._tcols] = self._flat[self._idx]
        if self.fallback is not None:
            out[:, self._fcols] = self.fallback.values[:, self._fsrc]
        return out

    def _start(self, rng: np.random.Generator, k: int, offset: np.ndarray | None) -> np.ndarray:
        if offset is None:
            return rng.integers(0, self._len, size=(k, self._len.size))
        return np.remainder(offset[:, None], self._len)

    def reset(
        self, rng: np.random.Generator, num: int = 1, offset: int | np.ndarray | None = None
    ) -> np.ndarray:
        num = _check_num(num)
        off = None if offset is None else _offsets(offset, num)
        self._idx = self._base + self._start(rng, num, off)
        if self.fallback is not None:
            self.fallback.reset(rng, num, offset)
        self.values = self._assemble()
        return self.values

    def _reset_rows(
        self, rng: np.random.Generator, mask: np.ndarray, offset: int | np.ndarray | None
    ) -> np.ndarray:
        off = None if offset is None else _offsets(offset, self.num, mask)
        self._idx[mask] = self._base + self._start(rng, int(mask.sum()), off)
        if self.fallback is not None:
            self.fallback.reset_where(rng, mask, offset)
        self.values = self._assemble()
        return self.values

    def step(self, rng: np.random.Generator) -> np.ndarray:
        self._require_reset()
        self._idx = self._next[self._idx]
        if self.fallback is not None:
            self.fallback.step(rng)
        self.values = self._assemble()
        return self.values
