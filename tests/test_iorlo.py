"""IoRLO agent: construction on every env/DNN, updates, determinism, resume, logging."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

import envs  # noqa: F401  (registers the env ids)
from agents.common.logger import RunLogger
from agents.iorlo import (
    GaussianNoise,
    IoRLO,
    IoRLOConfig,
    IoRLOPlus,
    OUNoise,
    ReplayBatch,
    ReplayBuffer,
    episode_seed,
    fixed_placements,
)
from envs.dnn import BUILTIN_PROFILES
from envs.wrappers import IntentThresholds

MEC = "EdgeRL/MECPartition-v0"
D2D = "EdgeRL/D2DPartition-v0"
TINY = {"learning_starts": 30, "batch_size": 16, "buffer_size": 1000}


def _params(agent: IoRLO) -> list[torch.Tensor]:
    nets = [agent.actor, agent.critic, agent.actor_target, agent.critic_target]
    if agent.critic2 is not None:
        nets += [agent.critic2, agent.critic2_target]
    return [p.detach().clone() for n in nets for p in n.parameters()]


@pytest.mark.parametrize("env_id", [MEC, D2D])
@pytest.mark.parametrize("dnn", BUILTIN_PROFILES)
def test_runs_on_every_env_and_dnn(env_id, dnn):
    env = gym.make(env_id, dnn=dnn)
    agent = IoRLO(env, seed=0, **TINY)
    assert agent.actor.linears()[0].in_features == env.observation_space.shape[0]
    assert agent.actor.linears()[0].out_features == 50  # paper: one hidden layer of 50
    assert agent.critic.net[0].out_features == 30  # paper: critic hidden layer of 30
    agent.learn(60)
    assert agent.global_step == 60 and agent.n_updates == 30
    obs, _ = env.reset(seed=1)
    a = agent.predict(obs)
    assert env.action_space.contains(a)
    assert agent.predict(np.stack([obs, obs])).shape == (2, env.action_space.shape[0])


def test_improved_variant_runs_on_d2d():
    env = gym.make(D2D, dnn="mobilenet_v1")
    agent = IoRLOPlus(env, seed=0, **TINY)
    assert agent.config.variant == "td3" and agent.config.obs_norm
    agent.learn(80)
    assert agent.critic2 is not None and agent.obs_rms.count == 80


def test_config_validation_names_the_field():
    env = gym.make(MEC, dnn="lenet")
    for kwargs, field in [
        ({"gamma": 1.5}, "gamma"),
        ({"noise": "pink"}, "noise"),
        ({"variant": "sac"}, "variant"),
        ({"batch_size": 0}, "batch_size"),
        ({"hidden_actor": (50, 0)}, "hidden_actor"),
        ({"reward_scale": -1.0}, "reward_scale"),
        ({"lr_actor": 0.0}, "lr_actor"),
        ({"critic_input": "logits"}, "critic_input"),
        ({"explore_placements": 1.5}, "explore_placements"),
        ({"bogus": 1}, "bogus"),
    ]:
        with pytest.raises(ValueError, match=field):
            IoRLO(env, **kwargs)


def test_needs_a_unit_box_action_space():
    with pytest.raises(ValueError, match="IntentThresholds"):
        IoRLO(gym.make(MEC, dnn="lenet", action_mode="discrete"))
    wrapped = IntentThresholds(gym.make(MEC, dnn="lenet", action_mode="discrete"))
    agent = IoRLO(wrapped, seed=0, **TINY)
    agent.learn(40)
    assert agent.signature["action_mode"] == "discrete"


def test_update_returns_finite_losses_and_moves_the_networks():
    env = gym.make(MEC, dnn="lenet")
    for cls in (IoRLO, IoRLOPlus):
        agent = cls(env, seed=0, **TINY)
        agent.learn(40)  # fills the buffer, sets the reward scale
        before = _params(agent)
        losses = {}
        for _ in range(2):  # TD3 updates the actor every second call
            losses.update(agent.update(agent.buffer.sample(16, agent.rng)))
        assert {"critic_loss", "actor_loss", "q_values"} <= set(losses)
        assert all(np.isfinite(v) for v in losses.values())
        after = _params(agent)
        assert any(not torch.equal(a, b) for a, b in zip(before, after, strict=True))


def test_truncation_is_not_terminal():
    env = gym.make(MEC, dnn="lenet")
    agent = IoRLO(env, seed=0, **TINY)
    agent.learn(250)  # two full episodes end by truncation
    assert agent.episode == 3
    assert not agent.buffer.terminations[: len(agent.buffer)].any()


def test_same_seed_same_run_different_seed_different_run():
    env = gym.make(MEC, dnn="lenet")
    runs = []
    for seed in (5, 5, 6):
        agent = IoRLOPlus(env, seed=seed, **TINY)
        agent.learn(120)
        runs.append((_params(agent), agent.logger.history["losses/critic_loss"]))
    (p1, l1), (p2, l2), (p3, _) = runs
    assert all(torch.equal(a, b) for a, b in zip(p1, p2, strict=True)) and l1 == l2
    assert not all(torch.equal(a, b) for a, b in zip(p1, p3, strict=True))


def test_global_torch_rng_is_untouched():
    env = gym.make(MEC, dnn="lenet")
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    IoRLO(env, seed=0, **TINY).learn(50)
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize("cls", [IoRLO, IoRLOPlus])
def test_resume_from_checkpoint_is_exact(cls, tmp_path):
    env = gym.make(MEC, dnn="lenet")
    straight = cls(env, seed=1, **TINY)
    straight.learn(200)
    first = cls(env, seed=1, **TINY)
    first.learn(100)  # an episode boundary
    path = first.save(tmp_path / "ckpt.pt", include_buffer=True)
    raw = torch.load(path, weights_only=True)  # plain tensors and values only
    assert raw["algo"] == "iorlo" and raw["state"]["global_step"] == 100
    resumed = cls.load(path, gym.make(MEC, dnn="lenet"))
    assert resumed.global_step == 100 and len(resumed.buffer) == 100
    resumed.learn(100)
    assert all(torch.equal(a, b) for a, b in zip(_params(straight), _params(resumed), strict=True))
    assert resumed.n_updates == straight.n_updates
    for name in ("actor_optimizer", "critic_optimizer"):
        s1 = getattr(straight, name).state_dict()["state"]
        s2 = getattr(resumed, name).state_dict()["state"]
        assert all(torch.equal(s1[k]["exp_avg"], s2[k]["exp_avg"]) for k in s1)


def test_checkpoint_without_buffer_and_overrides(tmp_path):
    env = gym.make(MEC, dnn="lenet")
    agent = IoRLO(env, seed=0, **TINY)
    agent.learn(60)
    path = agent.save(tmp_path / "small.pt")
    loaded = IoRLO.load(path, env, torch_threads=None)
    assert len(loaded.buffer) == 0 and loaded.config.torch_threads is None
    assert loaded.reward_scale == agent.reward_scale
    obs, _ = env.reset(seed=3)
    np.testing.assert_array_equal(loaded.predict(obs), agent.predict(obs))
    with pytest.raises(ValueError, match="iorlo"):
        from agents.common.checkpoint import save_checkpoint

        IoRLO.load(save_checkpoint(tmp_path / "other.pt", {"algo": "drlos"}), env)


def test_logging_tag_scheme_and_tensorboard_files(tmp_path):
    env, ev = gym.make(MEC, dnn="lenet"), gym.make(MEC, dnn="lenet")
    logger = RunLogger(tmp_path / "run")
    agent = IoRLO(env, seed=0, logger=logger, **TINY)
    seen = []
    agent.learn(
        200,
        eval_env=ev,
        eval_every=100,
        eval_seeds=(1, 2),
        log_every=50,
        callback=lambda ag, m: seen.append(dict(m)),
    )
    logger.close()
    h = logger.history
    for tag in (
        "charts/episodic_return",
        "charts/cost",
        "charts/gap",
        "charts/SPS",
        "losses/critic_loss",
        "losses/actor_loss",
        "losses/q_values",
        "eval/gap",
        "eval/cost",
        "eval/episodic_return",
    ):
        assert tag in h, tag
    assert [s for s, _ in h["charts/episodic_return"]] == [100, 200]
    assert [s for s, _ in h["eval/cost"]] == [100, 200]  # the final evaluation is step 200's
    assert h["charts/cost"][0][1] == pytest.approx(-h["charts/episodic_return"][0][1] / 100)
    assert any("gap" in m for m in seen) and any("eval/gap" in m for m in seen)
    files = [p.name for p in (tmp_path / "run").rglob("*") if p.is_file()]
    assert len([f for f in files if f.startswith("events.out.tfevents")]) == 1, files
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    ea = EventAccumulator(str(tmp_path / "run"))
    ea.Reload()
    # the HParams entry (experiment and session) reuses the last evaluation's scalars: one
    # point per evaluation in TensorBoard, as in the history
    points = ea.Scalars("eval/cost")
    assert [e.step for e in points] == [s for s, _ in h["eval/cost"]]
    assert [e.value for e in points] == pytest.approx([v for _, v in h["eval/cost"]])
    assert {"_hparams_/experiment", "_hparams_/session_start_info"} <= set(
        ea.PluginTagToContent("hparams")
    )
    with pytest.raises(ValueError, match="prefix"):
        logger.scalar("misc/x", 1.0, 0)


def test_callback_can_stop_training():
    env = gym.make(MEC, dnn="lenet")
    agent = IoRLO(env, seed=0, **TINY)
    agent.learn(1000, callback=lambda ag, m: False)
    assert agent.global_step == 100  # stopped at the end of the first episode


def test_reward_scale_auto_and_fixed():
    env = gym.make(MEC, dnn="lenet")
    auto = IoRLO(env, seed=0, **TINY)
    auto.learn(40)
    warm = np.abs(auto.buffer.rewards[:31]).mean()  # the buffer at the first update
    assert auto.reward_scale == pytest.approx(1.0 / warm, rel=1e-6)
    fixed = IoRLO(env, seed=0, reward_scale=0.01, **TINY)
    assert fixed.reward_scale == 0.01


def test_replay_buffer_ring_and_state_dict():
    buf = ReplayBuffer(5, obs_dim=2, act_dim=3)
    for i in range(7):
        buf.add(np.full(2, i), np.full(3, i / 10), -i, np.full(2, i + 1), False)
    assert len(buf) == 5 and buf.pos == 2 and buf.full
    assert sorted(buf.observations[:, 0].tolist()) == [2, 3, 4, 5, 6]
    batch = buf.sample(4, np.random.default_rng(0))
    assert isinstance(batch, ReplayBatch)
    assert batch.observations.shape == (4, 2) and batch.rewards.shape == (4, 1)
    assert batch.observations.dtype == torch.float32
    other = ReplayBuffer(5, obs_dim=2, act_dim=3)
    other.load_state_dict(buf.state_dict())
    assert other.pos == 2 and other.full
    np.testing.assert_array_equal(other.actions, buf.actions)
    with pytest.raises(ValueError, match="empty"):
        ReplayBuffer(3, 1, 1).sample(2, np.random.default_rng(0))


def test_noise_processes_are_seeded():
    g1 = GaussianNoise(4, 0.2, np.random.default_rng(1))
    g2 = GaussianNoise(4, 0.2, np.random.default_rng(1))
    np.testing.assert_array_equal(g1(), g2())
    ou = OUNoise(3, 0.2, np.random.default_rng(2))
    xs = np.array([ou() for _ in range(2000)])
    assert abs(np.corrcoef(xs[:-1, 0], xs[1:, 0])[0, 1]) > 0.7  # temporally correlated
    assert xs.std() == pytest.approx(0.2 / np.sqrt(2 * 0.15 - 0.15**2), rel=0.25)
    ou.reset()
    np.testing.assert_array_equal(ou.x, np.zeros(3))


def test_noise_decay_schedule():
    env = gym.make(MEC, dnn="lenet")
    agent = IoRLO(
        env, noise_sigma=0.3, noise_sigma_final=0.1, noise_decay_steps=100, learning_starts=50
    )
    assert agent.noise_sigma_at(0) == 0.3 and agent.noise_sigma_at(50) == 0.3
    assert agent.noise_sigma_at(100) == pytest.approx(0.2)
    assert agent.noise_sigma_at(10_000) == pytest.approx(0.1)


@pytest.mark.parametrize("env_id", [MEC, D2D])
def test_placement_exploration_acts_with_whole_model_placements(env_id):
    env = gym.make(env_id, dnn="lenet")
    agent = IoRLOPlus(env, seed=0, explore_placements=1.0, **TINY)
    agent.global_step = agent.config.learning_starts  # past the uniform warm-up
    obs, _ = env.reset(seed=0)
    seen = set()
    for _ in range(60):
        a = agent._explore(obs)
        assert env.action_space.contains(a)
        decision = env.unwrapped.action_to_decision(a)
        assert len(set(decision.tolist())) == 1  # every block on one platform
        seen.add(int(decision[0]))
    assert seen == set(range(agent.num_choices))  # every platform is tried
    agent = IoRLOPlus(env, seed=0, explore_placements=0.0, **TINY)
    agent.global_step = agent.config.learning_starts
    mixed = [
        len(set(env.unwrapped.action_to_decision(agent._explore(obs)).tolist())) > 1
        for _ in range(60)
    ]
    assert any(mixed)  # without it the noisy actor mixes platforms


class _UnitBoxEnv(gym.Env):
    """A [0, 1]^3 action env without intent thresholds."""

    observation_space = gym.spaces.Box(0.0, 1.0, (2,), np.float32)
    action_space = gym.spaces.Box(0.0, 1.0, (3,), np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(2, np.float32), {}

    def step(self, action):
        return np.zeros(2, np.float32), 0.0, False, False, {}


def test_placement_exploration_needs_thresholds():
    IoRLO(_UnitBoxEnv(), **TINY)  # fine without it
    with pytest.raises(ValueError, match="explore_placements > 0 needs intent thresholds"):
        IoRLO(_UnitBoxEnv(), explore_placements=0.5)


def test_episode_seeds_are_distinct():
    seeds = {episode_seed(0, k) for k in range(100)} | {episode_seed(1, k) for k in range(100)}
    assert len(seeds) == 200


def test_config_defaults_follow_the_paper():
    cfg = IoRLOConfig()
    assert cfg.hidden_actor == 50 and cfg.hidden_critic == 30 and cfg.variant == "ddpg"
    assert cfg.critic_input == "action" and not cfg.obs_norm


def test_scale_free_reward_on_v1_only_by_default():
    """IoRLO+'s reward_transform="auto": the critics learn -log(cost) on v1 (networks whose
    costs differ by an order of magnitude), the env's -cost on v0 (earlier results kept)."""
    v1 = gym.make("EdgeRL/MECPartition-v1", dnn="lenet", network="mixture_synthetic")
    plus = IoRLOPlus(v1, learning_starts=10_000)
    plus.learn(30)
    log_costs = -np.asarray(plus.buffer.rewards[: len(plus.buffer)], dtype=np.float64).ravel()
    assert plus._log_reward and len(log_costs) == 30
    # stored rewards are -log(cost): exp(-r) is a plausible cost in ms, not a reward near 0
    assert np.all(np.exp(log_costs) > 1.0) and np.all(np.exp(log_costs) < 1e5)
    v0 = gym.make("EdgeRL/MECPartition-v0", dnn="lenet")
    assert not IoRLOPlus(v0)._log_reward and not IoRLO(v1)._log_reward
    assert IoRLO(v1, reward_transform="log")._log_reward
    with pytest.raises(ValueError, match="reward_transform must be one of"):
        IoRLOConfig(reward_transform="sqrt")


