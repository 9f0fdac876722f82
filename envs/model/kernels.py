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

from envs.model.links import P5G_DOWN, P5G_UP, P_D2D
from envs.model.units import MS_PER_KB_AT_1_MBPS, MW_MS_TO_J

try:
    if os.environ.get("EDGERL_NO_NUMBA", "") not in ("", "0"):
        raise ImportError("disabled by EDGERL_NO_NUMBA")
    import numba
except ImportError:  # pragma: no cover - exercised by EDGERL_NO_NUMBA=1 in tests
    numba = None

#: ``"numba"`` when the compiled kernels are available, else ``"numpy"``
BACKEND = "numpy" if numba is None else "numba"
AVAILABLE = numba is not None


def _jit(
    fn: Callable[..., Any],
    signature: Any = None,
    inline: bool = False,
    error_model: str = "python",
) -> Callable[..., Any] | None:
    # no fastmath: IEEE operations in source order, so results match the Python path. With
    # signatures only those types are accepted (TypeError otherwise), nothing compiles later.
    # ``inline``: a helper of other kernels, inlined into them (numba IR level).
    # ``error_model="numpy"``: a float division by zero gives inf/NaN as numpy does instead of
    # raising (no check per division, so division loops vectorise); the same IEEE results.
    if numba is None:
        return None
    opts: dict[str, Any] = {"cache": True, "nogil": True, "error_model": error_model}
    if inline:
        opts["inline"] = "always"
    jit = numba.njit(**opts) if signature is None else numba.njit(signature, **opts)
    return jit(fn)


jit = _jit  # for compiled loops elsewhere (agents/common/fast_actor.py): same settings


def _chain_row_py(
    s: np.ndarray, b: int, k: np.ndarray, lat: np.ndarray, pw: np.ndarray, bl: int,
    sp: np.ndarray, bs: int, blk_lat: np.ndarray, blk_en: np.ndarray, gin: np.ndarray,
    gout: float, w: np.ndarray, d_energy: float,
) -> tuple[float, float, float]:  # fmt: skip
    """Latency, energy and overhead of decision ``s[b]`` (arguments as :func:`_chain_cost`'s;
    ``bl``, ``bs``: the rows of the links and of ``sp``), in chain order (the scalar path's
    operations). Branch-free: a transfer term is computed for every block and added only
    where the platform changes (``t + 0.0`` is ``t``; the sums never hold -0.0), which
    spares the mispredicted branches of random decisions (~2x at thousands of copies).
    The platforms index as unsigned integers: numba wraps negative signed indices, two more
    instructions per lookup (platforms are never negative; ~15% of a D2D frame)."""
    T = 0.0
    E = 0.0
    D = 0.0
    prev = np.uint64(0)
    n = s.shape[1]
    for i in range(n):
        si = np.uint64(s[b, i])
        t = blk_lat[i] * sp[bs, si]
        e = blk_en[i] * d_energy  # (computed either way: a select, not a branch)
        e = e if si == 0 else 0.0
        x = gin[i] * k[bl, prev, si] + lat[bl, prev, si]
        ex = x * pw[bl, prev, si] * MW_MS_TO_J
        move = si != prev
        t += x if move else 0.0
        e += ex if move else 0.0
        T += t
        E += e
        D += w[si]
        prev = si
    if prev != 0:
        x = gout * k[bl, prev, 0] + lat[bl, prev, 0]
        T += x
        E += x * pw[bl, prev, 0] * MW_MS_TO_J
    return T, E, D / n


