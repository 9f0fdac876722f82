"""Native vector envs: match the single env, NEXT_STEP autoreset, batched infos and costs."""

from __future__ import annotations

import pickle

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

import envs
from envs.model.links import d2d_links, mec_links
from envs.partition import D2DPartitionVectorEnv, MECPartitionVectorEnv

IDS = envs.PARTITION_ENV_IDS
VARIANTS = [
    {},
    {"platform_load": True, "early_exit": [0.3] * 17},
    {"action_mode": "discrete", "oracle": False},
]


def _actions(space: gym.Space, steps: int, seed: int) -> list[np.ndarray]:
    space.seed(seed)
    return [space.sample() for _ in range(steps)]


@pytest.mark.parametrize("env_id", IDS)
def test_make_vec_uses_native_vector_env(env_id):
    v = gym.make_vec(env_id, num_envs=4)
    assert isinstance(v, MECPartitionVectorEnv | D2DPartitionVectorEnv)
    assert v.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    assert v.num_envs == 4 and v.max_episode_steps == 100
    single = gym.make(env_id)
    assert v.single_observation_space == single.observation_space
    assert v.single_action_space == single.action_space
    assert v.observation_space.shape == (4, *single.observation_space.shape)
    assert v.action_space.shape == (4, *single.action_space.shape)
    assert v.params == single.unwrapped.params and v.scenario == single.unwrapped.scenario
    obs, info = v.reset(seed=0)
    assert v.observation_space.contains(obs) and info == {}
    obs, rew, term, trunc, info = v.step(v.action_space.sample())
    assert v.observation_space.contains(obs)
    assert rew.shape == term.shape == trunc.shape == (4,)
    assert rew.dtype == np.float64 and term.dtype == trunc.dtype == np.bool_
    assert info["decision"].shape == (4, 17) and info["distribution"].shape == (4, v.num_platforms)
    for key in ("latency_ms", "energy_j", "cost", "expected_cost", "optimal_cost", "gap"):
        assert info[key].shape == (4,) and info["_" + key].all()
    assert isinstance(info["network"], dict) and info["_network"].all()


@pytest.mark.parametrize("env_id", IDS)
@pytest.mark.parametrize("kwargs", VARIANTS)
def test_vector_with_one_env_reproduces_single_env(env_id, kwargs):
    """Same seed and actions: the vector env (N=1) and the single env agree step by step,
    across two episodes (the vector env autoresets, the single env is reset by hand)."""
    horizon, steps = 6, 15
    single = gym.make(env_id, max_episode_steps=horizon, **kwargs)
    vec = gym.make_vec(env_id, num_envs=1, max_episode_steps=horizon, **kwargs)
    actions = _actions(single.action_space, steps, seed=3)
    obs_s, _ = single.reset(seed=21)
    obs_v, _ = vec.reset(seed=21)
    np.testing.assert_array_equal(obs_v[0], obs_s)
    done = False
    for a in actions:
        if done:  # single: reset by hand; vector: NEXT_STEP autoreset ignores the action
            obs_s, _ = single.reset()
            obs_v, rew_v, term_v, trunc_v, info_v = vec.step(a[None])
            assert rew_v[0] == 0.0 and not term_v[0] and not trunc_v[0] and info_v == {}
            np.testing.assert_allclose(obs_v[0], obs_s, rtol=1e-6, atol=1e-7)
            done = False
            continue
        obs_s, rew_s, term_s, trunc_s, info_s = single.step(a)
        obs_v, rew_v, term_v, trunc_v, info_v = vec.step(a[None])
        np.testing.assert_allclose(obs_v[0], obs_s, rtol=1e-6, atol=1e-7)
        assert rew_v[0] == pytest.approx(rew_s, rel=1e-9)
        assert (bool(term_v[0]), bool(trunc_v[0])) == (term_s, trunc_s)
        np.testing.assert_array_equal(info_v["decision"][0], info_s["decision"])
        np.testing.assert_allclose(info_v["distribution"][0], info_s["distribution"])
        for key in ("latency_ms", "energy_j", "cost", "expected_cost", "optimal_cost", "gap"):
            if key in info_s:
                assert info_v[key][0] == pytest.approx(info_s[key], rel=1e-9, abs=1e-12), key
            else:
                assert key not in info_v
        for key, value in info_s["network"].items():
            assert info_v["network"][key][0] == pytest.approx(value, rel=1e-9)
        done = term_s or trunc_s
    assert done is False or steps % horizon == 0


@pytest.mark.parametrize("env_id", IDS)
def test_autoreset_next_step_and_seeding(env_id):
    v = gym.make_vec(env_id, num_envs=5, max_episode_steps=3)
    obs0, _ = v.reset(seed=4)
    actions = _actions(v.action_space, 8, seed=0)
    truncs, rewards = [], []
    for a in actions:
        _, rew, term, trunc, _ = v.step(a)
        assert not term.any()
        truncs.append(trunc.copy())
        rewards.append(rew.copy())
    # steps 1-3: episode; 3 truncates all; 4 is the reset step (reward 0); 5-7 next episode.
    assert [t.all() for t in truncs] == [False, False, True, False, False, False, True, False]
    assert [t.any() for t in truncs] == [t.all() for t in truncs]
    assert np.all(rewards[3] == 0) and np.all(rewards[7] == 0)
    assert np.all(rewards[0] < 0)
    # Same seed, same actions -> identical; the N copies differ from each other.
    w = gym.make_vec(env_id, num_envs=5, max_episode_steps=3)
    obs1, _ = w.reset(seed=4)
    np.testing.assert_array_equal(obs0, obs1)
    rew_w = [w.step(a)[1] for a in actions]
    np.testing.assert_array_equal(np.array(rewards), np.array(rew_w))
    assert len({tuple(np.round(r, 6)) for r in np.array(rewards)[:3].T}) == 5
    # a list of seeds seeds the shared generator
    a1, _ = v.reset(seed=[1, 2])
    a2, _ = w.reset(seed=[1, 2])
    np.testing.assert_array_equal(a1, a2)


