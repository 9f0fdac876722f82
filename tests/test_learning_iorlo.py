"""IoRLO learns: budgets of about a minute, so marked slow (``pytest -m slow``).

Each test also evaluates the untrained actor and a uniform random policy on the same frames,
and asserts they are far from the threshold the trained agent must reach.
"""

from __future__ import annotations

import gymnasium as gym
import pytest

import envs  # noqa: F401  (registers the env ids)
from agents.common.evaluation import evaluate_policy
from agents.iorlo import IoRLOPlus
from agents.partition_policies import make_partition_policy

pytestmark = pytest.mark.slow

SEEDS = tuple(range(20_000, 20_005))  # 5 episodes x 100 frames, unseen in training


def _gap(act, env) -> float:
    return evaluate_policy(act, env, SEEDS)["gap"]


def test_iorlo_plus_learns_d2d_partitioning_of_lenet():
    # D2D, LeNet: the optimum moves between all-local and all-collaborator with the link;
    # every constant or single-split rule is >= 8% from it.
    make = lambda: gym.make("EdgeRL/D2DPartition-v0", dnn="lenet")  # noqa: E731
    env, ev = make(), make()
    agent = IoRLOPlus(env, seed=0)
    untrained = _gap(agent.fast_actor().act, ev)
    rand = _gap(make_partition_policy("random", ev, seed=0).act, ev)
    heuristics = {
        name: _gap(make_partition_policy(name, ev).act, ev)
        for name in ("self", "co_h", "neuro_l", "neuro_e", "jalad")
    }
    agent.learn(5000)
    learned = _gap(agent.fast_actor().act, ev)
    assert rand > 0.5 and untrained > 0.2
    assert learned <= 0.05, (learned, untrained, rand, heuristics)
    assert learned < min(heuristics.values()), (learned, heuristics)


def test_iorlo_plus_finds_the_edge_from_a_cloud_start():
    # Thresholds ε = 0.2, φ = 0.4 put the untrained actor's ~0.5 outputs on the cloud
    # (150% from the optimum); the agent must move every block to the narrow edge interval.
    make = lambda: gym.make(  # noqa: E731
        "EdgeRL/MECPartition-v0", dnn="lenet", epsilon=0.2, phi=0.4
    )
    env, ev = make(), make()
    agent = IoRLOPlus(env, seed=0)
    untrained = _gap(agent.fast_actor().act, ev)
    rand = _gap(make_partition_policy("random", ev, seed=0).act, ev)
    agent.learn(5000)
    learned = _gap(agent.fast_actor().act, ev)
    assert untrained > 1.0 and rand > 1.0
    assert learned <= 0.05, (learned, untrained, rand)
