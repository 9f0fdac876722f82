"""Batched frame simulators of the MEC and D2D partitioning scenarios (docs/model.md §3-§5).

A simulator holds ``num`` independent copies of one scenario's time-varying state (links,
background load, D2D candidates) and builds their observations. The single env runs it
with ``num = 1`` and the vector env with ``num = num_envs`` — the same code and the same
random draws, so a vector env with one copy reproduces the single env for the same seed.

Per-frame randomness, in order: MEC — the link process, then the platform load; D2D — the
platform load, then the candidates (their links, then churn); see :mod:`envs.dynamics` and
:mod:`envs.dynamics.collaborators`. With one copy (the single env) the D2D candidate logic
and observation run on plain Python floats (the MEC observation on 1-D rows): the same
draws and the same float64 arithmetic as the numpy path, so the results are bit-identical
(tested); numpy's per-call overhead would dominate at that size.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from envs.dynamics import D2D_LINK_FIELDS, MEC_LINK_FIELDS, TABLE2, LinkProcess, PlatformLoad
from envs.dynamics.collaborators import ABSENT, AVAILABLE, OVERLOADED, CollaboratorPool
from envs.model import kernels
from envs.model.chain import ChainCostModel
from envs.model.links import LinkMatrices, d2d_links, mec_links
from envs.partition.common import squash
from envs.partition.params import PartitionParams

# Observation scales (``x / (x + scale)`` is 0.5 at the scale): Ren et al. Table 2 averages.
MEC_LINK_SCALES = np.array(
    [TABLE2[f][2] for f in MEC_LINK_FIELDS]
)  # 76.1, 382.4, 73.3, 542.3 Mbps; 8.76, 27.04 ms
D2D_LINK_SCALES = np.array([TABLE2["b_d2d"][2], TABLE2["l_d2d"][2]])  # 87.6 Mbps, 23.14 ms
FACTOR_SCALE = 1.0  # capability factors: 0.5 at the benchmark edge server (d = 1)
# "No collaborator" sentinel state for the frame's problem: offloading is prohibitively
# expensive (a transfer costs >= 1e6 ms), so rules and the oracle keep every block local.
NO_LINK_MBPS = 1e-3
NO_LINK_MS = 1e6
NO_COLLAB_FACTOR = 1e6
# Candidate state -> (available, overloaded, present, connected) flags for the observation.
_STATE_FLAGS = np.array(
    [[0, 0, 0, 0], [1, 0, 1, 1], [0, 1, 1, 1], [0, 0, 1, 0]], dtype=np.float64
)  # absent, available, overloaded, disconnected
_STATE_FLAGS_LISTS = _STATE_FLAGS.tolist()
_NO_COLLABORATOR = np.array([NO_LINK_MBPS, NO_LINK_MS, NO_COLLAB_FACTOR])
_NO_LOAD = np.zeros((0, 0))  # the kernels' "no platform load" / "no own factors"

_CONNECTED = _STATE_FLAGS[:, 3].astype(bool)
CANDIDATE_FEATURES: tuple[str, ...] = (
    "available",
    "overloaded",
    "availability",
    "b",
    "l",
    "selected",
)


def _safe_max(x: np.ndarray) -> float:
    m = float(np.max(x)) if x.size else 0.0
    return m if m > 0 else 1.0


def squashed_compute(latency: np.ndarray, scale: float, factors: np.ndarray) -> np.ndarray:
    """The observation's compute entries: block latency ``latency`` (at ``d = 1``) times each
    platform's factor ``factors[:, p]``, squashed by ``scale``; flattened block-major
    ``(num, n*P)``."""
    c = latency[None, :, None] * factors[:, None, :]
    return squash(c, scale).reshape(factors.shape[0], -1)


class StaticFeatures:
    """Per-block observation entries fixed by the profile: compute scale, energy, sizes."""

    def __init__(self, model: ChainCostModel, d_energy: float) -> None:
        b = model.blocks
        self.latency = b.latency_ms  # base block latency at d = 1
        self.compute_scale = _safe_max(b.latency_ms)
        e = b.energy_j * d_energy
        self.energy = e / _safe_max(e)
        size_scale = _safe_max(np.concatenate([b.in_kb, b.out_kb]))
        self.in_kb = b.in_kb / size_scale
        self.out_kb = b.out_kb / size_scale

    def compute(self, factors: np.ndarray) -> np.ndarray:
        """Squashed compute latency ``(num, n, P)`` -> flattened block-major ``(num, n*P)``."""
        return squashed_compute(self.latency, self.compute_scale, factors)

    def compute_into(self, obs: np.ndarray, start: int, factors: np.ndarray) -> None:
        """:meth:`compute` of a batch written into ``obs[:, start : start + n*P]``.

        Platform-major in two reused scratch arrays: a multiply over the contiguous block
        axis by one factor per (copy, platform) is about twice as fast as broadcasting the
        short platform axis, and fresh multi-MB temporaries every frame cost more than the
        arithmetic (page faults after glibc trims its heap). The same operations on the same
        numbers as :meth:`compute` (the values are identical)."""
        num, P = factors.shape
        n = self.latency.size
        if getattr(self, "_buf", np.empty(0)).shape != (2, P, num, n):
            self._buf = np.empty((2, P, num, n))
            self._fac = np.empty((P, num, 1))
        c, d = self._buf
        np.copyto(self._fac[:, :, 0], factors.T)
        np.multiply(self.latency, self._fac, out=c)
        np.add(c, self.compute_scale, out=d)
        np.divide(c, d, out=c)
        for p in range(P):  # block-major columns start + i*P + p
            obs[:, start + p : start + n * P : P] = c[p]


def _set_frame_readings(
    sim: Any, model: ChainCostModel, load: PlatformLoad, params: PartitionParams
) -> None:
    """What both simulators read from the cost model, the platform load and the env's
    parameters: the measured/current reading, the latency scale and the static features."""
    sim.model = model
    sim.load = load
    sim.measured = params.observe == "measured"
    sim.latency_scale = params.latency_scale
    sim.static = StaticFeatures(model, params.d_energy)


class MECSim:
    """Links on T-E-C and platform load for ``num`` copies (docs/model.md §4).

    Observation layout (``n`` blocks), all entries in ``[0, 1]``:

    | index | entry | transform |
    |---|---|---|
    | 0-3 | ``b_te_up, b_te_down, b_ec_up, b_ec_down`` | ``B / (B + avg)``, avg = Table 2 average |
    | 4-5 | ``l_te, l_ec`` | ``L / (L + avg)`` |
    | 6-8 | effective ``d_t, d_e, d_c`` (with load) | ``d / (d + 1)`` |
    | 9 .. 9+3n | ``T_cp`` of block i on T, E, C (block-major) | ``c / (c + max_i T_cp_i(d=1))`` |
    | 9+3n .. 9+4n | device energy ``E_cp_i * d_energy`` | ``/ max_i`` |
    | 9+4n .. 9+5n | block input size ``G_i^in`` (KB) | ``/ max(G^in, G^out)`` |
    | 9+5n .. 9+6n | block output size ``G_i^out`` (KB) | ``/ max(G^in, G^out)`` |
    """

    scenario = "mec"
    fields = MEC_LINK_FIELDS

    def __init__(
        self, model: ChainCostModel, link: LinkProcess, load: PlatformLoad, params: PartitionParams
    ) -> None:
        _set_frame_readings(self, model, load, params)
        self.link = link
        self.nominal = np.array(params.slowdown, dtype=np.float64)
        n, P = model.n, model.P
        self.readings = FrameReadings(self.scenario, model.blocks.latency_ms)
        self.obs_dim = self.readings.obs_dim
        #: entries squashed as x / (x + a): the links and the effective factors
        self.ratio_features = np.arange(9)
        self._cs = self.readings.compute
        t = np.zeros(self.obs_dim, dtype=np.float32)
        t[6:9] = squash(self.nominal, FACTOR_SCALE)
        t[self._cs] = self.static.compute(self.nominal[None])[0]
        t[9 + 3 * n : 9 + 4 * n] = self.static.energy
        t[9 + 4 * n : 9 + 5 * n] = self.static.in_kb
        t[9 + 5 * n :] = self.static.out_kb
        self._template = t
        # batched observation by the compiled kernel (v1; the same elementwise operations)
        self.compiled = model.sequential_batch and kernels.AVAILABLE
        self.values = np.zeros((0, 6))
        self.slowdown = np.zeros((0, P))
        # What the agent observes: the current frame, or (measured) the previous frame's
        # values; the cost is always charged on ``values``/``slowdown`` (the current frame).
        self.obs_values, self.obs_slowdown = self.values, self.slowdown

    @property
    def num(self) -> int:
        return int(self.values.shape[0])

    def _refresh(self) -> None:
        self.values = self.link.values
        if self.load.enabled:
            self.slowdown = self.nominal * self.load.values
        elif self.slowdown.shape[0] != self.values.shape[0]:  # constant: build once per size
            self.slowdown = np.broadcast_to(self.nominal, (self.values.shape[0], 3))

    def reset(self, rng: np.random.Generator, num: int, offset=None) -> None:
        self.link.reset(rng, num, offset=offset)
        self.load.reset(rng, num)
        self._refresh()
        # the first frame's measurement is the frame itself (the device probes on connecting)
        self.obs_values, self.obs_slowdown = self.values, self.slowdown

    def reset_where(self, rng: np.random.Generator, mask: np.ndarray, offset=None) -> None:
        self.link.reset_where(rng, mask, offset=offset)
        self.load.reset_where(rng, mask)
        self._refresh()
        if not self.measured:
            self.obs_values, self.obs_slowdown = self.values, self.slowdown
        elif mask.any():
            self.obs_values = self.obs_values.copy()
            self.obs_values[mask] = self.values[mask]
            if self.load.enabled:
                self.obs_slowdown = self.obs_slowdown.copy()
                self.obs_slowdown[mask] = self.slowdown[mask]

    def step(self, rng: np.random.Generator) -> None:
        # processes store a new values array per call, so keeping references is safe
        prev = self.values, self.slowdown
        self.link.step(rng)
        self.load.step(rng)
        self._refresh()
        self.obs_values, self.obs_slowdown = prev if self.measured else (self.values, self.slowdown)

    @property
    def available(self) -> None:
        return None  # every MEC frame has all three platforms

    def observe(self) -> np.ndarray:
        values, slowdown = self.obs_values, self.obs_slowdown
        if self.num == 1 and not self.compiled:  # the same ops on 1-D rows, fewer numpy calls
            obs = self._template.copy()
            obs[:6] = squash(values[0], MEC_LINK_SCALES)
            if self.load.enabled:
                obs[6:9] = squash(slowdown[0], FACTOR_SCALE)
                obs[self._cs] = self.static.compute(slowdown)[0]
            return obs[None]
        obs = np.empty((self.num, self.obs_dim), dtype=np.float32)
        if self.compiled:
            st = self.static
            kernels.mec_observe(
                values, slowdown, MEC_LINK_SCALES, FACTOR_SCALE, self.load.enabled, st.latency,
                st.compute_scale, self._template, self._cs.start, obs,
            )  # fmt: skip
            return obs
        obs[:] = self._template
        obs[:, :6] = squash(values, MEC_LINK_SCALES)
        if self.load.enabled:
            obs[:, 6:9] = squash(slowdown, FACTOR_SCALE)
            self.static.compute_into(obs, self._cs.start, slowdown)
        return obs

    def links_one(self, measured: bool = False) -> LinkMatrices:
        """Link matrices of the frame (``measured``: of the last measurement), RTT scaled."""
        bu, bd, cu, cd, lt, lc = (self.obs_values if measured else self.values)[0].tolist()
        s = self.latency_scale
        if s != 1.0:  # v1 one-way reading: a transfer pays RTT / 2 (docs/model.md §10)
            lt, lc = lt * s, lc * s
        return mec_links(bu, bd, cu, cd, lt, lc, validate=False)

    def links_batch(self, measured: bool = False) -> LinkMatrices:
        v = self.obs_values if measured else self.values
        lt, lc = v[:, 4], v[:, 5]
        if self.latency_scale != 1.0:
            lt, lc = lt * self.latency_scale, lc * self.latency_scale
        return mec_links(v[:, 0], v[:, 1], v[:, 2], v[:, 3], lt, lc, validate=False)

    def network_one(self) -> dict[str, float]:
        out = dict(zip(self.fields, self.values[0].tolist(), strict=True))
        if self.load.enabled:
            out.update(zip(("d_t", "d_e", "d_c"), self.slowdown[0].tolist(), strict=True))
        return out

    def network_batch(self) -> dict[str, np.ndarray]:
        out = {f: self.values[:, i].copy() for i, f in enumerate(self.fields)}
        if self.load.enabled:
            out.update({k: self.slowdown[:, i].copy() for i, k in enumerate(("d_t", "d_e", "d_c"))})
        return out


class D2DSim:
    """Candidate collaborators, the selected link and platform load for ``num`` copies (docs/model.md §5).

    Observation layout (``n`` blocks, ``m`` candidates), all entries in ``[0, 1]``:

    | index | entry | transform |
    |---|---|---|
    | 0-1 | selected link ``b`` (Mbps), ``l`` (ms) | ``x / (x + avg)``, Table 2 D2D averages; none: ≈0, ≈1 |
    | 2-3 | effective ``d_u``, ``d_h`` (with load) | ``d / (d + 1)``; none: ``d_h`` ≈ 1 |
    | 4 | a collaborator is selected | 0 / 1 |
    | 5 .. 5+2n | ``T_cp`` of block i on U, H (block-major) | ``c / (c + max_i T_cp_i(d=1))``; none: H ≈ 1 |
    | 5+2n .. 5+3n | device energy ``E_cp_i * d_energy`` | ``/ max_i`` |
    | 5+3n .. 5+4n | block input size (KB) | ``/ max(G^in, G^out)`` |
    | 5+4n .. 5+5n | block output size (KB) | ``/ max(G^in, G^out)`` |
    | 5+5n .. 5+5n+6m | per candidate: available, overloaded, availability, b, l, selected | flags; availability in (0, 1] (0 if absent); b, l as above (0, 1 if absent or disconnected) |
    """

    scenario = "d2d"
    fields = D2D_LINK_FIELDS

    def __init__(
        self,
        model: ChainCostModel,
        pool: CollaboratorPool,
        load: PlatformLoad,
        params: PartitionParams,
    ) -> None:
        _set_frame_readings(self, model, load, params)
        self.pool = pool
        self.d_u = float(params.slowdown[0])
        # batched observation by the compiled kernel (v1 only: bit-identical to the scalar path)
        self.compiled = model.sequential_batch and kernels.AVAILABLE
        pool.compiled = self.compiled
        n, m = model.n, pool.m
        self.n, self.m = n, m
        self.readings = FrameReadings(self.scenario, model.blocks.latency_ms, m)
        self.obs_dim = self.readings.obs_dim
        self._cs, self._cand = self.readings.compute, self.readings.cand
        #: entries squashed as x / (x + a): the selected link, the effective factors and
        #: each candidate's link
        cand = self._cand + 6 * np.arange(m)[:, None] + np.array([3, 4])
        self.ratio_features = np.concatenate([np.arange(4), cand.ravel()])
        t = np.zeros(self.obs_dim, dtype=np.float32)
        t[self._cs] = self.static.compute(np.array([[self.d_u, self.d_u]]))[0]
        t[5 + 2 * n : 5 + 3 * n] = self.static.energy
        t[5 + 3 * n : 5 + 4 * n] = self.static.in_kb
        t[5 + 4 * n : 5 + 5 * n] = self.static.out_kb
        self._template = t
        self._link_scales = D2D_LINK_SCALES.tolist()
        self._latency = self.static.latency.tolist()
        self.values = np.zeros((0, 2))
        self.slowdown = np.zeros((0, 2))
        self.has = np.zeros(0, dtype=bool)
        # Observed state: the current frame's, or (measured) every candidate's link and the
        # load as measured in the previous frame; a candidate that just joined is measured
        # when it joins. Availability, status and the selection are current.
        self.obs_values, self.obs_slowdown = self.values, self.slowdown
        self._meas_link = np.zeros((0, 2))
        self._meas_load = np.zeros((0, 2))
        self._buf_num = 0

    @property
    def num(self) -> int:
        return int(self.values.shape[0])

    @property
    def link(self) -> LinkProcess:
        return self.pool.link

    @property
    def selected(self) -> np.ndarray:
        return self.pool.selected

    def _refresh(self) -> None:
        pool = self.pool
        one = pool.scalar and pool.num == 1
        pick = self._selected_one if one else self._selected
        if self.compiled:
            pick = self._selected_compiled
        self.values, self.slowdown, self.has = pick(pool.link.values, self.load.values)
        if self.measured:
            self.obs_values, self.obs_slowdown, _ = pick(self._meas_link, self._meas_load)
        else:
            self.obs_values, self.obs_slowdown = self.values, self.slowdown

    def _selected(self, link_values: np.ndarray, load_values: np.ndarray) -> tuple[np.ndarray, ...]:
        """The selected collaborator's link and the factors ``(d_u, d_h)`` per copy."""
        pool = self.pool
        sel = pool.selected
        has = sel >= 0
        flat = np.maximum(sel, 0)
        flat += pool.flat_rows  # row e * m + selected of the candidate arrays
        values = link_values.take(flat, axis=0)
        slowdown = np.empty((sel.size, 2))
        slowdown[:, 0] = self.d_u
        own = pool.base_factor if pool.own is None else pool.own.reshape(-1).take(flat)
        np.divide(own, pool.avail.reshape(-1).take(flat), out=slowdown[:, 1])
        if not has.all():  # sentinel frame: no collaborator
            none = np.flatnonzero(~has)
            values[none] = (NO_LINK_MBPS, NO_LINK_MS)
            slowdown[none, 1] = NO_COLLAB_FACTOR
        if self.load.enabled:
            slowdown *= load_values
        return values, slowdown, has

    def _selected_compiled(
        self, link_values: np.ndarray, load_values: np.ndarray
    ) -> tuple[np.ndarray, ...]:
        """:meth:`_selected` by the compiled kernel (same arithmetic)."""
        pool = self.pool
        num = pool.selected.shape[0]
        values, slowdown, has = np.empty((num, 2)), np.empty((num, 2)), np.empty(num, dtype=bool)
        kernels.d2d_selected(
            link_values, load_values if self.load.enabled else _NO_LOAD, pool.selected,
            _NO_LOAD if pool.own is None else pool.own, pool.avail, pool.base_factor, self.d_u,
            _NO_COLLABORATOR, values, slowdown, has,
        )  # fmt: skip
        return values, slowdown, has

    def _selected_one(
        self, link_values: np.ndarray, load_values: np.ndarray
    ) -> tuple[np.ndarray, ...]:
        """:meth:`_selected` for one copy in plain Python (same arithmetic)."""
        pool = self.pool
        sel = int(pool.selected[0])
        if sel >= 0:
            b, lat = link_values[sel].tolist()
            own = pool.base_factor if pool.own is None else float(pool.own[0, sel])
            d_h = own / float(pool.avail[0, sel])
        else:
            b, lat, d_h = NO_LINK_MBPS, NO_LINK_MS, NO_COLLAB_FACTOR
        slowdown = np.array([[self.d_u, d_h]])
        if self.load.enabled:
            slowdown *= load_values
        return np.array([[b, lat]]), slowdown, np.array([sel >= 0])

    def reset(self, rng: np.random.Generator, num: int, offset=None) -> None:
        self.load.reset(rng, num)
        self.pool.reset(rng, num, offset=offset)
        # the first frame's measurement is the frame itself
        self._meas_link, self._meas_load = self.pool.link.values, self.load.values
        self._refresh()

    def reset_where(self, rng: np.random.Generator, mask: np.ndarray, offset=None) -> None:
        self.load.reset_where(rng, mask)
        self.pool.reset_where(rng, mask, offset=offset)
        if self.measured and mask.any():
            rows = np.repeat(mask, self.m)
            self._meas_link = self._meas_link.copy()
            self._meas_link[rows] = self.pool.link.values[rows]
            self._meas_load = self._meas_load.copy()
            self._meas_load[mask] = self.load.values[mask]
        self._refresh()

    def step(self, rng: np.random.Generator) -> None:
        # processes store a new values array per call, so keeping references is safe
        meas_link, meas_load = self.pool.link.values, self.load.values
        self.load.step(rng)
        self.pool.step(rng)
        if self.measured:
            joined = self.pool.joined
            if joined is not None:  # measured when it joins
                rows = np.flatnonzero(joined)  # a few rows: integer indexing beats a mask
                meas_link = meas_link.copy()
                meas_link[rows] = self.pool.link.values[rows]
            self._meas_link, self._meas_load = meas_link, meas_load
        self._refresh()

    @property
    def available(self) -> np.ndarray:
        return self.has

    def observe(self) -> np.ndarray:
        num, m = self.num, self.m
        pool = self.pool
        if self.compiled:
            obs = np.empty((num, self.obs_dim), dtype=np.float32)
            kernels.d2d_observe(
                self.obs_values, self.obs_slowdown, self.has, pool.status, pool.avail,
                self._obs_links, pool.selected, _STATE_FLAGS, self.static.latency,
                self.static.compute_scale, *self._link_scales, self._template, self._cs.start,
                self._cand, obs,
            )  # fmt: skip
            return obs
        if pool.scalar and num == 1:
            return self._observe_one()
        if self._buf_num != num:
            self._alloc_buffers(num)
        obs = np.empty((num, self.obs_dim), dtype=np.float32)
        obs[:] = self._template
        col = self._col  # squash column by column: a (num, 2) / (2,) broadcast is slower
        for j, scale in enumerate(self._link_scales):
            x = self.obs_values[:, j]
            np.divide(x, np.add(x, scale, out=col), out=obs[:, j])
        obs[:, 2:4] = squash(self.obs_slowdown, FACTOR_SCALE)
        obs[:, 4] = self.has
        if self.load.enabled:
            self.static.compute_into(obs, self._cs.start, self.obs_slowdown)
        else:  # the user's column is constant (in the template): only the collaborator's
            c, c2 = self._c
            np.multiply(self.static.latency, self.obs_slowdown[:, 1:2], out=c)
            np.add(c, self.static.compute_scale, out=c2)
            np.divide(c, c2, out=obs[:, self._cs.start + 1 : self._cs.stop : 2])
        # Per candidate (a strided float32 view): flags from the state, then masked values.
        # Written straight into the observation from preallocated float64 scratch; the same
        # float64 arithmetic as _observe_one, rounded once to float32.
        cand = obs[:, self._cand :].reshape(num, m, 6)
        status = pool.status
        np.equal(status, AVAILABLE, out=cand[:, :, 0])
        np.equal(status, OVERLOADED, out=cand[:, :, 1])
        present, conn = self._flag_bufs
        np.not_equal(status, ABSENT, out=present)
        np.multiply(pool.avail, present, out=cand[:, :, 2])
        np.take(_CONNECTED, status, out=conn, mode="clip")  # status is always in 0..3
        sq, lv = self._sq, self._obs_links  # lv: (num * m, 2)
        np.add(lv, self._scales_tile, out=sq)
        np.divide(lv, sq, out=sq)
        sq = sq.reshape(num, m, 2)
        np.multiply(sq[:, :, 0], conn, out=cand[:, :, 3])
        lat = sq[:, :, 1]
        np.subtract(1.0, lat, out=lat)
        lat *= conn
        np.subtract(1.0, lat, out=cand[:, :, 4])
        # "selected" flags: zero in the template; one 1 per copy with a collaborator
        hit = self._sel_base[self.has] + 6 * pool.selected[self.has]
        obs.reshape(-1)[hit] = 1.0
        return obs

    def _alloc_buffers(self, num: int) -> None:
        # Scratch for the batched observe(): large fresh temporaries every frame cost more
        # than the arithmetic at thousands of copies (allocation, heap trimming, page faults).
        self._c = np.empty((2, num, self.n))
        self._col = np.empty(num)
        self._flag_bufs = np.empty((2, num, self.m), dtype=bool)
        self._sq = np.empty((num * self.m, 2))
        self._scales_tile = np.tile(D2D_LINK_SCALES, (num * self.m, 1))
        # flat index of candidate 0's "selected" entry in each row of the observation
        self._sel_base = np.arange(num) * self.obs_dim + self._cand + 5
        self._buf_num = num

    def _observe_one(self) -> np.ndarray:
        """:meth:`observe` for one copy in plain Python floats (the same float64 arithmetic,
        so the float32 observation is bit-identical to the batched path)."""
        pool = self.pool
        obs = self._template.copy()
        (b, lat), (d_u, d_h) = self.obs_values[0].tolist(), self.obs_slowdown[0].tolist()
        sb, sl = self._link_scales
        obs[:5] = [b / (b + sb), lat / (lat + sl), d_u / (d_u + FACTOR_SCALE),
                   d_h / (d_h + FACTOR_SCALE), float(self.has[0])]  # fmt: skip
        cs = self.static.compute_scale
        if self.load.enabled:
            obs[self._cs] = self.static.compute(self.obs_slowdown)[0]
        else:
            c = [x * d_h for x in self._latency]
            obs[self._cs.start + 1 : self._cs.stop : 2] = [x / (x + cs) for x in c]
        sel = int(pool.selected[0])
        cand: list[float] = []
        flags = _STATE_FLAGS_LISTS
        for j, (st, av, (bj, lj)) in enumerate(
            zip(
                pool.status[0].tolist(),
                pool.avail[0].tolist(),
                self._obs_links.tolist(),
                strict=True,
            )
        ):
            f = flags[st]
            conn = f[3]
            cand += (f[0], f[1], av * f[2], bj / (bj + sb) * conn,
                     1.0 - conn * (1.0 - lj / (lj + sl)), float(sel == j))  # fmt: skip
        obs[self._cand :] = cand
        return obs[None]

    @property
    def _obs_links(self) -> np.ndarray:
        """Every candidate's observed link, ``(num * m, 2)``."""
        return self._meas_link if self.measured else self.pool.link.values

    def links_one(self, measured: bool = False) -> LinkMatrices:
        """Link matrices of the frame (``measured``: of the last measurement), RTT scaled."""
        b, lat = (self.obs_values if measured else self.values)[0].tolist()
        if self.latency_scale != 1.0:  # v1 one-way reading (docs/model.md §10)
            lat *= self.latency_scale
        return d2d_links(b, lat, validate=False)

    def links_batch(self, measured: bool = False) -> LinkMatrices:
        v = self.obs_values if measured else self.values
        lat = v[:, 1] if self.latency_scale == 1.0 else v[:, 1] * self.latency_scale
        return d2d_links(v[:, 0], lat, validate=False)

    def network_one(self) -> dict[str, float]:
        has = bool(self.has[0])
        b, lat = self.values[0].tolist()
        out = {
            "b": b if has else 0.0,
            "l": lat if has else float("inf"),
            "collaborator": int(self.pool.selected[0]),
            "d_h": float(self.slowdown[0, 1]) if has else float("inf"),
        }
        if self.load.enabled:
            out["d_u"] = float(self.slowdown[0, 0])
        return out

    def network_batch(self) -> dict[str, np.ndarray]:
        has = self.has
        out = {
            "b": np.where(has, self.values[:, 0], 0.0),
            "l": np.where(has, self.values[:, 1], np.inf),
            "collaborator": self.pool.selected.copy(),
            "d_h": np.where(has, self.slowdown[:, 1], np.inf),
        }
        if self.load.enabled:
            out["d_u"] = self.slowdown[:, 0].copy()
        return out


