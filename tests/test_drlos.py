"""DRLoS (REINFORCE with a per-timestep baseline, Huang et al. Sec. 3.3.2): fast tests."""

from __future__ import annotations

import warnings

import gymnasium
import numpy as np
import pytest
import torch
from conftest import SCHEDULING_SMALL

from agents.common.checkpoint import load_checkpoint
from agents.drlos import (
    DRLoS,
    PolicyNetwork,
    collect_rollouts,
    discounted_returns,
    make_rollout_envs,
    pooling_matrix,
    time_baseline,
)
from agents.drlos.rollout import sample_actions
from agents.loading import load_actor
from envs.scheduling import ENV_ID, EdgeSchedulingEnv

# λ = 0.8 · 300 / 10 = 24 tasks per slot over 40 slots; episodes of ~120 steps, M = 64.
SMALL = SCHEDULING_SMALL


def small_env(**kw) -> gymnasium.Env:
    return gymnasium.make(ENV_ID, **{**SMALL, "lambda_wait": 0.01, **kw})


# Three episodes of one task set that end after 3, 2 and 1 steps (padded to T = 3).
REWARDS = np.array([[-1.0, -2.0, -3.0], [-4.0, -5.0, 99.0], [-6.0, 99.0, 99.0]])
MASK = np.array([[True, True, True], [True, True, False], [True, False, False]])


def test_returns_by_hand():
    # γ = 1: G = reversed cumulative sums; padded entries (99) are ignored and give G = 0.
    #   ep0: [-1-2-3, -2-3, -3] = [-6, -5, -3];  ep1: [-9, -5, 0];  ep2: [-6, 0, 0]
    g = discounted_returns(REWARDS, MASK, 1.0)
    np.testing.assert_allclose(g, [[-6, -5, -3], [-9, -5, 0], [-6, 0, 0]])
    # γ = 0.5: ep0: G2 = -3, G1 = -2 + 0.5·(-3) = -3.5, G0 = -1 + 0.5·(-3.5) = -2.75
    #          ep1: G1 = -5, G0 = -4 + 0.5·(-5) = -6.5;  ep2: G0 = -6
    g = discounted_returns(REWARDS, MASK, 0.5)
    np.testing.assert_allclose(g, [[-2.75, -3.5, -3], [-6.5, -5, 0], [-6, 0, 0]])
    # γ = 0: G = r.
    np.testing.assert_allclose(discounted_returns(REWARDS, MASK, 0.0), np.where(MASK, REWARDS, 0))


def test_per_timestep_baseline_by_hand():
    g = discounted_returns(REWARDS, MASK, 1.0)
    # "running": mean over the episodes still running at t.
    #   t0: (-6 - 9 - 6) / 3 = -7;  t1: (-5 - 5) / 2 = -5;  t2: -3 / 1 = -3
    np.testing.assert_allclose(time_baseline(g, MASK, "running"), [-7, -5, -3])
    # "zeros" (DeepRM): ended episodes count as return 0, mean over all N = 3.
    #   t0: -21 / 3 = -7;  t1: -10 / 3;  t2: -3 / 3 = -1
    np.testing.assert_allclose(time_baseline(g, MASK, "zeros"), [-7, -10 / 3, -1])
    # Advantages (running) on the taken steps: ep0 [1, 0, 0], ep1 [-2, 0], ep2 [1].
    adv = (g - time_baseline(g, MASK))[MASK]
    np.testing.assert_allclose(adv, [1, 0, 0, -2, 0, 1])
    with pytest.raises(ValueError, match="baseline"):
        time_baseline(g, MASK, "mean")


def test_pooling_matrix_matches_decoded_observation():
    env = EdgeSchedulingEnv(**SMALL)
    obs, _ = env.reset(options={"task_set_seed": 3})
    for _ in range(5):
        obs, *_ = env.step(5)
    lay = env.obs_layout
    feats = obs @ pooling_matrix(lay)
    parts = lay.decode(obs)
    m, big_m = 3, lay.buffer_size
    np.testing.assert_allclose(feats[: 2 * m + 2], obs[: 2 * m + 2])
    counts = np.bincount(parts.home[parts.mask], minlength=m) / big_m
    np.testing.assert_allclose(feats[2 * m + 2 : 3 * m + 2], counts, rtol=1e-5)
    np.testing.assert_allclose(feats[3 * m + 2], parts.wait.sum() / big_m, rtol=1e-5)
    np.testing.assert_allclose(feats[3 * m + 3], parts.service.sum() / big_m, rtol=1e-5)
    assert parts.mask.sum() > 0 and feats.shape == (3 * m + 4,)


