"""Scheduling heuristics (closest, average, random, least-loaded) on EdgeScheduling-v0."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest
from conftest import synthetic_obs

from agents.scheduling_baselines import (
    SCHEDULING_POLICIES,
    AveragePolicy,
    ClosestPolicy,
    LeastLoadedPolicy,
    RandomPolicy,
    make_scheduling_policy,
)
from envs.scheduling import ENV_ID, RECOMMENDED_MAX_EPISODE_STEPS, EdgeSchedulingEnv

SMALL = {
    "capacities": 50,
    "buffer_size": 32,
    "window_slots": 20,
    "num_users": 100,
    "action_mode": "assign",
}


def episode(env, policy, task_set_seed: int) -> tuple[list[dict], bool]:
    obs, info = env.reset(options={"task_set_seed": task_set_seed})
    infos = [info]
    for _ in range(RECOMMENDED_MAX_EPISODE_STEPS):
        action = policy.act(obs)
        assert env.action_space.contains(action)
        obs, _, terminated, truncated, info = env.step(action)
        infos.append(info)
        if terminated or truncated:
            return infos, terminated
    return infos, False


@pytest.mark.parametrize("name", sorted(SCHEDULING_POLICIES))
def test_policy_runs_an_episode_within_capacity(name):
    env = gymnasium.make(ENV_ID, **SMALL)
    policy = make_scheduling_policy(name, env, **({"seed": 0} if name == "random" else {}))
    infos, terminated = episode(env, policy, task_set_seed=1)
    assert terminated
    for info in infos:
        assert (
            info["arrived"]
            == info["completed"] + info["waiting"] + info["in_service"] + info["dropped"]
        )
        assert info["rejected"] == 0  # policies keep to free capacity themselves
    if name == "closest":
        assert infos[-1]["forwarded"] == 0
    elif name != "latency_greedy":  # it forwards only when home overflows (tested below)
        assert infos[-1]["forwarded"] > 0


def test_closest_only_home_and_waits_when_full():
    env = EdgeSchedulingEnv(
        num_servers=3, capacities=[4, 10, 10], buffer_size=8, action_mode="assign"
    )
    action = ClosestPolicy(env).act(synthetic_obs(env, [2, 0, 10], [0, 1, 0, 0, 2, 1]))
    # server 0 has 2 free slots: the first two home-0 tasks go, the third waits; server 2 is full
    np.testing.assert_array_equal(action, [0, 1, 0, 3, 3, 1, 3, 3])


def test_average_round_robin_continues_across_steps():
    env = EdgeSchedulingEnv(num_servers=3, capacities=10, buffer_size=8, action_mode="assign")
    policy = AveragePolicy(env)
    obs = synthetic_obs(env, [0, 0, 0], [0, 0, 0, 0])
    np.testing.assert_array_equal(policy.act(obs), [0, 1, 2, 0, 3, 3, 3, 3])
    np.testing.assert_array_equal(policy.act(obs), [1, 2, 0, 1, 3, 3, 3, 3])
    full0 = synthetic_obs(env, [10, 0, 0], [0, 0, 0])
    # next in the cycle is server 2; server 0 is full so its turn keeps the task waiting
    np.testing.assert_array_equal(policy.act(full0), [2, 3, 1, 3, 3, 3, 3, 3])
    np.testing.assert_array_equal(policy.act(obs), [2, 0, 1, 2, 3, 3, 3, 3])
    policy.reset()
    np.testing.assert_array_equal(policy.act(obs)[:2], [0, 1])


def test_least_loaded_greedy_by_utilisation_and_by_free_slots():
    env = EdgeSchedulingEnv(
        num_servers=3, capacities=[10, 20, 10], buffer_size=8, action_mode="assign"
    )
    obs = synthetic_obs(env, [8, 10, 0], [0, 0, 1, 1, 2, 0, 0])
    # utilisation: server 2 (0.0 .. 0.4) fills first, then 1 at 0.5 ties 2 at 0.5 (lower index)
    np.testing.assert_array_equal(LeastLoadedPolicy(env).act(obs), [2, 2, 2, 2, 2, 1, 2, 3])
    # free slots (2, 10, 10): servers 1 and 2 alternate, lower index first
    np.testing.assert_array_equal(
        LeastLoadedPolicy(env, key="free").act(obs), [1, 2, 1, 2, 1, 2, 1, 3]
    )
    full = synthetic_obs(env, [10, 20, 10], [0, 1])
    np.testing.assert_array_equal(LeastLoadedPolicy(env).act(full), [3] * 8)


def test_random_is_seeded_and_uniform():
    env = EdgeSchedulingEnv(num_servers=3, capacities=1000, buffer_size=300, action_mode="assign")
    obs = synthetic_obs(env, [0, 0, 0], np.zeros(300, dtype=np.int64))
    a1, a2, a3 = (
        RandomPolicy(env, seed=7).act(obs),
        RandomPolicy(env, seed=7).act(obs),
        RandomPolicy(env, seed=8).act(obs),
    )
    np.testing.assert_array_equal(a1, a2)
    assert not np.array_equal(a1, a3)
    counts = np.bincount(a1, minlength=4)
    assert counts[3] == 0 and np.all(np.abs(counts[:3] - 100) < 30)


@pytest.mark.parametrize("name", ["closest", "least_loaded"])
def test_act_batch_matches_act_on_a_vector_env(name):
    vec = gymnasium.make_vec(ENV_ID, num_envs=3, vectorization_mode="sync", **SMALL)
    single = gymnasium.make(ENV_ID, **SMALL)
    policy = make_scheduling_policy(name, single)
    obs, _ = vec.reset(seed=4)
    for _ in range(10):
        batch = policy.act_batch(obs)
        assert batch.shape == (3, 32)
        for row in range(3):
            np.testing.assert_array_equal(batch[row], policy.act(obs[row]))
        obs, *_ = vec.step(batch)
    vec.close()


def test_least_loaded_beats_closest_at_load_08():
    env = gymnasium.make(ENV_ID, action_mode="assign", load=0.8)
    variance = {}
    for name in ("closest", "least_loaded"):
        policy = make_scheduling_policy(name, env)
        v = []
        for k in range(2):
            infos, terminated = episode(env, policy, task_set_seed=k)
            assert terminated
            v += [i["variance"] for i in infos[1:]]
        variance[name] = np.mean(v)
    assert variance["least_loaded"] < 0.2 * variance["closest"]


def test_wrong_env_or_mode_or_name():
    with pytest.raises(ValueError, match="action_mode='assign'"):
        ClosestPolicy(EdgeSchedulingEnv())
    with pytest.raises(ValueError, match="EdgeSchedulingEnv"):
        LeastLoadedPolicy(gymnasium.make("CartPole-v1"))
    env = EdgeSchedulingEnv(**SMALL)
    with pytest.raises(ValueError, match="unknown scheduling policy"):
        make_scheduling_policy("fastest", env)
    with pytest.raises(ValueError, match="key"):
        LeastLoadedPolicy(env, key="latency")
    with pytest.raises(ValueError, match="obs_batch"):
        ClosestPolicy(env).act_batch(np.zeros((2, 7), dtype=np.float32))
