"""Compiled loops for the batched hot paths of the v1 partitioning envs (numba, optional).

The compiled forms of :mod:`envs.model.chain` (``chain_cost``) and :mod:`envs.model.dp`
(``dp_one``/``dp_solve``/``dp_marginals``), each checked against its numpy/Python reference
in ``tests/test_model_equivalence.py``, plus the observation and link-process loops of the
envs.

numpy pays a full pass over memory per operation; a step at thousands of copies runs dozens
of them over ``(num, n)`` arrays. These kernels do the same float64 arithmetic in one pass
per copy, **in the order of the scalar (single-env) path**, so the vector env reproduces the
single env bit for bit. They are compiled with numba (``cache=True``: the first import in a
checkout compiles them once, later processes load the cache) and used only where a caller
asks for them (the v1 envs); v0 keeps its numpy arithmetic so that its results stay
identical for a seed.

:data:`BACKEND` says which implementation runs: ``"numba"``, or ``"numpy"`` when numba is not
installed or ``EDGERL_NO_NUMBA=1`` is set, in which case callers fall back to their numpy
code (the same formulas; sums over blocks may differ from the scalar path in the last bit).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np

from envs.model.units import MW_MS_TO_J

try:
    if os.environ.get("EDGERL_NO_NUMBA", "") not in ("", "0"):
        raise ImportError("disabled by EDGERL_NO_NUMBA")
    import numba
except ImportError:  # pragma: no cover - exercised by EDGERL_NO_NUMBA=1 in tests
    numba = None

#: ``"numba"`` when the compiled kernels are available, else ``"numpy"``
BACKEND = "numpy" if numba is None else "numba"
AVAILABLE = numba is not None


def _jit(fn: Callable[..., Any], signature: Any = None) -> Callable[..., Any] | None:
    # no fastmath: IEEE operations in source order, so results match the Python path. With
    # signatures only those types are accepted (TypeError otherwise), nothing compiles later.
    if numba is None:
        return None
    jit = (
        numba.njit(cache=True, nogil=True)
        if signature is None
        else numba.njit(signature, cache=True, nogil=True)
    )
    return jit(fn)


jit = _jit  # for compiled loops elsewhere (agents/common/fast_actor.py): same settings


def _chain_cost(
    s2: np.ndarray,  # (B, n) int platform per block
    k: np.ndarray,  # (B or 1, P, P) ms per KB
    lat: np.ndarray,  # (B or 1, P, P) ms
    pw: np.ndarray,  # (B or 1, P, P) mW
    sp: np.ndarray,  # (B or 1, P) capability factors
    blk_lat: np.ndarray,  # (n,) ms at d = 1
    blk_en: np.ndarray,  # (n,) J on the device
    gin: np.ndarray,  # (n,) KB into each block
    gout: float,  # KB of the result
    w: np.ndarray,  # (P,) overhead weights
    d_energy: float,
    eta_e: float,
    eta_d: float,
    out: np.ndarray,  # (4, B): latency, energy, overhead, cost
) -> None:
    B, n = s2.shape
    lk, ls = k.shape[0] > 1, sp.shape[0] > 1
    for b in range(B):
        bl = b if lk else 0
        bs = b if ls else 0
        T = 0.0
        E = 0.0
        D = 0.0
        prev = 0
        for i in range(n):
            si = s2[b, i]
            t = blk_lat[i] * sp[bs, si]
            e = blk_en[i] * d_energy if si == 0 else 0.0
            if si != prev:
                x = gin[i] * k[bl, prev, si] + lat[bl, prev, si]
                t += x
                e += x * pw[bl, prev, si] * MW_MS_TO_J
            T += t
            E += e
            D += w[si]
            prev = si
        if prev != 0:
            x = gout * k[bl, prev, 0] + lat[bl, prev, 0]
            T += x
            E += x * pw[bl, prev, 0] * MW_MS_TO_J
        D /= n
        out[0, b] = T
        out[1, b] = E
        out[2, b] = D
        out[3, b] = T + eta_e * E + eta_d * D


chain_cost = _jit(_chain_cost)


def _d2d_observe(
    obs_values: np.ndarray,  # (num, 2) observed selected link: b (Mbps), l (ms)
    obs_slowdown: np.ndarray,  # (num, 2) observed d_u, d_h
    has: np.ndarray,  # (num,) bool: a collaborator is selected
    status: np.ndarray,  # (num, m) int candidate state
    avail: np.ndarray,  # (num, m) availability
    cand_links: np.ndarray,  # (num * m, 2) observed candidate links
    selected: np.ndarray,  # (num,) int
    flags: np.ndarray,  # (4, 4) state -> (available, overloaded, present, connected)
    latency: np.ndarray,  # (n,) block latency at d = 1
    compute_scale: float,
    sb: float,  # link squash scales
    sl: float,
    template: np.ndarray,  # (obs_dim,) float32 static entries
    cs_start: int,
    cand_start: int,
    out: np.ndarray,  # (num, obs_dim) float32
) -> None:
    """The D2D observation (layout: :class:`envs.partition.sim.D2DSim`) of every copy."""
    num, n, m = out.shape[0], latency.shape[0], status.shape[1]
    for b in range(num):
        row = out[b]
        row[:] = template
        x = obs_values[b, 0]
        row[0] = x / (x + sb)
        x = obs_values[b, 1]
        row[1] = x / (x + sl)
        du = obs_slowdown[b, 0]
        dh = obs_slowdown[b, 1]
        row[2] = du / (du + 1.0)
        row[3] = dh / (dh + 1.0)
        row[4] = 1.0 if has[b] else 0.0
        for i in range(n):
            c = latency[i] * du
            row[cs_start + 2 * i] = c / (c + compute_scale)
            c = latency[i] * dh
            row[cs_start + 2 * i + 1] = c / (c + compute_scale)
        sel = selected[b] if has[b] else -1
        for j in range(m):
            st = status[b, j]
            o = cand_start + 6 * j
            conn = flags[st, 3]
            row[o] = flags[st, 0]
            row[o + 1] = flags[st, 1]
            row[o + 2] = avail[b, j] * flags[st, 2]
            bj = cand_links[b * m + j, 0]
            lj = cand_links[b * m + j, 1]
            row[o + 3] = bj / (bj + sb) * conn
            row[o + 4] = 1.0 - (1.0 - lj / (lj + sl)) * conn
            row[o + 5] = 1.0 if sel == j else 0.0


d2d_observe = _jit(_d2d_observe)


def _mec_observe(
    values: np.ndarray,  # (num, 6) observed links
    slowdown: np.ndarray,  # (num, P) observed capability factors
    link_scales: np.ndarray,  # (6,)
    factor_scale: float,
    load: bool,  # the slowdown entries vary (else they stay the template's)
    latency: np.ndarray,  # (n,) block latency at d = 1
    compute_scale: float,
    template: np.ndarray,  # (obs_dim,) float32 static entries
    cs_start: int,
    out: np.ndarray,  # (num, obs_dim) float32
) -> None:
    """The MEC observation (layout: :class:`envs.partition.sim.MECSim`) of every copy: the
    elementwise ``x / (x + scale)`` of its numpy path in one pass (identical values)."""
    num, n, P = out.shape[0], latency.shape[0], slowdown.shape[1]
    lat = np.empty(n * P)  # block-major latency and factor per entry: contiguous SIMD loops
    fac = np.empty(n * P)
    for i in range(n):
        for p in range(P):
            lat[i * P + p] = latency[i]
    for b in range(num):
        row = out[b]
        row[:] = template
        for f in range(6):
            x = values[b, f]
            row[f] = x / (x + link_scales[f])
        if load:
            for p in range(P):
                x = slowdown[b, p]
                row[6 + p] = x / (x + factor_scale)
                for i in range(n):
                    fac[i * P + p] = x
            for k in range(n * P):
                c = lat[k] * fac[k]
                row[cs_start + k] = c / (c + compute_scale)


mec_observe = _jit(_mec_observe)


def _lognormal_ar_step(
    p: np.ndarray,  # (6, N, F): log mean - sigma^2/2, sigma, rho, sqrt(1-rho^2), p_on, log factor
    z: np.ndarray,  # (N, F) AR(1) state, updated in place
    spike: np.ndarray,  # (N, F) bool spike state, updated in place
    eps: np.ndarray,  # (N, F) standard normal draws
    u: np.ndarray,  # (N, F) uniform draws
    floor: np.ndarray,  # (F,)
    cap: np.ndarray,  # (F,)
    stay: float,  # P(a spike continues)
    out: np.ndarray,  # (N, F) values
) -> None:
    """One step of :class:`envs.mixture.RandomisedLink` (same operations as its numpy path)."""
    N, F = z.shape
    for r in range(N):
        for f in range(F):
            zz = z[r, f] * p[2, r, f] + eps[r, f] * p[3, r, f]
            z[r, f] = zz
            s = u[r, f] < (stay if spike[r, f] else p[4, r, f])
            spike[r, f] = s
            x = p[1, r, f] * zz + p[0, r, f]
            if s:
                x += p[5, r, f]
            x = np.exp(x)
            out[r, f] = min(max(x, floor[f]), cap[f])


lognormal_ar_step = _jit(_lognormal_ar_step)


def _select_candidates(
    status: np.ndarray,  # (num, m) int
    avail: np.ndarray,  # (num, m)
    own: np.ndarray,  # (num, m) own factors, or a (0, 0) array (v0: slowdown = availability)
    links: np.ndarray,  # (num * m, F) candidate links
    ib: int,  # bandwidth column
    il: int,  # latency column
    available: int,  # the AVAILABLE status code
    sticky: bool,
    selected: np.ndarray,  # (num,) int: previous pick in, new pick out (-1: none usable)
) -> None:
    """:meth:`envs.partition.collaborators.CollaboratorPool._select` in one pass (same
    arithmetic: score = s/max(s) + b/max(b) + 1/max(l, 1e-9) over usable candidates)."""
    num, m = status.shape
    has_own = own.shape[0] > 0
    for r in range(num):
        s_max = 1e-300
        b_max = 1e-300
        for j in range(m):
            if status[r, j] == available:
                s = avail[r, j] / own[r, j] if has_own else avail[r, j]
                s_max = max(s_max, s)
                b_max = max(b_max, links[r * m + j, ib])
        pick = -1
        best = -np.inf
        for j in range(m):
            if status[r, j] == available:
                s = avail[r, j] / own[r, j] if has_own else avail[r, j]
                score = s / s_max + links[r * m + j, ib] / b_max
                score += 1.0 / max(links[r * m + j, il], 1e-9)
                if score > best:
                    pick = j
                    best = score
        prev = selected[r]
        if not (sticky and prev >= 0 and status[r, prev] == available):
            selected[r] = pick


select_candidates = _jit(_select_candidates)


def _d2d_selected(
    links: np.ndarray,  # (num * m, 2) candidate links
    load: np.ndarray,  # (num, 2) load slowdown (d_u, d_h) multipliers, or (0, 0): no load
    selected: np.ndarray,  # (num,) int
    own: np.ndarray,  # (num, m) own factors, or (0, 0): every candidate has base_factor
    avail: np.ndarray,  # (num, m)
    base_factor: float,
    d_u: float,
    none: np.ndarray,  # (3,) sentinel b, l, d_h when no collaborator is selected
    values: np.ndarray,  # (num, 2) out: the selected link
    slowdown: np.ndarray,  # (num, 2) out: (d_u, d_h) with load
    has: np.ndarray,  # (num,) bool out
) -> None:
    """:meth:`envs.partition.sim.D2DSim._selected` in one pass (same arithmetic)."""
    num, m = avail.shape
    has_own, has_load = own.shape[0] > 0, load.shape[0] > 0
    for r in range(num):
        j = selected[r]
        if j >= 0:
            values[r, 0] = links[r * m + j, 0]
            values[r, 1] = links[r * m + j, 1]
            d_h = (own[r, j] if has_own else base_factor) / avail[r, j]
        else:
            values[r, 0] = none[0]
            values[r, 1] = none[1]
            d_h = none[2]
        has[r] = j >= 0
        slowdown[r, 0] = d_u * load[r, 0] if has_load else d_u
        slowdown[r, 1] = d_h * load[r, 1] if has_load else d_h


d2d_selected = _jit(_d2d_selected)


def _weighted_moves_py(
    k: np.ndarray,
    lat: np.ndarray,
    pw: np.ndarray,
    bl: int,
    eta_mj: float,
    ekb: np.ndarray,
    e0: np.ndarray,
) -> None:
    """Moving ``G`` KB from s to t costs ``G * ekb[s, t] + e0[s, t]`` with the transfer energy
    weighted in (the oracle's ``scale = 1 + eta * MW_MS_TO_J * P[s, t]``), for state ``bl``."""
    P = ekb.shape[0]
    for s in range(P):
        for t in range(P):
            scale = 1.0 + eta_mj * pw[bl, s, t]
            ekb[s, t] = k[bl, s, t] * scale
            e0[s, t] = lat[bl, s, t] * scale


_weighted_moves = _jit(_weighted_moves_py)


# ------------------------------------------------------------------ exact oracle (DP)
# The constants of one cost model and weighting packed in one float64 vector (one argument
# instead of eight: a compiled call pays ~60 ns per argument), built by ``Oracle._table``
# (envs/model/dp.py).
# Layout for n blocks and P platforms:
#   [out_kb_last, eta_energy * MW_MS_TO_J, eta_energy, has_exits (0/1), exit_kb,
#    latency_ms (n), in_kb (n), node_const (n * P, row-major),
#    exit probs (n), branch latency_ms (n), branch energy term (n)]
# node_const[i, s] = eta_overhead * w[s] / n (+ eta_energy * d_energy * energy_j[i] for s = 0);
# branch energy term = eta_energy * d_energy * branch_energy_j[i] (the device's share).
TABLE_HEAD = 5


def table_size(n: int, P: int) -> int:
    """Length of the packed oracle constants of ``n`` blocks on ``P`` platforms."""
    return TABLE_HEAD + n * (5 + P)


def _dp_chain_py(
    k: np.ndarray,  # (P, P) ms per KB
    lat: np.ndarray,  # (P, P) ms
    pw: np.ndarray,  # (P, P) mW
    sp: np.ndarray,  # (P,) capability factors
    tab: np.ndarray,  # packed constants (layout above)
    work: np.ndarray,  # (2 * P * P + 3 * P,) float scratch
    choice: np.ndarray,  # (n * P,) int scratch
    dec: np.ndarray,  # (n,) int out: the optimal decision
) -> float:
    """Optimal weighted cost of one state (docs/model.md §7): the operations, in order, of
    :mod:`envs.model.dp`'s Python DPs (``_solve_rows`` without early exits, ``solve_terms``
    with them), so costs and decisions are theirs bit for bit. Ties go to the lowest
    platform index (without exits) or to staying on the platform (with exits)."""
    P, n = sp.shape[0], dec.shape[0]
    out_last, eta_mj, eta_e, exits, exit_kb = tab[0], tab[1], tab[2], tab[3] != 0.0, tab[4]
    o_lat = TABLE_HEAD
    o_in = o_lat + n
    o_nc = o_in + n
    o_p = o_nc + n * P
    o_bl = o_p + n
    o_be = o_bl + n
    E0 = P * P  # work: edge_kb (P * P), edge_0 (P * P), V, W, exit return (P each)
    V = 2 * E0
    W = V + P
    R = W + P
    for s in range(P):
        for t in range(P):
            if exits:  # chain_terms: 1 + eta * pw * MW_MS_TO_J
                scale = 1.0 + eta_e * pw[s, t] * MW_MS_TO_J
            else:  # the plain DP: 1 + (eta * MW_MS_TO_J) * pw
                scale = 1.0 + eta_mj * pw[s, t]
            work[s * P + t] = k[s, t] * scale
            work[E0 + s * P + t] = lat[s, t] * scale
    for s in range(P):
        node = tab[o_lat + n - 1] * sp[s] + tab[o_nc + (n - 1) * P + s]
        if exits:
            work[V + s] = node + out_last * work[s * P] + work[E0 + s * P]
            work[R + s] = exit_kb * work[s * P] + work[E0 + s * P]
        else:
            work[V + s] = node + (out_last * work[s * P] + work[E0 + s * P])
    for i in range(n - 2, -1, -1):
        g = tab[o_in + i + 1]
        p = tab[o_p + i]
        q = 1.0 - p
        for s in range(P):
            if exits:  # stay, or leave (branch, exit with p, else move on)
                best = work[V + s]
                arg = s
                br = tab[o_bl + i] * sp[s]
                if s == 0:
                    br += tab[o_be + i]
                leave = br + p * work[R + s]
                for t in range(P):
                    if t != s:
                        c = leave + q * (g * work[s * P + t] + work[E0 + s * P + t] + work[V + t])
                        if c < best:
                            best = c
                            arg = t
            else:
                best = g * work[s * P] + work[E0 + s * P] + work[V]
                arg = 0
                for t in range(1, P):
                    c = g * work[s * P + t] + work[E0 + s * P + t] + work[V + t]
                    if c < best:
                        best = c
                        arg = t
            work[W + s] = tab[o_lat + i] * sp[s] + tab[o_nc + i * P + s] + best
            choice[i * P + s] = arg
        for s in range(P):
            work[V + s] = work[W + s]
    g = tab[o_in]  # the input of block 0 starts on the device
    best = work[V] if exits else g * work[0] + work[E0] + work[V]
    s = 0
    for t in range(1, P):
        c = g * work[t] + work[E0 + t] + work[V + t]
        if c < best:
            best = c
            s = t
    dec[0] = s
    for i in range(n - 1):
        s = choice[i * P + s]
        dec[i + 1] = s
    return best


_dp_chain = _jit(_dp_chain_py)


def _dp_one(
    k: np.ndarray,  # (P, P)
    lat: np.ndarray,  # (P, P)
    pw: np.ndarray,  # (P, P)
    sp: np.ndarray,  # (P,)
    tab: np.ndarray,  # packed constants
    dec: np.ndarray,  # (n,) int out
) -> float:
    """:func:`_dp_chain` of one state (the scalar oracle: six arguments, shapes checked
    here); NaN when a shape does not fit ``P = len(sp)`` and ``n = len(dec)``."""
    P, n = sp.shape[0], dec.shape[0]
    if k.shape != (P, P) or lat.shape != (P, P) or pw.shape != (P, P):
        return np.nan
    if n < 1 or tab.shape[0] != TABLE_HEAD + n * (5 + P):
        return np.nan
    work = np.empty(2 * P * P + 3 * P)
    choice = np.empty(n * P, dtype=np.int64)
    return _dp_chain(k, lat, pw, sp, tab, work, choice, dec)


def _dp_one_signatures() -> list[Any]:
    """float64 C-contiguous arrays only (the slowdown may be read-only): any other input is a
    TypeError, which the caller answers by converting, instead of a new compilation."""
    if numba is None:
        return []
    f8, i8 = numba.types.float64, numba.types.int64
    mat, vec, out = f8[:, ::1], f8[::1], i8[::1]
    ro = numba.types.Array(f8, 1, "C", readonly=True)
    return [f8(mat, mat, mat, sp, vec, out) for sp in (vec, ro)]


dp_one = _jit(_dp_one, _dp_one_signatures())


def _dp_solve(
    k: np.ndarray,  # (B or 1, P, P) ms per KB
    lat: np.ndarray,  # (B or 1, P, P) ms
    pw: np.ndarray,  # (B or 1, P, P) mW
    slowdown: np.ndarray,  # (B or 1, P)
    tab: np.ndarray,  # packed constants
    dec: np.ndarray,  # (B, n) int out: optimal decisions
    cost: np.ndarray,  # (B,) out: optimal weighted costs
) -> None:
    """:func:`_dp_chain` of every state of a batch (shapes checked by :func:`check_batch`)."""
    B, n = dec.shape
    P = slowdown.shape[1]
    lk, ls = k.shape[0] > 1, slowdown.shape[0] > 1
    work = np.empty(2 * P * P + 3 * P)
    choice = np.empty(n * P, dtype=np.int64)
    for b in range(B):
        bl = b if lk else 0
        bs = b if ls else 0
        cost[b] = _dp_chain(k[bl], lat[bl], pw[bl], slowdown[bs], tab, work, choice, dec[b])


dp_solve = _jit(_dp_solve)


def _dp_marginals(
    k: np.ndarray,  # (B or 1, P, P)
    lat: np.ndarray,
    pw: np.ndarray,
    slowdown: np.ndarray,  # (B or 1, P)
    blk_lat: np.ndarray,  # (n,)
    in_kb: np.ndarray,  # (n,)
    out_last: float,
    node_const: np.ndarray,  # (n, P)
    eta_mj: float,
    out: np.ndarray,  # (B, n, P) out: least total cost with block i on platform s
) -> None:
    """Forward and backward DP (no early exits): ``out[b, i, s]`` is the minimum weighted
    cost over the decisions that run block ``i`` on ``s``; its minimum over ``s`` is the
    optimum for every ``i`` (docs/model.md §7)."""
    B, n, P = out.shape
    lk, ls = k.shape[0] > 1, slowdown.shape[0] > 1
    ekb = np.empty((P, P))
    e0 = np.empty((P, P))
    node = np.empty((n, P))
    V = np.empty((n, P))
    F = np.empty(P)
    G = np.empty(P)
    for b in range(B):
        bl = b if lk else 0
        bs = b if ls else 0
        _weighted_moves(k, lat, pw, bl, eta_mj, ekb, e0)
        for i in range(n):
            for s in range(P):
                node[i, s] = blk_lat[i] * slowdown[bs, s] + node_const[i, s]
        for s in range(P):
            V[n - 1, s] = node[n - 1, s] + (out_last * ekb[s, 0] + e0[s, 0])
        for i in range(n - 2, -1, -1):
            g = in_kb[i + 1]
            for s in range(P):
                best = np.inf
                for t in range(P):
                    best = min(best, g * ekb[s, t] + e0[s, t] + V[i + 1, t])
                V[i, s] = node[i, s] + best
        for s in range(P):  # the input of block 0 starts on the device
            F[s] = in_kb[0] * ekb[0, s] + e0[0, s]
            out[b, 0, s] = F[s] + V[0, s]
        for i in range(1, n):
            g = in_kb[i]
            for t in range(P):
                best = np.inf
                for s in range(P):
                    best = min(best, F[s] + node[i - 1, s] + g * ekb[s, t] + e0[s, t])
                G[t] = best
            for t in range(P):
                F[t] = G[t]
                out[b, i, t] = F[t] + V[i, t]


dp_marginals = _jit(_dp_marginals)


def check_batch(
    k: np.ndarray, lat: np.ndarray, pw: np.ndarray, slowdown: np.ndarray, B: int, P: int
) -> None:
    """ValueError unless the link matrices ``(P, P)`` and the slowdown ``(P,)`` are each one
    state or ``B`` states (a leading axis of 1 or ``B``): the kernels index without bounds
    checks, so callers check shapes first."""
    for name, shape, tail in (("links", k.shape, (P, P)), ("links", lat.shape, (P, P)),
                              ("links", pw.shape, (P, P)), ("slowdown", slowdown.shape, (P,))):  # fmt: skip
        lead = shape[: len(shape) - len(tail)]
        if shape[len(lead) :] != tail or len(lead) > 1 or (lead and lead[0] not in (1, B)):
            raise ValueError(f"{name} must have shape {tail} or (1 or {B}, *{tail}), got {shape}")