def test_rollout_shapes_masks_and_replay():
    env = small_env()
    policy = PolicyNetwork(
        env.observation_space.shape[0], 8, projection=pooling_matrix(env.unwrapped.obs_layout),
        generator=torch.Generator().manual_seed(0),
    )  # fmt: skip
    envs = make_rollout_envs(env, 3)
    gen = torch.Generator().manual_seed(1)
    b = collect_rollouts(envs, policy, [7, 7, 7], max_steps=1000, generator=gen)
    n, t = b.mask.shape
    assert n == 3 and t == b.lengths.max() and b.features.shape == (3, t, 13)
    np.testing.assert_array_equal(b.mask, np.arange(t)[None] < b.lengths[:, None])
    for arr in (b.rewards, b.variance, b.actions, b.features[..., 0]):
        assert not np.any(arr[~b.mask])  # padding is zero
    assert not b.truncated.any() and len(set(b.actions[b.mask].tolist())) > 1
    # Replaying each episode's actions on a fresh env reproduces its rewards exactly: the
    # N episodes of a task set differ only through the actions.
    replay = EdgeSchedulingEnv(**SMALL, lambda_wait=0.01)
    for j in range(3):
        replay.reset(options={"task_set_seed": 7})
        rewards = [replay.step(int(a))[1] for a in b.actions[j, : b.lengths[j]]]
        np.testing.assert_array_equal(rewards, b.rewards[j, : b.lengths[j]])
    # max_steps truncates.
    cut = collect_rollouts(envs, policy, [7, 8, 9], max_steps=5, generator=gen)
    assert cut.mask.shape == (3, 5) and cut.truncated.all() and (cut.lengths == 5).all()


def test_update_matches_a_loop_over_timesteps():
    """The vectorised loss equals the textbook double loop over episodes and time steps."""
    env = small_env()
    a, ref = DRLoS(env, n_rollouts=3, seed=2), DRLoS(env, n_rollouts=3, seed=2)
    batch = a.collect(11)
    ref.collect(11)  # keep the two generators in step
    a.update(batch)

    g = discounted_returns(batch.rewards, batch.mask, 1.0)
    terms = []
    for t in range(batch.mask.shape[1]):
        running = [j for j in range(3) if batch.mask[j, t]]
        b_t = sum(g[j, t] for j in running) / len(running)
        for j in running:
            logits = ref.policy.head(torch.from_numpy(batch.features[j, t]))
            logp = torch.log_softmax(logits, -1)[batch.actions[j, t]]
            terms.append(-logp * float(g[j, t] - b_t))
    loss = torch.stack(terms).mean()
    ref.optimizer.zero_grad()
    loss.backward()
    ref.optimizer.step()
    for p, q in zip(a.policy.parameters(), ref.policy.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-7)


def test_training_is_deterministic_per_seed():
    env = small_env()
    runs = [DRLoS(env, n_rollouts=3, lr=1e-2, seed=s).learn(3) for s in (5, 5, 6)]
    a, b, c = runs
    assert [h["policy_loss"] for h in a.history] == [h["policy_loss"] for h in b.history]
    assert [h["episodic_return"] for h in a.history] != [h["episodic_return"] for h in c.history]
    for p, q in zip(a.policy.parameters(), b.policy.parameters(), strict=True):
        assert torch.equal(p, q)
    assert a.iteration == 3 and a.num_timesteps == sum(3 * h["episodic_length"] for h in a.history)


