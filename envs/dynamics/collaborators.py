"""Candidate collaborators of the D2D scenario: churn and selection (Ren et al. Sec. 4.1.2, docs/model.md §5).

A :class:`CollaboratorPool` holds ``num`` independent copies (one per env) of ``m`` candidate
phones, batched as ``(num, m)`` arrays with no Python loop over copies or candidates.

Each candidate is a four-state Markov chain, advanced once per frame:

| state | meaning | selectable | leaves it with probability |
|---|---|---|---|
| ``ABSENT`` (0) | not in the D2D network | no | ``join`` -> AVAILABLE |
| ``AVAILABLE`` (1) | present, connected, not overloaded | yes | ``leave`` -> ABSENT, ``overload`` -> OVERLOADED, ``disconnect`` -> DISCONNECTED |
| ``OVERLOADED`` (2) | busy with its own work | no | ``leave`` -> ABSENT, ``recover`` -> AVAILABLE |
| ``DISCONNECTED`` (3) | transient link loss | no | ``reconnect`` -> AVAILABLE |

These are the paper's three cases in which the collaborator is replaced (overload, leaving,
disconnection). A candidate that joins gets a fresh availability ``~ U(availability)`` and a
fresh link; its capability factor is ``d_H = d_base / availability`` (docs/model.md §3; the paper's
Co-H has availability 1.0, Co-L 0.6). Links come from one batched D2D link process with
``num * m`` copies (row ``e * m + j`` is candidate ``j`` of copy ``e``); links of absent
candidates keep evolving but are not observed.

Selection, every frame, among the AVAILABLE candidates (docs/model.md §5)::

    H_x = argmax_i ( s_i / max(s) + B_i / max(B) + 1 / L_i ),   s_i = 1 / d_Hi

so the controller re-picks by the formula each frame (a "period" of one frame) and a selected
collaborator that leaves, overloads or disconnects is replaced at once. With
``sticky=True`` the current collaborator is kept while it stays AVAILABLE and the formula is
applied only when it is lost. Ties go to the lowest index. No AVAILABLE candidate: selection
``-1`` (the env then runs every block on the user's device).

Initial states are drawn from the chain's long-run distribution (the distribution after
4096 frames started from "all AVAILABLE"; the stationary law when the chain is ergodic).

Randomness per call (``k`` copies): reset: ``random((k, m))`` states, ``uniform((k, m))``
availabilities, then the link process's reset; step: the link process's step, ``random((num,
m))`` transitions, then for joiners ``uniform(j)`` and the link process's ``reset_where``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from numbers import Real
from typing import Any

import numpy as np

from envs.dynamics.base import LinkProcess
from envs.model import kernels

ABSENT, AVAILABLE, OVERLOADED, DISCONNECTED = 0, 1, 2, 3
_NO_OWN = np.zeros((0, 0))  # the kernels' "no per-candidate factor" (v0)
DEFAULT_CHURN: dict[str, float] = {
    "join": 0.05,
    "leave": 0.01,
    "overload": 0.02,
    "recover": 0.2,
    "disconnect": 0.02,
    "reconnect": 0.5,
}
# With a fixed trace offset, candidate j replays its trace from offset + j * stride so that
# candidates do not share one link history.
CANDIDATE_OFFSET_STRIDE = 60
MAX_CANDIDATES = 1024  # nearby phones a controller tracks (the paper's figures show a handful)


def transition_matrix(churn: Mapping[str, float]) -> np.ndarray:
    """4x4 row-stochastic matrix of the candidate chain from the churn probabilities."""
    j, lv, o, r = churn["join"], churn["leave"], churn["overload"], churn["recover"]
    d, c = churn["disconnect"], churn["reconnect"]
    return np.array(
        [
            [1.0 - j, j, 0.0, 0.0],
            [lv, 1.0 - lv - o - d, o, d],
            [lv, r, 1.0 - lv - r, 0.0],
            [0.0, c, 0.0, 1.0 - c],
        ]
    )


def check_churn(churn: Mapping[str, Any] | None) -> dict[str, float]:
    """Merge ``churn`` into :data:`DEFAULT_CHURN` and validate (per-frame probabilities)."""
    merged = dict(DEFAULT_CHURN)
    if churn is not None:
        if not isinstance(churn, Mapping):
            raise ValueError(f"churn must be a dict of per-frame probabilities, got {churn!r}")
        bad = set(churn) - set(DEFAULT_CHURN)
        if bad:
            raise ValueError(
                f"unknown churn keys {sorted(map(repr, bad))}; allowed: {list(DEFAULT_CHURN)}"
            )
        for k, v in churn.items():
            if isinstance(v, bool | str | bytes) or not isinstance(v, Real):
                raise ValueError(f"churn[{k!r}] must be a probability in [0, 1], got {v!r}")
            merged[k] = float(v)
    for k, v in merged.items():
        if not (np.isfinite(v) and 0.0 <= v <= 1.0):
            raise ValueError(f"churn[{k!r}] must be a probability in [0, 1], got {v}")
    if merged["leave"] + merged["overload"] + merged["disconnect"] > 1.0:
        raise ValueError("churn: leave + overload + disconnect must be <= 1")
    if merged["leave"] + merged["recover"] > 1.0:
        raise ValueError("churn: leave + recover must be <= 1")
    return merged


def _bounds(probs: np.ndarray) -> np.ndarray:
    """Cumulative bounds of each row; a bound after which no probability is left is +inf,
    so rounding in the cumulative sum can never select a state of probability 0."""
    cum = np.cumsum(probs, axis=1)
    rest = np.cumsum(probs[:, ::-1], axis=1)[:, ::-1]  # P(state >= j)
    cum[:, :-1][rest[:, 1:] == 0.0] = np.inf
    cum[:, -1] = np.inf
    return cum


class CollaboratorPool:
    """Batched candidate collaborators with Markov churn and per-frame selection.

    Args:
        num_candidates: ``m`` >= 1.
        link: D2D link process (fields ``("b", "l")``); reset with ``num * m`` copies.
        churn: Per-frame transition probabilities, see the module table (defaults
            :data:`DEFAULT_CHURN`).
        availability: ``(low, high)`` range, ``0 < low <= high <= 1``, of a joining
            candidate's availability.
        base_factor: ``d_base`` of a fully available collaborator (docs/model.md §3: ``d_T``).
        sticky: Keep the selected collaborator while it stays AVAILABLE.
        speedup: ``None`` (v0: every candidate's own factor is ``base_factor``) or a range
            ``(low, high)``: each candidate draws its own speed-up ``s ~ U(low, high)`` over
            ``base_factor`` when it joins, so ``d_H = base_factor / (s * availability)``
            (v1, docs/model.md §10: collaborators are phones of their own speed).
    """

    def __init__(
        self,
        num_candidates: int,
        link: LinkProcess,
        churn: Mapping[str, Any] | None = None,
        availability: Sequence[float] = (0.6, 1.0),
        base_factor: float = 4.0,
        sticky: bool = False,
        speedup: Sequence[float] | None = None,
    ) -> None:
        if isinstance(num_candidates, bool) or not isinstance(num_candidates, int | np.integer):
            raise ValueError(f"num_candidates must be an integer >= 1, got {num_candidates!r}")
        if not 1 <= num_candidates <= MAX_CANDIDATES:
            raise ValueError(
                f"num_candidates must be an integer in [1, {MAX_CANDIDATES}], got {num_candidates}"
            )
        ok = (
            isinstance(availability, Sequence | np.ndarray)
            and not isinstance(availability, str | bytes)
            and all(isinstance(a, Real) and not isinstance(a, bool) for a in availability)
        )
        av = np.asarray(availability, dtype=np.float64) if ok else np.zeros(0)
        if av.shape != (2,) or not (np.all(np.isfinite(av)) and 0 < av[0] <= av[1] <= 1):
            raise ValueError(
                f"availability must be a range (low, high) with 0 < low <= high <= 1, "
                f"got {availability!r}"
            )
        self.speedup_range: tuple[float, float] | None = None
        if speedup is not None:
            try:
                if isinstance(speedup, str | bytes) or any(
                    isinstance(x, bool) or not isinstance(x, Real) for x in speedup
                ):
                    raise TypeError
                lo, hi = (float(x) for x in speedup)
            except (TypeError, ValueError):
                raise ValueError(
                    f"collaborator_speedup must be a range (low, high) of numbers, got {speedup!r}"
                ) from None
            if not (math.isfinite(lo) and math.isfinite(hi) and 0.05 <= lo <= hi <= 20.0):
                raise ValueError(
                    "collaborator_speedup must be a range (low, high) with "
                    f"0.05 <= low <= high <= 20, got {speedup!r}"
                )
            self.speedup_range = (lo, hi)
        self.m = int(num_candidates)
        self.link = link
        self.churn = check_churn(churn)
        self.availability_range = (float(av[0]), float(av[1]))
        self.base_factor = float(base_factor)
        self.sticky = bool(sticky)
        # One copy (the single env) runs churn and selection in plain Python: numpy's
        # per-call overhead dominates at (1, m). Same draws, same results (tested).
        self.scalar = True
        # v1: selection by the compiled kernel (envs/model/kernels.py; set by the simulator)
        self.compiled = False
        self.transition = transition_matrix(self.churn)
        # next state = number of cumulative bounds <= u, u ~ U[0, 1)
        cum = _bounds(self.transition)
        self._bounds = [np.ascontiguousarray(cum[:, j]) for j in range(3)]
        self._bounds_lists = [b.tolist() for b in self._bounds]
        self._bounds_matrix = np.ascontiguousarray(np.stack(self._bounds))  # (3, states)
        start = np.zeros(4)
        start[AVAILABLE] = 1.0
        self.initial_distribution = start @ np.linalg.matrix_power(self.transition, 4096)
        self._init_cum = _bounds(self.initial_distribution[None])[0]
        self._ib = link.index("b")
        self._il = link.index("l")
        self.status = np.zeros((0, self.m), dtype=np.int64)
        self.avail = np.zeros((0, self.m))
        # v1: each candidate's own factor d_own = base_factor / speed-up (None in v0)
        self.own: np.ndarray | None = None
        self.joined: np.ndarray | None = None  # flat (num * m,) rows that joined last step
        self.selected = np.zeros(0, dtype=np.int64)
        self._rows = np.zeros(0, dtype=np.int64)
        self._buf_num = 0  # scratch arrays of the batched step/selection are sized for this

    @property
    def num(self) -> int:
        return int(self.status.shape[0])

    # ----------------------------------------------------------------- dynamics
    def _draw_avail(self, rng: np.random.Generator, size) -> np.ndarray:
        lo, hi = self.availability_range
        return rng.uniform(lo, hi, size)

    def _draw_own(self, rng: np.random.Generator, size) -> np.ndarray:
        lo, hi = self.speedup_range
        return self.base_factor / rng.uniform(lo, hi, size)

    def _link_offsets(self, offset, k: int) -> np.ndarray | None:
        if offset is None:
            return None
        off = np.broadcast_to(np.asarray(offset, dtype=np.int64), (k,))
        return (off[:, None] + CANDIDATE_OFFSET_STRIDE * np.arange(self.m)).ravel()

    def reset(self, rng: np.random.Generator, num: int, offset=None) -> None:
        u = rng.random((num, self.m))
        self.status = np.searchsorted(self._init_cum, u, side="right").astype(np.int64)
        self.avail = self._draw_avail(rng, (num, self.m))
        if self.speedup_range is not None:
            self.own = self._draw_own(rng, (num, self.m))
        self.link.reset(rng, num * self.m, offset=self._link_offsets(offset, num))
        self.joined = None
        self.selected = np.full(num, -1, dtype=np.int64)
        self._rows = np.arange(num)
        if self._buf_num != num:
            self._alloc_buffers(num)
        self._select()

    def _alloc_buffers(self, num: int) -> None:
        # Preallocated scratch for step() and _select(): at thousands of copies, fresh
        # (num, m) temporaries every frame cost more than the arithmetic (allocation and
        # page faults when glibc trims its heap).
        shape = (num, self.m)
        self._u = np.empty(shape)
        self._f = np.empty((3, *shape))
        self._b = np.empty((3, *shape), dtype=bool)
        self._col = np.empty((2, num))
        #: ``e * m``: copy ``e``'s first row in the flattened ``(num * m)`` candidate arrays
        self.flat_rows = np.arange(num) * self.m
        self._buf_num = num

    def reset_where(self, rng: np.random.Generator, mask: np.ndarray, offset=None) -> None:
        k = int(mask.sum())
        if k == 0:
            return
        u = rng.random((k, self.m))
        self.status[mask] = np.searchsorted(self._init_cum, u, side="right")
        self.avail[mask] = self._draw_avail(rng, (k, self.m))
        if self.own is not None:
            self.own[mask] = self._draw_own(rng, (k, self.m))
        self.link.reset_where(rng, np.repeat(mask, self.m), offset=self._link_offsets(offset, k))
        self.selected[mask] = -1
        self._select()

    def step(self, rng: np.random.Generator) -> None:
        self.link.step(rng)
        if self.scalar and self.status.shape[0] == 1:
            self._step_one(rng)
            return
        # next state = number of cumulative bounds <= u; new arrays (old ones stay valid)
        new = np.empty_like(self.status)
        if self.compiled and self.status.size >= kernels.RNG_IN_KERNEL_MIN:
            joined = np.empty(self.status.size, dtype=bool)  # one compiled pass, same draws
            kernels.markov_draw(
                rng, self.status, self._bounds_matrix, ABSENT, AVAILABLE, new, joined
            )
        else:
            u, tb, ge = self._u, self._f[0], self._b[0]
            rng.random(out=u)
            status = self.status
            for j, bounds in enumerate(self._bounds):
                np.take(bounds, status, out=tb, mode="clip")  # status is always in 0..3
                np.greater_equal(u, tb, out=ge)
                if j == 0:
                    np.copyto(new, ge)
                else:
                    new += ge
            scratch = np.equal(status, ABSENT, out=self._b[1])
            scratch &= np.equal(new, AVAILABLE, out=ge)
            joined = scratch.reshape(-1).copy()
        self.status = new
        idx = np.flatnonzero(joined)
        self.joined = None
        if idx.size:
            np.put(self.avail, idx, self._draw_avail(rng, idx.size))
            if self.own is not None:
                np.put(self.own, idx, self._draw_own(rng, idx.size))
            self.joined = joined
            self.link.reset_where(rng, joined)
        self._select()

    def _step_one(self, rng: np.random.Generator) -> None:
        """:meth:`step` for one copy in plain Python: the same draws and the same result."""
        u = rng.random((1, self.m))[0].tolist()
        b0, b1, b2 = self._bounds_lists
        old = self.status[0].tolist()
        new = [(x >= b0[s]) + (x >= b1[s]) + (x >= b2[s]) for x, s in zip(u, old, strict=True)]
        joined = [s == ABSENT and t == AVAILABLE for s, t in zip(old, new, strict=True)]
        self.status = np.array([new], dtype=np.int64)
        self.joined = None
        if any(joined):
            mask = np.array([joined])
            self.avail[mask] = self._draw_avail(rng, sum(joined))
            if self.own is not None:
                self.own[mask] = self._draw_own(rng, sum(joined))
            self.joined = mask.ravel()
            self.link.reset_where(rng, self.joined)
        self._select()

    # ---------------------------------------------------------------- selection
    def link_state(self) -> tuple[np.ndarray, np.ndarray]:
        """Bandwidth and latency of every candidate, ``(num, m)`` each."""
        v = self.link.values
        return v[:, self._ib].reshape(-1, self.m), v[:, self._il].reshape(-1, self.m)

    def _select(self) -> None:
        if self.compiled:
            sel = self.selected.copy()  # a new array per frame: old references stay valid
            kernels.select_candidates(
                self.status, self.avail, _NO_OWN if self.own is None else self.own,
                self.link.values, self._ib, self._il, AVAILABLE, self.sticky, sel,
            )  # fmt: skip
            self.selected = sel
            return
        if self.scalar and self.status.shape[0] == 1:
            self._select_one()
            return
        f, m = self._f, self.m
        usable = np.equal(self.status, AVAILABLE, out=self._b[1])
        v = self.link.values.reshape(-1, m, 2)
        speed = self.avail if self.own is None else self.avail / self.own  # ∝ s_i = 1 / d_Hi
        au = np.multiply(speed, usable, out=f[0])  # unusable count as 0 in the maxima
        bu = np.multiply(v[:, :, self._ib], usable, out=f[1])
        # s_i / max(s) with s_i = 1 / d_Hi = availability_i / d_base; the floor only matters
        # when no candidate is usable, and then the pick is discarded
        score, tmp = f[2], f[0]
        np.divide(au, self._row_max(au, 0, 1e-300), out=score)
        score += np.divide(bu, self._row_max(bu, 1, 1e-300), out=tmp)
        np.maximum(v[:, :, self._il], 1e-9, out=tmp)
        score += np.divide(1.0, tmp, out=tmp)
        np.copyto(score, -np.inf, where=np.logical_not(usable, out=self._b[2]))
        pick = score.argmax(1)
        best = score.reshape(-1).take(self.flat_rows + pick)
        pick[np.isneginf(best)] = -1
        if self.sticky:
            prev = self.selected
            keep = (prev >= 0) & usable.reshape(-1).take(self.flat_rows + np.maximum(prev, 0))
            pick = np.where(keep, prev, pick)
        self.selected = pick

    def _row_max(self, a: np.ndarray, slot: int, floor: float) -> np.ndarray:
        """``max(a.max(1), floor)`` as a ``(num, 1)`` view of a scratch row: a column-wise
        maximum, several times faster than numpy's reduction over a short last axis."""
        out = self._col[slot]
        np.maximum(a[:, 0], floor, out=out)
        for j in range(1, self.m):
            np.maximum(out, a[:, j], out=out)
        return out[:, None]

    def _select_one(self) -> None:
        """:meth:`_select` for one copy in plain Python (same arithmetic, same pick)."""
        usable = [s == AVAILABLE for s in self.status[0].tolist()]
        links = self.link.values.tolist()
        speed = self.avail[0] if self.own is None else self.avail[0] / self.own[0]
        au = [a if u else 0.0 for a, u in zip(speed.tolist(), usable, strict=True)]
        bu = [row[self._ib] if u else 0.0 for row, u in zip(links, usable, strict=True)]
        s_max, b_max = max(max(au), 1e-300), max(max(bu), 1e-300)
        pick, best = -1, -math.inf
        for j, ok in enumerate(usable):
            if ok:
                score = au[j] / s_max + bu[j] / b_max + 1.0 / max(links[j][self._il], 1e-9)
                if score > best:
                    pick, best = j, score
        prev = int(self.selected[0])
        if self.sticky and prev >= 0 and usable[prev]:
            pick = prev
        self.selected = np.array([pick], dtype=np.int64)

    def factors(self) -> np.ndarray:
        """``d_H = d_own / availability`` of every candidate, ``(num, m)`` (``d_own`` is
        ``d_base`` in v0)."""
        return (self.base_factor if self.own is None else self.own) / self.avail
