"""The partitioning cost of a chain (docs/model.md §4-§7): reference and fast paths.

Both partitioning scenarios are *chains*: block ``i`` runs on platform ``S_i`` (``S_0`` is the
user's device, platform 0), each block adds a compute term that depends on ``S_i`` alone and
a transfer term that depends on ``(S_{i-1}, S_i)``, and the result returns from ``S_n`` to the
device. :class:`ChainCostModel` evaluates such chains for one decision or a batch of them
and is shared by MEC (3 platforms) and D2D (2 platforms); the scenario-specific part is only
the link matrices (:mod:`envs.model.links`). Moving ``G`` KB from ``a`` to ``b`` takes
``x = G * ms_per_kb[a, b] + latency_ms[a, b]`` ms and costs the device
``x * power_mw[a, b] * MW_MS_TO_J`` J (:func:`envs.model.layers.transfer_ms`).

The chain cost is written once as a reference and beside it the fast paths that must agree
with it (``tests/test_model_equivalence.py`` checks every pair):

* ``_evaluate_batch`` (numpy, batched, early exits): the reference;
* ``_evaluate_batch_plain`` (numpy, batched, no exits, few temporaries): equal to the reference;
* ``_evaluate_one`` (plain Python, one decision; the single env's path);
* ``kernels.chain_cost`` (numba, one pass in chain order): bit for bit ``_evaluate_one``.

The oracle's weighted terms are :func:`node_const` (per block and platform, without compute)
and :func:`weighted_moves` (per pair), used by :meth:`ChainCostModel.chain_terms` and
:mod:`envs.model.dp`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from envs.model import kernels
from envs.model.layers import BlockCosts, exit_branch_costs
from envs.model.links import LinkMatrices
from envs.model.units import MW_MS_TO_J

if TYPE_CHECKING:
    from envs.dnn import DNNProfile


@dataclass(frozen=True)
class EarlyExits:
    """Exit branches (docs/model.md §6): ``probs[i]`` = conditional exit probability after block i.

    Each branch is one FC layer from block i's output to ``num_classes`` logits. A branch is
    evaluated only where the result crosses platforms (``S_i != S_{i+1}``); on exit the
    ``num_classes`` float32 logits return from ``S_i`` to the device and later blocks are
    skipped. The last block has no branch (its probability is ignored).
    """

    probs: tuple[float, ...]
    num_classes: int = 10

    def __post_init__(self) -> None:
        p = np.asarray(self.probs, dtype=np.float64)
        if p.ndim != 1 or not np.all(np.isfinite(p) & (p >= 0) & (p <= 1)):
            raise ValueError(
                f"early_exit probs must be a list of values in [0, 1], got {self.probs}"
            )
        if self.num_classes < 1:
            raise ValueError(f"early_exit num_classes must be >= 1, got {self.num_classes}")


class CostBreakdown(NamedTuple):
    """Latency (ms), device energy (J), deployment overhead and weighted cost; scalars or (B,)."""

    latency_ms: np.ndarray
    energy_j: np.ndarray
    overhead: np.ndarray
    cost: np.ndarray


class ChainTerms(NamedTuple):
    """Weighted cost terms of a chain under one state, for the oracle (docs/model.md §7).

    ``node[..., i, s]``: block i on s (compute, device energy, overhead);
    ``edge_kb[..., p, s]`` and ``edge_0[..., p, s]``: the cost of moving ``G`` KB from p to s
    is ``G * edge_kb + edge_0``; ``branch[..., i, s]``: evaluating exit branch i on s;
    ``exit_ret[..., s]``: returning exit logits from s; ``probs[i]``: exit probabilities.
    """

    node: np.ndarray
    edge_kb: np.ndarray
    edge_0: np.ndarray
    branch: np.ndarray
    exit_ret: np.ndarray
    probs: np.ndarray


def node_const(
    energy_j: np.ndarray,
    overhead_weights: np.ndarray,
    d_energy: float,
    eta_energy: float,
    eta_overhead: float,
) -> np.ndarray:
    """``(n, P)``: the weighted cost of block ``i`` on platform ``s`` apart from its compute
    time: ``eta_overhead * w[s] / n``, plus ``eta_energy * d_energy * energy_j[i]`` on the
    device (``s = 0``). The oracle's node term is ``latency_ms[i] * slowdown[s]`` plus this."""
    n = energy_j.shape[0]
    c = np.zeros((n, overhead_weights.shape[0])) + eta_overhead * overhead_weights / n
    c[:, 0] += eta_energy * d_energy * energy_j
    return c


