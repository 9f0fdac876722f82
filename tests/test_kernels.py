"""Compiled kernels (envs/model/kernels.py): the same results as the numpy and scalar paths."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from conftest import DATA_DIR, needs_traces
from hypothesis import given, settings
from hypothesis import strategies as st

import envs  # noqa: F401  (registers the ids)
from envs.dnn import resolve_profile
from envs.dynamics import D2D_LINK_FIELDS, MEC_LINK_FIELDS
from envs.mixture import RandomisedLink, make_trace_bank
from envs.model import kernels
from envs.model.chain import ChainCostModel
from envs.model.links import d2d_links, mec_links

pytestmark = pytest.mark.skipif(not kernels.AVAILABLE, reason="numba is not installed")
V1_IDS = ["EdgeRL/MECPartition-v1", "EdgeRL/D2DPartition-v1"]
SYNTHETIC = {"network": "mixture_synthetic"}  # no trace files needed
ROOT = Path(__file__).resolve().parents[1]


def _links(rng: np.random.Generator, scenario: str, B: int):
    if scenario == "mec":
        b = rng.uniform(0.5, 900.0, (4, B))
        lat = rng.uniform(1.0, 300.0, (2, B))
        return mec_links(*b, *lat), rng.uniform(0.3, 40.0, (B, 3))
    return d2d_links(rng.uniform(0.5, 150.0, B), rng.uniform(1.0, 300.0, B)), rng.uniform(
        0.3, 40.0, (B, 2)
    )


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    scenario=st.sampled_from(["mec", "d2d"]),
    dnn=st.sampled_from(["alexnet", "resnet32", "mobilenet_v1"]),
    eta=st.floats(0.0, 100.0),
)
def test_chain_cost_kernel_is_the_scalar_path_bit_for_bit(seed, scenario, dnn, eta):
    P = 3 if scenario == "mec" else 2
    model = ChainCostModel(resolve_profile(dnn), P, [0.0, 1.0, 2.0][:P])
    rng = np.random.default_rng(seed)
    B = 16
    links, slowdown = _links(rng, scenario, B)
    dec = rng.integers(0, P, (B, model.n))
    kw = {"d_energy": 0.7, "eta_energy": eta, "eta_overhead": 3.0}
    model.sequential_batch = True
    batch = model.evaluate(dec, links, slowdown, **kw)
    single = [
        model.evaluate(dec[b], type(links)(*(m[b] for m in links)), slowdown[b], **kw)
        for b in range(B)
    ]
    model.sequential_batch = False  # the Python scalar path and numpy's batched sums
    scalar = [
        model.evaluate(dec[b], type(links)(*(m[b] for m in links)), slowdown[b], **kw)
        for b in range(B)
    ]
    numpy_batch = model.evaluate(dec, links, slowdown, **kw)
    for b in range(B):
        assert single[b] == scalar[b]  # kernel with B = 1 == Python floats, exactly
        assert tuple(float(v[b]) for v in batch) == scalar[b]
    np.testing.assert_allclose(batch.cost, numpy_batch.cost, rtol=1e-13)


def _rollout(env_id: str, num: int, compiled: bool, monkeypatch, steps: int = 40, **kw):
    with monkeypatch.context() as m:
        m.setattr(kernels, "AVAILABLE", compiled)
        v = gym.make_vec(env_id, num_envs=num, max_episode_steps=15, **{**SYNTHETIC, **kw})
        obs, _ = v.reset(seed=5)
        v.action_space.seed(6)
        out = [obs]
        for _ in range(steps):
            obs, rew, _, _, info = v.step(v.action_space.sample())
            out += [obs, rew, info.get("cost", np.zeros(0)), info.get("collaborator", np.zeros(0))]
        assert v.unwrapped.env.sim.__dict__.get("compiled", compiled) == compiled
        return out


@pytest.mark.parametrize("env_id", V1_IDS)
@pytest.mark.parametrize("num", [1, 37, 600])
@pytest.mark.parametrize(
    "network", ["mixture_synthetic", pytest.param("mixture_train", marks=needs_traces)]
)
def test_compiled_v1_env_matches_numpy_path(env_id, num, network, monkeypatch):
    """Same seed: the compiled and the numpy/Python paths give the same episode (the kernels
    use libm's exp where numpy may differ in the last bit, hence the tolerance). At 600
    copies the kernels draw their own random numbers (``RNG_IN_KERNEL_MIN``: the D2D churn,
    the link and load processes): the same stream as numpy's. ``mixture_train`` (the
    default network) adds the real traces: the trace bank's compiled start and its step
    written into a copy of the generator's values."""
    a = _rollout(env_id, num, True, monkeypatch, network=network)
    b = _rollout(env_id, num, False, monkeypatch, network=network)
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        if x.dtype.kind in "iub":
            np.testing.assert_array_equal(x, y)
        else:
            np.testing.assert_allclose(x, y, rtol=1e-9, atol=1e-7)