class FrameReadings:
    """Where an observation holds the frame's readings, and the observation other readings
    would give: what a policy sees when told the frame is ``readings`` rather than what was
    measured (e.g. a forecast of it; docs/model.md §13).

    Readings ``(B, F)`` in the order of :attr:`fields`: MEC ``b_te_up, b_te_down, b_ec_up,
    b_ec_down`` (Mbps), ``l_te, l_ec`` (ms), the effective ``d_t, d_e, d_c``; D2D the selected
    collaborator's ``b`` (Mbps), ``l`` (ms) and the effective ``d_u, d_h`` — the
    ``info["network"]`` keys of the same values. :meth:`write` replaces every entry of the
    simulator's observation that they determine: MEC entries 0-8 and the compute entries;
    D2D entries 0-3, the compute entries and the selected candidate's ``b``, ``l`` (the other
    candidates' links stay as observed). D2D rows without a collaborator are returned
    unchanged: nothing offloads there. Only the simulator's layout (no ``dp_features`` or
    ``history`` entries, which depend on more than the frame): other widths are refused.
    The simulators take their layout from here (:attr:`obs_dim`, :attr:`compute`,
    :attr:`cand`).

    Args:
        scenario: ``"mec"`` or ``"d2d"``.
        block_latency: Each block's latency at ``d = 1`` (ms), the profile's.
        candidates: D2D: the number of candidate collaborators ``m`` (``None``: :meth:`read`
            only).
    """

    def __init__(
        self, scenario: str, block_latency: np.ndarray, candidates: int | None = None
    ) -> None:
        if scenario not in ("mec", "d2d"):
            raise ValueError(f"scenario must be one of ['mec', 'd2d'], got {scenario!r}")
        self.scenario = scenario
        self.latency = np.asarray(block_latency, dtype=np.float64)
        self.compute_scale = _safe_max(self.latency)
        n = self.n = self.latency.size
        if scenario == "mec":
            self.fields: tuple[str, ...] = (*MEC_LINK_FIELDS, "d_t", "d_e", "d_c")
            self.scales = np.concatenate([MEC_LINK_SCALES, np.full(3, FACTOR_SCALE)])
            self.m: int | None = 0
            self.obs_dim: int | None = 9 + 6 * n
            #: the compute entries (block-major, ``n * P``) and where the candidates start
            self.compute = slice(9, 9 + 3 * n)
            self.cand: int | None = None
        else:
            self.fields = (*D2D_LINK_FIELDS, "d_u", "d_h")
            self.scales = np.concatenate([D2D_LINK_SCALES, np.full(2, FACTOR_SCALE)])
            self.m = None if candidates is None else int(candidates)
            self.compute = slice(5, 5 + 2 * n)
            self.cand = 5 + 5 * n  # after the compute, energy, input- and output-size entries
            self.obs_dim = None if self.m is None else self.cand + 6 * self.m

    @classmethod
    def of_width(cls, scenario: str, block_latency: np.ndarray, obs_dim: int) -> FrameReadings:
        """The layout whose observations have ``obs_dim`` entries (D2D: the number of
        candidates follows from it); ValueError when no layout of the simulator has that
        width (e.g. an observation with ``dp_features`` or ``history`` entries)."""
        layout = cls(scenario, block_latency, 0)
        if scenario == "d2d":
            m, rest = divmod(obs_dim - layout.cand, 6)
            layout = cls(scenario, block_latency, m) if rest == 0 and m >= 1 else layout
        if layout.obs_dim != obs_dim:
            raise ValueError(
                f"{obs_dim} observation values, not the {scenario} simulator's layout for "
                f"{layout.n} blocks (no dp_features or history entries)"
            )
        return layout

    def read(self, obs: np.ndarray) -> np.ndarray:
        """The readings ``(B, F)`` an observation batch holds (the squash undone, float64;
        the observation may carry appended entries)."""
        x = np.asarray(obs, dtype=np.float64)[:, : len(self.fields)]
        x = np.clip(x, 1e-12, 1.0 - 1e-7)  # float32 rounding can reach 0 or 1
        return self.scales * x / (1.0 - x)

    def write(self, obs: np.ndarray, readings: np.ndarray) -> np.ndarray:
        """A copy of ``obs`` ``(B, obs_dim)`` whose entries are those of ``readings``
        ``(B, F)``, computed as the simulator computes them (float64, rounded once)."""
        if self.obs_dim is None:
            raise ValueError("FrameReadings.write needs the D2D layout's candidates")
        obs = np.asarray(obs, dtype=np.float32)
        v = np.asarray(readings, dtype=np.float64)
        F = len(self.fields)
        if obs.ndim != 2 or obs.shape[1] != self.obs_dim:
            raise ValueError(
                f"obs must have shape (batch, {self.obs_dim}) (the {self.scenario} simulator's "
                f"layout, no dp_features or history entries), got {obs.shape}"
            )
        if v.shape != (obs.shape[0], F):
            raise ValueError(f"readings must have shape ({obs.shape[0]}, {F}), got {v.shape}")
        out = obs.copy()
        if self.scenario == "mec":
            out[:, :F] = squash(v, self.scales)
            out[:, self.compute] = squashed_compute(self.latency, self.compute_scale, v[:, 6:9])
            return out
        rows = np.flatnonzero(obs[:, 4] > 0.5)  # a collaborator (the readings then are finite)
        v = v[rows]
        sq = squash(v, self.scales)
        out[rows, :F] = sq
        out[rows, self.compute] = squashed_compute(self.latency, self.compute_scale, v[:, 2:4])
        cand = out[rows, self.cand :].reshape(-1, self.m, 6)
        r, j = np.nonzero(cand[:, :, 5] > 0.5)  # the selected candidate: one per row
        cand[r, j, 3] = sq[r, 0]
        cand[r, j, 4] = sq[r, 1]
        out[rows, self.cand :] = cand.reshape(len(rows), -1)
        return out