def test_fixed_placements_are_the_whole_model_then_every_one_cut_placement():
    whole = fixed_placements(4, 3, two_segment=False)
    assert whole.tolist() == [[0] * 4, [1] * 4, [2] * 4]
    two = fixed_placements(4, 3, two_segment=True)
    assert two.shape == (3 + 3 * 3 * 2, 4)  # P + (n - 1) P (P - 1)
    assert torch.equal(two[:3], whole)
    assert len({tuple(r) for r in two.tolist()}) == len(two)  # no repeats
    changes = (two[:, 1:] != two[:, :-1]).sum(1)
    assert changes[:3].tolist() == [0] * 3 and bool((changes[3:] == 1).all())
    assert fixed_placements(1, 2, two_segment=True).tolist() == [[0], [1]]  # no cut in 1 block


def test_v1_defaults_two_segment_jumps_and_two_layer_networks():
    """IoRLO+'s jump_candidates, hidden_critic and hidden_actor "auto": one-cut placements and
    two hidden layers of 64 in both networks on v1; whole-model placements, one critic layer
    of 128 and the paper's actor layer of 50 on v0 (earlier results kept)."""
    v1 = gym.make("EdgeRL/MECPartition-v1", dnn="lenet", network="mixture_synthetic")
    v0 = gym.make(MEC, dnn="lenet")
    plus1, plus0 = IoRLOPlus(v1), IoRLOPlus(v0)
    n, P = plus1.act_dim, plus1.num_choices
    assert plus1._placements.shape[0] == P + (n - 1) * P * (P - 1)
    assert plus0._placements.shape[0] == P
    layers = [tuple(w.shape[1:]) for w in plus1.critics.weights]  # (members, out, in)
    assert layers == [(64, plus1.obs_dim + n * P), (64, 64), (1, 64)]
    assert [tuple(w.shape[1:2]) for w in plus0.critics.weights] == [(128,), (1,)]
    assert [m.out_features for m in plus1.actor.linears()] == [64, 64, n]
    assert [m.out_features for m in plus0.actor.linears()] == [50, plus0.act_dim]
    assert [m.out_features for m in IoRLO(v1).actor.linears()] == [50, n]  # the paper's
    assert [m.out_features for m in IoRLOPlus(v1, hidden_actor=32).actor.linears()] == [32, n]
    assert IoRLOPlus(v1, hidden_critic=32, jump_candidates="whole")._placements.shape[0] == P
    with pytest.raises(ValueError, match="jump_candidates must be one of"):
        IoRLOConfig(jump_candidates="all")
    with pytest.raises(ValueError, match="hidden_critic must be"):
        IoRLOConfig(hidden_critic="wide")
    with pytest.raises(ValueError, match="hidden_actor must be"):
        IoRLOConfig(hidden_actor="wide")


