"""Per-layer cost models and the partitioning cost of a decision (docs/model.md §1, §3-§6).

Both partitioning scenarios are *chains*: block ``i`` runs on platform ``S_i`` (``S_0`` is the
user's device, platform 0), each block adds a compute term that depends on ``S_i`` alone and
a transfer term that depends on ``(S_{i-1}, S_i)``, and the result returns from ``S_n`` to the
device. :class:`ChainCostModel` evaluates such chains for one decision or a batch of them
(numpy-vectorised over the batch) and is shared by MEC (3 platforms) and D2D (2 platforms);
the scenario-specific part is only the link matrices built by :func:`mec_links` and
:func:`d2d_links`.

Units (docs/model.md §1): ms, J, mW, Mbps, KB (1000 bytes). ``x(G, B, L) = 8*G/B + L`` ms.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from envs import kernels
from envs.dnn import DNNProfile
from envs.units import MW_MS_TO_J

# Ren et al. Table 1 (docs/model.md §3): kind -> (alpha, beta, gamma). ReLU and norm have no beta.
LATENCY_COEFS: dict[str, tuple[float, float, float]] = {
    "conv": (6.240e-5, 1.074e-4, -1.938),
    "relu": (1.534e-5, 0.0, 4.844e-1),
    "pool": (1.136e-5, 1.313e-6, -1.695),
    "norm": (5.182e-5, 0.0, 6.497e-1),
    "fc": (9.163e-5, 3.990e-4, 1.172),
    "free": (0.0, 0.0, 0.0),
}
ENERGY_COEFS: dict[str, tuple[float, float, float]] = {
    "conv": (9.240e-7, 1.874e-6, 3.810e-2),
    "relu": (1.435e-6, 0.0, 2.881e-1),
    "pool": (1.410e-6, 1.312e-7, 3.572e-1),
    "norm": (5.187e-6, 0.0, 5.991e-1),
    "fc": (9.213e-6, 4.012e-5, 1.125),
    "free": (0.0, 0.0, 0.0),
}

MEC_PLATFORMS: tuple[str, ...] = ("device", "edge", "cloud")
D2D_PLATFORMS: tuple[str, ...] = ("user", "collaborator")
# docs/model.md §4: deployment overhead weights w[S_i] (the paper's D_cp = sum_{S_i != 1} S_i / n).
MEC_OVERHEAD_WEIGHTS: tuple[float, ...] = (0.0, 2.0, 3.0)
# docs/model.md §4: 5G power P = alpha * B_TE + beta (mW), uplink / downlink (Narayanan et al.).
P5G_UP: tuple[float, float] = (65.0, 11475.97)
P5G_DOWN: tuple[float, float] = (6.5, 11475.97)
# docs/model.md §5: Wi-Fi Direct power P_D2D = 283.17 * B + 132.86 (mW).
P_D2D: tuple[float, float] = (283.17, 132.86)


def layer_latency_ms(kind: str, in_elems: float, out_elems: float, d: float = 1.0) -> float:
    """``d * max(0, α_l*in + β_l*out + γ_l)`` (docs/model.md §3); ``free`` layers cost 0."""
    a, b, g = LATENCY_COEFS[kind]
    return d * max(0.0, a * in_elems + b * out_elems + g)


def layer_energy_j(kind: str, in_elems: float, out_elems: float, d_energy: float = 1.0) -> float:
    """``d_e * max(0, α_e*in + β_e*out + γ_e)`` (docs/model.md §3); ``free`` layers cost 0."""
    a, b, g = ENERGY_COEFS[kind]
    return d_energy * max(0.0, a * in_elems + b * out_elems + g)


def transfer_ms(kb: float | np.ndarray, mbps: float | np.ndarray, latency_ms: float | np.ndarray):
    """``x(G, B, L) = 8*G/B + L``: time in ms to send ``kb`` KB (docs/model.md §1)."""
    return 8.0 * kb / mbps + latency_ms


@dataclass(frozen=True)
class BlockCosts:
    """Per-block base costs of a profile at capability factor 1 (docs/model.md §3).

    ``latency_ms[i]`` is ``T_cp_i`` at ``d = 1`` (scale by ``d_X`` per platform; valid because
    every layer's clamp is applied before the positive factor), ``energy_j[i]`` is ``E_cp_i``
    at ``d_e = 1``.
    """

    latency_ms: np.ndarray
    energy_j: np.ndarray
    in_kb: np.ndarray
    out_kb: np.ndarray

    @classmethod
    def from_profile(cls, profile: DNNProfile) -> BlockCosts:
        lat = [
            sum(layer_latency_ms(x.kind, x.in_elems, x.out_elems) for x in b.layers)
            for b in profile.blocks
        ]
        en = [
            sum(layer_energy_j(x.kind, x.in_elems, x.out_elems) for x in b.layers)
            for b in profile.blocks
        ]
        return cls(
            latency_ms=np.asarray(lat, dtype=np.float64),
            energy_j=np.asarray(en, dtype=np.float64),
            in_kb=np.asarray([b.in_kb for b in profile.blocks], dtype=np.float64),
            out_kb=np.asarray([b.out_kb for b in profile.blocks], dtype=np.float64),
        )


class LinkMatrices(NamedTuple):
    """Transfers between platforms ``a -> b`` (shape ``(..., P, P)``; diagonal unused).

    ``ms_per_kb[a, b] * G + latency_ms[a, b]`` is the full-path transfer time of ``G`` KB;
    ``power_mw[a, b]`` is the device's radio power during it (0 when the device is neither
    sender nor receiver).
    """

    ms_per_kb: np.ndarray
    latency_ms: np.ndarray
    power_mw: np.ndarray


def _check_links(**fields: float | np.ndarray) -> None:
    for name, v in fields.items():
        if isinstance(v, float | int):
            ok = math.isfinite(v) and (v > 0 if name.startswith("b") else v >= 0)
        else:
            arr = np.asarray(v, dtype=np.float64)
            ok = bool(
                np.all(np.isfinite(arr) & ((arr > 0) if name.startswith("b") else (arr >= 0)))
            )
        if not ok:
            what = (
                "bandwidth, Mbps) must be finite and > 0"
                if name.startswith("b")
                else "latency, ms) must be finite and >= 0"
            )
            raise ValueError(f"{name} ({what}, got {v}")


_SCALAR_TYPES = (float, int, np.float64, np.float32, np.int64, np.int32)


def _is_scalar(*vals) -> bool:
    for v in vals:  # a plain loop: this runs every env step
        if type(v) not in _SCALAR_TYPES:
            return False
    return True


def mec_links(
    b_te_up,
    b_te_down,
    b_ec_up,
    b_ec_down,
    l_te,
    l_ec,
    *,
    p_up: tuple[float, float] = P5G_UP,
    p_down: tuple[float, float] = P5G_DOWN,
    validate: bool = True,
) -> LinkMatrices:
    """MEC link matrices on the path T-E-C (docs/model.md §4); inputs scalars or arrays of shape (B,).

    Toward the cloud uses uplinks, toward the device downlinks; T<->C crosses both links.
    The device pays ``P^U`` for the whole path time when it sends and ``P^D`` when it
    receives (Ren et al. eq. 6, with ``L_EC`` in place of ``L_EC/2``, docs/model.md §4).
    """
    vals = (b_te_up, b_te_down, b_ec_up, b_ec_down, l_te, l_ec)
    if validate:
        _check_links(
            **dict(
                zip(
                    ("b_te_up", "b_te_down", "b_ec_up", "b_ec_down", "l_te", "l_ec"),
                    vals,
                    strict=True,
                )
            )
        )
    if _is_scalar(*vals):  # one state: plain floats are ~10x faster than numpy element writes
        bu, bd, cu, cd, lt, lc = (float(v) for v in vals)
        tu, td, eu, ed = 8.0 / bu, 8.0 / bd, 8.0 / cu, 8.0 / cd
        pu = p_up[0] * bu + p_up[1]
        pd = p_down[0] * bd + p_down[1]
        return LinkMatrices(
            np.array([[0.0, tu, tu + eu], [td, 0.0, eu], [td + ed, ed, 0.0]]),
            np.array([[0.0, lt, lt + lc], [lt, 0.0, lc], [lt + lc, lc, 0.0]]),
            np.array([[0.0, pu, pu], [pd, 0.0, 0.0], [pd, 0.0, 0.0]]),
        )
    bu, bd, cu, cd, lt, lc = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in vals))
    shape = bu.shape
    k = np.zeros((*shape, 3, 3))
    lat = np.zeros((*shape, 3, 3))
    pw = np.zeros((*shape, 3, 3))
    te_u, te_d, ec_u, ec_d = 8.0 / bu, 8.0 / bd, 8.0 / cu, 8.0 / cd
    k[..., 0, 1], k[..., 1, 2], k[..., 0, 2] = te_u, ec_u, te_u + ec_u
    k[..., 1, 0], k[..., 2, 1], k[..., 2, 0] = te_d, ec_d, te_d + ec_d
    lat[..., 0, 1] = lat[..., 1, 0] = lt
    lat[..., 1, 2] = lat[..., 2, 1] = lc
    lat[..., 0, 2] = lat[..., 2, 0] = lt + lc
    pu = p_up[0] * bu + p_up[1]
    pd = p_down[0] * bd + p_down[1]
    pw[..., 0, 1] = pw[..., 0, 2] = pu
    pw[..., 1, 0] = pw[..., 2, 0] = pd
    return LinkMatrices(k, lat, pw)


def d2d_links(b, l, *, p_d2d: tuple[float, float] = P_D2D, validate: bool = True) -> LinkMatrices:  # noqa: E741
    """D2D link matrices (docs/model.md §5): one symmetric link; the user pays ``P_D2D`` for every transfer."""
    if validate:
        _check_links(b=b, l=l)
    if _is_scalar(b, l):
        bf, lf = float(b), float(l)
        t, pw = 8.0 / bf, p_d2d[0] * bf + p_d2d[1]
        return LinkMatrices(
            np.array([[0.0, t], [t, 0.0]]),
            np.array([[0.0, lf], [lf, 0.0]]),
            np.array([[0.0, pw], [pw, 0.0]]),
        )
    bb, ll = np.broadcast_arrays(np.asarray(b, dtype=np.float64), np.asarray(l, dtype=np.float64))
    off = np.array([[0.0, 1.0], [1.0, 0.0]])
    return LinkMatrices(
        (8.0 / bb)[..., None, None] * off,
        ll[..., None, None] * off,
        (p_d2d[0] * bb + p_d2d[1])[..., None, None] * off,
    )


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
        # Batched evaluation in chain order by the compiled kernel (envs/kernels.py) where
        # numba is available: bit-identical to the scalar path. v1 envs turn it on; v0 keeps
        # numpy's sums so that its results stay identical for a seed.
        self.sequential_batch = False
        self._out_one = np.empty((4, 1))  # the compiled single-decision path's output
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
            nc = early_exits.num_classes
            out_elems = self.blocks.out_kb * 1000.0 / 4.0
            self.branch_latency_ms = np.array([layer_latency_ms("fc", e, nc) for e in out_elems])
            self.branch_energy_j = np.array([layer_energy_j("fc", e, nc) for e in out_elems])
            self.exit_kb = nc * 4.0 / 1000.0
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

    def compute_ms(self, speed) -> np.ndarray:
        """Per-block compute latency on each platform, ``(..., n, P)``; ``speed = (..., P)`` d factors."""
        return self.blocks.latency_ms[:, None] * np.asarray(speed, dtype=np.float64)[..., None, :]

    # --------------------------------------------------------------- evaluation
    def evaluate(
        self,
        decisions,
        links: LinkMatrices,
        speed,
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
            speed: capability factors ``(P,)`` or ``(B, P)``, e.g. ``(d_T, d_E, d_C)``.
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
                    and type(speed) is np.ndarray
                    and speed.shape == (self.P,)
                ):
                    P, out = self.P, self._out_one
                    kernels.chain_cost(
                        decisions.reshape(1, -1), links.ms_per_kb.reshape(1, P, P),
                        links.latency_ms.reshape(1, P, P), links.power_mw.reshape(1, P, P),
                        speed.reshape(1, -1), self.blocks.latency_ms, self.blocks.energy_j,
                        self.blocks.in_kb, self._gout, self.overhead_weights, float(d_energy),
                        float(eta_energy), float(eta_overhead), out,
                    )  # fmt: skip
                    return CostBreakdown(*out.ravel().tolist())
                sp1 = speed.tolist() if type(speed) is np.ndarray else list(speed)
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
        sp = np.asarray(speed, dtype=np.float64)
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
        if spd.ndim == 1 or spd.strides[0] == 0:  # one speed vector for every state
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
        self,
        links: LinkMatrices,
        speed,
        *,
        d_energy: float = 1.0,
        eta_energy: float = 0.0,
        eta_overhead: float = 0.0,
    ) -> ChainTerms:
        """The weighted per-block / per-pair cost terms used by the DP oracle (docs/model.md §7)."""
        k, lat, pw = (np.asarray(m) for m in links)
        sp = np.asarray(speed, dtype=np.float64)
        on_dev = np.zeros(self.P)
        on_dev[0] = 1.0
        node = self.compute_ms(sp) + (
            eta_energy * d_energy * np.multiply.outer(self.blocks.energy_j, on_dev)
            + eta_overhead * self.overhead_weights / self.n
        )
        scale = 1.0 + eta_energy * pw * MW_MS_TO_J
        edge_kb = k * scale
        edge_0 = lat * scale
        branch = self.branch_latency_ms[:, None] * sp[
            ..., None, :
        ] + eta_energy * d_energy * np.multiply.outer(self.branch_energy_j, on_dev)
        exit_ret = self.exit_kb * edge_kb[..., :, 0] + edge_0[..., :, 0]
        return ChainTerms(node, edge_kb, edge_0, branch, exit_ret, self.exit_probs)
