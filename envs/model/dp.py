"""Exact optimum of the partitioning cost by dynamic programming (docs/model.md §7).

The MEC and D2D costs are chains (see :mod:`envs.model.chain`): per-block terms, terms on
consecutive pairs ``(S_{i-1}, S_i)`` and a terminal term. A backward DP over the expected
cost-to-go ``V_i(s)`` (block ``i`` runs on ``s`` and its input is already there) finds the
minimum over all ``P^n`` decisions in ``O(n·P²)``:

    V_n(s) = node_n(s) + move(G_n^out, s -> 0)
    V_i(s) = node_i(s) + min( V_{i+1}(s),
                              min_{s' != s} branch_i(s) + p_i·ret(s)
                                            + (1 - p_i)·(move(G_{i+1}^in, s -> s') + V_{i+1}(s')) )
    OPT    = min_s move(G_1^in, 0 -> s) + V_1(s)

With no early exits ``p_i = 0`` and ``branch_i = 0`` and this is the plain shortest path.
With numba (:mod:`envs.model.kernels`) both solvers run one compiled loop per state
(``kernels.dp_one`` / ``dp_solve``, early exits included) with the operations of the Python
reference solvers below, bit for bit. Without it the scalar solver runs in pure Python on
lists (faster than numpy for P ≤ 3, n ≈ 20) and the batched one is numpy-vectorised over
states with a loop over blocks only.
"""

from __future__ import annotations

import itertools

import numpy as np

from envs.model import kernels
from envs.model.chain import ChainCostModel, ChainTerms, weighted_moves
from envs.model.links import LinkMatrices
from envs.model.units import MW_MS_TO_J


def solve_terms(
    terms: ChainTerms, in_kb: np.ndarray, out_kb_last: float
) -> tuple[np.ndarray, float]:
    """Optimal decision and its (expected) weighted cost for one state's chain terms."""
    node = terms.node.tolist()
    ekb = terms.edge_kb.tolist()
    e0 = terms.edge_0.tolist()
    br = terms.branch.tolist()
    ret = terms.exit_ret.tolist()
    probs = terms.probs.tolist()
    gin = in_kb.tolist()
    n, P = len(node), len(node[0])
    rng_p = range(P)
    V = [node[n - 1][s] + out_kb_last * ekb[s][0] + e0[s][0] for s in rng_p]
    choice: list[list[int]] = [[0] * P for _ in range(n)]
    for i in range(n - 2, -1, -1):
        p, g, nd, bi = probs[i], gin[i + 1], node[i], br[i]
        q = 1.0 - p
        newV = [0.0] * P
        ch = choice[i]
        for s in rng_p:
            best, arg = V[s], s
            ks, zs = ekb[s], e0[s]
            leave = bi[s] + p * ret[s]
            for t in rng_p:
                if t != s:
                    c = leave + q * (g * ks[t] + zs[t] + V[t])
                    if c < best:
                        best, arg = c, t
            newV[s] = nd[s] + best
            ch[s] = arg
        V = newV
    g0, k0, z0 = gin[0], ekb[0], e0[0]
    best, s = V[0], 0
    for t in range(1, P):
        c = g0 * k0[t] + z0[t] + V[t]
        if c < best:
            best, s = c, t
    dec = [s]
    for i in range(n - 1):
        s = choice[i][s]
        dec.append(s)
    return np.asarray(dec, dtype=np.int64), best


def solve_terms_batch(
    terms: ChainTerms, in_kb: np.ndarray, out_kb_last: float
) -> tuple[np.ndarray, np.ndarray]:
    """Batched DP: terms with a leading batch dim ``B``; returns ``(decisions (B, n), cost (B,))``."""
    node, ekb, e0, br, ret = terms.node, terms.edge_kb, terms.edge_0, terms.branch, terms.exit_ret
    B, n, P = node.shape
    probs = np.asarray(terms.probs)
    br = np.broadcast_to(br, (B, n, P))
    eye = np.eye(P, dtype=bool)
    V = node[:, -1, :] + out_kb_last * ekb[:, :, 0] + e0[:, :, 0]
    choice = np.empty((B, n - 1, P), dtype=np.int64)
    for i in range(n - 2, -1, -1):
        p = probs[i]
        move = in_kb[i + 1] * ekb + e0 + V[:, None, :]  # (B, s, t)
        leave = br[:, i, :, None] + p * ret[:, :, None]
        cand = np.where(eye, V[:, :, None], leave + (1.0 - p) * move)
        choice[:, i, :] = cand.argmin(-1)
        V = node[:, i, :] + cand.min(-1)
    first = in_kb[0] * ekb[:, 0, :] + e0[:, 0, :] + V
    first[:, 0] = V[:, 0]
    s = first.argmin(-1)
    cost = first[np.arange(B), s]
    dec = np.empty((B, n), dtype=np.int64)
    dec[:, 0] = s
    rows = np.arange(B)
    for i in range(n - 1):
        s = choice[rows, i, s]
        dec[:, i + 1] = s
    return dec, cost


