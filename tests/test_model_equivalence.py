"""Every fast path of :mod:`envs.model` against its reference, in one parametrised test.

Each pair returns ``(reference, fast, exact)``: ``exact`` pairs must agree bit for bit (the
compiled kernels and the bisection replay the reference's operations in order), the others
to rounding (numpy sums blocks in another order than the scalar chain).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

from agents.common.fast_actor import NumpyActor, mlp_actor_spec
from envs.dnn import resolve_profile
from envs.dynamics import D2D_LINK_FIELDS, MEC_LINK_FIELDS, PlatformLoad
from envs.mixture import RandomisedLink
from envs.model import kernels
from envs.model.chain import ChainCostModel, EarlyExits, weighted_moves
from envs.model.dp import Oracle
from envs.model.layers import transfer_ms
from envs.model.links import LinkMatrices, d2d_links, mec_links
from envs.model.thresholds import (
    discretise,
    discretise_array,
    discretise_one,
    logit_thresholds,
)
from envs.model.units import MW_MS_TO_J

B = 12


class Case:
    """A model, a batch of states and decisions, and the weights, for one scenario."""

    def __init__(self, scenario: str, exits: bool, seed: int) -> None:
        self.rng = rng = np.random.default_rng(seed)
        self.P = P = 3 if scenario == "mec" else 2
        prof = resolve_profile("resnet32")
        ee = EarlyExits(tuple(rng.uniform(0.0, 0.5, prof.n_blocks))) if exits else None
        self.model = ChainCostModel(prof, P, [0.0, 2.0, 3.0][:P], ee)
        self.raw = rng.uniform(0.5, 900.0, (4, B)), rng.uniform(1.0, 300.0, (2, B))
        if P == 3:
            self.links = mec_links(*self.raw[0], *self.raw[1])
        else:
            self.links = d2d_links(self.raw[0][0], self.raw[1][0])
        self.slowdown = rng.uniform(0.3, 40.0, (B, P))
        self.dec = rng.integers(0, P, (B, self.model.n))
        self.draws = rng.uniform(0.0, 1.0, (B, self.model.n)) if exits else None
        self.kw = {"d_energy": 0.7, "eta_energy": 10.0, "eta_overhead": 3.0}

    def row(self, b: int) -> LinkMatrices:
        return LinkMatrices(*(m[b].copy() for m in self.links))

    def scalar(self, decisions: np.ndarray) -> np.ndarray:
        """The plain-Python chain (one decision at a time), ``(B, 4)``."""
        self.model.sequential_batch = False
        return np.array([
            self.model.evaluate(
                decisions[b], self.row(b), self.slowdown[b].tolist(), **self.kw,
                exit_draws=None if self.draws is None else self.draws[b],
            )
            for b in range(B)
        ])  # fmt: skip

    def python_oracle(self, monkeypatch: pytest.MonkeyPatch) -> tuple[np.ndarray, np.ndarray]:
        """The Python DP (``_solve_rows`` / ``solve_terms``) state by state."""
        with monkeypatch.context() as m:
            m.setattr(kernels, "AVAILABLE", False)
            o = Oracle(self.model)
            res = [o.solve(self.row(b), self.slowdown[b], **self.kw) for b in range(B)]
        return np.array([d for d, _ in res]), np.array([c for _, c in res])


Pair = Callable[[Case, pytest.MonkeyPatch], tuple[Any, Any, bool]]
PAIRS: dict[str, tuple[Pair, tuple[str, ...]]] = {}  # name -> (pair, what it needs)


def pair(*needs: str) -> Callable[[Pair], Pair]:
    """Register a pair; ``needs``: "numba" (the fast path is compiled), "no exits"."""

    def add(fn: Pair) -> Pair:
        PAIRS[fn.__name__] = (fn, needs)
        return fn

    return add


@pair()
def chain_numpy_batch(c: Case, mp) -> tuple[Any, Any, bool]:
    """numpy batched (``_evaluate_batch`` / ``_evaluate_batch_plain``) vs the scalar chain."""
    c.model.sequential_batch = False
    got = c.model.evaluate(c.dec, c.links, c.slowdown, **c.kw, exit_draws=c.draws)
    return c.scalar(c.dec), np.array(got).T, False


@pair("numba", "no exits")
def chain_kernel_batch(c: Case, mp) -> tuple[Any, Any, bool]:
    """``kernels.chain_cost`` over a batch vs the scalar chain (no early exits)."""
    c.model.sequential_batch = True
    got = np.array(c.model.evaluate(c.dec, c.links, c.slowdown, **c.kw)).T
    return c.scalar(c.dec), got, True


@pair("numba", "no exits")
def chain_kernel_one(c: Case, mp) -> tuple[Any, Any, bool]:
    """``kernels.chain_cost`` of one decision (the v1 single env) vs the scalar chain."""
    c.model.sequential_batch = True
    got = [c.model.evaluate(c.dec[b], c.row(b), c.slowdown[b], **c.kw) for b in range(B)]
    return c.scalar(c.dec), np.array(got), True


@pair()
def transfer_time(c: Case, mp) -> tuple[Any, Any, bool]:
    """:func:`transfer_ms` vs a one-hop move of the link matrices (``G * k + L``)."""
    g = c.rng.uniform(0.0, 500.0, B)
    b, lat = c.raw[0][0], c.raw[1][0]
    return (
        transfer_ms(g, b, lat),
        g * c.links.ms_per_kb[:, 0, 1] + c.links.latency_ms[:, 0, 1],
        True,
    )


@pair("numba")
def dp_compiled_one(c: Case, mp) -> tuple[Any, Any, bool]:
    """``kernels.dp_one`` (the scalar oracle) vs the Python DP."""
    o = Oracle(c.model)
    res = [o.solve(c.row(b), c.slowdown[b], **c.kw) for b in range(B)]
    ref = c.python_oracle(mp)
    return ref, (np.array([d for d, _ in res]), np.array([x for _, x in res])), True


@pair("numba")
def dp_compiled_batch(c: Case, mp) -> tuple[Any, Any, bool]:
    """``kernels.dp_solve`` (the batched oracle of v1) vs the Python DP."""
    c.model.sequential_batch = True
    return c.python_oracle(mp), Oracle(c.model).solve_batch(c.links, c.slowdown, **c.kw), True


@pair()
def dp_numpy_batch(c: Case, mp) -> tuple[Any, Any, bool]:
    """numpy ``solve_terms_batch`` (the batched oracle of v0) vs the Python DP: optimal costs."""
    c.model.sequential_batch = False
    _, cost = Oracle(c.model).solve_batch(c.links, c.slowdown, **c.kw)
    return c.python_oracle(mp)[1], cost, False


@pair("numba", "no exits")
def dp_marginals(c: Case, mp) -> tuple[Any, Any, bool]:
    """``kernels.dp_marginals`` vs its numpy recursions (no early exits)."""
    got = Oracle(c.model).marginals_batch(c.links, c.slowdown, **c.kw)
    with mp.context() as m:
        m.setattr(kernels, "AVAILABLE", False)
        ref = Oracle(c.model).marginals_batch(c.links, c.slowdown, **c.kw)
    return ref, got, True


@pair("numba")
def dp_weighted_moves(c: Case, mp) -> tuple[Any, Any, bool]:
    """``kernels._weighted_moves`` vs :func:`weighted_moves`."""
    ref = weighted_moves(*c.links, c.kw["eta_energy"])
    ekb, e0 = np.empty((B, c.P, c.P)), np.empty((B, c.P, c.P))
    eta_mj = c.kw["eta_energy"] * MW_MS_TO_J
    for b in range(B):
        kernels._weighted_moves(*c.links, b, eta_mj, ekb[b], e0[b])
    return ref, (ekb, e0), True


@pair("numba", "no exits")
def frame_kernel(c: Case, mp) -> tuple[Any, Any, bool]:
    """``kernels.frame_outcome`` (the v1 envs' fused frame: decision, links, chain cost,
    oracle, shares) vs ``discretise``, the scalar chain, the Python DP and ``bincount``."""
    th, a = _actions(c)
    th = th.astype(np.float64)
    n, P = c.model.n, c.P
    values = (
        np.stack([*c.raw[0], *c.raw[1]], 1) if P == 3 else np.stack([c.raw[0][0], c.raw[1][0]], 1)
    )
    avail = np.ones(B, dtype=bool) if P == 3 else c.rng.random(B) < 0.7
    dec = discretise(a, th)
    dec[~avail] = 0  # no D2D collaborator: every block local
    cost = c.scalar(dec)
    opt = np.where(avail, c.python_oracle(mp)[1], cost[:, 3])
    dist = np.array([np.bincount(d, minlength=P) / n for d in dec])
    c.model.sequential_batch = True
    o = Oracle(c.model)
    tab = o.kernel_table(**c.kw)
    ctab = c.model.frame_table(**c.kw)
    got = np.empty((B, n), dtype=np.int64), np.empty((5, B)), np.empty((B, P))
    bad = kernels.frame_outcome(a, False, th, values, 1.0, c.slowdown,
                                np.zeros(0, bool) if P == 3 else avail, ctab, tab, True, *got)  # fmt: skip
    a[2, 3] = np.nan  # an invalid entry is counted, not evaluated
    scratch = [x.copy() for x in got]
    assert bad == 0 and kernels.frame_outcome(a, False, th, values, 1.0, c.slowdown, avail[:0],
                                              ctab, tab, True, *scratch) == 1  # fmt: skip
    return (dec, cost.T, opt, dist), (got[0], got[1][:4], got[1][4], got[2]), True


@pair("numba", "no exits")
def dynamics_kernels(c: Case, mp) -> tuple[Any, Any, bool]:
    """The compiled platform-load step vs its numpy and Python paths, and the randomised
    link's kernel with its draws taken in the kernel (above ``RNG_IN_KERNEL_MIN``) vs drawn
    by numpy: the same draws, the same values."""
    seed = int(c.rng.integers(1 << 30))
    loads = []
    for compiled in (False, True):
        with mp.context() as m:
            m.setattr(kernels, "AVAILABLE", compiled)
            for num in (1, 5, kernels.RNG_IN_KERNEL_MIN):
                rng = np.random.default_rng(seed)
                load = PlatformLoad(c.P, enabled=True, std_util=0.3)
                load.reset(rng, num)
                loads.append(np.concatenate([load.step(rng).ravel() for _ in range(4)]))
    link = RandomisedLink(MEC_LINK_FIELDS if c.P == 3 else D2D_LINK_FIELDS)
    link.reset(np.random.default_rng(seed), kernels.RNG_IN_KERNEL_MIN)
    links = []
    for draw in (False, True):
        rng = np.random.default_rng(seed + 1)
        p, z, spike = link._p, link._z.copy(), link._spike.copy()
        out = np.empty_like(z)
        scratch = np.empty_like(z)
        args = (p, z, spike) if draw else (p, z, spike, rng.standard_normal(z.shape))
        if draw:
            kernels.lognormal_ar_draw(rng, *args, link._floor, link._cap, 0.5, out, scratch)
        else:
            u = rng.random(z.shape)
            kernels.lognormal_ar_step(*args, u, link._floor, link._cap, 0.5, out)
        links.append((out, z, spike, rng.random()))
    return (loads[:3], links[0]), (loads[3:], links[1]), True


def _actions(c: Case) -> tuple[np.ndarray, np.ndarray]:
    """float32 thresholds (evenly spaced) and actions, some exactly on a threshold."""
    th = np.linspace(0.0, 1.0, c.P + 1, dtype=np.float32)[1:-1]
    a = c.rng.uniform(0.0, 1.0, (B, c.model.n)).astype(np.float32)
    a[0, : len(th)] = th  # exactly on a threshold: counts as reached
    a[1, :2] = 0.0, 1.0
    return th, a


@pair()
def thresholds_bisect(c: Case, mp) -> tuple[Any, Any, bool]:
    """:func:`discretise_one` (the single env) vs :func:`discretise`."""
    th, a = _actions(c)
    return discretise(a, th), [discretise_one(x.tolist(), th.tolist()) for x in a], True


@pair()
def thresholds_torch(c: Case, mp) -> tuple[Any, Any, bool]:
    """:func:`discretise_array` on torch tensors (IoRLO) vs :func:`discretise`."""
    th, a = _actions(c)
    got = discretise_array(torch.from_numpy(a), torch.from_numpy(th)).numpy()
    return discretise(a, th), got, True


@pair()
def thresholds_fast_actor(c: Case, mp) -> tuple[Any, Any, bool]:
    """The fast actor's ``decide`` (logit thresholds; compiled and numpy) vs
    :func:`discretise` of its sigmoid actions."""
    th = _actions(c)[0].astype(np.float64)
    g = torch.Generator().manual_seed(int(c.rng.integers(1 << 30)))
    layers = [torch.nn.Linear(6, 16), torch.nn.Linear(16, c.model.n)]
    for layer in layers:
        torch.nn.init.normal_(layer.weight, generator=g)
    spec = mlp_actor_spec(layers, output="sigmoid")
    x = c.rng.normal(0.0, 1.0, (B, 6)).astype(np.float32)
    plain = NumpyActor(spec, thresholds=th, compiled=False)
    fast = NumpyActor(spec, thresholds=th)
    assert plain._logit_th == logit_thresholds(th.tolist())
    got = [plain.decide_batch(x), [plain.decide(o) for o in x], [fast.decide(o) for o in x]]
    return [discretise(plain.act_batch(x), th)] * 3, got, True


def _assert_same(ref: Any, got: Any, exact: bool) -> None:
    if isinstance(ref, tuple | list):
        assert len(ref) == len(got)
        for r, g in zip(ref, got, strict=True):
            _assert_same(r, g, exact)
    elif exact:
        np.testing.assert_array_equal(np.asarray(got), np.asarray(ref))
    else:
        np.testing.assert_allclose(np.asarray(got), np.asarray(ref), rtol=1e-12, atol=1e-12)


#: (pair, exits): a path without early exits is checked without them only
CASES = [(name, exits) for name, (_, needs) in PAIRS.items()
         for exits in ((False,) if "no exits" in needs else (False, True))]  # fmt: skip


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("scenario", ["mec", "d2d"])
@pytest.mark.parametrize(
    ("name", "exits"), CASES, ids=[f"{n}-{'exits' if e else 'plain'}" for n, e in CASES]
)
def test_fast_path_matches_its_reference(name, exits, scenario, seed, monkeypatch):
    fn, needs = PAIRS[name]
    if "numba" in needs and not kernels.AVAILABLE:
        pytest.skip("numba is not installed")
    ref, got, exact = fn(Case(scenario, exits, seed), monkeypatch)
    _assert_same(ref, got, exact)