_chain_row = _jit(_chain_row_py, inline=True)


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
    B = s2.shape[0]
    lk, ls = k.shape[0] > 1, sp.shape[0] > 1
    for b in range(B):
        bl = b if lk else 0
        bs = b if ls else 0
        T, E, D = _chain_row(s2, b, k, lat, pw, bl, sp, bs, blk_lat, blk_en, gin, gout, w, d_energy)
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
    """The D2D observation (layout: :class:`envs.partition.sim.D2DSim`) of every copy.

    Written as ``out[b, k]`` stores with one loop per quantity (no row views): numba
    vectorises these, twice as fast as one loop over both columns through a row view. The
    ``d_u`` and ``d_h`` compute columns are squashed into contiguous scratch first (the
    divisions vectorise there, not in the observation's interleaved columns) and then
    interleaved; the same values."""
    num, n, m = out.shape[0], latency.shape[0], status.shape[1]
    D = out.shape[1]
    cu = np.empty(n)
    ch = np.empty(n)
    for b in range(num):
        for k in range(D):
            out[b, k] = template[k]
        x = obs_values[b, 0]
        out[b, 0] = x / (x + sb)
        x = obs_values[b, 1]
        out[b, 1] = x / (x + sl)
        du = obs_slowdown[b, 0]
        dh = obs_slowdown[b, 1]
        out[b, 2] = du / (du + 1.0)
        out[b, 3] = dh / (dh + 1.0)
        out[b, 4] = 1.0 if has[b] else 0.0
        for i in range(n):
            c = latency[i] * du
            cu[i] = c / (c + compute_scale)
        for i in range(n):
            c = latency[i] * dh
            ch[i] = c / (c + compute_scale)
        for i in range(n):
            out[b, cs_start + 2 * i] = cu[i]
            out[b, cs_start + 2 * i + 1] = ch[i]
        sel = selected[b] if has[b] else -1
        for j in range(m):
            st = status[b, j]
            o = cand_start + 6 * j
            conn = flags[st, 3]
            out[b, o] = flags[st, 0]
            out[b, o + 1] = flags[st, 1]
            out[b, o + 2] = avail[b, j] * flags[st, 2]
            bj = cand_links[b * m + j, 0]
            lj = cand_links[b * m + j, 1]
            out[b, o + 3] = bj / (bj + sb) * conn
            out[b, o + 4] = 1.0 - (1.0 - lj / (lj + sl)) * conn
            out[b, o + 5] = 1.0 if sel == j else 0.0


d2d_observe = _jit(_d2d_observe, error_model="numpy")


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
    start = cs_start + n * P if load else 6  # the entries before it are written below
    for b in range(num):
        row = out[b]
        row[start:] = template[start:]
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


mec_observe = _jit(_mec_observe, error_model="numpy")


def _ar_entry_py(
    z: float, eps: float, u: float, spiking: bool, p0: float, p1: float, p2: float, p3: float,
    p4: float, p5: float, lo: float, hi: float, stay: float,
) -> tuple[float, bool, float]:  # fmt: skip
    """One entry of :func:`_lognormal_ar_step` (its arguments' ``[r, f]`` entries, ``p0..p5``
    = ``p[:, r, f]``): the new AR state, spike state and value. Scalars only: an inlined
    helper taking the arrays would count references on every entry."""
    zz = z * p2 + eps * p3
    s = u < (stay if spiking else p4)
    x = p1 * zz + p0
    if s:
        x += p5
    x = np.exp(x)
    return zz, s, min(max(x, lo), hi)


_ar_entry = _jit(_ar_entry_py, inline=True)


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
            z[r, f], spike[r, f], out[r, f] = _ar_entry(
                z[r, f], eps[r, f], u[r, f], spike[r, f], p[0, r, f], p[1, r, f], p[2, r, f],
                p[3, r, f], p[4, r, f], p[5, r, f], floor[f], cap[f], stay,
            )  # fmt: skip


lognormal_ar_step = _jit(_lognormal_ar_step)