def _reference_rollouts(env_kw, policy, seeds, max_steps, generator, deterministic):
    """The rollouts as collected before the vector env: one single env per episode, the
    running episodes stepped one by one, ``torch.multinomial`` sampling."""
    envs = [EdgeSchedulingEnv(**env_kw) for _ in seeds]
    obs = np.stack(
        [e.reset(options={"task_set_seed": k})[0] for e, k in zip(envs, seeds, strict=True)]
    )
    n = len(seeds)
    alive, lengths = np.ones(n, dtype=bool), np.zeros(n, dtype=np.int64)
    truncated, latency = np.zeros(n, dtype=bool), np.full(n, np.nan)
    feats_t, acts_t, rews_t, vars_t = [], [], [], []
    while alive.any():
        idx = np.flatnonzero(alive)
        feats = policy.encode(torch.from_numpy(obs[idx]))
        logits = policy.head(feats)
        if deterministic:
            chosen = logits.argmax(dim=-1)
        else:
            chosen = torch.multinomial(torch.softmax(logits, -1), 1, generator=generator)[:, 0]
        acts, rews, var = np.zeros(n, dtype=np.int64), np.zeros(n), np.zeros(n)
        col = np.zeros((n, feats.shape[1]), dtype=np.float32)
        acts[idx], col[idx] = chosen.numpy(), feats.numpy()
        for j in idx:
            o, r, term, _, info = envs[j].step(int(acts[j]))
            obs[j], rews[j], var[j] = o, r, info["variance"]
            lengths[j] += 1
            if term or lengths[j] >= max_steps:
                alive[j], truncated[j] = False, not term
                lat = envs[j].task_latency_ms
                latency[j] = lat[~np.isnan(lat)].mean()
        for cols, col_t in ((feats_t, col), (acts_t, acts), (rews_t, rews), (vars_t, var)):
            cols.append(col_t)
    stacked = [np.stack(cols, axis=1) for cols in (feats_t, acts_t, rews_t, vars_t)]
    return (*stacked, lengths, truncated, latency)


@pytest.mark.parametrize(
    "seeds,max_steps,deterministic", [([7] * 4, 1000, False), ([3, 4, 5], 60, True)]
)
def test_vector_rollouts_equal_the_single_env_rollouts(seeds, max_steps, deterministic):
    """Through the vector env the rollouts are the same, bit for bit, as with one single env
    per episode (so a seed trains the same DRLoS as before the vector env)."""
    env_kw = {**SMALL, "lambda_wait": 0.01}
    policy = PolicyNetwork(
        small_env().observation_space.shape[0], 8,
        projection=pooling_matrix(EdgeSchedulingEnv(**env_kw).obs_layout),
        generator=torch.Generator().manual_seed(0),
    )  # fmt: skip
    gen_a, gen_b = torch.Generator().manual_seed(9), torch.Generator().manual_seed(9)
    batch = collect_rollouts(
        make_rollout_envs(small_env(), len(seeds)), policy, seeds, max_steps=max_steps,
        generator=gen_a, deterministic=deterministic,
    )  # fmt: skip
    feats, acts, rews, var, lengths, truncated, latency = _reference_rollouts(
        env_kw, policy, seeds, max_steps, gen_b, deterministic
    )
    np.testing.assert_array_equal(batch.features, feats)
    np.testing.assert_array_equal(batch.actions, acts)
    np.testing.assert_array_equal(batch.rewards, rews)
    np.testing.assert_array_equal(batch.variance, var)
    np.testing.assert_array_equal(batch.lengths, lengths)
    np.testing.assert_array_equal(batch.truncated, truncated)
    np.testing.assert_array_equal(batch.latency_ms, latency)
    assert torch.equal(gen_a.get_state(), gen_b.get_state())
    assert truncated.any() == (max_steps == 60)


def test_sample_actions_is_torch_multinomial():
    probs = torch.softmax(torch.randn(50, 8, generator=torch.Generator().manual_seed(0)), -1)
    a, b = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    for _ in range(200):
        expected = torch.multinomial(probs, 1, generator=a)[:, 0]
        assert torch.equal(sample_actions(probs, b), expected)
    assert torch.equal(a.get_state(), b.get_state())


