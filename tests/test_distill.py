"""DP-distill (agents/distill.py): the oracle-imitating learner."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

import envs  # noqa: F401
from agents import load_actor
from agents.distill import DistillConfig, DPDistill

KW = {"dnn": "mobilenet_v1", "network": "mixture_synthetic"}
ID = "EdgeRL/MECPartition-v1"


def _gap(policy_batch, seed: int = 5) -> float:
    vec = gym.make_vec(ID, num_envs=20, vectorization_mode="vector_entry_point",
                       action_mode="discrete", **KW)  # fmt: skip
    obs, _ = vec.reset(seed=seed)
    gaps = []
    for _ in range(50):
        obs, _, _, _, info = vec.step(policy_batch(obs))
        gaps.append(info["gap"])
    return float(np.mean(gaps))


def test_distill_learns_saves_and_loads(tmp_path):
    agent = DPDistill(ID, KW, seed=0, num_envs=32, frames_per_iter=25)
    agent.learn(8000)
    actor = agent.fast_actor()
    learned = _gap(actor.act_batch)
    # uniform random placements and fixed all-cloud / all-device placements are far worse
    rng = np.random.default_rng(0)
    assert learned < 0.5 * _gap(lambda o: rng.integers(0, agent.P, (len(o), agent.n)))
    assert learned < _gap(lambda o: np.full((len(o), agent.n), 2))
    assert learned < _gap(lambda o: np.zeros((len(o), agent.n), dtype=np.int64))
    path = agent.save(tmp_path / "checkpoint.pt")
    env = gym.make(ID, action_mode="discrete", **KW)
    loaded = load_actor(path, env=env)
    obs, _ = env.reset(seed=1)
    np.testing.assert_array_equal(loaded.act(obs), actor.act(obs))
    assert env.action_space.contains(loaded.act(obs))


def test_distill_is_deterministic():
    a = DPDistill(ID, KW, seed=3, num_envs=8, frames_per_iter=5)
    b = DPDistill(ID, KW, seed=3, num_envs=8, frames_per_iter=5)
    a.learn(200)
    b.learn(200)
    for pa, pb in zip(a.net.parameters(), b.net.parameters(), strict=True):
        assert np.array_equal(pa.detach().numpy(), pb.detach().numpy())


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"lr": 0}, "lr must be"), ({"hidden": []}, "hidden must be"), ({"num_envs": 0}, "num_envs"),
     ({"beta0": 2}, "beta0"), ({"batch_size": True}, "batch_size")],
)  # fmt: skip
def test_distill_config_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DistillConfig(**kwargs)
    with pytest.raises(ValueError, match="total_frames"):
        DPDistill(ID, KW, num_envs=2).learn(0)


def test_distill_resume_is_exact(tmp_path):
    """Saved mid-episode (120 of 100-frame episodes: one batch ended at 100) with the labelled
    data, optimiser and RNG states: the restored agent continues as the original does."""
    kw = {"seed": 1, "num_envs": 4, "frames_per_iter": 30, "batch_size": 32}
    a = DPDistill(ID, KW, **kw)
    a.learn(4 * 30 * 4)
    assert a.logger.history["charts/episodic_return"][0][0] == 400  # the episodes ended
    path = a.save(tmp_path / "checkpoint.pt")
    b = DPDistill.load(path, ID, KW)
    assert (b.frames, b.iterations) == (a.frames, a.iterations)
    ra, rb = a.learn(4 * 30 * 3), b.learn(4 * 30 * 3)
    assert ra == rb and ra["episodic_length"] == 100  # the replayed episode ended at 200
    for pa, pb in zip(a.net.parameters(), b.net.parameters(), strict=True):
        assert torch.equal(pa, pb)
    np.testing.assert_array_equal(a.obs_buf, b.obs_buf)
    # without the labelled data it still loads (and trains on new data only)
    c = DPDistill.load(a.save(tmp_path / "small.pt", include_buffer=False), ID, KW)
    assert len(c.obs_buf) == 0 and c.frames == a.frames


def test_distill_takes_a_built_vector_env():
    def vec(num_envs=4, **kw):
        return gym.make_vec(ID, num_envs=num_envs, vectorization_mode="vector_entry_point",
                            **{"action_mode": "discrete", **KW, **kw})  # fmt: skip

    env = vec(oracle=True)
    agent = DPDistill(env, num_envs=4, frames_per_iter=25)
    out = agent.learn(400)
    assert agent.logger.last("charts/gap") is not None and np.isfinite(out["gap"])
    agent.close()  # not its env: still open
    env.step(np.zeros((4, agent.n), dtype=np.int64))
    with pytest.raises(ValueError, match="has 2 copies but num_envs=4"):
        DPDistill(vec(2), num_envs=4)
    with pytest.raises(ValueError, match="discrete mode"):
        DPDistill(vec(action_mode="continuous"), num_envs=4)
    with pytest.raises(ValueError, match="native vector env"):
        DPDistill(gym.make(ID, action_mode="discrete", **KW))
    with pytest.raises(ValueError, match="env_kwargs applies to an env id"):
        DPDistill(env, KW, num_envs=4)
