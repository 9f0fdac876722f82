"""MEC and D2D partitioning envs: API conformance, determinism, costs, oracle, churn, bad input."""

from __future__ import annotations

import dataclasses
import inspect
import math
import pickle
import warnings

import gymnasium as gym
import numpy as np
import pytest
from conftest import TRACES_DIR
from gymnasium.utils.env_checker import check_env as gym_check_env
from gymnasium.wrappers import RescaleAction
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import envs
from envs.dnn import DNNProfile
from envs.dynamics import TABLE2
from envs.dynamics.collaborators import ABSENT, AVAILABLE
from envs.model.links import d2d_links, mec_links
from envs.partition import D2DPartitionEnv, MECPartitionEnv
from envs.wrappers import IntentThresholds

IDS = envs.PARTITION_ENV_IDS
MODES = ("continuous", "discrete")
TRACES = TRACES_DIR
needs_traces = pytest.mark.skipif(not TRACES.is_dir(), reason=f"real traces absent ({TRACES})")
MEC_AVG = {
    f: TABLE2[f][2] for f in ("b_te_up", "b_te_down", "b_ec_up", "b_ec_down", "l_te", "l_ec")
}


def _rollout(env, seed: int, steps: int, action_seed: int = 0):
    obs, _ = env.reset(seed=seed)
    env.action_space.seed(action_seed)
    out = [obs]
    for _ in range(steps):
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        out.append((obs, reward, terminated, truncated, info))
    return out


def _same(a, b) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, tuple | list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and np.array_equal(a, b)
    return a == b or (isinstance(a, float) and math.isnan(a) and math.isnan(b))


# ------------------------------------------------------------------ conformance
@pytest.mark.parametrize("env_id", IDS)
@pytest.mark.parametrize("mode", MODES)
def test_gymnasium_check_env_no_warnings(env_id, mode):
    env = gym.make(env_id, action_mode=mode).unwrapped
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gym_check_env(env)


@pytest.mark.parametrize("env_id", IDS)
def test_sb3_check_env(env_id):
    # Discrete mode and the continuous mode rescaled to [-1, 1]: no warning at all.
    for env in (
        gym.make(env_id, action_mode="discrete"),
        RescaleAction(gym.make(env_id), np.float32(-1.0), np.float32(1.0)),
    ):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            sb3_check_env(env)
    # The default continuous mode is IoRLO's sigmoid range Box(0, 1): SB3 only recommends
    # [-1, 1] (an advice its algorithms handle by rescaling); nothing else is reported.
    env = gym.make(env_id)  # (made outside: v0 ids get Gymnasium's "v1 exists" notice)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sb3_check_env(env)
    messages = [str(w.message) for w in caught]
    assert len(messages) == 1 and "symmetric and normalized Box action space" in messages[0]


@pytest.mark.parametrize("env_id", IDS)
def test_registration_and_spaces(env_id):
    env = gym.make(env_id)
    assert env.spec.max_episode_steps == 100
    u = env.unwrapped
    n = u.n_blocks
    assert isinstance(u.profile, DNNProfile) and u.profile.n_blocks == n == 17
    assert env.action_space == gym.spaces.Box(0.0, 1.0, (n,), np.float32)
    d = gym.make(env_id, action_mode="discrete")
    assert d.action_space == gym.spaces.MultiDiscrete([u.num_platforms] * n)
    assert env.observation_space.dtype == np.float32
    assert np.all(env.observation_space.low == 0) and np.all(env.observation_space.high == 1)
    p, named = u.params, u.params.named()
    v1 = {"observe", "latency_reading", "dp_features"} if p.version == 1 else set()
    if u.scenario == "mec":
        assert set(named) == {
            "d_t", "d_e", "d_c", "d_energy", "eta1", "eta2", "overhead_weights", "epsilon", "phi"
        } | v1  # fmt: skip
        assert named["eta1"] == 10.0 and named["eta2"] == (50.0 if v1 else 10.0)
        assert (named["epsilon"], named["phi"]) == p.thresholds == (1 / 3, 2 / 3)
        assert (p.eta_energy, p.eta_overhead) == (10.0, named["eta2"])
        assert u.num_platforms == 3
    else:
        v1 |= {"collaborator_speedup"} if v1 else set()
        assert set(named) == {"d_u", "d_energy", "eta", "zeta"} | v1
        assert named["zeta"] == 0.5 and p.thresholds == (0.5,) and u.num_platforms == 2
    if v1:
        assert (p.observe, p.latency_reading, p.latency_scale) == ("measured", "one_way", 0.5)
        assert u.load.enabled and env.spec.id.endswith("-v1")
    else:
        assert (p.observe, p.latency_reading, p.latency_scale) == ("current", "round_trip", 1.0)
        assert not u.load.enabled