def test_save_load_round_trip_and_fast_actor(tmp_path):
    env = small_env()
    agent = DRLoS(env, n_rollouts=3, lr=1e-2, seed=1)
    agent.learn(2, eval_every=1, eval_task_sets=[100, 101])
    path = agent.save(tmp_path / "ckpt" / "drlos.pt")
    assert [p.name for p in path.parent.iterdir()] == ["drlos.pt"]  # no temp file left
    payload = load_checkpoint(path)  # torch.load(weights_only=True)
    assert payload["algo"] == "drlos" and payload["scheduling"]["lambda_wait"] == 0.01

    loaded = DRLoS.load(path, env)
    obs = np.stack([agent.env.observation_space.sample() for _ in range(64)])
    obs[:, :6] = np.random.default_rng(0).random((64, 6))  # varied server state
    np.testing.assert_array_equal(loaded.predict(obs), agent.predict(obs))
    assert loaded.history == agent.history and loaded.iteration == 2

    actor = load_actor(path, env=env)
    acts = actor.act_batch(obs)
    np.testing.assert_array_equal(acts, agent.predict(obs))
    one = actor.act(obs[0])
    assert isinstance(one, int | np.integer) and env.action_space.contains(int(one))
    with torch.no_grad():
        logits = agent.policy(torch.from_numpy(obs)).numpy()
    np.testing.assert_allclose(np.stack([actor.logits(o) for o in obs]), logits, atol=1e-5)

    # Resuming continues the run exactly (weights, optimizer, task-set and sampling RNGs).
    agent.learn(2)
    loaded.learn(2)
    assert [h["policy_loss"] for h in loaded.history] == [h["policy_loss"] for h in agent.history]
    for p, q in zip(agent.policy.parameters(), loaded.policy.parameters(), strict=True):
        assert torch.equal(p, q)


def test_mismatched_checkpoint_is_rejected(tmp_path):
    path = DRLoS(small_env(), n_rollouts=2).save(tmp_path / "d.pt")
    other = small_env(num_servers=2)
    with pytest.raises(ValueError, match="action_space"):
        DRLoS.load(path, other)
    with pytest.raises(ValueError, match="observation_space"):
        load_actor(path, env=other)
    # Another load level keeps the interface: allowed (evaluation across loads), silently.
    at_1_2 = small_env(load=1.2, lambda_wait=0.0)  # (gym.make of v0 warns: v1 exists)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert DRLoS.load(path, at_1_2).iteration == 0
    # Same spaces, other servers or share rule: loads, but warns naming the fields.
    with pytest.warns(UserWarning, match=r"capacities=\[100, 100, 100\].*eta=0\.05"):
        DRLoS.load(path, small_env(capacities=[50, 100, 150], eta=0.08))


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"n_rollouts": 1}, "n_rollouts"),
        ({"lr": 0.0}, "lr"),
        ({"lr": -1e-3}, "lr"),
        ({"gamma": 1.5}, "gamma"),
        ({"hidden": 0}, "hidden"),
        ({"baseline": "mean"}, "baseline"),
        ({"features": "cnn"}, "features"),
        ({"entropy_coef": -0.1}, "entropy_coef"),
        ({"max_steps": 0}, "max_steps"),
        ({"learning_rate": 0.1}, "learning_rate"),
    ],
)
def test_bad_arguments_name_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field):
        DRLoS(small_env(), **kwargs)


def test_needs_the_share_action_mode():
    with pytest.raises(ValueError, match="action_mode='shares'"):
        DRLoS(small_env(action_mode="assign"))
    with pytest.raises(ValueError, match="iterations"):
        DRLoS(small_env()).learn(-1)


def test_sampled_predictions_are_seeded_and_leave_training_alone():
    env = small_env()
    a, b = DRLoS(env, n_rollouts=2, seed=3), DRLoS(env, n_rollouts=2, seed=3)
    obs = np.zeros((200, env.observation_space.shape[0]), dtype=np.float32)
    draws = a.predict(obs, deterministic=False)  # untrained: close to uniform over 8 actions
    assert draws.shape == (200,) and len(np.unique(draws)) == 8
    g1, g2 = torch.Generator().manual_seed(9), torch.Generator().manual_seed(9)
    np.testing.assert_array_equal(
        a.predict(obs, deterministic=False, generator=g1),
        b.predict(obs, deterministic=False, generator=g2),
    )
    a.learn(1)
    b.learn(1)  # b never used its predict generator: same training run
    assert a.history == b.history