def _load_step(
    util: np.ndarray,  # (N, P) utilisation
    innov: np.ndarray,  # (P,) std * sqrt(1 - rho^2)
    c: np.ndarray,  # (P,) mean * (1 - rho)
    rho: np.ndarray,  # (P,)
    top: np.ndarray,  # (P,) max utilisation
    new_util: np.ndarray,  # (N, P) standard normal draws in, the new utilisation out
    factor: np.ndarray,  # (N, P) out: 1 / (1 - utilisation)
) -> None:
    """One step of :class:`envs.dynamics.PlatformLoad` (the operations of its numpy and
    Python paths: ``((eps * innov + c) + util * rho)`` clipped to ``[0, top]``); the draws
    ``eps`` come in ``new_util``, which is overwritten with the new utilisation."""
    N, P = util.shape
    for r in range(N):
        for j in range(P):
            u = new_util[r, j] * innov[j] + c[j] + util[r, j] * rho[j]
            u = min(max(u, 0.0), top[j])
            new_util[r, j] = u
            factor[r, j] = 1.0 / (1.0 - u)


load_step = _jit(_load_step, error_model="numpy")


def _trace_step(
    nxt: np.ndarray,  # (T,) next frame of every trace frame (looping)
    flat: np.ndarray,  # (T,) every trace's values, concatenated
    idx: np.ndarray,  # (N, C) current frame per copy and traced column, advanced in place
    cols: np.ndarray,  # (C,) the traced columns of the values
    take: np.ndarray,  # (N, F) bool: the entries to write, or (0, 0): all (untraced: NaN)
    out: np.ndarray,  # (N, F) out: traced columns from the traces, the others NaN
) -> None:
    """One step of :class:`envs.mixture.TraceBank` (``idx = nxt[idx]``, then a gather).
    With ``take``, every copy advances but only the ``take`` entries of ``out`` are written
    (a network mixture's trace rows, into the mixture's values). The ``take`` entries are
    written by a select, not a branch: a mixture's rows are traced at random, so a branch
    mispredicts about every other row (a third of the kernel's time)."""
    N, F = out.shape
    some = take.shape[0] > 0
    for r in range(N):
        if not some:
            for f in range(F):
                out[r, f] = np.nan
        for j in range(cols.shape[0]):
            c = cols[j]
            i = nxt[idx[r, j]]
            idx[r, j] = i
            out[r, c] = flat[i] if not some or take[r, c] else out[r, c]


trace_step = _jit(_trace_step)


#: below this many draws a kernel's own draws (a numba Generator: the same stream, value for
#: value) lose to numpy's: passing the generator costs ~6 us per call, a draw saves ~5 ns
RNG_IN_KERNEL_MIN = 2048


def _lognormal_ar_draw(
    rng: np.random.Generator,
    p: np.ndarray,
    z: np.ndarray,
    spike: np.ndarray,
    floor: np.ndarray,
    cap: np.ndarray,
    stay: float,
    out: np.ndarray,
    eps: np.ndarray,  # (N, F) scratch
) -> None:
    """:func:`_lognormal_ar_step` with its draws (``standard_normal((N, F))``, then
    ``random((N, F))``) taken here from ``rng``: the same values in the same order, about
    twice as fast as numpy's at thousands of copies. The normals go to the caller's scratch
    first; each uniform is drawn where its entry is stepped (no pass over a stored array)."""
    N, F = z.shape
    for r in range(N):
        for f in range(F):
            eps[r, f] = rng.standard_normal()
    for r in range(N):
        for f in range(F):
            z[r, f], spike[r, f], out[r, f] = _ar_entry(
                z[r, f], eps[r, f], rng.random(), spike[r, f], p[0, r, f], p[1, r, f],
                p[2, r, f], p[3, r, f], p[4, r, f], p[5, r, f], floor[f], cap[f], stay,
            )  # fmt: skip


lognormal_ar_draw = _jit(_lognormal_ar_draw)


def _load_step_draw(
    rng: np.random.Generator,
    util: np.ndarray,
    innov: np.ndarray,
    c: np.ndarray,
    rho: np.ndarray,
    top: np.ndarray,
    new_util: np.ndarray,
    factor: np.ndarray,
) -> None:
    """:func:`_load_step` with its ``standard_normal(util.shape)`` drawn here from ``rng``
    (the same values in the same order)."""
    N, P = util.shape
    for r in range(N):  # parked in new_util (no scratch)
        for j in range(P):
            new_util[r, j] = rng.standard_normal()
    load_step(util, innov, c, rho, top, new_util, factor)