@pytest.mark.parametrize("env_id", IDS)
def test_truncates_at_horizon(env_id):
    env = gym.make(env_id, max_episode_steps=3, oracle=False)
    env.reset(seed=1)
    flags = [env.step(env.action_space.sample())[2:4] for _ in range(3)]
    assert flags == [(False, False), (False, False), (False, True)]


# ------------------------------------------------------------------ determinism
@pytest.mark.parametrize("env_id", IDS)
@pytest.mark.parametrize(
    "kwargs", [{}, {"platform_load": True, "early_exit": [0.3] * 17, "action_mode": "discrete"}]
)
def test_same_seed_same_rollout(env_id, kwargs):
    a = _rollout(gym.make(env_id, **kwargs), seed=7, steps=25)
    b = _rollout(gym.make(env_id, **kwargs), seed=7, steps=25)
    c = _rollout(gym.make(env_id, **kwargs), seed=8, steps=25)
    assert _same(a, b)
    assert not _same(a, c)


@pytest.mark.parametrize("env_id", IDS)
def test_pickle_mid_episode(env_id):
    env = gym.make(env_id, platform_load=True)
    env.reset(seed=3)
    env.action_space.seed(0)
    actions = [env.action_space.sample() for _ in range(12)]
    for a in actions[:5]:
        env.step(a)
    clone = pickle.loads(pickle.dumps(env))
    for a in actions[5:]:
        assert _same(env.step(a), clone.step(a))


@pytest.mark.parametrize("env_id", IDS)
def test_observations_in_space(env_id):
    kwargs = {"platform_load": {"mean_util": 0.8, "std_util": 0.3}, "early_exit": [0.2] * 17}
    if "D2D" in env_id:
        kwargs["churn"] = {"join": 0.3, "leave": 0.3, "overload": 0.2, "disconnect": 0.2}
    env = gym.make(env_id, **kwargs)
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    for _ in range(60):
        obs, reward, *_ = env.step(env.action_space.sample())
        assert env.observation_space.contains(obs)
        assert isinstance(reward, float) and math.isfinite(reward)


@pytest.mark.parametrize("env_id", IDS)
def test_params_is_the_one_parameters_object(env_id):
    """``env.params`` is frozen, pickles, is shared by the vector env, and rebuilding the env
    from ``params.named()`` (the arguments by name) gives the same parameters."""
    p = gym.make(env_id).unwrapped.params
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.d_energy = 2.0  # type: ignore[misc]
    clone = pickle.loads(pickle.dumps(p))
    assert clone == p and dict(clone.cost_kw) == {
        "d_energy": p.d_energy, "eta_energy": p.eta_energy, "eta_overhead": p.eta_overhead
    }  # fmt: skip
    named = p.named()
    assert gym.make(env_id, **named).unwrapped.params == p
    doubled = {k: 2 * v for k, v in named.items() if type(v) is float}
    doubled = {k: v for k, v in doubled.items() if k not in p.named_thresholds}
    assert gym.make(env_id, **doubled).unwrapped.params.named() == {**named, **doubled}
    v = gym.make_vec(env_id, num_envs=3, vectorization_mode="vector_entry_point")
    assert v.unwrapped.params is v.unwrapped.env.params
    v.close()


