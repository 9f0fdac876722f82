"""Checkpoints: atomic writes, weights_only loads, env signatures and mismatch errors."""

from __future__ import annotations

import json
import os
import warnings

import gymnasium as gym
import numpy as np
import pytest
import torch

import envs  # noqa: F401  (registers the env ids)
from agents.common.checkpoint import (
    CHECKPOINT_FORMAT,
    STRICT_FIELDS,
    check_signature,
    env_signature,
    load_checkpoint,
    numpy_rng_state,
    save_checkpoint,
    set_numpy_rng_state,
    space_from_dict,
    space_to_dict,
)
from agents.iorlo import IoRLO
from agents.loading import load_actor
from envs.wrappers import IntentThresholds

MEC = "EdgeRL/MECPartition-v0"
D2D = "EdgeRL/D2DPartition-v0"


class _NotAllowed:  # an arbitrary object: weights_only loading must refuse it
    pass


def test_save_is_atomic_and_loads_weights_only(tmp_path):
    path = tmp_path / "sub" / "ckpt.pt"
    payload = {"algo": "x", "t": torch.arange(3.0), "nested": {"a": [1, 2.5, None, "s"]}}
    save_checkpoint(path, payload)
    save_checkpoint(path, {**payload, "algo": "y"})  # replaces the previous file
    assert sorted(os.listdir(path.parent)) == ["ckpt.pt"]  # no temp files left behind
    raw = torch.load(path, weights_only=True)
    assert raw["format"] == CHECKPOINT_FORMAT and raw["algo"] == "y"
    data = load_checkpoint(path)
    assert torch.equal(data["t"], torch.arange(3.0)) and data["nested"]["a"] == [1, 2.5, None, "s"]


def test_failed_save_keeps_previous_file(tmp_path):
    path = tmp_path / "ckpt.pt"
    save_checkpoint(path, {"algo": "old"})
    with pytest.raises(Exception):  # noqa: B017  (pickling a lambda fails mid-write)
        save_checkpoint(path, {"algo": "new", "bad": lambda: 0})
    assert load_checkpoint(path)["algo"] == "old"
    assert sorted(os.listdir(tmp_path)) == ["ckpt.pt"]


def test_load_rejects_pickles_and_foreign_files(tmp_path):
    evil = tmp_path / "evil.pt"
    torch.save({"format": CHECKPOINT_FORMAT, "version": 1, "obj": _NotAllowed()}, evil)
    with pytest.raises(ValueError, match="weights_only"):
        load_checkpoint(evil)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(2)}, foreign)
    with pytest.raises(ValueError, match="format"):
        load_checkpoint(foreign)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError):
        load_checkpoint(junk)
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "missing.pt")


def test_env_signature_fields_are_plain_values():
    env = gym.make(MEC, dnn="alexnet")
    sig = env_signature(env)
    assert set(STRICT_FIELDS) <= set(sig)
    assert sig["env_id"] == MEC and sig["scenario"] == "mec"
    assert sig["profile_name"] == "alexnet"
    assert sig["profile_fingerprint"] == env.unwrapped.profile.fingerprint()
    assert sig["n_blocks"] == 10 and sig["num_platforms"] == 3
    assert sig["thresholds"] == {"epsilon": pytest.approx(1 / 3), "phi": pytest.approx(2 / 3)}
    assert sig["action_mode"] == "continuous"
    assert sig["action_space"]["type"] == "Box" and sig["action_space"]["shape"] == [10]
    assert sig["observation_space"]["shape"] == list(env.observation_space.shape)
    json.dumps(sig)  # only plain values
    d2d = env_signature(gym.make(D2D, dnn="alexnet", zeta=0.3))
    assert d2d["thresholds"] == {"zeta": 0.3} and d2d["num_platforms"] == 2


def test_signature_of_vector_env_matches_single_env():
    single = env_signature(gym.make(MEC, dnn="lenet"))
    vec = env_signature(gym.make_vec(MEC, num_envs=4, dnn="lenet"))
    assert not [f for f in STRICT_FIELDS if single[f] != vec[f]]


def test_intent_threshold_wrapper_thresholds_are_recorded():
    env = IntentThresholds(gym.make(MEC, dnn="lenet", action_mode="discrete"), [0.2, 0.7])
    sig = env_signature(env)
    assert sig["thresholds"] == {"thresholds[0]": 0.2, "thresholds[1]": 0.7}
    assert sig["action_space"]["type"] == "Box" and sig["action_mode"] == "discrete"


def test_space_round_trip():
    for space in (
        gym.spaces.Box(0.0, 1.0, (3,), np.float32),
        gym.spaces.Discrete(8),
        gym.spaces.MultiDiscrete([3, 3, 2]),
    ):
        assert space_from_dict(space_to_dict(space)) == space


def test_check_signature_names_each_mismatching_field():
    saved = env_signature(gym.make(MEC, dnn="alexnet"))
    check_signature(saved, gym.make(MEC, dnn="alexnet"))  # same interface: fine
    with pytest.raises(ValueError) as err:
        check_signature(saved, gym.make(MEC, dnn="vgg16"))
    msg = str(err.value)
    for field in (
        "profile_name",
        "profile_fingerprint",
        "n_blocks",
        "observation_space",
        "action_space",
    ):
        assert field in msg
    assert "'alexnet'" in msg and "'vgg16'" in msg
    with pytest.raises(ValueError, match="thresholds") as err:
        check_signature(saved, gym.make(MEC, dnn="alexnet", epsilon=0.2))
    assert "profile" not in str(err.value)
    with pytest.raises(ValueError, match="env_id"):
        check_signature(saved, gym.make(D2D, dnn="alexnet"))
    with pytest.raises(ValueError, match="input_shape|profile_fingerprint"):
        check_signature(saved, gym.make(MEC, dnn="alexnet", input_shape=(3, 64, 64)))


def test_cost_weight_mismatch_only_warns():
    saved = env_signature(gym.make(MEC, dnn="alexnet"))
    with pytest.warns(UserWarning, match="env_params"):
        check_signature(saved, gym.make(MEC, dnn="alexnet", eta1=1.0))


def test_agent_checkpoint_mismatch_errors(tmp_path):
    env = gym.make(MEC, dnn="lenet")
    agent = IoRLO(env, seed=0)
    path = agent.save(tmp_path / "iorlo.pt")
    with pytest.raises(ValueError, match="profile_fingerprint"):
        IoRLO.load(path, gym.make(MEC, dnn="alexnet"))
    with pytest.raises(ValueError, match="zeta|thresholds"):
        load_actor(path, env=gym.make(D2D, dnn="lenet"))
    same = gym.make(MEC, dnn="lenet")  # (outside: gym.make may warn about env versions)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_actor(path, env=same)  # matching env: no warning


def test_numpy_rng_state_round_trip(tmp_path):
    rng = np.random.default_rng(7)
    rng.random(5)
    path = save_checkpoint(tmp_path / "rng.pt", {"rng": numpy_rng_state(rng)})
    expected = rng.random(4)
    fresh = np.random.default_rng(0)
    set_numpy_rng_state(fresh, load_checkpoint(path)["rng"])
    np.testing.assert_array_equal(fresh.random(4), expected)
    with pytest.raises(ValueError, match="MT19937"):
        set_numpy_rng_state(np.random.Generator(np.random.MT19937(0)), numpy_rng_state(rng))
