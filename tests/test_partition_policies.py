"""Partitioning baselines as env policies: names, scenarios, action conversion, batching."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import envs  # noqa: F401 - registers the ids
from agents import make_policy
from agents.partition_baselines import D2D_ONLY, MEC_ONLY, make_rule
from agents.partition_policies import (
    PARTITION_POLICIES,
    PARTITION_POLICY_NAMES,
    RulePolicy,
    make_partition_policy,
)
from envs.wrappers import IntentThresholds

MEC, D2D = "EdgeRL/MECPartition-v0", "EdgeRL/D2DPartition-v0"
NAMES = {
    MEC: [n for n in PARTITION_POLICY_NAMES if n not in D2D_ONLY],
    D2D: [n for n in PARTITION_POLICY_NAMES if n not in MEC_ONLY],
}


def test_registry_names():
    assert set(PARTITION_POLICIES) == {
        "self", "edge_only", "cloud_only", "neuro_l", "neuro_e", "deepar", "jalad",
        "co_h", "co_l", "random", "paper_random", "oracle", "dp_measured", "constant",
    }  # fmt: skip
    env = gym.make(MEC)
    with pytest.raises(ValueError, match="known: self, edge_only"):
        make_partition_policy("greedy", env)
    with pytest.raises(ValueError, match="unknown partitioning policy 'greedy'"):
        make_policy("greedy", env)
    for name in D2D_ONLY:
        with pytest.raises(ValueError, match="D2D scenario only"):
            make_policy(name, env)
    for name in MEC_ONLY:
        with pytest.raises(ValueError, match="MEC scenario only"):
            make_policy(name, gym.make(D2D))


@pytest.mark.parametrize("env_id", [MEC, D2D])
@pytest.mark.parametrize("mode", ["continuous", "discrete"])
def test_policies_act_in_space_and_apply_their_rule(env_id, mode):
    env = gym.make(env_id, action_mode=mode)
    obs, _ = env.reset(seed=0)
    for name in NAMES[env_id]:
        kwargs = {"seed": 1} if name == "random" else {}
        policy = make_policy(name, env, **kwargs)
        ref = make_rule("oracle" if name == "dp_measured" else name, **kwargs)
        assert isinstance(policy, RulePolicy)
        for _ in range(3):
            expected = ref.decide(env.unwrapped.problem)
            action = policy.act(obs)
            assert env.action_space.contains(action), name
            obs, _, _, _, info = env.step(action)
            if not info.get("no_collaborator"):
                np.testing.assert_array_equal(info["decision"], expected, err_msg=name)
            if name == "oracle":
                assert info["gap"] == pytest.approx(0.0, abs=1e-9)
            if name == "self":
                assert np.all(info["decision"] == 0)


def test_policy_with_intent_thresholds_wrapper():
    env = IntentThresholds(gym.make(MEC, action_mode="discrete"), thresholds=[0.1, 0.2])
    env.reset(seed=0)
    policy = make_policy("oracle", env)
    for _ in range(3):
        action = policy.act(None)
        assert env.action_space.contains(action)
        info = env.step(action)[4]
        assert info["gap"] == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("env_id", [MEC, D2D])
def test_act_batch_with_vector_env(env_id):
    v = gym.make_vec(env_id, num_envs=16)
    obs, _ = v.reset(seed=2)
    for name in ("oracle", "neuro_l", "self"):
        policy = make_policy(name, v)
        actions = policy.act_batch(obs)
        assert v.action_space.contains(actions)
        obs, _, _, _, info = v.step(actions)
        if name == "oracle":
            np.testing.assert_allclose(info["gap"], 0.0, atol=1e-9)
        if name == "self":
            assert np.all(info["decision"] == 0)
        with pytest.raises(ValueError, match="act_batch"):
            policy.act(obs[0])
        with pytest.raises(ValueError, match="rows"):
            policy.act_batch(obs[:3])
    single = gym.make(env_id)
    obs, _ = single.reset(seed=0)
    policy = make_policy("neuro_e", single)
    batch = policy.act_batch(obs[None])
    assert batch.shape == (1, 17) and single.action_space.contains(batch[0])
    with pytest.raises(ValueError, match="batch of 2"):
        policy.act_batch(np.stack([obs, obs]))


def test_make_policy_rejects_non_partition_envs():
    with pytest.raises(ValueError, match="partitioning env"):
        RulePolicy(gym.make("CartPole-v1"), make_rule("self"), "self")


def test_constant_policy_plays_its_decision():
    env = gym.make(MEC, dnn="alexnet")
    obs, _ = env.reset(seed=0)
    dec = [0, 0, 1, 1, 1, 2, 2, 2, 2, 2]
    policy = make_policy("constant", env, decision=dec)
    for _ in range(3):
        obs, *_, info = env.step(policy.act(obs))
        np.testing.assert_array_equal(info["decision"], dec)
    with pytest.raises(ValueError, match="decision must be"):
        make_policy("constant", env)
    with pytest.raises(ValueError, match="n=10"):
        make_policy("constant", env, decision=[0, 1]).act(obs)