@pytest.mark.parametrize("fields", [MEC_LINK_FIELDS, D2D_LINK_FIELDS])
@pytest.mark.parametrize("k", [1, 131])
def test_compiled_fresh_link_is_numpys_exactly(fields, k, monkeypatch):
    """A randomised link's new episode parameters (mean, volatility, correlation, spikes)
    from the kernel are numpy's, bit for bit, from the same draws."""
    out = []
    for compiled in (True, False):
        monkeypatch.setattr(kernels, "AVAILABLE", compiled)
        rng = np.random.default_rng(k)
        out.append((*RandomisedLink(fields)._fresh(rng, k), rng.random()))
    for x, y in zip(*out, strict=True):
        np.testing.assert_array_equal(x, y)


@needs_traces
@pytest.mark.parametrize("scenario", ["mec", "d2d"])
def test_compiled_trace_start_and_step_are_numpys_exactly(scenario, monkeypatch):
    """The trace bank's start (file per group, offset per field) and its replay step, compiled
    and in numpy; a step written into a mixture's values writes only the masked entries,
    and the bank's own values are then gathered from its positions."""
    got = []
    for compiled in (True, False):
        monkeypatch.setattr(kernels, "AVAILABLE", compiled)
        bank = make_trace_bank(scenario, DATA_DIR, "train")
        rng = np.random.default_rng(4)
        got.append([*bank._start(rng, 300), bank.reset(rng, 300)])
        got[-1] += [bank.step(rng) for _ in range(3)] + [
            bank.reset_where(rng, rng.random(300) < 0.2)
        ]
    for x, y in zip(*got, strict=True):
        np.testing.assert_array_equal(x, y)
    monkeypatch.setattr(kernels, "AVAILABLE", True)
    ref = make_trace_bank(scenario, DATA_DIR, "train")
    ref.reset(np.random.default_rng(1), 50)
    bank = make_trace_bank(scenario, DATA_DIR, "train")
    bank.reset(np.random.default_rng(1), 50)
    take = np.zeros((50, len(bank.fields)), dtype=bool)
    take[::3, bank._cols] = True
    out = np.full((50, len(bank.fields)), -1.0)
    bank.step_into(out, take)
    full = ref.step(np.random.default_rng(2))
    np.testing.assert_array_equal(out[take], full[take])
    assert np.all(out[~take] == -1.0)
    np.testing.assert_array_equal(bank.values, full)


@pytest.mark.parametrize("env_id", V1_IDS)
def test_compiled_vector_env_is_the_single_env_exactly(env_id):
    """With the kernels, the batched path is the scalar path: no tolerance needed."""
    single = gym.make(env_id, max_episode_steps=10, **SYNTHETIC)
    vec = gym.make_vec(env_id, num_envs=1, max_episode_steps=10, **SYNTHETIC)
    o1, _ = single.reset(seed=3)
    o2, _ = vec.reset(seed=3)
    np.testing.assert_array_equal(o1, o2[0])
    single.action_space.seed(0)
    for _ in range(9):
        a = single.action_space.sample()
        o1, r1, *_ = single.step(a)
        o2, r2, *_ = vec.step(a[None])
        np.testing.assert_array_equal(o1, o2[0])
        assert r1 == r2[0]


@pytest.mark.parametrize("env_id", V1_IDS)
def test_observe_kernel_is_the_numpy_observation_exactly(env_id):
    """The batched observation (MEC: elementwise x / (x + s); D2D: the candidates' features
    too) of the compiled kernel is the numpy path's, bit for bit."""
    vec = gym.make_vec(env_id, num_envs=37, **SYNTHETIC)
    vec.reset(seed=2)
    vec.action_space.seed(2)
    sim = vec.unwrapped.env.sim
    assert sim.compiled
    for _ in range(8):
        obs, *_ = vec.step(vec.action_space.sample())
        sim.compiled = False
        ref = sim.observe()
        sim.compiled = True
        np.testing.assert_array_equal(obs, ref)
        np.testing.assert_array_equal(sim.observe(), ref)