def test_two_segment_exploration_tries_one_cut_placements():
    env = gym.make(MEC, dnn="lenet")
    agent = IoRLOPlus(env, seed=0, explore_placements=1.0, jump_candidates="two_segment", **TINY)
    agent.global_step = agent.config.learning_starts
    obs, _ = env.reset(seed=0)
    changes = []
    for _ in range(100):
        d = env.unwrapped.action_to_decision(agent._explore(obs))
        changes.append(int((d[1:] != d[:-1]).sum()))
    assert max(changes) == 1 and changes.count(1) > 50  # one-cut placements, and mostly those


def test_checkpoint_from_before_jump_candidates_resumes_with_whole_model_jumps(tmp_path):
    """A v1 IoRLO+ file saved before jump_candidates existed resumes as it trained then
    (whole-model jumps); files that have the field keep theirs."""
    from agents.common.checkpoint import load_checkpoint, save_checkpoint

    env = gym.make("EdgeRL/MECPartition-v1", dnn="lenet", network="mixture_synthetic")
    agent = IoRLOPlus(env, seed=0, **TINY)
    agent.learn(40)
    path = agent.save(tmp_path / "new.pt")
    assert IoRLOPlus.load(path, env).config.jump_candidates == "auto"
    payload = load_checkpoint(path)
    payload.pop("manifest", None)
    del payload["config"]["jump_candidates"]
    old = save_checkpoint(tmp_path / "old.pt", payload)
    restored = IoRLOPlus.load(old, env)
    assert restored.config.jump_candidates == "whole"
    assert restored._placements.shape[0] == restored.num_choices


