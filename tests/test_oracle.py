"""The DP oracle (SPEC §7) equals brute-force enumeration and beats every baseline."""

from __future__ import annotations

import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.partition_baselines import D2D_ONLY, MEC_ONLY, PARTITION_RULES, make_rule
from envs.dnn import BUILTIN_PROFILES, DNNProfile, get_profile
from envs.model.chain import ChainCostModel, EarlyExits
from envs.model.dp import Oracle, brute_force
from envs.model.links import MEC_OVERHEAD_WEIGHTS, LinkMatrices, d2d_links, mec_links
from envs.problem import PartitionProblem

SMALL = [n for n in BUILTIN_PROFILES if get_profile(n).n_blocks <= 10]


def _random_state(rng, P, batch=None):
    size = batch
    if P == 3:
        links = mec_links(
            rng.uniform(74.4, 77.9, size),
            rng.uniform(332.5, 440.3, size),
            rng.uniform(72.2, 73.9, size),
            rng.uniform(466.3, 600.7, size),
            rng.uniform(1.61, 104.25, size),
            rng.uniform(15.37, 905.16, size),
        )
        slowdown = np.array([4.0, 1.0, 0.25]) * rng.uniform(
            0.5, 2.0, (3,) if batch is None else (batch, 3)
        )
    else:
        links = d2d_links(rng.uniform(71.1, 97.3, size), rng.uniform(2.72, 304.16, size))
        slowdown = np.array([4.0, 4.0]) * rng.uniform(
            0.5, 2.0, (2,) if batch is None else (batch, 2)
        )
    return links, slowdown


def test_small_profiles_exist():
    assert set(SMALL) >= {"alexnet", "lenet", "mobilenet_v1", "resnet18"}


@pytest.mark.parametrize("name", SMALL)
@pytest.mark.parametrize("P", [3, 2])
@pytest.mark.parametrize("exits", [False, True])
def test_dp_equals_brute_force_on_builtin_profiles(name, P, exits):
    rng = np.random.default_rng(zlib.crc32(f"{name}-{P}-{exits}".encode()))
    prof = get_profile(name)
    ee = EarlyExits(tuple(rng.uniform(0, 0.6, prof.n_blocks))) if exits else None
    model = ChainCostModel(prof, P, MEC_OVERHEAD_WEIGHTS if P == 3 else None, ee)
    oracle = Oracle(model)
    for _ in range(2):
        links, slowdown = _random_state(rng, P)
        kw = dict(
            d_energy=1.0,
            eta_energy=float(rng.uniform(0, 50)),
            eta_overhead=float(rng.uniform(0, 30)),
        )
        dec, cost = oracle.solve(links, slowdown, **kw)
        _bdec, bcost = brute_force(model, links, slowdown, **kw)
        assert cost == pytest.approx(bcost, rel=1e-9)
        # the reported cost is the cost of the reported decision
        assert model.evaluate(dec, links, slowdown, **kw).cost == pytest.approx(cost, rel=1e-9)