def test_numpy_fallback_is_chosen_without_numba():
    code = (
        "import warnings; warnings.simplefilter('ignore');"
        "import gymnasium as gym, envs; from envs.model import kernels;"
        "assert kernels.BACKEND == 'numpy' and not kernels.AVAILABLE;"
        "v = gym.make_vec('EdgeRL/D2DPartition-v1', num_envs=8, network='mixture_synthetic');"
        "v.reset(seed=0); v.step(v.action_space.sample()); print('ok', kernels.BACKEND)"
    )
    env = {**os.environ, "EDGERL_NO_NUMBA": "1"}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr
    assert "ok numpy" in out.stdout


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    scenario=st.sampled_from(["mec", "d2d"]),
    dnn=st.sampled_from(["alexnet", "resnet32", "mobilenet_v1", "vgg16"]),
    eta=st.sampled_from([0.0, 0.5, 37.0]),
    exits=st.booleans(),
)
def test_compiled_oracle_is_the_python_dp_bit_for_bit(seed, scenario, dnn, eta, exits):
    """Compiled scalar and batched oracle == the Python DP (``_solve_rows``; ``solve_terms``
    with early exits), decisions and costs exactly, with the weighting passed per call or
    bound once (``Oracle.bind``); numpy's batched DP to rounding."""
    from envs.model.chain import EarlyExits
    from envs.model.dp import Oracle

    P = 3 if scenario == "mec" else 2
    prof = resolve_profile(dnn)
    probs = np.random.default_rng(seed).uniform(0.0, 0.6, prof.n_blocks) if exits else None
    ee = EarlyExits(tuple(probs)) if exits else None
    model = ChainCostModel(prof, P, [0.0, 1.0, 2.0][:P], ee)
    model.sequential_batch = True
    oracle = Oracle(model)
    rng = np.random.default_rng(seed)
    B = 12
    links, slowdown = _links(rng, scenario, B)
    kw = {"d_energy": 0.7, "eta_energy": eta, "eta_overhead": 5.0}
    dec_b, cost_b = oracle.solve_batch(links, slowdown, **kw)
    rows = [(type(links)(*(m[b] for m in links)), slowdown[b]) for b in range(B)]
    compiled = [oracle.solve(lk, sp, **kw) for lk, sp in rows]
    bound = oracle.bind(**kw)  # the weighting looked up once: the same solver
    assert oracle.bind(**kw) is bound and bound.weights == kw
    solved = {"compiled bound": [bound.solve(lk, sp) for lk, sp in rows]}
    with pytest.MonkeyPatch.context() as m:
        m.setattr(kernels, "AVAILABLE", False)
        python = [oracle.solve(lk, sp, **kw) for lk, sp in rows]
        solved["python bound"] = [bound.solve(lk, sp) for lk, sp in rows]
        _, cost_np = oracle.solve_batch(links, slowdown, **kw)
    for b in range(B):
        for got in (compiled, *solved.values()):
            np.testing.assert_array_equal(got[b][0], python[b][0])
            assert got[b][1] == python[b][1]
        np.testing.assert_array_equal(dec_b[b], python[b][0])
        assert cost_b[b] == python[b][1]
        # the decision's cost is the optimum (evaluated by the cost model)
        if not exits:  # with exits the DP's cost is the expectation over exits
            got = model.evaluate(dec_b[b], *rows[b], **kw).cost
            assert got == pytest.approx(cost_b[b], rel=1e-12)
    np.testing.assert_allclose(cost_b, cost_np, rtol=1e-12)