def test_checkpoint_from_before_log_inputs_resumes_without_them(tmp_path):
    """A v1 IoRLO+ file saved before log_inputs existed (networks on the observation alone)
    loads with log_inputs="none" and the observation-sized networks it was trained with."""
    from agents.common.checkpoint import load_checkpoint, save_checkpoint

    env = gym.make("EdgeRL/MECPartition-v1", dnn="lenet", network="mixture_synthetic")
    agent = IoRLOPlus(env, seed=0, log_inputs="none", **TINY)
    agent.learn(40)
    payload = load_checkpoint(agent.save(tmp_path / "new.pt"))
    payload.pop("manifest", None)
    del payload["config"]["log_inputs"]
    restored = IoRLOPlus.load(save_checkpoint(tmp_path / "old.pt", payload), env)
    assert restored.config.log_inputs == "none"
    obs, _ = env.reset(seed=1)
    np.testing.assert_array_equal(restored.predict(obs), agent.predict(obs))


def test_log_inputs_append_the_log_ratios_of_the_squashed_links():
    """log_inputs: IoRLO+ on v1 appends log(v / (1 - v)) of the env's ratio_features to the
    networks' input (v0 and the faithful IoRLO: the observation alone); the buffer holds the
    extended input, acting takes raw observations, and the fast actor agrees."""
    v1 = gym.make("EdgeRL/D2DPartition-v1", dnn="lenet", network="mixture_synthetic")
    D = v1.observation_space.shape[0]
    idx = v1.unwrapped.ratio_features
    assert IoRLO(v1).obs_dim == D and IoRLOPlus(gym.make(D2D, dnn="lenet")).obs_dim == D
    agent = IoRLOPlus(v1, seed=0, **TINY)
    assert agent.obs_dim == D + len(idx) and IoRLO(v1, log_inputs="ratios").obs_dim == D + len(idx)
    agent.learn(60)
    stored = agent.buffer.observations[: len(agent.buffer)]
    v = np.clip(stored[:, idx], 1e-6, 1 - 1e-6)
    np.testing.assert_allclose(stored[:, D:], np.log(v / (1 - v)), rtol=1e-5, atol=1e-5)
    assert np.abs(stored[:, D:]).max() > 2.0  # beyond what the squashed entries span
    obs, _ = v1.reset(seed=5)
    batch = np.stack([obs, v1.observation_space.sample()])
    fast = agent.fast_actor()
    assert fast.obs_dim == D and fast.in_dim == D + len(idx)
    np.testing.assert_allclose(fast.act_batch(batch), agent.predict(batch), atol=1e-6)
    np.testing.assert_allclose(fast.act(obs), agent.predict(obs), atol=1e-6)
    with pytest.raises(ValueError, match="log_inputs must be one of"):
        IoRLOConfig(log_inputs="log")

    class Plain(gym.Env):  # no ratio_features
        observation_space = gym.spaces.Box(0.0, 1.0, (3,), np.float32)
        action_space = gym.spaces.Box(0.0, 1.0, (2,), np.float32)

    with pytest.raises(ValueError, match="log_inputs='ratios' needs an env with ratio_features"):
        IoRLO(Plain(), log_inputs="ratios")
    assert IoRLOPlus(Plain(), critic_input="action", imitation_weight=0.0,
                     explore_placements=0.0).obs_dim == 3  # fmt: skip