def test_partial_autoreset():
    """A copy that ended last step is reset (reward 0, masked info); the others step on."""
    v = MECPartitionVectorEnv(num_envs=3, max_episode_steps=50)
    v.reset(seed=0)
    v._autoreset[:] = [True, False, False]  # white-box: copies out of phase
    _, rew, _, trunc, info = v.step(v.action_space.sample())
    assert rew[0] == 0 and np.all(rew[1:] < 0) and not trunc.any()
    np.testing.assert_array_equal(info["_cost"], [False, True, True])
    np.testing.assert_array_equal(info["network"]["_l_te"], [False, True, True])
    np.testing.assert_array_equal(v._t, [0, 1, 1])


@pytest.mark.parametrize("env_id", IDS)
def test_batched_costs_match_cost_model(env_id):
    v = gym.make_vec(env_id, num_envs=64, platform_load=True)
    v.reset(seed=1)
    u = v.unwrapped
    for a in _actions(v.action_space, 4, seed=2):
        problem = u.problem
        _, rew, _, _, info = v.step(a)
        net = info["network"]
        if u.scenario == "mec":
            s = u.params.latency_scale  # v1 charges RTT / 2 per transfer
            links = mec_links(
                net["b_te_up"], net["b_te_down"], net["b_ec_up"], net["b_ec_down"],
                s * net["l_te"], s * net["l_ec"],
            )  # fmt: skip
            slowdown = np.stack([net["d_t"], net["d_e"], net["d_c"]], 1)
            kw = {"eta_energy": u.params.eta_energy, "eta_overhead": u.params.eta_overhead}
        else:
            has = ~info["no_collaborator"]
            lat = np.where(has, net["l"], 1.0) * u.params.latency_scale
            links = d2d_links(np.where(has, net["b"], 1.0), lat)
            slowdown = np.stack([net["d_u"], np.where(has, net["d_h"], 1.0)], 1)
            kw = {"eta_energy": u.params.eta_energy}
        ref = u.cost_model.evaluate(info["decision"], links, slowdown, **kw)
        np.testing.assert_allclose(info["cost"], ref.cost, rtol=1e-12)
        np.testing.assert_allclose(rew, -ref.cost, rtol=1e-12)
        # the problem exposed before the step is the one the step evaluated
        np.testing.assert_allclose(
            problem.evaluate(info["decision"]).cost, info["cost"], rtol=1e-12
        )
        assert np.all(info["optimal_cost"] <= info["cost"] * (1 + 1e-12))
        np.testing.assert_allclose(info["optimal_cost"], problem.optimum()[1], rtol=1e-12)
        assert np.all(info["gap"] >= -1e-12)


def test_d2d_vector_without_collaborators_runs_locally():
    v = D2DPartitionVectorEnv(
        num_envs=8,
        churn={"join": 0.0, "leave": 1.0, "overload": 0.0, "disconnect": 0.0, "recover": 0.0},
        action_mode="discrete",
    )
    v.reset(seed=0)
    v.step(np.ones((8, 17), dtype=np.int64))  # everyone leaves after the first frame
    _, rew, _, _, info = v.step(np.ones((8, 17), dtype=np.int64))
    assert info["no_collaborator"].all() and np.all(info["collaborator"] == -1)
    assert np.all(info["decision"] == 0) and np.all(info["gap"] == 0)
    np.testing.assert_allclose(-rew, 612.454216928, rtol=1e-9)
    assert np.all(np.isinf(info["network"]["l"]))


def test_vector_offsets_pickle_and_bad_input():
    v = MECPartitionVectorEnv(num_envs=2)
    with pytest.raises(RuntimeError, match="reset"):
        v.step(v.action_space.sample())
    v.reset(seed=0, options={"offset": np.array([3, 4])})
    with pytest.raises(ValueError, match="shape"):
        v.reset(options={"offset": np.array([1, 2, 3])})
    v.reset(seed=0)
    with pytest.raises(ValueError, match="shape"):
        v.step(np.zeros((3, 17), dtype=np.float32))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        v.step(np.full((2, 17), np.nan, dtype=np.float32))
    clone = pickle.loads(pickle.dumps(v))
    a = v.action_space.sample()
    np.testing.assert_array_equal(v.step(a)[1], clone.step(a)[1])
    for bad in ({"num_envs": 0}, {"max_episode_steps": 0}, {"num_envs": 2, "dnn": "nope"}):
        with pytest.raises(ValueError):
            MECPartitionVectorEnv(**bad)


def test_batched_cost_path_accepts_any_integer_dtype():
    """The fast batched cost path (used by the vector env) must agree with the scalar path
    for decisions of any integer dtype (flat gather indices are built in int64)."""
    v = MECPartitionVectorEnv(num_envs=40)
    v.reset(seed=0)
    problem = v.problem
    rng = np.random.default_rng(0)
    dec = rng.integers(0, 3, (40, 17))
    ref = [
        float(v.cost_model.evaluate(dec[i], *_row(problem, i), **v.params.cost_kw).cost)
        for i in range(40)
    ]
    for dtype in (np.int64, np.int32, np.int8, np.uint8, np.uint64):
        np.testing.assert_allclose(problem.evaluate(dec.astype(dtype)).cost, ref, rtol=1e-12)


def _row(problem, i):
    from envs.model.links import LinkMatrices

    return LinkMatrices(*(np.asarray(m)[i] for m in problem.links)), problem.slowdown[i]