@pytest.mark.parametrize("env_id", IDS)
def test_signature_lists_every_argument_once(env_id):
    """The generated constructor signature is what the constructor accepts: every argument,
    each once, keyword-only; passing each default explicitly changes nothing; an unknown
    argument is a TypeError that lists the allowed ones."""
    cls = type(gym.make(env_id).unwrapped)
    sig = inspect.signature(cls)
    names = list(sig.parameters)
    assert len(names) == len(set(names)) and names[:3] == ["dnn", "input_shape", "network"]
    assert all(q.kind is q.KEYWORD_ONLY for q in sig.parameters.values())
    defaults = {k: q.default for k, q in sig.parameters.items()}
    assert cls(**defaults).params == cls().params
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'bogus'; it takes \['dnn'"):
        cls(bogus=1)
    with pytest.raises(TypeError):
        cls("alexnet")  # keyword-only, as gym.make passes them


# ------------------------------------------------------------------ costs and oracle
def _recompute(env, info, **kw):
    """The cost model evaluated on the info's network values and decision."""
    u = env.unwrapped
    net = info["network"]
    scale = u.params.latency_scale  # v1 charges RTT / 2 per transfer
    named = u.params.named()
    if u.scenario == "mec":
        links = mec_links(*(net[f] * (scale if f[0] == "l" else 1.0) for f in MEC_AVG))
        slowdown = [
            net.get("d_t", named["d_t"]),
            net.get("d_e", named["d_e"]),
            net.get("d_c", named["d_c"]),
        ]
        return u.cost_model.evaluate(
            info["decision"], links, slowdown, d_energy=named["d_energy"],
            eta_energy=named["eta1"], eta_overhead=named["eta2"], **kw,
        )  # fmt: skip
    if info["no_collaborator"]:
        links, slowdown = d2d_links(1.0, 1.0), [net.get("d_u", named["d_u"]), 1.0]
    else:
        links = d2d_links(net["b"], net["l"] * scale)
        slowdown = [net.get("d_u", named["d_u"]), net["d_h"]]
    return u.cost_model.evaluate(
        info["decision"],
        links,
        slowdown,
        d_energy=named["d_energy"],
        eta_energy=named["eta"],
        **kw,
    )


@pytest.mark.parametrize("env_id", IDS)
@pytest.mark.parametrize("load", [False, True])
def test_info_cost_equals_cost_model_and_oracle_bounds(env_id, load):
    env = gym.make(env_id, platform_load=load, reward_scale=0.01)
    env.reset(seed=11)
    for _ in range(30):
        _, reward, _, _, info = env.step(env.action_space.sample())
        ref = _recompute(env, info)
        assert info["cost"] == pytest.approx(ref.cost, rel=1e-12)
        assert info["latency_ms"] == pytest.approx(ref.latency_ms, rel=1e-12)
        assert info["energy_j"] == pytest.approx(ref.energy_j, rel=1e-12)
        assert reward == pytest.approx(-0.01 * info["cost"], rel=1e-12)
        assert info["expected_cost"] == info["cost"]
        assert info["optimal_cost"] <= info["cost"] * (1 + 1e-12)
        assert info["gap"] == pytest.approx(info["cost"] / info["optimal_cost"] - 1, abs=1e-12)
        assert info["gap"] >= -1e-12
        dist = info["distribution"]
        assert dist.shape == (env.unwrapped.num_platforms,) and dist.sum() == pytest.approx(1.0)
        assert np.allclose(
            dist * env.unwrapped.n_blocks, np.bincount(info["decision"], minlength=dist.size)
        )
        if env.unwrapped.scenario == "mec":
            assert info["overhead"] == pytest.approx(ref.overhead, rel=1e-12)
            assert set(info["network"]) >= set(MEC_AVG)
            assert ({"d_t", "d_e", "d_c"} <= set(info["network"])) == load
        else:
            assert set(info["network"]) >= {"b", "l", "collaborator", "d_h"}
            assert ("d_u" in info["network"]) == load


@pytest.mark.parametrize("env_id", IDS)
def test_oracle_is_below_every_decision(env_id):
    env = gym.make(env_id, action_mode="discrete")
    env.reset(seed=5)
    u = env.unwrapped
    rng = np.random.default_rng(0)
    for _ in range(8):
        problem = u.problem
        cands = rng.integers(0, u.num_platforms, (200, u.n_blocks))
        cands[0] = 0
        cands[1] = u.num_platforms - 1
        costs = problem.evaluate_candidates(cands).cost
        info = env.step(cands[2])[4]
        assert info["cost"] == pytest.approx(costs[2], rel=1e-12) or info.get("no_collaborator")
        assert info["optimal_cost"] <= costs.min() * (1 + 1e-12) or info.get("no_collaborator")


def test_problem_is_the_frame_of_the_next_step():
    env = MECPartitionEnv(platform_load=True)
    env.reset(seed=2)
    for _ in range(5):
        problem = env.problem
        action = env.action_space.sample()
        decision = env.action_to_decision(action)
        info = env.step(action)[4]
        assert info["cost"] == pytest.approx(float(problem.evaluate(decision).cost), rel=1e-12)
        assert info["optimal_cost"] == pytest.approx(float(problem.optimum()[1]), rel=1e-12)


def test_oracle_off_skips_optimum():
    for cls in (MECPartitionEnv, D2DPartitionEnv):
        env = cls(oracle=False)
        env.reset(seed=0)
        info = env.step(env.action_space.sample())[4]
        assert "optimal_cost" not in info and "gap" not in info and "cost" in info


def test_worked_reward_examples():
    """The docstrings' worked examples (Table 2 averages, ResNet-32)."""
    mec = MECPartitionEnv(network="constant", action_mode="discrete")
    mec.reset(seed=0)
    _, reward, _, _, info = mec.step(np.ones(17, dtype=np.int64))
    assert info["latency_ms"] == pytest.approx(84.929, abs=1e-3)
    assert info["energy_j"] == pytest.approx(0.2715, abs=1e-4)
    assert reward == pytest.approx(-107.64, abs=5e-3)
    assert info["gap"] == pytest.approx(0.0, abs=1e-12)
    d2d = D2DPartitionEnv(
        network="constant", availability=(1.0, 1.0), churn={"leave": 0.0, "overload": 0.0,
        "disconnect": 0.0}, action_mode="discrete",
    )  # fmt: skip
    d2d.reset(seed=0)
    _, reward, _, _, info = d2d.step(np.ones(17, dtype=np.int64))
    assert info["latency_ms"] == pytest.approx(314.90, abs=5e-3)
    assert reward == pytest.approx(-326.52, abs=5e-3)
    _, reward, _, _, _ = d2d.step(np.zeros(17, dtype=np.int64))
    assert reward == pytest.approx(-612.45, abs=5e-3)


@pytest.mark.parametrize("cls", [MECPartitionEnv, D2DPartitionEnv])
def test_early_exit_sampled_and_expected(cls):
    probs = [0.5] * 17
    env = cls(early_exit={"probs": probs, "num_classes": 10}, action_mode="discrete")
    env.reset(seed=4)
    sampled_differs = False
    for t in range(40):
        action = np.array([t % 2] * 8 + [1 - t % 2] * 9)  # crosses platforms: a branch runs
        info = env.step(action)[4]
        exp = _recompute(env, info)
        assert info["expected_cost"] == pytest.approx(exp.cost, rel=1e-12)
        assert info["optimal_cost"] <= info["expected_cost"] * (1 + 1e-12)
        assert info["gap"] == pytest.approx(info["expected_cost"] / info["optimal_cost"] - 1)
        assert info["gap"] >= -1e-12
        sampled_differs |= abs(info["cost"] - info["expected_cost"]) > 1e-9
    assert sampled_differs


def test_action_conversion_roundtrip():
    for cls in (MECPartitionEnv, D2DPartitionEnv):
        for mode in MODES:
            env = cls(action_mode=mode)
            dec = np.arange(17) % env.num_platforms
            action = env.decision_to_action(dec)
            assert env.action_space.contains(action)
            np.testing.assert_array_equal(env.action_to_decision(action), dec)
    env = MECPartitionEnv()
    np.testing.assert_allclose(
        env.decision_to_action([0, 1, 2] * 5 + [0, 1])[:3], [1 / 6, 0.5, 5 / 6], rtol=1e-6
    )
    # thresholds: a < ε -> device, ε <= a < φ -> edge, a >= φ -> cloud
    th = np.array([0.0, 1 / 3 - 1e-9, 1 / 3, 0.5, 2 / 3 - 1e-9, 2 / 3, 1.0])
    a = np.resize(th, 17)
    assert env.action_to_decision(a)[:7].tolist() == [0, 0, 1, 1, 1, 2, 2]
    d2d = D2DPartitionEnv(zeta=0.25)
    assert d2d.action_to_decision(np.resize([0.1, 0.25, 0.9], 17))[:3].tolist() == [0, 1, 1]


def test_intent_thresholds_wrapper_matches_continuous_env():
    cont = gym.make("EdgeRL/MECPartition-v0")
    wrapped = IntentThresholds(gym.make("EdgeRL/MECPartition-v0", action_mode="discrete"))
    assert wrapped.action_space == cont.action_space
    np.testing.assert_array_equal(wrapped.thresholds, [1 / 3, 2 / 3])
    cont.reset(seed=9)
    wrapped.reset(seed=9)
    cont.action_space.seed(1)
    for _ in range(10):
        a = cont.action_space.sample()
        assert _same(cont.step(a), wrapped.step(a))
    with pytest.raises(ValueError, match="MultiDiscrete"):
        IntentThresholds(gym.make("EdgeRL/MECPartition-v0"))
    with pytest.raises(ValueError, match="thresholds"):
        IntentThresholds(gym.make("EdgeRL/D2DPartition-v0", action_mode="discrete"), [0.2, 0.4])
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        wrapped.step(np.full(17, np.nan, dtype=np.float32))


# ------------------------------------------------------------------ D2D churn
def test_d2d_selection_follows_the_formula():
    env = D2DPartitionEnv(num_candidates=5, churn={"overload": 0.1, "disconnect": 0.1})
    env.reset(seed=0)
    pool = env.collaborators
    for _ in range(30):
        usable = pool.status[0] == AVAILABLE
        b, lat = (x[0] for x in pool.link_state())
        sel = pool.selected[0]
        if usable.any():
            s, bb = pool.avail[0] * usable, b * usable
            score = np.where(usable, s / s.max() + bb / bb.max() + 1 / lat, -np.inf)
            assert sel == int(np.argmax(score))
            assert env.problem.slowdown[1] == pytest.approx(pool.base_factor / pool.avail[0, sel])
        else:
            assert sel == -1
        env.step(env.action_space.sample())


def test_d2d_selected_collaborator_leaves_mid_episode():
    # Nobody joins; candidates leave quickly: the selected one disappears mid-episode, the
    # controller re-selects among those left, and finally everything runs locally.
    env = D2DPartitionEnv(
        num_candidates=3, churn={"join": 0.0, "leave": 0.15, "overload": 0.0, "disconnect": 0.0},
        action_mode="discrete",
    )  # fmt: skip
    env.reset(seed=1)
    pool = env.collaborators
    pool.status[:] = AVAILABLE  # start with everyone present (white-box set-up)
    pool._select()
    env.sim._refresh()
    reselected = went_local = False
    prev = int(pool.selected[0])
    for _ in range(200):
        info = env.step(np.ones(17, dtype=np.int64))  # everything on the collaborator
        info = info[4]
        sel = int(pool.selected[0])
        if prev >= 0 and pool.status[0, prev] == ABSENT and sel >= 0:
            assert sel != prev and pool.status[0, sel] == AVAILABLE
            reselected = True
        if info["no_collaborator"]:
            went_local = True
            assert info["collaborator"] == -1 and info["network"]["collaborator"] == -1
            assert np.all(info["decision"] == 0)
            assert np.all(info["distribution"] == [1.0, 0.0])
            assert info["cost"] == pytest.approx(612.45, abs=0.01)  # all-local ResNet-32
            assert info["gap"] == 0.0
            assert math.isinf(info["network"]["l"]) and info["network"]["b"] == 0.0
            obs = env.step(np.ones(17, dtype=np.int64))[0]
            assert obs[4] == 0.0 and env.observation_space.contains(obs)
            break
        assert info["collaborator"] == prev
        prev = sel
    assert reselected and went_local


def test_d2d_sticky_selection_keeps_collaborator():
    env = D2DPartitionEnv(num_candidates=4, sticky_selection=True, churn={"join": 0.5})
    env.reset(seed=3)
    pool = env.collaborators
    prev = int(pool.selected[0])
    kept = 0
    for _ in range(50):
        env.step(env.action_space.sample())
        sel = int(pool.selected[0])
        if prev >= 0 and pool.status[0, prev] == AVAILABLE:
            assert sel == prev
            kept += 1
        prev = sel
    assert kept > 10


# ------------------------------------------------------------------ trace replay
@needs_traces
def test_trace_offset_makes_evaluation_repeatable():
    spec = {
        "type": "trace",
        "b_te_down": {"path": str(TRACES / "lumos5g" / "5G" / "5g_trace_100_walking")},
    }
    env = gym.make("EdgeRL/MECPartition-v0", network=spec)
    obs_a, _ = env.reset(seed=1, options={"offset": 10})
    net_a = [env.step(env.action_space.sample())[4]["network"]["b_te_down"] for _ in range(5)]
    obs_b, _ = env.reset(seed=2, options={"offset": 10})
    net_b = [env.step(env.action_space.sample())[4]["network"]["b_te_down"] for _ in range(5)]
    assert net_a == net_b and obs_a[1] == obs_b[1]
    env.reset(seed=1, options={"offset": 11})
    assert env.step(env.action_space.sample())[4]["network"]["b_te_down"] == net_a[1]
    d2d = gym.make(
        "EdgeRL/D2DPartition-v0",
        network={
            "type": "trace",
            "b": str(TRACES / "lumos5g" / "4G" / "4g_trace_driving_50015_dr"),
        },
    )
    obs, _ = d2d.reset(seed=0, options={"offset": 3})
    for _ in range(20):
        obs = d2d.step(d2d.action_space.sample())[0]
        assert d2d.observation_space.contains(obs)


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    ("cls", "kwargs", "match"),
    [
        (MECPartitionEnv, {"dnn": "nope"}, "unknown dnn"),
        (
            MECPartitionEnv,
            {"dnn": {"name": "x", "input_shape": [3, 8, 8], "input_kb": 0.2, "blocks": []}},
            "blocks",
        ),
        (MECPartitionEnv, {"network": {"b_te_up": -5.0}}, "b_te_up"),
        (
            MECPartitionEnv,
            {"network": {"type": "constant", "b_ec_down": float("nan")}},
            "b_ec_down",
        ),
        (MECPartitionEnv, {"network": {"l_te": -1.0}}, "l_te"),
        (D2DPartitionEnv, {"network": {"b": 0.0}}, "'b'"),
        (MECPartitionEnv, {"epsilon": 0.7, "phi": 0.6}, "epsilon < phi"),
        (MECPartitionEnv, {"epsilon": 0.5, "phi": 0.5}, "epsilon < phi"),
        (MECPartitionEnv, {"phi": 1.0}, "phi"),
        (D2DPartitionEnv, {"zeta": float("nan")}, "zeta"),
        (MECPartitionEnv, {"action_mode": "box"}, "action_mode"),
        (MECPartitionEnv, {"d_t": -1.0}, "d_t"),
        (MECPartitionEnv, {"eta1": float("nan")}, "eta1"),
        (MECPartitionEnv, {"reward_scale": 0.0}, "reward_scale"),
        (MECPartitionEnv, {"early_exit": [0.5] * 3}, "early_exit"),
        (MECPartitionEnv, {"platform_load": {"mean_util": 2.0}}, "mean_util"),
        (MECPartitionEnv, {"network": "4g"}, "type"),
        (MECPartitionEnv, {"network": {"b_te_upp": 5.0}}, "unknown keys.*b_te_upp"),
        (D2DPartitionEnv, {"network": {"b": 5.0, "bogus": 1}}, "unknown keys.*bogus"),
        (
            MECPartitionEnv,
            {"network": {"type": "5g_trial", "b_ec_up": {"minimum": 0.0}}},
            "b_ec_up",
        ),
        (D2DPartitionEnv, {"num_candidates": 0}, "num_candidates"),
        (D2DPartitionEnv, {"churn": {"leave": 1.5}}, "leave"),
        (D2DPartitionEnv, {"churn": {"arrive": 0.1}}, "arrive"),
        (D2DPartitionEnv, {"availability": (0.0, 1.0)}, "availability"),
    ],
)
def test_bad_constructor_input(cls, kwargs, match):
    with pytest.raises(ValueError, match=match):
        cls(**kwargs)


