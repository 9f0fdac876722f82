"""EdgeRL/EdgeScheduling-v1 (docs/model.md §8.1-8.2): the env, its objective, bursty arrivals,
the vector env, Latency-greedy, DRLoS+ and the pipeline runs of drlos_plus / MaskablePPO."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings

import gymnasium
import numpy as np
import pytest
from conftest import REPO, synthetic_obs
from gymnasium.utils.env_checker import check_env

import envs  # noqa: F401
from agents.common.evaluation import scoreboard
from agents.drlos_plus import DRLoSPlus, DRLoSPlusConfig, load_plus_actor
from agents.scheduling_baselines import LatencyGreedyPolicy, make_scheduling_policy
from envs.scheduling.arrivals import BurstyArrivals, home_probabilities
from envs.scheduling.batch import _py_variance
from envs.scheduling.env import (
    EdgeSchedulingEnv,
    EdgeSchedulingEnvV1,
    action_masks_from_obs,
)
from envs.scheduling.objective import episode_objective, step_latency_ms, step_reward
from envs.scheduling.vector import EdgeSchedulingVectorEnvV1

V1 = "EdgeRL/EdgeScheduling-v1"
AZURE = REPO.parent / "shared" / "data" / "arrivals" / "azure_llm_inference_code_2023.csv"
# A small v1: 1/5 of the capacities, fewer visible tasks, a short window.
TINY = {"capacities": [24, 16, 10], "buffer_size": 24, "window_slots": 30, "num_users": 200}


def _rollout(env: gymnasium.Env, seed: int, steps: int) -> list[tuple]:
    obs, _ = env.reset(seed=seed)
    env.action_space.seed(seed)
    out = [(obs.copy(),)]
    for _ in range(steps):
        obs, r, te, tr, info = env.step(env.action_space.sample())
        out.append((obs.copy(), r, te, tr, info["variance"], info["forwarded"]))
        if te or tr:
            obs, _ = env.reset()
    return out


# --------------------------------------------------------------------------- env


def test_v1_defaults_and_check_env_without_warnings():
    env = gymnasium.make(V1)
    base = env.unwrapped
    assert isinstance(base, EdgeSchedulingEnvV1)
    assert base.capacities.tolist() == [120, 80, 50] and base.rpc_latency_ms == 30.0
    assert base.action_mode == "assign" and base.objective == "combined"
    assert base.latency_weight == 0.1 and isinstance(base.arrival_process, BurstyArrivals)
    assert env.spec.max_episode_steps == 1000
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(EdgeSchedulingEnvV1(**TINY), skip_render_check=True)
        check_env(EdgeSchedulingEnvV1(action_mode="shares", **TINY), skip_render_check=True)


def test_v1_same_seed_same_rollout():
    a = _rollout(gymnasium.make(V1, **TINY), 3, 120)
    b = _rollout(gymnasium.make(V1, **TINY), 3, 120)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x[0], y[0])
        assert x[1:] == y[1:]
    c = _rollout(gymnasium.make(V1, **TINY), 4, 5)
    assert not np.array_equal(a[1][0], c[1][0])


@pytest.mark.parametrize(
    "cfg",
    [TINY, {**TINY, "action_mode": "shares"}, {**TINY, "objective": "variance", "lambda_drop": 0.0},
     {**TINY, "queue_limit": 10, "load": 1.3, "lambda_wait": 0.1, "latency_weight": 0.7}],
    ids=["default", "shares", "variance", "drops"],
)  # fmt: skip
def test_v1_vector_env_matches_single_env(cfg):
    n, limit = 3, 60
    vec = gymnasium.make_vec(V1, num_envs=n, max_episode_steps=limit, **cfg)
    assert isinstance(vec, EdgeSchedulingVectorEnvV1)
    singles = [gymnasium.make(V1, max_episode_steps=limit, **cfg) for _ in range(n)]
    seeds = [5, 17, 29]
    obs, _ = vec.reset(seed=seeds)
    for j, env in enumerate(singles):
        np.testing.assert_array_equal(obs[j], env.reset(seed=seeds[j])[0])
    rng = np.random.default_rng(1)
    ended = np.zeros(n, dtype=bool)
    base = singles[0].unwrapped
    for _ in range(3 * limit):
        if base.action_mode == "shares":
            acts = rng.integers(0, 2**base.num_servers, n)
        else:
            acts = rng.integers(0, base.num_servers + 1, (n, base.buffer_size))
        obs, rew, te, tr, infos = vec.step(acts)
        for j, env in enumerate(singles):
            if ended[j]:
                o, r, t1, t2 = (*env.reset()[:1], 0.0, False, False)
            else:
                o, r, t1, t2, info = env.step(acts[j])
                assert infos["forwarded"][j] == info["forwarded"]
            np.testing.assert_array_equal(obs[j], o)
            assert rew[j] == r and te[j] == t1 and tr[j] == t2
            ended[j] = t1 or t2


def test_objective_worked_example_and_variance_setting():
    # The v1 docstring's example: u = (0.8, 0.5, 0.8), 10 left waiting, 5 forwarded.
    var = _py_variance([0.8, 0.5, 0.8])
    assert var == pytest.approx(0.03)
    lat = step_latency_ms(10, 5, 10.0, 30.0)
    assert lat == 250.0
    kw = {"buffer_size": 100, "lambda_wait": 0.0, "lambda_drop": 1.0}
    r = step_reward(var, 10, 0, lat, latency_weight=0.1, latency_norm_ms=2000.0, **kw)
    assert r == pytest.approx(-0.0425)
    # objective="variance": the paper's reward, the latency term absent (bit for bit)
    assert step_reward(var, 10, 0, lat, **kw) == -var
    assert gymnasium.make(V1).unwrapped.latency_norm_ms == 2000.0  # λ·E[S]·slot = 20·10·10
    assert episode_objective(-4.0, 100) == 0.04


def test_env_reward_is_the_objective_of_its_step():
    env = EdgeSchedulingEnvV1(**TINY, latency_weight=0.5, queue_limit=30, load=1.3)
    obs, info = env.reset(seed=0)
    pol = make_scheduling_policy("least_loaded", env)
    seen_fwd = seen_wait = 0
    for _ in range(200):
        prev = info
        obs, r, te, _, info = env.step(pol.act(obs))
        dropped = info["dropped"] - prev["dropped"]
        joined = info["arrived"] - prev["arrived"] - dropped
        left = info["waiting"] - joined  # left waiting by the action, before this slot's arrivals
        fwd = info["forwarded"] - prev["forwarded"]
        lat = 10.0 * left + 30.0 * fwd
        expected = -info["variance"] - 0.5 * (lat / env.latency_norm_ms) - 1.0 * dropped
        assert r == pytest.approx(expected, rel=1e-12, abs=1e-15)
        seen_fwd += fwd
        seen_wait += left
        if te:
            break
    assert seen_fwd > 0 and seen_wait > 0


def test_argument_validation_names_the_field():
    with pytest.raises(ValueError, match="objective must be one of"):
        EdgeSchedulingEnvV1(objective="latency")
    with pytest.raises(ValueError, match="latency_weight applies to objective='combined'"):
        EdgeSchedulingEnvV1(objective="variance", latency_weight=0.2)
    with pytest.raises(ValueError, match="latency_weight must be"):
        EdgeSchedulingEnvV1(latency_weight=-1.0)
    with pytest.raises(ValueError, match=r"arrivals\['burst_ratio'\]"):
        EdgeSchedulingEnvV1(arrivals={"kind": "bursty", "burst_ratio": 0.5})
    with pytest.raises(ValueError, match=r"arrivals\['on_fraction'\]"):
        EdgeSchedulingEnvV1(arrivals={"kind": "bursty", "on_fraction": 1.0})
    with pytest.raises(ValueError, match="unknown keys for kind 'bursty'"):
        EdgeSchedulingEnvV1(arrivals={"kind": "bursty", "burst": 2})
    with pytest.raises(ValueError, match="num_users=30 is too small"):
        EdgeSchedulingEnvV1(num_users=30)
    # v0 keeps its defaults
    v0 = EdgeSchedulingEnv()
    assert v0.objective == "variance" and v0.latency_weight == 0.0


def test_bursty_arrivals_keep_the_rate_and_are_bursty():
    kw = {"num_servers": 3, "load": 0.8, "total_capacity": 250,
          "home_probs": home_probabilities(1.0, 3), "num_users": 1000, "window_slots": 400}  # fmt: skip
    proc = BurstyArrivals(**kw)
    counts = []
    for k in range(20):
        ts = proc.sample(np.random.default_rng(k))
        counts.append(np.bincount(ts.arrival, minlength=400))
    c = np.concatenate(counts)
    assert c.mean() == pytest.approx(proc.rate_per_slot, rel=0.05)  # λ = 20
    assert c.var() / c.mean() > 3.0  # Bernoulli would be ~1 (index of dispersion)
    a, b = proc.sample(np.random.default_rng(3)), proc.sample(np.random.default_rng(3))
    np.testing.assert_array_equal(a.arrival, b.arrival)


def test_action_masks_match_the_observation():
    env = EdgeSchedulingEnvV1(**TINY)
    obs, _ = env.reset(seed=1)
    pol = make_scheduling_policy("closest", env)
    for _ in range(25):
        m = env.action_masks()
        assert m.shape == (env.buffer_size * (env.num_servers + 1),)
        np.testing.assert_array_equal(
            m, action_masks_from_obs(obs, env.obs_layout, float(env.capacities.max()))
        )
        obs, *_ = env.step(pol.act(obs))
    with pytest.raises(ValueError, match="assign"):
        EdgeSchedulingEnvV1(action_mode="shares", **TINY).action_masks()


@pytest.mark.skipif(not AZURE.is_file(), reason="Azure trace (../shared/data) not present")
def test_v1_on_the_azure_trace():
    env = gymnasium.make(V1, arrivals={"kind": "trace", "path": str(AZURE)})
    row = scoreboard(env, make_scheduling_policy("latency_greedy", env), [0])
    assert row["dropped_pct"] == 0.0 and 0 < row["objective"] < 1.0


# ---------------------------------------------------------------------- heuristics


def test_latency_greedy_home_wait_or_forward():
    # capacities (20, 20, 20), E[S] = 10, rpc 30 ms = 3 slots: home 0 with load 18 frees 1.8
    # slots per slot, so after its 2 free slots the next 5 tasks wait for it (<= 3 slots), and
    # later ones are forwarded.
    env = EdgeSchedulingEnvV1(capacities=[20, 20, 20], buffer_size=16)
    pol = LatencyGreedyPolicy(env)
    m = env.num_servers
    a = pol.act(synthetic_obs(env, [18, 5, 10], [0] * 10))
    assert a[:2].tolist() == [0, 0]  # home has 2 free slots
    assert a[2:7].tolist() == [m] * 5  # expected wait <= RPC: wait for home
    assert a[7:10].tolist() == [1, 1, 1]  # beyond: forward to the least-utilised server
    assert (a[10:] == m).all()
    # With no RPC cost every overflow task is forwarded, least utilised first.
    env0 = EdgeSchedulingEnvV1(capacities=[20, 20, 20], buffer_size=16, rpc_latency_ms=0.0)
    b = LatencyGreedyPolicy(env0).act(synthetic_obs(env0, [20, 19, 12], [0] * 4 + [1] * 2))
    assert b[:6].tolist() == [2, 2, 2, 2, 1, 2]


def test_latency_greedy_between_closest_and_least_loaded():
    env = gymnasium.make(V1, **TINY)
    rows = {
        name: scoreboard(env, make_scheduling_policy(name, env), range(3))
        for name in ("closest", "least_loaded", "latency_greedy")
    }
    assert rows["closest"]["forwarded_pct"] == 0.0
    fwd = rows["latency_greedy"]["forwarded_pct"]
    assert 0 < fwd < rows["least_loaded"]["forwarded_pct"] / 2
    assert rows["latency_greedy"]["latency_mean_ms"] < rows["least_loaded"]["latency_mean_ms"]
    assert rows["latency_greedy"]["latency_mean_ms"] < rows["closest"]["latency_mean_ms"]


# ------------------------------------------------------------------------ DRLoS+


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"n_rollouts": 1}, "n_rollouts"), ({"lr": 0.0}, "lr"), ({"gamma": 1.5}, "gamma"),
     ({"hidden": 0}, "hidden"), ({"hidden": []}, "hidden"), ({"activation": "gelu"}, "activation"),
     ({"baseline": "mean"}, "baseline"), ({"entropy_coef": -1.0}, "entropy_coef"),
     ({"max_grad_norm": 0.0}, "max_grad_norm"), ({"max_steps": 0}, "max_steps"),
     ({"deterministic": 1}, "deterministic"), ({"seed": -1}, "seed"),
     ({"torch_threads": 0}, "torch_threads")],
)  # fmt: skip
def test_drlos_plus_config_errors_name_the_field(kwargs, field):
    with pytest.raises(ValueError, match=rf"^{field} must be"):
        DRLoSPlusConfig(**kwargs)


def test_drlos_plus_needs_assign_mode():
    with pytest.raises(ValueError, match="action_mode='assign'"):
        DRLoSPlus(gymnasium.make(V1, action_mode="shares", **TINY))
    with pytest.raises(ValueError, match="unknown DRLoS\\+ argument"):
        DRLoSPlus(gymnasium.make(V1, **TINY), lr_actor=0.1)


def test_drlos_plus_deterministic_training_and_save_load(tmp_path):
    def run() -> DRLoSPlus:
        return DRLoSPlus(gymnasium.make(V1, **TINY), n_rollouts=3, seed=5).learn(3)

    a, b = run(), run()
    assert [h["episodic_return"] for h in a.history] == [h["episodic_return"] for h in b.history]
    path = a.save(tmp_path / "plus.pt")
    env = gymnasium.make(V1, **TINY)
    c = DRLoSPlus.load(path, env)
    assert c.iteration == 3 and c.num_timesteps == a.num_timesteps
    obs, _ = env.reset(seed=2)
    for actor in (a.fast_actor(), c.fast_actor(), load_plus_actor(path)):
        actor.reset()
    from agents.loading import load_actor

    acts = [x.act(obs) for x in (a.fast_actor(), c.fast_actor(), load_actor(path, env))]
    np.testing.assert_array_equal(acts[0], acts[1])
    np.testing.assert_array_equal(acts[0], acts[2])
    assert acts[0].shape == (TINY["buffer_size"],)
    # resuming continues the same run
    a.learn(1)
    c.learn(1)
    assert a.history[-1]["episodic_return"] == c.history[-1]["episodic_return"]
    with pytest.raises(ValueError, match="action_space|observation_space"):
        DRLoSPlus.load(path, gymnasium.make(V1, **{**TINY, "buffer_size": 8}))


def test_drlos_plus_actions_stay_valid():
    env = gymnasium.make(V1, **TINY)
    agent = DRLoSPlus(env, n_rollouts=2, seed=0)
    obs, _ = env.reset(seed=0)
    for _ in range(30):
        a = agent.act(obs)
        assert env.action_space.contains(a)
        obs, _, te, _, _ = env.step(a)
        if te:
            break
    greedy = DRLoSPlus(env, n_rollouts=2, seed=0, deterministic=True).fast_actor()
    o = env.reset(seed=1)[0]
    np.testing.assert_array_equal(greedy.act(o), greedy.act(o))


# ---------------------------------------------------------------------- pipeline

PIPE_ENV = {**os.environ, "HYDRA_FULL_ERROR": "1", "PYTHONWARNINGS": "ignore"}
PIPE_COMMON = ["train.progress=false", "train.eval_episodes=1", "train.final_eval_episodes=1",
               "env=scheduling_v1", "env.capacities=[24,16,10]", "env.buffer_size=24",
               "env.window_slots=20", "env.num_users=200"]  # fmt: skip


@pytest.mark.parametrize(
    "args",
    [["agent=drlos_plus", "agent.n_rollouts=2", "train.total_steps=100", "train.eval_every=50",
      "train.checkpoint_every=50"],
     ["agent=sb3_maskable_ppo", "agent.n_steps=32", "agent.batch_size=16", "agent.n_epochs=1",
      "train.total_steps=64", "train.eval_every=32", "train.checkpoint_every=32"]],
    ids=["drlos_plus", "sb3_maskable_ppo"],
)  # fmt: skip
def test_tiny_pipeline_run(tmp_path, args):
    pytest.importorskip("sb3_contrib")
    proc = subprocess.run(
        [sys.executable, "train.py", f"runs_root={tmp_path}", *PIPE_COMMON, *args],
        cwd=REPO, env=PIPE_ENV, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    name = args[0].split("=")[1]
    assert f"**{name}**" in proc.stdout and "latency_greedy" in proc.stdout
    runs = list(tmp_path.rglob("state.json"))
    assert len(runs) == 1 and "schedulingv1-load0.8" in str(runs[0])


def test_env_yaml_matches_v1_constructor():
    import inspect

    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from pipeline.utils import CONFIG_DIR

    # the composed env config: the yaml over its schema node (the constructor's defaults)
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        y = OmegaConf.to_container(compose("train", overrides=["env=scheduling_v1"]).env)
    params = {k: p.default for k, p in inspect.signature(EdgeSchedulingEnvV1).parameters.items()}
    meta = {"defaults", "_target_", "name", "id", "tag", "train_steps", "max_episode_steps",
            "action_mode"}  # fmt: skip
    kw = {k: v for k, v in y.items() if k not in meta}
    assert set(kw) == set(params) - {"action_mode", "render_mode"}
    for k, v in kw.items():
        d = params[k]
        if isinstance(d, tuple):
            assert v == list(d), k
        elif k == "arrivals":
            assert v == {"kind": "bursty", "burst_ratio": 4.0, "on_fraction": 0.25,
                         "mean_on_slots": 8.0} and d == "bursty"  # fmt: skip
        else:
            assert v == d, k


# -------------------------------------------------------------------- learning


@pytest.mark.slow
def test_drlos_plus_beats_every_heuristic_on_the_combined_objective():
    """150 iterations (~1-2 min): DRLoS+ below the best heuristic's J on held-out task sets."""
    env = gymnasium.make(V1)
    agent = DRLoSPlus(env, seed=0).learn(150)
    seeds = range(10000, 10006)
    best = min(
        scoreboard(env, make_scheduling_policy(n, env, **({"seed": 0} if n == "random" else {})),
                   seeds)["objective"]
        for n in ("closest", "average", "random", "least_loaded", "latency_greedy")
    )  # fmt: skip
    row = scoreboard(env, agent.fast_actor(), seeds)
    assert row["objective"] < 0.85 * best, (row, best)