def _solve_rows(rows: list[list[float]], P: int, last: list[float]) -> tuple[np.ndarray, float]:
    """Shortest path without early exits, on one flat row per block.

    ``rows[i] = node_i(0..P-1) + move_i(s -> t) for s, t`` (``P + P*P`` floats): block i's
    cost on each platform, then the cost of moving block i's input from s to t (zero
    diagonal); ``last[s]`` returns the result from s. One flat list per block keeps the
    numpy -> Python conversion to a single ``tolist()``.
    """
    n = len(rows)
    V = [a + b for a, b in zip(rows[n - 1][:P], last, strict=True)]
    choice: list[list[int]] = [[] for _ in range(n - 1)]
    for i in range(n - 2, -1, -1):
        r, m = rows[i], rows[i + 1]  # node of block i; moves into block i+1
        if P == 3:  # unrolled: this loop is the oracle's hot path without numba (ties: lowest)
            v0, v1, v2 = V
            c0, c1, c2 = m[3] + v0, m[4] + v1, m[5] + v2
            w0, a0 = (r[0] + c0, 0) if c0 <= c1 and c0 <= c2 else (r[0] + c1, 1) if c1 <= c2 else (r[0] + c2, 2)  # fmt: skip
            c0, c1, c2 = m[6] + v0, m[7] + v1, m[8] + v2
            w1, a1 = (r[1] + c0, 0) if c0 <= c1 and c0 <= c2 else (r[1] + c1, 1) if c1 <= c2 else (r[1] + c2, 2)  # fmt: skip
            c0, c1, c2 = m[9] + v0, m[10] + v1, m[11] + v2
            w2, a2 = (r[2] + c0, 0) if c0 <= c1 and c0 <= c2 else (r[2] + c1, 1) if c1 <= c2 else (r[2] + c2, 2)  # fmt: skip
            newV, ch = [w0, w1, w2], [a0, a1, a2]
        elif P == 2:  # unrolled likewise (D2D)
            v0, v1 = V
            c0, c1 = m[2] + v0, m[3] + v1
            w0, a0 = (r[0] + c0, 0) if c0 <= c1 else (r[0] + c1, 1)
            c0, c1 = m[4] + v0, m[5] + v1
            w1, a1 = (r[1] + c0, 0) if c0 <= c1 else (r[1] + c1, 1)
            newV, ch = [w0, w1], [a0, a1]
        else:
            newV, ch = [], []
            for s in range(P):
                cs = [a + b for a, b in zip(m[P + P * s : P + P * (s + 1)], V, strict=True)]
                best = min(cs)
                newV.append(r[s] + best)
                ch.append(cs.index(best))
        V, choice[i] = newV, ch
    tot = [a + b for a, b in zip(rows[0][P : 2 * P], V, strict=True)]  # raw input from 0
    best = min(tot)
    s = tot.index(best)
    dec = [s]
    for i in range(n - 1):
        s = choice[i][s]
        dec.append(s)
    return np.asarray(dec, dtype=np.int64), best


