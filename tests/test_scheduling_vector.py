"""Native vector env of EdgeRL/EdgeScheduling-v0: bit-identical to the single env, step by step.

The vector env runs the batched simulator (``envs.scheduling.batch``), the single env its own
1-D code; these tests replay single-env episodes (reset again after each one, as a vector env
autoresets) through the vector env and compare every observation, reward, flag and info.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
import pytest
from conftest import SCHEDULING_TINY
from gymnasium.vector import AutoresetMode

from envs.scheduling import (
    ENV_ID,
    EdgeSchedulingEnv,
    EdgeSchedulingVectorEnv,
    fill_shares,
    fill_shares_batch,
)
from envs.scheduling.batch import _py_variance, sample_variance_rows

SMALL = SCHEDULING_TINY
PLAIN = "time_s,home,service\n" + "".join(
    f"{0.002 * i * (i % 5):.4f},{(i * 7) % 3},{1 + (i * 5) % 7}\n" for i in range(150)
)
CONFIGS: dict[str, dict[str, Any]] = {
    "small": {**SMALL, "queue_limit": 200, "lambda_wait": 0.05},
    # drops (tiny queue), rejections (assign), unequal capacities and waiting penalties
    "drops": {**SMALL, "capacities": [6, 10, 14], "load": 1.3, "queue_limit": 6,
              "lambda_drop": 0.1, "lambda_wait": 0.2},
    "five_servers_no_limit": {"num_servers": 5, "capacities": [20, 30, 40, 50, 60],
                              "buffer_size": 48, "window_slots": 15, "num_users": 300,
                              "load": 1.2, "queue_limit": None, "home_skew": [4, 1, 1, 1, 2]},
    "uniform_service": {**SMALL, "service_time": "uniform", "mean_service_slots": 3.0,
                        "load": 0.5},
    "plain_trace": {"arrivals": "<plain>", "capacities": 8, "buffer_size": 16,
                    "queue_limit": 40},
    "csv_log_at_load": {"arrivals": "<log>", "capacities": 30, "buffer_size": 24,
                        "window_slots": 20, "load": 0.9, "mean_service_slots": 4.0},
}  # fmt: skip
LOG = "ts,user,ms\n" + "".join(
    f"{0.37 * i + 0.1 * (i % 3):.2f},u{(i * 7) % 11},{5 + (i * 13) % 40}\n" for i in range(300)
)
LOG_SPEC = {"kind": "trace", "format": "csv", "time_scale": "load", "service_unit": "ms",
            "service_scale": "mean", "homes": "hash",
            "columns": {"time_s": "ts", "group": "user", "service": "ms"}}  # fmt: skip
MODES = ("shares", "assign")


def _config(name: str, tmp_path: Path) -> dict[str, Any]:
    cfg = dict(CONFIGS[name])
    if cfg.get("arrivals") == "<plain>":
        path = tmp_path / "plain.csv"
        path.write_text(PLAIN)
        cfg["arrivals"] = str(path)
    if cfg.get("arrivals") == "<log>":
        path = tmp_path / "log.csv"
        path.write_text(LOG)
        cfg["arrivals"] = {**LOG_SPEC, "path": str(path)}
    return cfg


def _random_action(env: EdgeSchedulingEnv, rng: np.random.Generator) -> Any:
    if env.action_mode == "shares":
        return int(rng.integers(2**env.num_servers))
    # mostly real servers, some "keep waiting"
    return rng.integers(0, env.num_servers + 1, env.buffer_size)


def _assert_info_row(vec_info: dict[str, Any], j: int, info: dict[str, Any]) -> None:
    for key, value in info.items():
        assert vec_info["_" + key][j], key
        got = vec_info[key][j]
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(got, value, err_msg=key)
        else:
            assert got == value, (key, got, value)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "name,num_envs,limit",
    [("small", 3, 70), ("small", 1, 75), ("drops", 4, 50), ("five_servers_no_limit", 3, 75),
     ("uniform_service", 2, 25), ("plain_trace", 2, 123), ("csv_log_at_load", 3, 30)],
)  # fmt: skip
def test_vector_matches_single_envs_across_autoresets(mode, name, num_envs, limit, tmp_path):
    cfg = {**_config(name, tmp_path), "action_mode": mode}
    seeds = [11 * j + 3 for j in range(num_envs)]
    vec = gymnasium.make_vec(ENV_ID, num_envs=num_envs, max_episode_steps=limit, **cfg)
    assert isinstance(vec, EdgeSchedulingVectorEnv)
    singles = [gymnasium.make(ENV_ID, max_episode_steps=limit, **cfg) for _ in range(num_envs)]
    obs, infos = vec.reset(seed=seeds)
    for j, env in enumerate(singles):
        o, info = env.reset(seed=seeds[j])
        np.testing.assert_array_equal(obs[j], o)
        _assert_info_row(infos, j, info)
    rng = np.random.default_rng(0)
    ended = np.zeros(num_envs, dtype=bool)
    counts = {"terminated": 0, "truncated": 0, "autoreset": 0}
    for _ in range(6 * limit):
        actions = [_random_action(env.unwrapped, rng) for env in singles]
        obs, rewards, terms, truncs, infos = vec.step(np.stack(actions))
        was_reset = infos.get("_task_set_seed", np.zeros(num_envs, dtype=bool))
        for j, env in enumerate(singles):
            if ended[j]:  # NEXT_STEP autoreset: the single env is reset, its action ignored
                o, info = env.reset()
                r, te, tr = 0.0, False, False
                counts["autoreset"] += 1
                assert was_reset[j] and infos["_num_tasks"][j]
            else:
                o, r, te, tr, info = env.step(actions[j])
                assert not was_reset[j]
            np.testing.assert_array_equal(obs[j], o)
            assert rewards[j] == r and terms[j] == te and truncs[j] == tr
            _assert_info_row(infos, j, info)
            counts["terminated"] += te
            counts["truncated"] += tr
            ended[j] = te or tr
    # (the limits sit inside the episode lengths: both kinds of end and their autoresets)
    assert counts["autoreset"] > 0 and counts["terminated"] > 0 and counts["truncated"] > 0


def test_seed_int_seeds_copy_i_with_seed_plus_i():
    vec = gymnasium.make_vec(ENV_ID, num_envs=3, **SMALL)
    _, infos = vec.reset(seed=7)
    for j in range(3):
        env = EdgeSchedulingEnv(**SMALL)
        assert env.reset(seed=7 + j)[1]["task_set_seed"] == infos["task_set_seed"][j]


def test_repeat_task_set_replays_one_task_set():
    vec = gymnasium.make_vec(ENV_ID, num_envs=4, max_episode_steps=None, **SMALL)
    obs, infos = vec.reset(seed=0, options={"task_set_seed": 42, "repeat_task_set": True})
    assert (infos["task_set_seed"] == 42).all()
    assert np.all(obs == obs[0])  # same task set, same state
    single = EdgeSchedulingEnv(**SMALL)
    single.reset(options={"task_set_seed": 42})
    seen_resets = 0
    for t in range(400):
        obs, _, _, _, infos = vec.step(np.full(4, t % 8))
        if "task_set_seed" in infos:
            seen_resets += 1
            assert (infos["task_set_seed"][infos["_task_set_seed"]] == 42).all()
    assert seen_resets > 0
    # Without repeat, autoresets draw new task sets from each copy's generator.
    vec.reset(options={"task_set_seed": [1, 2, 3, 4]})
    seeds = set()
    for _ in range(400):
        _, _, _, _, infos = vec.step(np.zeros(4, dtype=np.int64))
        if "task_set_seed" in infos:
            seeds |= set(infos["task_set_seed"][infos["_task_set_seed"]].tolist())
    assert seeds and not seeds & {1, 2, 3, 4}


def test_metadata_spaces_and_task_latency():
    vec = gymnasium.make_vec(ENV_ID, num_envs=2, action_mode="assign", **SMALL)
    assert vec.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    single = EdgeSchedulingEnv(action_mode="assign", **SMALL)
    assert vec.single_observation_space == single.observation_space
    assert vec.single_action_space == single.action_space
    assert vec.observation_space.shape == (2, single.observation_space.shape[0])
    vec.reset(seed=1)
    single.reset(seed=2)
    for _ in range(10):
        a = np.full((2, 32), 1, dtype=np.int64)
        vec.step(a)
        single.step(a[1])
    np.testing.assert_array_equal(vec.task_latency_ms(1), single.task_latency_ms)
    from_env = EdgeSchedulingVectorEnv.from_env(gymnasium.make(ENV_ID, **SMALL), 2)
    assert from_env.num_envs == 2 and from_env.max_episode_steps == 1000


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda v: v.step(np.zeros(3, dtype=np.int64)), "actions must be 2 integers"),
        (lambda v: v.step(np.array([0, 8])), r"actions must be 2 integers in \[0, 8\)"),
        (lambda v: v.step(np.array([0.5, 1.0])), "dtype float64"),
        (lambda v: v.reset(seed=[1, 2, 3]), "seed must be None, an integer >= 0 or 2"),
        (lambda v: v.reset(seed=-1), "seed must be"),
        (lambda v: v.reset(options={"nope": 1}), "unknown keys"),
        (lambda v: v.reset(options={"task_set_seed": [1]}), "one per copy"),
        (lambda v: v.reset(options={"task_set_seed": -4}), "task_set_seed"),
        (lambda v: v.reset(options={"repeat_task_set": 1}), "repeat_task_set"),
    ],
)
def test_bad_arguments_name_the_field(call, match):
    vec = gymnasium.make_vec(ENV_ID, num_envs=2, **SMALL)
    vec.reset(seed=0)
    with pytest.raises(ValueError, match=match):
        call(vec)


def test_bad_construction_and_step_before_reset():
    with pytest.raises(ValueError, match="num_envs must be an integer >= 1"):
        EdgeSchedulingVectorEnv(num_envs=0, **SMALL)
    with pytest.raises(ValueError, match="max_episode_steps"):
        EdgeSchedulingVectorEnv(num_envs=1, max_episode_steps=0, **SMALL)
    with pytest.raises(ValueError, match="render_mode must be None"):
        EdgeSchedulingVectorEnv(num_envs=1, render_mode="ansi", **SMALL)
    with pytest.raises(ValueError, match="buffer_size"):
        EdgeSchedulingVectorEnv(num_envs=1, buffer_size=0)
    vec = EdgeSchedulingVectorEnv(num_envs=2, **SMALL)
    with pytest.raises(RuntimeError, match="reset"):
        vec.step(np.zeros(2, dtype=np.int64))
    vec = EdgeSchedulingVectorEnv(num_envs=2, action_mode="assign", **SMALL)
    vec.reset(seed=0)
    with pytest.raises(ValueError, match=r"shape \(2, 32\)"):
        vec.step(np.zeros((2, 31), dtype=np.int64))
    with pytest.raises(ValueError, match=r"integers in \[0, 3\]"):
        vec.step(np.full((2, 32), 4))


def test_batched_variance_is_the_plain_python_formula():
    rng = np.random.default_rng(0)
    for m in (2, 3, 5):
        caps = rng.integers(1, 600, m)
        util = rng.integers(0, caps + 1, (20_000, m)) / caps
        expected = np.array([_py_variance(row) for row in util.tolist()])
        got = sample_variance_rows(util)
        assert np.array_equal(got, expected)  # bit for bit, not approximately
        assert np.array_equal(sample_variance_rows(util[:2]), expected[:2])


def test_batched_share_filling_equals_the_single_rule():
    rng = np.random.default_rng(1)
    for _ in range(500):
        m, b, n = int(rng.integers(2, 6)), int(rng.integers(1, 6)), int(rng.integers(1, 25))
        homes = rng.integers(0, m, (b, n))
        lengths = rng.integers(0, n + 1, b)
        valid = np.arange(n) < lengths[:, None]
        offers = rng.integers(0, 10, (b, m)) * (rng.random((b, m)) < 0.8)
        got = fill_shares_batch(homes, valid, offers)
        for j in range(b):
            np.testing.assert_array_equal(
                got[j, : lengths[j]], fill_shares(homes[j, : lengths[j]], offers[j])
            )
            assert (got[j, lengths[j] :] == -1).all()


def test_heuristics_act_on_the_vector_env():
    from agents.scheduling_baselines import make_scheduling_policy

    vec = gymnasium.make_vec(ENV_ID, num_envs=3, action_mode="assign", **SMALL)
    singles = [EdgeSchedulingEnv(action_mode="assign", **SMALL) for _ in range(3)]
    policy = make_scheduling_policy("least_loaded", vec)
    ref = make_scheduling_policy("least_loaded", singles[0])
    obs, _ = vec.reset(seed=[4, 5, 6])
    single_obs = [env.reset(seed=4 + j)[0] for j, env in enumerate(singles)]
    for _ in range(30):
        obs, rewards, *_ = vec.step(policy.act_batch(obs))
        for j, env in enumerate(singles):
            single_obs[j], r, *_ = env.step(ref.act(single_obs[j]))
            assert rewards[j] == r
            np.testing.assert_array_equal(obs[j], single_obs[j])


def test_pipeline_builds_the_native_vector_env():
    from pipeline.envs import make_env

    vec = make_env(ENV_ID, "scheduling", max_episode_steps=50, num_envs=3, train_steps=10,
                   **SMALL)  # fmt: skip
    assert isinstance(vec, EdgeSchedulingVectorEnv)
    assert vec.num_envs == 3 and vec.max_episode_steps == 50