load_step_draw = _jit(_load_step_draw)


def _markov_draw(
    rng: np.random.Generator,
    status: np.ndarray,  # (num, m) int: state of every candidate
    bounds: np.ndarray,  # (3, S): cumulative transition bounds per state
    absent: int,
    available: int,
    new: np.ndarray,  # (num, m) int out: next state
    joined: np.ndarray,  # (num * m,) bool out: ABSENT -> AVAILABLE
) -> None:
    """One churn step of :class:`envs.dynamics.collaborators.CollaboratorPool`: ``u ~
    U[0, 1)`` per candidate (``rng.random((num, m))``'s values, in order), next state =
    number of bounds of the current state ``<= u``."""
    num, m = status.shape
    for r in range(num):
        for j in range(m):
            u = rng.random()
            s = status[r, j]
            t = (u >= bounds[0, s]) + (u >= bounds[1, s]) + (u >= bounds[2, s])
            new[r, j] = t
            joined[r * m + j] = s == absent and t == available


markov_draw = _jit(_markov_draw)


def _lognormal_fresh(
    u: np.ndarray,  # (5, k, F) uniform draws: mean, sigma, rho, spike probability, spike size
    us: np.ndarray,  # (k, F) uniform draws: the spike state
    llo: np.ndarray,  # (F,) log of the mean range's low end
    lspan: np.ndarray,  # (F,) log width of the mean range
    sp_llo: np.ndarray,  # (F,) log of the spike factor's low end
    sp_lspan: np.ndarray,  # (F,) log width of the spike factor range
    consts: np.ndarray,  # sigma lo, sigma span, rho lo, rho span, spike prob max, 1 / spike len
    p: np.ndarray,  # (6, k, F) out: as in _lognormal_ar_step
    spike: np.ndarray,  # (k, F) bool out
) -> None:
    """:meth:`envs.mixture.RandomisedLink._fresh`'s operations in one pass (its draws come
    from numpy: for a few rows, passing the generator to a kernel costs more)."""
    _, k, F = p.shape
    sig0, sig_span, rho0, rho_span, p_max, inv_len = consts
    for r in range(k):
        for f in range(F):
            sigma = sig0 + sig_span * u[1, r, f]
            rho = rho0 + rho_span * u[2, r, f]
            p_on = p_max * u[3, r, f]
            p[0, r, f] = llo[f] + lspan[f] * u[0, r, f] - 0.5 * (sigma * sigma)
            p[1, r, f] = sigma
            p[2, r, f] = rho
            p[3, r, f] = np.sqrt(1.0 - rho * rho)
            p[4, r, f] = p_on
            p[5, r, f] = sp_llo[f] + sp_lspan[f] * u[4, r, f]
            spike[r, f] = us[r, f] < p_on / (p_on + inv_len)


lognormal_fresh = _jit(_lognormal_fresh)


def _trace_start(
    upick: np.ndarray,  # (k, G) uniform draws: the table per group
    uoff: np.ndarray,  # (k, C) uniform draws: the start per traced field
    ncand: np.ndarray,  # (G,) int: tables per field group
    gidx: np.ndarray,  # (C,) int: group of each traced field
    base: np.ndarray,  # (C, max G) int: start of each candidate table in the flat array
    length: np.ndarray,  # (C, max G) int: its length
    pick: np.ndarray,  # (k, G) int out: the table per group
    idx: np.ndarray,  # (k, C) int out: the start frame per traced field
) -> None:
    """:meth:`envs.mixture.TraceBank._start`'s operations in one pass."""
    k, G = pick.shape
    for r in range(k):
        for g in range(G):
            pick[r, g] = int(upick[r, g] * ncand[g])
        for j in range(idx.shape[1]):
            c = pick[r, gidx[j]]
            idx[r, j] = base[j, c] + int(uoff[r, j] * length[j, c])


