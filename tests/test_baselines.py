"""Partitioning decision rules: each picks what its definition says, batched == single."""

from __future__ import annotations

import numpy as np
import pytest

from agents.partition_baselines import (
    JALAD,
    JALAD_ACCURACY_LOSS,
    PARTITION_RULES,
    make_rule,
    single_split_candidates,
    two_cut_candidates,
)
from envs.dnn import get_profile
from envs.model.chain import ChainCostModel
from envs.model.links import MEC_OVERHEAD_WEIGHTS, LinkMatrices, d2d_links, mec_links
from envs.problem import PartitionProblem


def _mec_problem(name="alexnet", batch=None, seed=0):
    rng = np.random.default_rng(seed)
    model = ChainCostModel(get_profile(name), 3, MEC_OVERHEAD_WEIGHTS)
    links = mec_links(
        rng.uniform(74.4, 77.9, batch),
        rng.uniform(332.5, 440.3, batch),
        rng.uniform(72.2, 73.9, batch),
        rng.uniform(466.3, 600.7, batch),
        rng.uniform(1.61, 104.25, batch),
        rng.uniform(15.37, 905.16, batch),
    )
    return PartitionProblem(
        model, links, np.array([4.0, 1.0, 0.25]), eta_energy=10.0, eta_overhead=10.0
    )


def test_candidate_sets():
    s = single_split_candidates(3, 2)
    np.testing.assert_array_equal(s, [[2, 2, 2], [0, 2, 2], [0, 0, 2], [0, 0, 0]])
    t = two_cut_candidates(2)
    assert {tuple(r) for r in t} == {(2, 2), (1, 2), (1, 1), (0, 2), (0, 1), (0, 0)}
    assert len(two_cut_candidates(17)) == 18 * 19 // 2


def test_fixed_rules():
    prob = _mec_problem()
    n = prob.n_blocks
    np.testing.assert_array_equal(make_rule("self").decide(prob), np.zeros(n))
    np.testing.assert_array_equal(make_rule("edge_only").decide(prob), np.ones(n))
    np.testing.assert_array_equal(make_rule("cloud_only").decide(prob), np.full(n, 2))
    with pytest.raises(ValueError, match="platform 2 does not exist"):
        make_rule("cloud_only").decide(
            PartitionProblem(
                ChainCostModel(get_profile("lenet"), 2), d2d_links(80.0, 20.0), np.array([4.0, 4.0])
            )
        )


@pytest.mark.parametrize(
    "rule,objective,remote", [("neuro_l", "latency", 2), ("neuro_e", "energy", 2)]
)
def test_neurosurgeon_picks_best_single_split(rule, objective, remote):
    prob = _mec_problem("vgg16", seed=4)
    dec = make_rule(rule).decide(prob)
    best = None
    for k in range(prob.n_blocks + 1):  # explicit loop: the definition, not the implementation
        cand = np.array([0] * k + [remote] * (prob.n_blocks - k))
        r = prob.evaluate(cand)
        val = r.latency_ms if objective == "latency" else r.energy_j
        if best is None or val < best[0]:
            best = (val, cand)
    np.testing.assert_array_equal(dec, best[1])
    edge = make_rule(rule, remote="edge").decide(prob)
    assert set(np.unique(edge)) <= {0, 1}


def test_deepar_is_best_two_cut_by_latency():
    prob = _mec_problem("resnet18", seed=5)
    dec = make_rule("deepar").decide(prob)
    n = prob.n_blocks
    lat = min(
        prob.evaluate(np.array([0] * a + [1] * (b - a) + [2] * (n - b))).latency_ms
        for a in range(n + 1)
        for b in range(a, n + 1)
    )
    assert prob.evaluate(dec).latency_ms == pytest.approx(lat)
    assert np.all(np.diff(dec) >= 0)  # device -> edge -> cloud order
    with pytest.raises(ValueError, match="3-platform"):
        make_rule("deepar").decide(
            PartitionProblem(
                ChainCostModel(get_profile("lenet"), 2), d2d_links(80.0, 20.0), np.array([4.0, 4.0])
            )
        )


def test_jalad_quantises_the_cut_within_the_accuracy_bound():
    prob = _mec_problem("vgg16", seed=6)
    rule = JALAD(max_accuracy_loss=0.1)
    assert rule.bits == sorted(c for c, a in JALAD_ACCURACY_LOSS.items() if a <= 0.1)
    dec, bits, res = rule.decide_with_bits(prob)
    assert JALAD_ACCURACY_LOSS[int(bits)] <= 0.1
    k = int((dec == 0).sum())
    assert np.all(dec[:k] == 0) and np.all(dec[k:] == 2)
    # the quantised cost: only the cut's input shrinks by bits/32
    scale = np.ones(prob.n_blocks)
    if 0 < k < prob.n_blocks:
        scale[k] = bits / 32
    assert res.latency_ms == pytest.approx(prob.evaluate(dec, in_kb_scale=scale).latency_ms)
    # quantisation never makes the chosen split slower than full precision
    assert res.latency_ms <= prob.evaluate(dec).latency_ms + 1e-9
    with pytest.raises(ValueError, match="no bit width"):
        JALAD(max_accuracy_loss=0.0, accuracy_loss={4: 0.1})


def test_random_rule_is_seeded():
    prob = _mec_problem()
    a = make_rule("random", seed=3).decide(prob)
    b = make_rule("random", seed=3).decide(prob)
    np.testing.assert_array_equal(a, b)
    assert a.min() >= 0 and a.max() <= 2


@pytest.mark.parametrize(
    "rule", sorted(set(PARTITION_RULES) - {"random", "paper_random", "co_h", "co_l", "constant"})
)
def test_batched_rules_equal_single(rule):
    prob = _mec_problem("mobilenet_v1", batch=8, seed=9)
    dec = make_rule(rule).decide(prob)
    assert dec.shape == (8, prob.n_blocks)
    for j in range(8):
        one = PartitionProblem(
            prob.model,
            LinkMatrices(*(x[j] for x in prob.links)),
            prob.slowdown,
            eta_energy=10.0,
            eta_overhead=10.0,
        )
        dj = make_rule(rule).decide(one)
        assert one.evaluate(dj).cost == pytest.approx(one.evaluate(dec[j]).cost)


def test_unknown_rule_lists_known():
    with pytest.raises(ValueError, match="unknown partitioning rule 'best'.*neuro_l"):
        make_rule("best")
    with pytest.raises(ValueError, match="objective must be one of"):
        make_rule("deepar", objective="slowdown")