@pytest.mark.parametrize("exits", [False, True])
def test_compiled_oracle_converts_other_inputs(exits):
    """Lists, float32, non-contiguous or (1, P, P) inputs take the checked path: same result."""
    from envs.model.chain import EarlyExits
    from envs.model.dp import Oracle

    prof = resolve_profile("alexnet")
    ee = EarlyExits((0.3,) * prof.n_blocks) if exits else None
    oracle = Oracle(ChainCostModel(prof, 3, [0.0, 1.0, 2.0], ee))
    links, slowdown = _links(np.random.default_rng(1), "mec", 1)
    one = type(links)(*(np.ascontiguousarray(m[0]) for m in links))
    kw = {"d_energy": 0.5, "eta_energy": 3.0, "eta_overhead": 2.0}
    want = oracle.solve(one, slowdown[0], **kw)
    for lk, sp in (
        (type(links)(*(m.tolist() for m in one)), slowdown[0].tolist()),
        (links, slowdown),  # a batch of one
        (type(links)(*(np.asfortranarray(m) for m in one)), slowdown[:, ::-1][0, ::-1]),
    ):
        dec, cost = oracle.solve(lk, sp, **kw)
        np.testing.assert_array_equal(dec, want[0])
        assert cost == want[1]
    _, cost32 = oracle.solve(one, slowdown[0].astype(np.float32), **kw)
    assert cost32 == pytest.approx(want[1], rel=1e-6)
    with pytest.raises(ValueError, match="links must have shape"):
        oracle.solve(type(links)(*(m[0, :2] for m in links)), slowdown[0])


@pytest.mark.parametrize("scenario", ["mec", "d2d"])
@pytest.mark.parametrize("compiled", [True, False])
def test_dp_marginals_are_constrained_optima(scenario, compiled):
    """``marginals[i, s]`` = min cost over decisions with block i on s (brute force on a small
    DNN), and its minimum over s is the oracle's cost for every block."""
    from envs.model.dp import Oracle

    P = 3 if scenario == "mec" else 2
    model = ChainCostModel(resolve_profile("alexnet"), P, [0.0, 1.0, 2.0][:P])
    oracle = Oracle(model)
    rng = np.random.default_rng(4)
    links, slowdown = _links(rng, scenario, 6)
    kw = {"d_energy": 0.8, "eta_energy": 2.0, "eta_overhead": 4.0}
    with pytest.MonkeyPatch.context() as m:
        m.setattr(kernels, "AVAILABLE", compiled)
        marg = oracle.marginals_batch(links, slowdown, **kw)
    _, opt = oracle.solve_batch(links, slowdown, **kw)
    np.testing.assert_allclose(marg.min(-1), np.repeat(opt[:, None], model.n, 1), rtol=1e-12)
    every = np.array(list(itertools.product(range(P), repeat=model.n)))
    for b in range(2):
        lk = type(links)(*(x[b] for x in links))
        cost = model.evaluate(every, lk, slowdown[b], **kw).cost
        for i in range(model.n):
            want = [cost[every[:, i] == s].min() for s in range(P)]
            np.testing.assert_allclose(marg[b, i], want, rtol=1e-12)


def test_kernels_refuse_shapes_they_cannot_index():
    """The compiled loops have no bounds checks: a state batch that is neither one state nor
    one per decision is refused with an error naming the input."""
    from envs.model.dp import Oracle

    model = ChainCostModel(resolve_profile("alexnet"), 3, [0.0, 1.0, 2.0])
    model.sequential_batch = True
    oracle = Oracle(model)
    links, _ = _links(np.random.default_rng(0), "mec", 5)
    one = type(links)(*(m[0] for m in links))
    for slowdown in (np.ones((3, 3)), np.ones(4)):
        with pytest.raises(ValueError, match="slowdown must have shape"):
            oracle.solve_batch(links, slowdown)
        with pytest.raises(ValueError, match="slowdown must have shape"):
            oracle.marginals_batch(links, slowdown)
    with pytest.raises(ValueError, match="slowdown must have shape"):
        oracle.solve(one, np.ones(4))
    # the DP is compiled for P = 2 and 3 only: another P, even with consistent shapes, is NaN
    P4 = np.ones((4, 4))
    tab4 = np.zeros(kernels.table_size(model.n, 4))
    dec = np.zeros(model.n, dtype=np.int64)
    assert np.isnan(kernels.dp_one(P4, P4, P4, np.ones(4), tab4, dec))
    with pytest.raises(ValueError, match="slowdown must have shape"):
        model.evaluate(np.zeros((5, model.n), dtype=np.int64), links, np.ones((3, 3)))
    assert np.isfinite(oracle.solve(one, np.ones(3))[1])