class Oracle:
    """Exact minimum-cost decision of a :class:`ChainCostModel` under given states (docs/model.md §7)."""

    def __init__(self, model: ChainCostModel) -> None:
        self.model = model
        self._in_kb = model.blocks.in_kb
        self._out_last = float(model.blocks.out_kb[-1])
        self._lat_col = model.blocks.latency_ms[:, None]
        self._in_col = model.blocks.in_kb[:, None]
        self._rows = np.empty((model.n, model.P + model.P * model.P))  # scratch for solve()
        self._n = model.n
        self._tables: dict[tuple[float, float, float], np.ndarray] = {}
        self._bound: dict[tuple[float, float, float], BoundOracle] = {}

    def kernel_table(self, d_energy: float, eta_energy: float, eta_overhead: float) -> np.ndarray:
        """The compiled DP's constants for one weighting (layout: :data:`kernels.TABLE_HEAD`)."""
        key = (d_energy, eta_energy, eta_overhead)
        tab = self._tables.get(key)
        if tab is None:
            m = self.model
            head = [self._out_last, eta_energy * MW_MS_TO_J, eta_energy, m.early_exits is not None]
            tab = np.concatenate([
                np.array([*head, m.exit_kb], dtype=np.float64), m.blocks.latency_ms, self._in_kb,
                m.node_const(d_energy, eta_energy, eta_overhead).ravel(), m.exit_probs,
                m.branch_latency_ms, eta_energy * d_energy * m.branch_energy_j,
            ])  # fmt: skip
            if len(self._tables) >= 64:  # weightings are few; bound the cache regardless
                self._tables.clear()
            self._tables[key] = tab
        return tab

    def _links_slowdown(
        self, links: LinkMatrices, slowdown, B: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """float64 C-contiguous ``(B or 1, P, P)`` links and ``(B or 1, P)`` slowdown, checked:
        the compiled loops index without bounds checks."""
        P = self.model.P
        k, lat, pw = (np.ascontiguousarray(x, dtype=np.float64) for x in links)
        sp = np.ascontiguousarray(slowdown, dtype=np.float64)
        kernels.check_batch(k, lat, pw, sp, B, P)
        return k.reshape(-1, P, P), lat.reshape(-1, P, P), pw.reshape(-1, P, P), sp.reshape(-1, P)

    def bind(self, d_energy=1.0, eta_energy=0.0, eta_overhead=0.0) -> BoundOracle:
        """:meth:`solve` for one weighting, looked up once (cached per weighting): an env's
        weighting is fixed, and its per-step scalar solve then skips the keyword arguments
        and the table lookup (about a quarter of a compiled call)."""
        key = (d_energy, eta_energy, eta_overhead)
        bound = self._bound.get(key)
        if bound is None:
            if len(self._bound) >= 64:  # as kernel_table's cache
                self._bound.clear()
            bound = self._bound[key] = BoundOracle(self, d_energy, eta_energy, eta_overhead)
        return bound

    def solve(
        self, links: LinkMatrices, slowdown, *, d_energy=1.0, eta_energy=0.0, eta_overhead=0.0
    ) -> tuple[np.ndarray, float]:
        """Optimal decision ``(n,)`` and its expected weighted cost for one state."""
        return self.bind(d_energy, eta_energy, eta_overhead).solve(links, slowdown)

    def _solve_reference(
        self, links: LinkMatrices, slowdown, d_energy: float, eta_energy: float, eta_overhead: float
    ) -> tuple[np.ndarray, float]:
        """The Python DP of one state (without numba; the compiled kernel's reference)."""
        m = self.model
        if m.early_exits is not None:
            terms = m.chain_terms(
                links, slowdown, d_energy=d_energy, eta_energy=eta_energy, eta_overhead=eta_overhead
            )
            return solve_terms(terms, self._in_kb, self._out_last)
        P = m.P
        ekb, e0 = weighted_moves(*links, eta_energy)
        rows = self._rows
        np.multiply(self._lat_col, slowdown, out=rows[:, :P])
        rows[:, :P] += m.node_const(d_energy, eta_energy, eta_overhead)
        np.multiply(self._in_col, ekb.reshape(1, P * P), out=rows[:, P:])
        rows[:, P:] += e0.reshape(1, P * P)
        last = (self._out_last * ekb[:, 0] + e0[:, 0]).tolist()
        return _solve_rows(rows.tolist(), P, last)

    def solve_batch(
        self, links: LinkMatrices, slowdown, *, d_energy=1.0, eta_energy=0.0, eta_overhead=0.0
    ) -> tuple[np.ndarray, np.ndarray]:
        """Optimal decisions ``(B, n)`` and costs ``(B,)`` for batched links (leading dim B)."""
        k = np.asarray(links.ms_per_kb)
        if k.ndim != 3:
            raise ValueError(f"solve_batch needs batched links of shape (B, P, P), got {k.shape}")
        B = k.shape[0]
        if kernels.AVAILABLE and self.model.sequential_batch:  # the scalar path's operations
            k, lat, pw, sp = self._links_slowdown(links, slowdown, B)
            dec, cost = np.empty((B, self.model.n), dtype=np.int64), np.empty(B)
            tab = self.kernel_table(d_energy, eta_energy, eta_overhead)
            kernels.dp_solve(k, lat, pw, sp, tab, dec, cost)
            return dec, cost
        sp = np.broadcast_to(np.asarray(slowdown, dtype=np.float64), (B, self.model.P))
        terms = self.model.chain_terms(
            links, sp, d_energy=d_energy, eta_energy=eta_energy, eta_overhead=eta_overhead
        )
        return solve_terms_batch(terms, self._in_kb, self._out_last)

    def marginals_batch(
        self, links: LinkMatrices, slowdown, *, d_energy=1.0, eta_energy=0.0, eta_overhead=0.0
    ) -> np.ndarray:
        """``(B, n, P)``: the least weighted cost over the decisions that run block ``i`` on
        platform ``s`` (a forward and a backward DP); its minimum over ``s`` is the optimum
        for every block. ``links`` and ``slowdown`` are batched with a leading ``B`` (either may
        have ``B = 1``). Models with early exits are not supported."""
        m = self.model
        if m.early_exits is not None:
            raise ValueError("marginals_batch needs a cost model without early exits")
        P, n = m.P, m.n
        k, lat, pw = (np.asarray(x, dtype=np.float64) for x in links)
        sp = np.asarray(slowdown, dtype=np.float64)
        B = max(k.shape[0] if k.ndim == 3 else 1, sp.shape[0] if sp.ndim == 2 else 1)
        kernels.check_batch(k, lat, pw, sp, B, P)  # the kernel has no bounds checks
        k, lat, pw = (x.reshape(-1, P, P) for x in (k, lat, pw))
        sp = sp.reshape(-1, P)
        nc = m.node_const(d_energy, eta_energy, eta_overhead)
        out = np.empty((B, n, P))
        if kernels.AVAILABLE:
            kernels.dp_marginals(
                k, lat, pw, sp, m.blocks.latency_ms, self._in_kb, self._out_last, nc,
                eta_energy * MW_MS_TO_J, out,
            )  # fmt: skip
            return out
        ekb, e0 = weighted_moves(k, lat, pw, eta_energy)  # numpy: the same recursions
        ekb, e0 = np.broadcast_to(ekb, (B, P, P)), np.broadcast_to(e0, (B, P, P))
        node = m.blocks.latency_ms[None, :, None] * sp[:, None, :] + nc
        V = np.empty((B, n, P))
        V[:, -1] = node[:, -1] + (self._out_last * ekb[:, :, 0] + e0[:, :, 0])
        for i in range(n - 2, -1, -1):
            V[:, i] = node[:, i] + (self._in_kb[i + 1] * ekb + e0 + V[:, i + 1, None, :]).min(-1)
        F = self._in_kb[0] * ekb[:, 0, :] + e0[:, 0, :]
        out[:, 0] = F + V[:, 0]
        for i in range(1, n):
            F = ((F + node[:, i - 1])[:, :, None] + self._in_kb[i] * ekb + e0).min(1)
            out[:, i] = F + V[:, i]
        return out


class BoundOracle:
    """:meth:`Oracle.solve` with the weighting fixed (:meth:`Oracle.bind`): ``solve(links,
    slowdown)`` returns the same decision and cost as ``Oracle.solve(links, slowdown,
    **weights)``."""

    __slots__ = ("_n", "_tab", "_weights", "oracle")

    def __init__(
        self, oracle: Oracle, d_energy: float, eta_energy: float, eta_overhead: float
    ) -> None:
        self.oracle = oracle
        self._weights = {
            "d_energy": d_energy,
            "eta_energy": eta_energy,
            "eta_overhead": eta_overhead,
        }
        self._tab = oracle.kernel_table(d_energy, eta_energy, eta_overhead)
        self._n = oracle._n

    @property
    def weights(self) -> dict[str, float]:
        """The bound weighting (a copy: the packed table is built from it)."""
        return dict(self._weights)

    def solve(self, links: LinkMatrices, slowdown) -> tuple[np.ndarray, float]:
        """Optimal decision ``(n,)`` and its expected weighted cost for one state."""
        if not kernels.AVAILABLE:
            return self.oracle._solve_reference(links, slowdown, **self._weights)
        # compiled: the operations of _solve_rows / solve_terms
        k, lat, pw = links
        dec = np.empty(self._n, dtype=np.int64)
        try:  # float64 C-contiguous (P, P) and (P,) arrays go straight in
            cost = kernels.dp_one(k, lat, pw, slowdown, self._tab, dec)
        except TypeError:  # anything else: converted and checked below
            cost = np.nan
        if cost != cost:  # NaN: a shape the kernel refused, or NaN inputs
            k, lat, pw, sp = (x[0].copy() for x in self.oracle._links_slowdown(links, slowdown, 1))
            cost = kernels.dp_one(k, lat, pw, sp, self._tab, dec)
        return dec, cost


def brute_force(
    model: ChainCostModel,
    links: LinkMatrices,
    slowdown,
    *,
    max_decisions: int = 2_000_000,
    **weights,
) -> tuple[np.ndarray, float]:
    """Exhaustive search over all ``P^n`` decisions (for tests and benchmarks only);
    ``weights``: ``d_energy``, ``eta_energy``, ``eta_overhead`` of :meth:`ChainCostModel.evaluate`."""
    total = model.P**model.n
    if total > max_decisions:
        raise ValueError(
            f"brute force over {total} decisions exceeds max_decisions={max_decisions}"
        )
    all_dec = np.array(list(itertools.product(range(model.P), repeat=model.n)), dtype=np.int64)
    res = model.evaluate(all_dec, links, slowdown, **weights)
    best = int(np.argmin(res.cost))
    return all_dec[best], float(res.cost[best])