def weighted_moves(
    ms_per_kb: np.ndarray, latency_ms: np.ndarray, power_mw: np.ndarray, eta_energy: float
) -> tuple[np.ndarray, np.ndarray]:
    """``(edge_kb, edge_0)`` (shapes of the links): moving ``G`` KB from ``a`` to ``b`` costs
    ``G * edge_kb[a, b] + edge_0[a, b]``, time plus ``eta_energy`` times the radio energy
    (scale ``1 + (eta_energy * MW_MS_TO_J) * power_mw``; compiled:
    ``kernels._weighted_moves``). :meth:`ChainCostModel.chain_terms` groups the product as
    ``eta_energy * power_mw * MW_MS_TO_J``, as the exits DP does."""
    scale = 1.0 + (eta_energy * MW_MS_TO_J) * power_mw
    return ms_per_kb * scale, latency_ms * scale


class ChainCostModel:
    """Cost of partitioning decisions for one profile (docs/model.md §4-§6).

    One decision under one state is evaluated in plain Python (a loop over ~20 blocks is
    several times faster than numpy's per-call overhead, and the single env does this every
    step); batches are numpy-vectorised over the batch. Both give the same numbers (tested).

    Args:
        profile: the DNN profile.
        num_platforms: 3 for MEC (device, edge, cloud), 2 for D2D (user, collaborator).
        overhead_weights: ``w[s]`` per platform; ``D = mean_i w[S_i]`` (docs/model.md §4). Zeros for D2D.
        early_exits: optional :class:`EarlyExits`.
    """

    def __init__(
        self,
        profile: DNNProfile,
        num_platforms: int,
        overhead_weights: Sequence[float] | None = None,
        early_exits: EarlyExits | None = None,
    ) -> None:
        if num_platforms not in (2, 3):
            raise ValueError(f"num_platforms must be 2 (D2D) or 3 (MEC), got {num_platforms}")
        self.profile = profile
        self.n = profile.n_blocks
        self.P = num_platforms
        self.blocks = BlockCosts.from_profile(profile)
        w = (
            np.zeros(num_platforms)
            if overhead_weights is None
            else np.asarray(overhead_weights, dtype=np.float64)
        )
        if w.shape != (num_platforms,) or not np.all(np.isfinite(w)):
            raise ValueError(
                f"overhead_weights must be {num_platforms} finite values, got {overhead_weights}"
            )
        self.overhead_weights = w
        self.early_exits = early_exits
        # Batched evaluation in chain order by the compiled kernel (envs/model/kernels.py) where
        # numba is available: bit-identical to the scalar path. v1 envs turn it on; v0 keeps
        # numpy's sums so that its results stay identical for a seed.
        self.sequential_batch = False
        self._out_one = np.empty((4, 1))  # the compiled single-decision path's output
        self._node_consts: dict[tuple[float, float, float], np.ndarray] = {}
        self.exit_probs = np.zeros(self.n)
        self.branch_latency_ms = np.zeros(self.n)
        self.branch_energy_j = np.zeros(self.n)
        self.exit_kb = 0.0
        if early_exits is not None:
            p = np.asarray(early_exits.probs, dtype=np.float64)
            if p.shape != (self.n,):
                raise ValueError(
                    f"early_exit probs must have one value per block (n={self.n}), got {len(p)}"
                )
            self.exit_probs = p.copy()
            self.exit_probs[-1] = 0.0  # no branch after the last block
            self.branch_latency_ms, self.branch_energy_j, self.exit_kb = exit_branch_costs(
                self.blocks.out_kb, early_exits.num_classes
            )
        # Python copies for the scalar path.
        self._lat = self.blocks.latency_ms.tolist()
        self._en = self.blocks.energy_j.tolist()
        self._gin = self.blocks.in_kb.tolist()
        self._gout = float(self.blocks.out_kb[-1])
        self._w = self.overhead_weights.tolist()
        self._p = self.exit_probs.tolist()
        self._brl = self.branch_latency_ms.tolist()
        self._bre = self.branch_energy_j.tolist()

    @property
    def _kernel_one(self) -> bool:
        # one decision by the compiled kernel: only without early exits (the scalar path
        # handles them) and where the batched path uses it too
        return self.sequential_batch and kernels.AVAILABLE and self.early_exits is None

    # ------------------------------------------------------------------ helpers
    def check_decisions(self, decisions) -> np.ndarray:
        """Validate decisions (ints in ``[0, P)``, shape ``(n,)`` or ``(B, n)``) as an int array."""
        s = np.asarray(decisions)
        if s.ndim not in (1, 2) or s.shape[-1] != self.n:
            raise ValueError(
                f"decision must have shape (n,) or (batch, n) with n={self.n}, got {s.shape}"
            )
        if s.dtype.kind not in "iu":
            if not np.all(np.isfinite(s)) or np.any(s != np.round(s)):
                raise ValueError(
                    f"decision entries must be integers in [0, {self.P}), got {decisions}"
                )
            s = s.astype(np.int64)
        if s.size and (s.min() < 0 or s.max() >= self.P):
            raise ValueError(
                f"decision entries must be in [0, {self.P}), got min {s.min()} max {s.max()}"
            )
        return s

    def frame_table(self, d_energy: float, eta_energy: float, eta_overhead: float) -> np.ndarray:
        """The constants of :func:`kernels.frame_outcome` (the compiled frame) for one
        weighting: block costs, input sizes, overhead weights, output size, weights."""
        b = self.blocks
        return kernels.frame_table(
            b.latency_ms, b.energy_j, b.in_kb, self.overhead_weights, self._gout,
            d_energy, eta_energy, eta_overhead,
        )  # fmt: skip

    def compute_ms(self, slowdown) -> np.ndarray:
        """Per-block compute latency on each platform, ``(..., n, P)``; ``slowdown = (..., P)`` d factors."""
        return (
            self.blocks.latency_ms[:, None] * np.asarray(slowdown, dtype=np.float64)[..., None, :]
        )

    def node_const(self, d_energy: float, eta_energy: float, eta_overhead: float) -> np.ndarray:
        """:func:`node_const` of this model (cached per weighting; do not modify)."""
        key = (d_energy, eta_energy, eta_overhead)
        c = self._node_consts.get(key)
        if c is None:
            c = node_const(
                self.blocks.energy_j, self.overhead_weights, d_energy, eta_energy, eta_overhead
            )
            if len(self._node_consts) >= 64:  # weightings are few; bound the cache regardless
                self._node_consts.clear()
            self._node_consts[key] = c
        return c

    # --------------------------------------------------------------- evaluation
    def evaluate(
        self,
        decisions,
        links: LinkMatrices,
        slowdown,
        *,
        d_energy: float = 1.0,
        eta_energy: float = 0.0,
        eta_overhead: float = 0.0,
        exit_draws: np.ndarray | None = None,
        in_kb_scale: np.ndarray | None = None,
    ) -> CostBreakdown:
        """Latency, energy, overhead and ``cost = T + η_E·E + η_D·D`` of decisions.

        Args:
            decisions: ints of shape ``(n,)`` or ``(B, n)`` (platform per block).
            links: from :func:`mec_links`/:func:`d2d_links`, unbatched or batched with ``B``.
            slowdown: capability factors ``(P,)`` or ``(B, P)``, e.g. ``(d_T, d_E, d_C)``.
            d_energy: the energy factor ``d_e`` (docs/model.md §3).
            eta_energy, eta_overhead: the weights η1, η2 (MEC) or η (D2D, overhead 0).
            exit_draws: with early exits, uniforms shaped like ``decisions``: the sample exits
                at the first crossing block ``i`` with ``draw[i] < p_i``. ``None`` gives the
                expected cost (docs/model.md §6).
            in_kb_scale: optional multiplier of each block's input size (e.g. JALAD's
                quantised features), shape ``(n,)`` or like ``decisions``.
        Returns:
            :class:`CostBreakdown`: floats for one decision, ``(B,)`` arrays for a batch.
        """
        if (
            type(decisions) is np.ndarray
            and decisions.ndim == 1
            and decisions.dtype.kind in "iu"
            and links.ms_per_kb.ndim == 2
            and in_kb_scale is None
            and decisions.shape[0] == self.n
        ):  # the single-env hot path: validate on the Python list we need anyway
            dec = decisions.tolist()
            if min(dec) >= 0 and max(dec) < self.P:
                if (
                    self._kernel_one
                    and exit_draws is None
                    and decisions.dtype == np.int64
                    and type(slowdown) is np.ndarray
                    and slowdown.shape == (self.P,)
                ):
                    P, out = self.P, self._out_one
                    kernels.chain_cost(
                        decisions.reshape(1, -1), links.ms_per_kb.reshape(1, P, P),
                        links.latency_ms.reshape(1, P, P), links.power_mw.reshape(1, P, P),
                        slowdown.reshape(1, -1), self.blocks.latency_ms, self.blocks.energy_j,
                        self.blocks.in_kb, self._gout, self.overhead_weights, float(d_energy),
                        float(eta_energy), float(eta_overhead), out,
                    )  # fmt: skip
                    return CostBreakdown(*out.ravel().tolist())
                sp1 = slowdown.tolist() if type(slowdown) is np.ndarray else list(slowdown)
                if len(sp1) == self.P:
                    draws = (
                        None
                        if exit_draws is None
                        else np.asarray(exit_draws, dtype=np.float64).tolist()
                    )
                    return self._evaluate_one(
                        dec, links, sp1, d_energy, eta_energy, eta_overhead, draws
                    )
        s = self.check_decisions(decisions)
        sp = np.asarray(slowdown, dtype=np.float64)
        if s.ndim == 1 and np.ndim(links.ms_per_kb) == 2 and sp.ndim == 1 and in_kb_scale is None:
            draws = (
                None if exit_draws is None else np.asarray(exit_draws, dtype=np.float64).tolist()
            )
            return self._evaluate_one(
                s.tolist(), links, sp.tolist(), d_energy, eta_energy, eta_overhead, draws
            )
        res = self._evaluate_batch(
            s if s.ndim == 2 else s[None],
            links,
            sp,
            d_energy,
            eta_energy,
            eta_overhead,
            exit_draws,
            in_kb_scale,
        )
        if s.ndim == 1:
            return CostBreakdown(*(float(v[0]) for v in res))
        return res

    def _evaluate_one(
        self, s: list[int], links: LinkMatrices, sp: list[float], d_energy, eta_e, eta_d, draws
    ) -> CostBreakdown:
        K, L, PW = links.ms_per_kb.tolist(), links.latency_ms.tolist(), links.power_mw.tolist()
        lat, en, gin, w = self._lat, self._en, self._gin, self._w
        exits = self.early_exits is not None
        T = E = D = 0.0
        reach = 1.0
        prev = 0
        for i, si in enumerate(s):
            t = lat[i] * sp[si]
            e = en[i] * d_energy if si == 0 else 0.0
            if si != prev:
                x = gin[i] * K[prev][si] + L[prev][si]
                t += x
                e += x * PW[prev][si] * MW_MS_TO_J
            T += reach * t
            E += reach * e
            D += reach * w[si]
            if exits and i + 1 < self.n and s[i + 1] != si:
                # exit branch evaluated on S_i; on exit the logits go S_i -> device
                p = self._p[i] if draws is None else float(draws[i] < self._p[i])
                x = (self.exit_kb * K[si][0] + L[si][0]) if si != 0 else 0.0
                T += reach * (self._brl[i] * sp[si] + p * x)
                E += reach * (
                    (self._bre[i] * d_energy if si == 0 else 0.0) + p * x * PW[si][0] * MW_MS_TO_J
                )
                reach *= 1.0 - p
            prev = si
        if prev != 0:
            x = self._gout * K[prev][0] + L[prev][0]
            T += reach * x
            E += reach * x * PW[prev][0] * MW_MS_TO_J
        D /= self.n
        return CostBreakdown(T, E, D, T + eta_e * E + eta_d * D)

    def _evaluate_batch(
        self,
        s2: np.ndarray,
        links: LinkMatrices,
        sp: np.ndarray,
        d_energy,
        eta_e,
        eta_d,
        exit_draws,
        in_kb_scale,
    ) -> CostBreakdown:
        if self.early_exits is None:
            return self._evaluate_batch_plain(s2, links, sp, d_energy, eta_e, eta_d, in_kb_scale)
        B = s2.shape[0]
        k, lat, pw = (np.asarray(m) for m in links)
        prev = np.zeros_like(s2)
        prev[:, 1:] = s2[:, :-1]
        if k.ndim == 2:
            kk, ll, pp = k[prev, s2], lat[prev, s2], pw[prev, s2]
            k_ret, l_ret, p_ret = k[s2, 0], lat[s2, 0], pw[s2, 0]
        else:
            r = np.arange(B)[:, None]
            kk, ll, pp = k[r, prev, s2], lat[r, prev, s2], pw[r, prev, s2]
            k_ret, l_ret, p_ret = k[r, s2, 0], lat[r, s2, 0], pw[r, s2, 0]
        rows = np.arange(B)
        k_out, l_out, p_out = k_ret[rows, -1], l_ret[rows, -1], p_ret[rows, -1]
        g_in = (
            self.blocks.in_kb
            if in_kb_scale is None
            else self.blocks.in_kb * np.asarray(in_kb_scale)
        )
        t_in = g_in * kk + ll  # zero where prev == s: the diagonal is zero
        spd = np.broadcast_to(sp, (B, self.P))
        sp_s = np.take_along_axis(spd, s2, axis=1)
        comp = self.blocks.latency_ms * sp_s
        on_dev = s2 == 0
        e_blk = self.blocks.energy_j * d_energy * on_dev + t_in * pp * MW_MS_TO_J
        w = self.overhead_weights[s2]
        t_out = self._gout * k_out + l_out
        e_out = t_out * p_out * MW_MS_TO_J
        cross = np.zeros(s2.shape)
        cross[:, :-1] = s2[:, 1:] != s2[:, :-1]
        if exit_draws is None:
            leave = cross * self.exit_probs
        else:
            leave = cross * (
                np.asarray(exit_draws, dtype=np.float64).reshape(B, self.n) < self.exit_probs
            )
        reach = np.ones_like(cross)
        reach[:, 1:] = np.cumprod(1.0 - leave[:, :-1], axis=1)
        t_ret = self.exit_kb * k_ret + l_ret
        br_t = self.branch_latency_ms * sp_s
        br_e = self.branch_energy_j * d_energy * on_dev
        end = reach[:, -1]
        latency = (reach * (comp + t_in + cross * br_t + leave * t_ret)).sum(1) + end * t_out
        energy = (reach * (e_blk + cross * br_e + leave * t_ret * p_ret * MW_MS_TO_J)).sum(
            1
        ) + end * e_out
        overhead = (reach * w).sum(1) / self.n
        return CostBreakdown(latency, energy, overhead, latency + eta_e * energy + eta_d * overhead)

    def _evaluate_batch_plain(
        self, s2: np.ndarray, links: LinkMatrices, sp, d_energy, eta_e, eta_d, in_kb_scale
    ) -> CostBreakdown:
        """:meth:`_evaluate_batch` without early exits, with few (B, n) temporaries: one flat
        gather per link matrix instead of 3-array fancy indexing (2-3x faster at B ~ 4096)."""
        B, n, P = s2.shape[0], self.n, self.P
        s2 = s2.astype(np.int64, copy=False)  # flat indices below must not overflow
        k, lat, pw = (np.asarray(m) for m in links)
        if self.sequential_batch and kernels.AVAILABLE and in_kb_scale is None:
            spd = np.asarray(sp, dtype=np.float64)
            kernels.check_batch(k, lat, pw, spd, B, P)  # the kernel has no bounds checks
            out = np.empty((4, B))
            kernels.chain_cost(
                s2, *(m.reshape(-1, P, P) for m in (k, lat, pw)),
                spd.reshape(-1, P), self.blocks.latency_ms,
                self.blocks.energy_j, self.blocks.in_kb, self._gout, self.overhead_weights,
                float(d_energy), float(eta_e), float(eta_d), out,
            )  # fmt: skip
            return CostBreakdown(*out)
        # flat index of (state, S_{i-1}, S_i) in the link matrices; S_0 = device
        pair = np.empty_like(s2)
        np.multiply(s2[:, :-1], P, out=pair[:, 1:])
        pair[:, 0] = 0
        pair += s2
        last = s2[:, -1] * P  # (S_n, device): the result goes home
        if k.ndim == 3:
            base = np.arange(0, B * P * P, P * P)
            pair += base[:, None]
            last += base
        kf, lf, pf = k.reshape(-1), lat.reshape(-1), pw.reshape(-1)
        g_in = (
            self.blocks.in_kb
            if in_kb_scale is None
            else self.blocks.in_kb * np.asarray(in_kb_scale)
        )
        t_in = kf.take(pair)
        t_in *= g_in
        t_in += lf.take(pair)  # zero where S_{i-1} == S_i: the diagonal is zero
        e_in = pf.take(pair)
        e_in *= t_in
        e_in *= MW_MS_TO_J
        spd = np.asarray(sp, dtype=np.float64)
        if spd.ndim == 1 or spd.strides[0] == 0:  # one slowdown vector for every state
            t_blk = spd.reshape(-1, P)[0].take(s2)
        else:
            t_blk = np.take_along_axis(np.broadcast_to(spd, (B, P)), s2, axis=1)
        t_blk *= self.blocks.latency_ms
        t_blk += t_in
        e_blk = np.where(s2 == 0, self.blocks.energy_j * d_energy, 0.0)
        e_blk += e_in
        t_out = self._gout * kf.take(last) + lf.take(last)
        latency = t_blk.sum(1) + t_out
        energy = e_blk.sum(1) + t_out * pf.take(last) * MW_MS_TO_J
        overhead = self.overhead_weights.take(s2).sum(1) / n
        return CostBreakdown(latency, energy, overhead, latency + eta_e * energy + eta_d * overhead)

    # ------------------------------------------------------------------- oracle
    def chain_terms(
        self, links: LinkMatrices, slowdown, *, d_energy=1.0, eta_energy=0.0, eta_overhead=0.0
    ) -> ChainTerms:
        """The weighted per-block / per-pair cost terms used by the DP oracle (docs/model.md §7)."""
        k, lat, pw = (np.asarray(m) for m in links)
        sp = np.asarray(slowdown, dtype=np.float64)
        on_dev = np.zeros(self.P)
        on_dev[0] = 1.0
        node = self.compute_ms(sp) + self.node_const(d_energy, eta_energy, eta_overhead)
        scale = 1.0 + eta_energy * pw * MW_MS_TO_J
        edge_kb = k * scale
        edge_0 = lat * scale
        branch = self.branch_latency_ms[:, None] * sp[
            ..., None, :
        ] + eta_energy * d_energy * np.multiply.outer(self.branch_energy_j, on_dev)
        exit_ret = self.exit_kb * edge_kb[..., :, 0] + edge_0[..., :, 0]
        return ChainTerms(node, edge_kb, edge_0, branch, exit_ret, self.exit_probs)