def _refined_by_torch(agent: IoRLOPlus, obs: np.ndarray) -> np.ndarray:
    """The critic-refined decisions computed directly with the agent's torch critics: every
    fixed placement and the actor's decision scored side by side (CriticStack.forward)."""
    x = torch.as_tensor(agent._norm_obs_np(agent._features(obs)))
    own = torch.as_tensor(agent.fast_actor().actor.decide_batch(obs))
    B, C = len(x), agent._placements.shape[0]
    cands = torch.cat([agent._placements.expand(B, C, -1), own.unsqueeze(1)], 1)
    with torch.no_grad():
        q = agent.critics(
            x.unsqueeze(1).expand(B, C + 1, -1).reshape(B * (C + 1), -1),
            agent._one_hot(cands).reshape(B * (C + 1), -1),
        ).view(B, C + 1, -1)
    best_q, best = q[:, :C].amin(-1).max(1)
    jump = (best_q > q[:, C].amax(-1)).unsqueeze(1)
    return torch.where(jump, agent._placements[best], own).numpy()


@pytest.mark.parametrize("scenario", ["MEC", "D2D"])
def test_refined_decisions_are_the_critics_choice_and_survive_a_checkpoint(scenario, tmp_path):
    """refine="auto": IoRLO+ on a v1 env that observes the current frame decides by its
    critics over the fixed placements (module doc, 9.); the fast actor, predict and the
    checkpoint loaded by load_actor give the decisions a direct torch scoring gives."""
    from agents.iorlo.refine import CriticRefinedActor
    from agents.loading import load_actor

    env_id = f"EdgeRL/{scenario}Partition-v1"
    env = gym.make(env_id, dnn="lenet", network="mixture_synthetic", observe="current")
    agent = IoRLOPlus(env, seed=0, **TINY)
    assert agent.refines
    agent.learn(300)
    vec = gym.make_vec(env_id, num_envs=200, vectorization_mode="vector_entry_point",
                       dnn="lenet", network="mixture_synthetic", observe="current")  # fmt: skip
    obs, _ = vec.reset(seed=7)
    fast = agent.fast_actor()
    assert isinstance(fast, CriticRefinedActor)
    dec = fast.decide_batch(obs)
    np.testing.assert_array_equal(dec, _refined_by_torch(agent, obs))
    assert (dec != fast.actor.decide_batch(obs)).any()  # the critics overrule the actor
    np.testing.assert_array_equal(fast.decide(obs[3]), dec[3])
    mid = fast._mid
    np.testing.assert_array_equal(agent.predict(obs), mid[dec])
    np.testing.assert_array_equal(agent.predict(obs[3]), mid[dec[3]])
    loaded = load_actor(agent.save(tmp_path / "ckpt.pt"), env)
    assert isinstance(loaded, CriticRefinedActor)
    np.testing.assert_array_equal(loaded.act_batch(obs), mid[dec])
    with pytest.raises(ValueError, match=r"obs must have shape \(batch, "):
        loaded.decide_batch(obs[:, :-1])
    with pytest.raises(ValueError, match="does not export"):
        loaded.export(tmp_path / "actor.onnx", format="onnx")