@pytest.mark.parametrize("cls", [MECPartitionEnv, D2DPartitionEnv])
def test_bad_actions(cls):
    env = cls()
    with pytest.raises(RuntimeError, match="reset"):
        env.step(env.action_space.sample())
    env.reset(seed=0)
    n = env.n_blocks
    for bad, match in [
        (np.full(n, np.nan, dtype=np.float32), r"\[0, 1\]"),
        (np.full(n, 1.5, dtype=np.float32), r"\[0, 1\]"),
        (np.full(n, -0.1), r"\[0, 1\]"),
        (np.zeros(n + 1, dtype=np.float32), "shape"),
        (np.zeros((2, n), dtype=np.float32), "shape"),
        (["a"] * n, "numeric"),
    ]:
        with pytest.raises(ValueError, match=match):
            env.step(bad)
    d = cls(action_mode="discrete")
    d.reset(seed=0)
    for bad, match in [
        (np.full(n, d.num_platforms), "integers in"),
        (np.full(n, -1), "integers in"),
        (np.full(n, 0.5), "integers in"),
        (np.zeros(n - 1, dtype=np.int64), "shape"),
    ]:
        with pytest.raises(ValueError, match=match):
            d.step(bad)
    d.step(np.ones(n))  # integral floats are accepted
    with pytest.raises(ValueError, match="unknown reset options"):
        env.reset(options={"ofset": 3})
    with pytest.raises(ValueError, match="offset"):
        env.reset(options={"offset": -2})