def _profile(sizes, kinds, elems):
    blocks = []
    for i, (k, e) in enumerate(zip(kinds, elems, strict=True)):
        blocks.append(
            {
                "name": f"b{i}",
                "in_kb": sizes[i],
                "out_kb": sizes[i + 1],
                "layers": [
                    {"kind": kk, "in_elems": ee, "out_elems": ee // 2 + 1}
                    for kk, ee in zip(k, e, strict=True)
                ],
            }
        )
    return DNNProfile.from_dict(
        {"name": "rand", "input_shape": [1], "input_kb": sizes[0], "blocks": blocks}
    )


@st.composite
def random_instances(draw):
    n = draw(st.integers(1, 6))
    P = draw(st.sampled_from([2, 3]))
    sizes = draw(st.lists(st.floats(0.001, 500.0), min_size=n + 1, max_size=n + 1))
    kinds = [
        draw(
            st.lists(
                st.sampled_from(["conv", "relu", "pool", "norm", "fc", "free"]),
                min_size=1,
                max_size=3,
            )
        )
        for _ in range(n)
    ]
    elems = [[draw(st.integers(1, 300_000)) for _ in k] for k in kinds]
    exits = draw(st.one_of(st.none(), st.lists(st.floats(0.0, 1.0), min_size=n, max_size=n)))
    seed = draw(st.integers(0, 2**31))
    weights = (draw(st.floats(0, 100)), draw(st.floats(0, 100)), draw(st.floats(0.1, 3.0)))
    return _profile(sizes, kinds, elems), P, exits, seed, weights


@settings(max_examples=60, deadline=None)
@given(random_instances())
def test_dp_equals_brute_force_on_random_profiles(inst):
    prof, P, exits, seed, (eta_e, eta_d, d_energy) = inst
    rng = np.random.default_rng(seed)
    ee = EarlyExits(tuple(exits)) if exits is not None else None
    model = ChainCostModel(prof, P, MEC_OVERHEAD_WEIGHTS if P == 3 else None, ee)
    links, slowdown = _random_state(rng, P)
    kw = dict(d_energy=d_energy, eta_energy=eta_e, eta_overhead=eta_d)
    _, cost = Oracle(model).solve(links, slowdown, **kw)
    _, bcost = brute_force(model, links, slowdown, **kw)
    assert cost == pytest.approx(bcost, rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("P", [3, 2])
@pytest.mark.parametrize("exits", [False, True])
def test_batched_dp_equals_scalar(P, exits):
    rng = np.random.default_rng(3)
    prof = get_profile("resnet32")
    ee = EarlyExits(tuple(rng.uniform(0, 0.5, prof.n_blocks))) if exits else None
    model = ChainCostModel(prof, P, MEC_OVERHEAD_WEIGHTS if P == 3 else None, ee)
    links, slowdown = _random_state(rng, P, batch=50)
    kw = dict(eta_energy=10.0, eta_overhead=10.0)
    bdec, bcost = Oracle(model).solve_batch(links, slowdown, **kw)
    for j in range(50):
        _dec, cost = Oracle(model).solve(LinkMatrices(*(x[j] for x in links)), slowdown[j], **kw)
        assert cost == pytest.approx(bcost[j], rel=1e-9)
        # ties may resolve differently; costs of both decisions must be equal
        c2 = model.evaluate(bdec[j], LinkMatrices(*(x[j] for x in links)), slowdown[j], **kw).cost
        assert c2 == pytest.approx(cost, rel=1e-9)


@pytest.mark.parametrize("name", ["alexnet", "vgg16", "resnet32", "mobilenet_v1"])
@pytest.mark.parametrize("P", [3, 2])
def test_oracle_beats_every_baseline(name, P):
    rng = np.random.default_rng(7)
    model = ChainCostModel(get_profile(name), P, MEC_OVERHEAD_WEIGHTS if P == 3 else None)
    links, slowdown = _random_state(rng, P, batch=40)
    prob = PartitionProblem(model, links, slowdown, eta_energy=10.0, eta_overhead=10.0)
    _, opt = prob.optimum()
    skip = D2D_ONLY if P == 3 else MEC_ONLY
    for rule in PARTITION_RULES:
        if rule in skip:
            continue
        kw = {"seed": 0} if rule == "random" else {}
        if rule == "constant":
            kw = {"decision": np.arange(model.n) % P}
        cost = prob.evaluate(make_rule(rule, **kw).decide(prob)).cost
        assert np.all(opt <= cost + 1e-9), rule
    # and any random decision
    rand = rng.integers(0, P, (40, model.n))
    assert np.all(opt <= prob.evaluate(rand).cost + 1e-9)


def test_brute_force_refuses_huge_spaces():
    model = ChainCostModel(get_profile("resnet32"), 3, MEC_OVERHEAD_WEIGHTS)
    links, slowdown = _random_state(np.random.default_rng(0), 3)
    with pytest.raises(ValueError, match="max_decisions"):
        brute_force(model, links, slowdown)
    with pytest.raises(ValueError, match="batched links"):
        Oracle(model).solve_batch(links, slowdown)