trace_start = _jit(_trace_start)


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
    arithmetic: score = s/max(s) + b/max(b) + 1/max(l, 1e-9) over usable candidates).

    Branch-free over the candidates: every candidate's terms are computed and the unusable
    ones masked out (a ``1e-300`` to the maxima, which start there; never picked), since a
    branch on the random status mispredicts about once per row (~1.6x faster at thousands
    of copies; availabilities and own factors are positive, so every division is finite)."""
    num, m = status.shape
    has_own = own.shape[0] > 0
    sv = np.empty(m)
    for r in range(num):
        s_max = 1e-300
        b_max = 1e-300
        for j in range(m):
            ok = status[r, j] == available
            s = avail[r, j] / own[r, j] if has_own else avail[r, j]
            sv[j] = s
            s_max = max(s_max, s if ok else 1e-300)
            b_max = max(b_max, links[r * m + j, ib] if ok else 1e-300)
        pick = -1
        best = -np.inf
        for j in range(m):
            score = sv[j] / s_max + links[r * m + j, ib] / b_max
            score += 1.0 / max(links[r * m + j, il], 1e-9)
            better = (status[r, j] == available) & (score > best)
            pick = j if better else pick
            best = score if better else best
        prev = selected[r]
        if not (sticky and prev >= 0 and status[r, prev] == available):
            selected[r] = pick


select_candidates = _jit(_select_candidates, error_model="numpy")


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


def _make_dp_chain(P: int) -> Callable[..., float]:
    """The DP of one state on ``P`` platforms (2: D2D, 3: MEC; the only counts
    :class:`~envs.model.chain.ChainCostModel` accepts). A closure constant, ``P`` is known
    when numba compiles, so LLVM unrolls the loops over platforms: 1.5-1.8 times faster per
    state than with ``P`` read from the arrays, with the same operations in the same order
    (numba's cache keys closures by their values)."""

    def dp_chain(
        k: np.ndarray,  # (P, P) ms per KB
        lat: np.ndarray,  # (P, P) ms
        pw: np.ndarray,  # (P, P) mW
        sp: np.ndarray,  # (P,) capability factors
        tab: np.ndarray,  # packed constants (layout above)
        work: np.ndarray,  # (2 * P * P + 3 * P,) float scratch
        choice: np.ndarray,  # (n * P,) int scratch
        dec: np.ndarray,  # (n,) int out: the optimal decision
    ) -> float:
        """Optimal weighted cost of one state (docs/model.md §7): the operations, in order,
        of :mod:`envs.model.dp`'s Python DPs (``_solve_rows`` without early exits,
        ``solve_terms`` with them), so costs and decisions are theirs bit for bit. Ties go to
        the lowest platform index (without exits) or to staying on the platform (with
        exits)."""
        n = dec.shape[0]
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
                            c = leave + q * (
                                g * work[s * P + t] + work[E0 + s * P + t] + work[V + t]
                            )
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

    return dp_chain


_dp_chain_2 = _jit(_make_dp_chain(2))
_dp_chain_3 = _jit(_make_dp_chain(3))


def _dp_chain_py(
    k: np.ndarray,
    lat: np.ndarray,
    pw: np.ndarray,
    sp: np.ndarray,
    tab: np.ndarray,
    work: np.ndarray,
    choice: np.ndarray,
    dec: np.ndarray,
) -> float:
    """:func:`_make_dp_chain`'s DP compiled for the state's ``P = len(sp)`` (3 or 2; NaN
    for any other ``P``, which no cost model has)."""
    if sp.shape[0] == 3:
        return _dp_chain_3(k, lat, pw, sp, tab, work, choice, dec)
    if sp.shape[0] == 2:
        return _dp_chain_2(k, lat, pw, sp, tab, work, choice, dec)
    return np.nan


# inlined into its callers: one more call level, which passes eight arrays and counts their
# references, cost more than unrolling the platform loops saved
_dp_chain = _jit(_dp_chain_py, inline=True)


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


# ------------------------------------------------------------ one frame of the v1 envs
# The chain-cost constants of one model and weighting packed in one float64 vector (built by
# ``frame_table``): blk_lat (n), blk_en (n), gin (n), w (P), then gout, d_energy, eta_e, eta_d.


def frame_table(
    blk_lat: np.ndarray,
    blk_en: np.ndarray,
    gin: np.ndarray,
    w: np.ndarray,
    gout: float,
    d_energy: float,
    eta_e: float,
    eta_d: float,
) -> np.ndarray:
    """The packed constants :func:`frame_outcome` takes (layout above)."""
    tail = np.array([gout, d_energy, eta_e, eta_d], dtype=np.float64)
    return np.concatenate([blk_lat, blk_en, gin, w, tail]).astype(np.float64)


def _link_matrices_py(
    v: np.ndarray,  # (B, F) link values: MEC (F = 6) or D2D (F = 2)
    b: int,
    lscale: float,  # latency multiplier (1: round trip, 0.5: one way)
    k: np.ndarray,  # (P, P) out
    lat: np.ndarray,  # (P, P) out
    pw: np.ndarray,  # (P, P) out
) -> None:
    """:func:`envs.model.links.mec_links` / :func:`~envs.model.links.d2d_links` of row ``b``
    (RTT scaled as ``links_one`` / ``links_batch`` do), in their operations."""
    if v.shape[1] == 6:
        bu, bd, cu, cd = v[b, 0], v[b, 1], v[b, 2], v[b, 3]
        lt, lc = v[b, 4], v[b, 5]
        if lscale != 1.0:
            lt = lt * lscale
            lc = lc * lscale
        tu = MS_PER_KB_AT_1_MBPS / bu
        td = MS_PER_KB_AT_1_MBPS / bd
        eu = MS_PER_KB_AT_1_MBPS / cu
        ed = MS_PER_KB_AT_1_MBPS / cd
        pu = P5G_UP[0] * bu + P5G_UP[1]
        pd = P5G_DOWN[0] * bd + P5G_DOWN[1]
        k[0, 0], k[0, 1], k[0, 2] = 0.0, tu, tu + eu
        k[1, 0], k[1, 1], k[1, 2] = td, 0.0, eu
        k[2, 0], k[2, 1], k[2, 2] = td + ed, ed, 0.0
        lat[0, 0], lat[0, 1], lat[0, 2] = 0.0, lt, lt + lc
        lat[1, 0], lat[1, 1], lat[1, 2] = lt, 0.0, lc
        lat[2, 0], lat[2, 1], lat[2, 2] = lt + lc, lc, 0.0
        pw[0, 0], pw[0, 1], pw[0, 2] = 0.0, pu, pu
        pw[1, 0], pw[1, 1], pw[1, 2] = pd, 0.0, 0.0
        pw[2, 0], pw[2, 1], pw[2, 2] = pd, 0.0, 0.0
    else:
        bb, ll = v[b, 0], v[b, 1]
        if lscale != 1.0:
            ll = ll * lscale
        t = MS_PER_KB_AT_1_MBPS / bb
        p = P_D2D[0] * bb + P_D2D[1]
        k[0, 0], k[0, 1], k[1, 0], k[1, 1] = 0.0, t, t, 0.0
        lat[0, 0], lat[0, 1], lat[1, 0], lat[1, 1] = 0.0, ll, ll, 0.0
        pw[0, 0], pw[0, 1], pw[1, 0], pw[1, 1] = 0.0, p, p, 0.0


_link_matrices = _jit(_link_matrices_py, inline=True)


def _frame_outcome(
    actions: np.ndarray,  # (B, n): floats in [0, 1] (continuous) or int platforms (discrete)
    discrete: bool,
    th: np.ndarray,  # (P - 1,) intent thresholds (continuous actions)
    values: np.ndarray,  # (B, F) the frame's links (MEC F = 6, D2D F = 2)
    lscale: float,
    sp: np.ndarray,  # (B, P) capability factors
    avail: np.ndarray,  # (B,) bool: a D2D collaborator is selected; (0,): always
    ctab: np.ndarray,  # packed chain constants (frame_table)
    tab: np.ndarray,  # packed oracle constants (TABLE_HEAD layout)
    oracle: bool,
    dec: np.ndarray,  # (B, n) int out: the decision as evaluated
    out: np.ndarray,  # (5, B) out: latency, energy, overhead, cost, optimal cost
    dist: np.ndarray,  # (B, P) out: share of blocks per platform
) -> int:
    """One frame of every copy of a v1 env without early exits, in one pass: the action's
    decision (``discretise``; copies without a D2D collaborator run every block locally),
    the link matrices (:func:`_link_matrices`), the chain cost (:func:`_chain_row`), the
    oracle (:func:`_dp_chain`, when ``oracle``) and the per-platform shares, each in its
    reference's operations. Returns the number of invalid action entries (NaN or out of
    range); then nothing else is computed and the caller takes the checked path (which
    raises)."""
    B, n = dec.shape
    P = sp.shape[1]
    bad = 0
    if discrete:
        for b in range(B):
            for i in range(n):
                a = actions[b, i]
                bad += not (a >= 0 and a < P)
                dec[b, i] = a
    else:
        nth = th.shape[0]
        t0 = th[0]
        t1 = th[1] if nth > 1 else np.inf  # (one threshold: never reached)
        for b in range(B):
            for i in range(n):
                a = actions[b, i]
                bad += not (a >= 0.0 and a <= 1.0)  # NaN fails
                c = (t0 <= a) + (t1 <= a)
                for j in range(2, nth):
                    c += th[j] <= a
                dec[b, i] = c
    if bad:
        return bad
    blk_lat, blk_en, gin = ctab[:n], ctab[n : 2 * n], ctab[2 * n : 3 * n]
    w = ctab[3 * n : 3 * n + P]
    o = 3 * n + P
    gout, d_energy, eta_e, eta_d = ctab[o], ctab[o + 1], ctab[o + 2], ctab[o + 3]
    k = np.empty((1, P, P))
    lat = np.empty((1, P, P))
    pw = np.empty((1, P, P))
    work = np.empty(2 * P * P + 3 * P)
    choice = np.empty(n * P, dtype=np.int64)
    odec = np.empty(n, dtype=np.int64)
    k0, lat0, pw0 = k[0], lat[0], pw[0]  # views made once: one per row costs refcounting
    has_avail = avail.shape[0] > 0
    for b in range(B):
        off = has_avail and not avail[b]
        if off:  # no collaborator: every block stays local
            for i in range(n):
                dec[b, i] = 0
        rest = n
        for p in range(P - 1, 0, -1):  # compares, not a scatter: no store-to-load stalls
            c = 0
            for i in range(n):
                c += dec[b, i] == p
            dist[b, p] = c / n
            rest -= c
        dist[b, 0] = rest / n
        _link_matrices(values, b, lscale, k0, lat0, pw0)
        T, E, D = _chain_row(dec, b, k, lat, pw, 0, sp, b, blk_lat, blk_en, gin, gout, w,
                             d_energy)  # fmt: skip
        cost = T + eta_e * E + eta_d * D
        out[0, b] = T
        out[1, b] = E
        out[2, b] = D
        out[3, b] = cost
        if oracle:
            if off:  # all-local is the only feasible decision
                out[4, b] = cost
            else:
                out[4, b] = _dp_chain(k0, lat0, pw0, sp[b], tab, work, choice, odec)
    return 0


frame_outcome = _jit(_frame_outcome, error_model="numpy")


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