@pytest.mark.parametrize("sticky", [False, True])
def test_d2d_one_copy_fast_path_equals_batched_path(sticky):
    """The single env runs churn/selection/observation in plain Python; the numpy path
    (used for every batch size) must give bit-identical observations and selections."""
    kwargs = {"sticky_selection": sticky, "churn": {"join": 0.3, "leave": 0.2, "overload": 0.2, "disconnect": 0.1}}  # fmt: skip
    for load in (False, True):
        fast = D2DPartitionEnv(platform_load=load, **kwargs)
        slow = D2DPartitionEnv(platform_load=load, **kwargs)
        slow.collaborators.scalar = False
        obs_f, _ = fast.reset(seed=6)
        obs_s, _ = slow.reset(seed=6)
        np.testing.assert_array_equal(obs_f, obs_s)
        fast.action_space.seed(0)
        for _ in range(60):
            a = fast.action_space.sample()
            rf, rs = fast.step(a), slow.step(a)
            np.testing.assert_array_equal(rf[0], rs[0])
            assert rf[1] == rs[1] and rf[4]["collaborator"] == rs[4]["collaborator"]
            np.testing.assert_array_equal(fast.collaborators.status, slow.collaborators.status)


def test_candidate_chain_frequencies_and_initial_law():
    from envs.dynamics import make_link_process
    from envs.dynamics.collaborators import CollaboratorPool

    churn = {"join": 0.1, "leave": 0.05, "overload": 0.1, "recover": 0.3, "disconnect": 0.05, "reconnect": 0.4}  # fmt: skip
    pool = CollaboratorPool(4, make_link_process("constant", "d2d"), churn)
    T, pi = pool.transition, pool.initial_distribution
    np.testing.assert_allclose(T.sum(1), 1.0)
    np.testing.assert_allclose(pi @ T, pi, atol=1e-12)  # long-run law = stationary law
    rng = np.random.default_rng(0)
    pool.reset(rng, 5000)
    counts0 = np.bincount(pool.status.ravel(), minlength=4) / pool.status.size
    assert np.all(np.abs(counts0 - pi) < 4 * np.sqrt(pi * (1 - pi) / pool.status.size) + 1e-9)
    before = pool.status.copy()
    pool.step(rng)
    for s in range(4):
        rows = before == s
        freq = np.bincount(pool.status[rows], minlength=4) / rows.sum()
        tol = 4 * np.sqrt(T[s] * (1 - T[s]) / rows.sum()) + 1e-9
        assert np.all(np.abs(freq - T[s]) <= tol), (s, freq, T[s])