def test_refine_auto_only_with_the_current_state_on_v1():
    """refine="auto" refines on v1 with observe="current" only (measured state and v0: the
    actor's decision); "critics" forces it where the decision critic exists, IoRLO never
    refines by default, and a bad value or an action critic is refused naming the field."""
    kw = {"dnn": "lenet", "network": "mixture_synthetic"}
    current = gym.make("EdgeRL/MECPartition-v1", observe="current", **kw)
    measured = gym.make("EdgeRL/MECPartition-v1", **kw)
    assert IoRLOPlus(current).refines and not IoRLOPlus(measured).refines
    assert not IoRLOPlus(gym.make(MEC, dnn="lenet")).refines
    assert not IoRLO(current).refines
    forced = IoRLOPlus(measured, seed=0, refine="critics", **TINY)
    assert forced.refines
    assert IoRLOPlus(measured).fast_actor().__class__.__name__ == "NumpyActor"
    with pytest.raises(ValueError, match="refine must be one of"):
        IoRLOConfig(refine="argmax")
    with pytest.raises(ValueError, match="refine='critics' needs critic_input='decision'"):
        IoRLO(current, refine="critics")


def test_checkpoint_from_before_refine_loads_the_actor_alone(tmp_path):
    """An IoRLO+ file saved before refine existed loads with refine="none": load_actor gives
    the actor (no refine spec in the file) and the agent decides by it."""
    from agents.common.checkpoint import load_checkpoint, save_checkpoint
    from agents.common.fast_actor import NumpyActor
    from agents.loading import load_actor

    env = gym.make("EdgeRL/MECPartition-v1", dnn="lenet", network="mixture_synthetic",
                   observe="current")  # fmt: skip
    agent = IoRLOPlus(env, seed=0, **TINY)
    agent.learn(40)
    payload = load_checkpoint(agent.save(tmp_path / "new.pt"))
    payload.pop("manifest", None)
    del payload["config"]["refine"]
    del payload["refine"]
    old = save_checkpoint(tmp_path / "old.pt", payload)
    restored = IoRLOPlus.load(old, env)
    assert restored.config.refine == "none" and not restored.refines
    assert type(load_actor(old, env)) is NumpyActor
    obs, _ = env.reset(seed=2)
    np.testing.assert_allclose(restored.predict(obs), agent.fast_actor().actor.act(obs), atol=1e-6)
