"""DRLoS learns to balance the edge servers (slow: ~1-3 minutes on 2 cores)."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest

from agents.drlos import DRLoS
from agents.scheduling_baselines import make_scheduling_policy
from envs.scheduling import ENV_ID

EVAL_TASK_SETS = list(range(1000, 1005))


def evaluate(env, act) -> dict[str, float]:
    """Mean per-step variance, mean task latency and drops over the held-out task sets."""
    variances, latencies, dropped = [], [], 0
    for k in EVAL_TASK_SETS:
        obs, _ = env.reset(options={"task_set_seed": k})
        done, per_step = False, []
        while not done:
            obs, _, terminated, truncated, info = env.step(act(obs))
            per_step.append(info["variance"])
            done = terminated or truncated
        variances.append(np.mean(per_step))
        latencies.append(np.nanmean(env.unwrapped.task_latency_ms))
        dropped += info["dropped"]
    return {"variance": float(np.mean(variances)), "latency_ms": float(np.mean(latencies)),
            "dropped": dropped}  # fmt: skip


@pytest.mark.slow
def test_drlos_balances_better_than_random_shares_and_closest():
    # The paper's setting at load 0.8 (3 × 500, M = 500, N = 20, one hidden layer of 20) with
    # lr 1e-2 and the waiting penalty 0.01 (see bench_drlos.py), 100 iterations instead of 1500.
    env = gymnasium.make(ENV_ID, load=0.8, lambda_wait=0.01)
    agent = DRLoS(env, lr=1e-2, seed=0).learn(100)
    drlos = evaluate(env, agent.act)  # greedy, through the numpy fast actor

    rng = np.random.default_rng(0)
    random_share = evaluate(env, lambda obs: int(rng.integers(env.action_space.n)))
    env_assign = gymnasium.make(ENV_ID, load=0.8, lambda_wait=0.01, action_mode="assign")
    closest = evaluate(env_assign, make_scheduling_policy("closest", env_assign).act)

    # A uniformly random share action (DRLoS's starting point, the paper's "Random" in its
    # action space) averages ~0.012 here, Closest ~0.06: half the former is out of reach for
    # both, and also beats the paper's headline of 2.17x below Closest.
    assert drlos["variance"] < 0.5 * random_share["variance"], (drlos, random_share)
    assert drlos["variance"] < closest["variance"] / 2.17, (drlos, closest)
    assert drlos["dropped"] == 0 and drlos["latency_ms"] < closest["latency_ms"], (drlos, closest)
    # Training improved the sampled policy too: the (negative) return of the last 10
    # iterations is less than half as large as that of the first 10.
    first = np.mean([h["episodic_return"] for h in agent.history[:10]])
    last = np.mean([h["episodic_return"] for h in agent.history[-10:]])
    assert first < 0 and last > 0.5 * first, (first, last)
