"""EdgeRL/EdgeScheduling-v0: API conformance, exact replay, conservation, capacity, errors."""

from __future__ import annotations

from pathlib import Path

import gymnasium
import numpy as np
import pytest
from conftest import ARRIVALS_DIR, AZURE_CODE
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

from envs.scheduling import (
    ENV_ID,
    RECOMMENDED_MAX_EPISODE_STEPS,
    EdgeSchedulingEnv,
    fill_shares,
    read_azure_trace,
    share_fractions,
    share_offers,
)
from envs.scheduling.arrivals import AzureTraceArrivals

DATA = ARRIVALS_DIR
# A small system (λ = 0.8 · 150 / 10 = 12 tasks per slot) for fast invariant checks.
SMALL = {
    "capacities": 50,
    "buffer_size": 32,
    "window_slots": 20,
    "num_users": 100,
    "queue_limit": 200,
}
MODES = ("shares", "assign")


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def check_conservation(info: dict) -> None:
    assert (
        info["arrived"]
        == info["completed"] + info["waiting"] + info["in_service"] + info["dropped"]
    )


def run_episode(env: gymnasium.Env, policy, task_set_seed: int, max_steps: int = 2000):
    obs, info = env.reset(options={"task_set_seed": task_set_seed})
    trace = [(obs, 0.0, info)]
    for _ in range(max_steps):
        obs, reward, terminated, truncated, info = env.step(policy(obs))
        trace.append((obs, reward, info))
        if terminated or truncated:
            return trace, terminated
    return trace, False


# ---------------------------------------------------------------- API conformance


@pytest.mark.parametrize("mode", MODES)
def test_check_env_gymnasium(mode):
    env = gymnasium.make(ENV_ID, action_mode=mode)
    gym_check_env(env.unwrapped, skip_render_check=True)


@pytest.mark.parametrize("mode", MODES)
def test_check_env_sb3(mode):
    env = gymnasium.make(ENV_ID, action_mode=mode)
    sb3_check_env(env, warn=True)


def test_registered_defaults_and_spaces():
    env = gymnasium.make(ENV_ID)
    base = env.unwrapped
    assert env.spec.max_episode_steps == RECOMMENDED_MAX_EPISODE_STEPS
    assert base.action_space == gymnasium.spaces.Discrete(8)
    assert base.observation_space.shape == (2 * 3 + 2 + 500 * (3 + 3),)
    assert base.obs_layout.size == base.observation_space.shape[0]
    env_a = gymnasium.make(
        ENV_ID, action_mode="assign", num_servers=4, capacities=[100, 200, 300, 400]
    )
    assert env_a.action_space == gymnasium.spaces.MultiDiscrete([5] * 500)


@pytest.mark.parametrize("mode", MODES)
def test_vector_env_sync(mode):
    vec = gymnasium.make_vec(
        ENV_ID, num_envs=2, vectorization_mode="sync", action_mode=mode, **SMALL
    )
    obs, info = vec.reset(seed=0)
    assert obs.shape == (2, vec.single_observation_space.shape[0])
    assert info["task_set_seed"].shape == (2,)
    for _ in range(5):
        obs, reward, _, _, info = vec.step(vec.action_space.sample())
        assert reward.shape == (2,) and obs.dtype == np.float32
        assert np.all(
            info["arrived"]
            == info["completed"] + info["waiting"] + info["in_service"] + info["dropped"]
        )
    vec.close()


def test_observation_matches_state():
    env = EdgeSchedulingEnv(action_mode="assign", **SMALL)
    obs, info = env.reset(options={"task_set_seed": 3})
    for i in range(6):
        obs, _, _, _, info = env.step(np.full(32, 3 if i % 2 else 0))  # alternate: all to 0 / wait
        assert env.observation_space.contains(obs)
        parts = env.obs_layout.decode(obs)
        n = min(info["waiting"], 32)
        assert parts.mask.sum() == n and parts.mask[:n].all()
        head = env.waiting_tasks[:32]
        np.testing.assert_array_equal(parts.home[:n], env.tasks.home[head])
        assert np.all(parts.home[n:] == -1)
        np.testing.assert_allclose(parts.utilization, info["utilization"], rtol=1e-6)
        np.testing.assert_allclose(parts.free * 50, 50 - env.server_pool.load, atol=1e-4)
        wait_slots = info["slot"] - env.tasks.arrival[head]
        np.testing.assert_allclose(parts.wait[:n], np.minimum(wait_slots / 100.0, 1), rtol=1e-6)
        np.testing.assert_allclose(parts.queue, info["waiting"] / 200, rtol=1e-6)


# ---------------------------------------------------------------- replay and determinism


@pytest.mark.parametrize("mode", MODES)
def test_task_set_replay_is_exact(mode):
    env1 = EdgeSchedulingEnv(action_mode=mode, **SMALL)
    env2 = EdgeSchedulingEnv(action_mode=mode, **SMALL)
    env2.reset(seed=123)  # different RNG history must not matter
    env1.action_space.seed(0)
    actions = [env1.action_space.sample() for _ in range(400)]
    runs = []
    for env in (env1, env2, env1):
        it = iter(actions)
        runs.append(run_episode(env, lambda obs, it=it: next(it), task_set_seed=42)[0])
    for other in runs[1:]:
        assert len(other) == len(runs[0])
        for (o1, r1, i1), (o2, r2, i2) in zip(runs[0], other, strict=True):
            np.testing.assert_array_equal(o1, o2)
            assert r1 == r2
            assert i1.keys() == i2.keys()
            for k in i1:
                np.testing.assert_array_equal(i1[k], i2[k])
    t1, t2 = env1.task_set(42), env1.task_set(43)
    assert t1.size != t2.size or not np.array_equal(t1.arrival, t2.arrival)


def test_reset_seed_draws_reproducible_task_sets():
    env = EdgeSchedulingEnv(**SMALL)
    _, i1 = env.reset(seed=5)
    _, i2 = env.reset()
    _, i3 = env.reset(seed=5)
    assert i1["task_set_seed"] == i3["task_set_seed"] != i2["task_set_seed"]
    assert i1["num_tasks"] == env.task_set(i1["task_set_seed"]).size


# ---------------------------------------------------------------- invariants


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("load", [0.3, 1.3])
def test_no_task_lost_and_capacity_respected(mode, load):
    env = EdgeSchedulingEnv(action_mode=mode, load=load, **{**SMALL, "queue_limit": 40})
    env.action_space.seed(1)
    trace, terminated = run_episode(env, lambda obs: env.action_space.sample(), task_set_seed=9)
    for _, _, info in trace:
        check_conservation(info)
        assert np.all(info["utilization"] <= 1.0)
    assert terminated
    last = trace[-1][2]
    assert last["completed"] + last["dropped"] == env.tasks.size
    assert last["waiting"] == last["in_service"] == 0
    if load == 1.3:
        assert last["dropped"] > 0  # queue_limit 40 overflows at λ = 19.5 per slot
    placed = ~np.isnan(env.task_latency_ms)
    assert placed.sum() == last["completed"]


def test_assign_over_capacity_is_rejected_and_counted():
    env = EdgeSchedulingEnv(action_mode="assign", **{**SMALL, "capacities": [5, 50, 50]})
    _, info = env.reset(options={"task_set_seed": 0})
    waiting = info["waiting"]
    assert waiting > 5
    _, _, _, _, info = env.step(np.zeros(32, dtype=np.int64))  # everything to server 0
    assert info["rejected"] == min(waiting, 32) - 5
    assert env.server_pool.load[0] <= 5
    check_conservation(info)


# ---------------------------------------------------------------- share semantics


def test_share_offers_paper_rule():
    fr = share_fractions(3, 0.05)
    assert fr.shape == (8, 3)
    np.testing.assert_array_equal(share_offers(fr[0b101], np.array([100, 250, 400])), [95, 12, 380])
    np.testing.assert_array_equal(share_offers(fr[0], np.array([100, 19, 20])), [5, 0, 1])
    np.testing.assert_array_equal(share_offers(fr[7], np.array([20, 1, 0])), [19, 0, 0])


def test_fill_shares_home_first_then_fifo_forwarding():
    homes = np.array([0, 0, 0, 1, 0, 2, 2, 2])
    out = fill_shares(homes, np.array([2, 3, 1]))
    # home pass: tasks 0, 1 -> 0; 3 -> 1; 5 -> 2; left offers (0, 2, 0) take tasks 2, 4
    np.testing.assert_array_equal(out, [0, 0, 1, 1, 1, 2, -1, -1])
    # leftovers dealt round-robin, server with most slots left first
    out = fill_shares(np.zeros(5, dtype=np.int64), np.array([0, 2, 3]))
    np.testing.assert_array_equal(out, [2, 1, 2, 1, 2])
    assert fill_shares(np.array([], dtype=np.int64), np.array([1, 1])).size == 0


def test_shares_latency_forwarding_and_reward(tmp_path):
    # 12 tasks at slot 0, all homed at server 0, 3 slots of service; c = (10, 10).
    rows = "".join("0.0,0,3\n" for _ in range(12))
    path = write_csv(tmp_path / "burst.csv", "time_s,home,service\n" + rows)
    env = EdgeSchedulingEnv(
        num_servers=2, capacities=10, arrivals=str(path), slot_ms=10.0, rpc_latency_ms=20.0
    )
    _, info = env.reset()
    assert info["num_tasks"] == 12 and info["waiting"] == 12
    _, r, term, _, info = env.step(0b11)  # both high: 9 at home, 3 forwarded to server 1
    np.testing.assert_allclose(info["utilization"], [0.9, 0.3])
    assert r == pytest.approx(-(0.3**2 + 0.3**2) / 1)
    assert info["forwarded"] == 3 and info["mean_latency_ms"] == 0.0 and not term
    env.step(0)
    _, _, term, _, info = env.step(0)
    assert term and info["completed"] == 12
    # 9 × 30 ms at home + 3 × (30 + 20) ms forwarded
    assert info["mean_latency_ms"] == pytest.approx((9 * 30 + 3 * 50) / 12)


def test_wait_and_drop_penalties(tmp_path):
    rows = "".join("0.0,0,3\n" for _ in range(12)) + "".join("0.01,1,2\n" for _ in range(30))
    path = write_csv(tmp_path / "two.csv", "time_s,home,service\n" + rows)
    env = EdgeSchedulingEnv(
        num_servers=2, capacities=10, arrivals=path, buffer_size=16, queue_limit=20,
        lambda_wait=0.5, lambda_drop=0.1,
    )  # fmt: skip
    env.reset()
    _, r, _, _, info = env.step(0)  # low shares: floor(0.05 · 10) = 0 slots, nobody placed
    assert info["dropped"] == 22 and info["waiting"] == 20
    assert r == pytest.approx(-0.5 * 12 / 16 - 0.1 * 22)
    check_conservation(info)


def test_assign_latency_includes_waiting(tmp_path):
    path = write_csv(tmp_path / "w.csv", "time_s,home,service\n0.0,1,4\n0.0,0,2\n")
    env = EdgeSchedulingEnv(
        num_servers=3, capacities=[1, 1, 1], arrivals=path, action_mode="assign", buffer_size=4
    )
    env.reset()
    env.step(np.array([3, 0, 3, 3]))  # task 1 (home 0) placed at home, task 0 waits
    env.step(np.array([2, 3, 3, 3]))  # task 0 forwarded to server 2 after waiting 1 slot
    lat = env.task_latency_ms
    np.testing.assert_allclose(lat, [(1 + 4) * 10 + 20, 2 * 10])


# ---------------------------------------------------------------- arrival processes


def test_load_definition_bernoulli():
    env = EdgeSchedulingEnv(
        load=0.6, home_skew=[2, 1, 1], window_slots=50, **{"capacities": [100, 200, 300]}
    )
    lam = 0.6 * 600 / 10
    assert env.arrival_process.rate_per_slot == pytest.approx(lam)
    sets = [env.task_set(k) for k in range(40)]
    counts = np.array([t.size for t in sets])
    assert counts.mean() == pytest.approx(lam * 50, rel=0.02)
    homes = np.bincount(np.concatenate([t.home for t in sets]), minlength=3) / counts.sum()
    np.testing.assert_allclose(homes, [0.5, 0.25, 0.25], atol=0.01)
    service = np.concatenate([t.service for t in sets])
    assert service.min() >= 1 and service.mean() == pytest.approx(10, rel=0.03)
    arrival = sets[0].arrival
    assert arrival.min() >= 0 and arrival.max() < 50 and np.all(np.diff(arrival) >= 0)


@pytest.mark.parametrize("dist,mean", [("constant", 4.0), ("uniform", 5.5)])
def test_service_distributions(dist, mean):
    env = EdgeSchedulingEnv(service_time=dist, mean_service_slots=mean, **SMALL)
    s = env.task_set(0).service
    assert env.arrival_process.mean_service_slots == pytest.approx(mean)
    if dist == "constant":
        assert np.all(s == 4)
    else:
        assert s.min() >= 1 and s.max() <= 10


def test_plain_trace_replayed_exactly(tmp_path):
    path = write_csv(tmp_path / "p.csv", "time_s,home,service\n0.10,1,3\n0.0,0,2\n0.055,2,1\n")
    env = EdgeSchedulingEnv(arrivals={"kind": "trace", "path": str(path), "format": "plain"})
    env.reset(options={"task_set_seed": 0})
    t = env.tasks
    np.testing.assert_array_equal(t.arrival, [0, 5, 10])
    np.testing.assert_array_equal(t.home, [0, 2, 1])
    np.testing.assert_array_equal(t.service, [2, 1, 3])
    env.reset(options={"task_set_seed": 99})
    np.testing.assert_array_equal(env.tasks.arrival, [0, 5, 10])


@pytest.mark.skipif(not AZURE_CODE.exists(), reason="shared Azure arrival trace not present")
def test_azure_trace_load_scaled_replay():
    trace = read_azure_trace(AZURE_CODE)
    assert trace.time_s.size == 8819 and trace.time_s[0] == 0 and np.all(np.diff(trace.time_s) >= 0)
    env = EdgeSchedulingEnv(
        arrivals=str(AZURE_CODE), load=0.8, window_slots=60, **{"capacities": 100}
    )
    proc = env.arrival_process
    assert isinstance(proc, AzureTraceArrivals)
    assert proc.mean_service_slots == pytest.approx(10, rel=0.05)
    cost = 0.25 * trace.context_tokens + 25.0 * trace.generated_tokens
    assert np.corrcoef(proc.service_slots, cost)[0, 1] > 0.99
    lam = 0.8 * 300 / proc.mean_service_slots
    counts = np.array([env.task_set(k).size for k in range(40)])
    assert counts.mean() == pytest.approx(lam * 60, rel=0.15)
    assert counts.std() > 0  # different windows of a bursty trace
    trace_run, terminated = run_episode(env, lambda obs: 7, task_set_seed=1)
    assert terminated
    for _, _, info in trace_run:
        check_conservation(info)
    again, _ = run_episode(env, lambda obs: 7, task_set_seed=1)
    assert [r for _, r, _ in again] == [r for _, r, _ in trace_run]


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "kwargs,field",
    [
        ({"num_servers": 0}, "num_servers"),
        ({"num_servers": 6}, "num_servers"),
        ({"eta": 0.0}, r"eta must be .*open interval \(0, 0\.1\)"),
        ({"eta": 0.1}, r"eta must be .*open interval \(0, 0\.1\)"),
        ({"eta": -0.01}, r"eta must be .*open interval \(0, 0\.1\)"),
        ({"eta": float("nan")}, r"eta must be .*open interval \(0, 0\.1\)"),
        ({"eta": "0.05"}, "eta"),
        ({"capacities": -5}, "capacities"),
        ({"capacities": [500, -1, 500]}, "capacities"),
        ({"capacities": [500, 500]}, "capacities"),
        ({"capacities": [500.5, 500, 500]}, "capacities"),
        ({"load": 0.0}, "load"),
        ({"load": float("nan")}, "load"),
        ({"action_mode": "both"}, "action_mode"),
        ({"buffer_size": 0}, "buffer_size"),
        ({"queue_limit": 0}, "queue_limit"),
        ({"service_time": "normal"}, "service_time"),
        ({"mean_service_slots": 0.5}, "mean_service_slots"),
        ({"rpc_latency_ms": -1.0}, "rpc_latency_ms"),
        ({"lambda_wait": -0.1}, "lambda_wait"),
        ({"num_users": 10}, "num_users"),
        ({"home_skew": -1.0}, "home_skew"),
        ({"home_skew": [1, 1]}, "home_skew"),
        ({"arrivals": "/nonexistent/arrivals.csv"}, "arrivals"),
        ({"arrivals": {"kind": "poisson"}}, "kind"),
        ({"arrivals": {"kind": "trace"}}, "path"),
        ({"render_mode": "human"}, "render_mode"),
    ],
)
def test_bad_arguments(kwargs, field):
    with pytest.raises(ValueError, match=field):
        EdgeSchedulingEnv(**kwargs)


def test_bad_actions_and_options():
    env = EdgeSchedulingEnv(**SMALL)
    with pytest.raises(RuntimeError, match="reset"):
        env.step(0)
    env.reset(seed=0)
    for bad in (8, -1, 2.5, [1, 2]):
        with pytest.raises(ValueError, match="action"):
            env.step(bad)
    with pytest.raises(ValueError, match="task_set_seed"):
        env.reset(options={"task_set_seed": -3})
    with pytest.raises(ValueError, match="unknown"):
        env.reset(options={"seed": 1})
    env_a = EdgeSchedulingEnv(action_mode="assign", **SMALL)
    env_a.reset(seed=0)
    with pytest.raises(ValueError, match="32 integers"):
        env_a.step(np.zeros(31, dtype=np.int64))
    with pytest.raises(ValueError, match=r"\[0, 3\]"):
        env_a.step(np.full(32, 4))


AZURE_HEADER = "TIMESTAMP,ContextTokens,GeneratedTokens\n"
GOOD_ROW = "2023-11-16 18:17:03.9799600,4808,10\n"


@pytest.mark.parametrize(
    "text,line,what",
    [
        ("", 1, "header"),
        ("time,ctx,gen\n" + GOOD_ROW, 1, "header"),
        (AZURE_HEADER, 2, "no data rows"),
        (AZURE_HEADER + GOOD_ROW + "2023-11-16 18:17:04.0,12\n", 3, "3 fields"),
        (AZURE_HEADER + GOOD_ROW * 2 + "yesterday,1,2\n", 4, "TIMESTAMP"),
        (AZURE_HEADER + GOOD_ROW + "2023-11-16 18:17:05.0,-3,2\n", 3, "ContextTokens"),
        (AZURE_HEADER + GOOD_ROW + "2023-11-16 18:17:05.0,3,x\n", 3, "GeneratedTokens"),
        ("time_s,home,service\n0.0,0,1\n0.1,zero,1\n", 3, "home"),
        ("time_s,home,service\n0.0,0,1\n0.1,0,0\n", 3, "service"),
        ("time_s,home,service\n0.0,0,1\nnan,0,2\n", 3, "time_s"),
        ("time_s,home,service\n0.0,0,1\n\n0.2,1,1\n", 3, "fields"),
    ],
)
def test_malformed_arrival_files(tmp_path, text, line, what):
    path = write_csv(tmp_path / "bad_trace.csv", text)
    with pytest.raises(ValueError, match=rf"bad_trace\.csv, line {line}: .*{what}"):
        EdgeSchedulingEnv(arrivals=str(path))


def test_plain_trace_home_out_of_range(tmp_path):
    path = write_csv(tmp_path / "far.csv", "time_s,home,service\n0.0,0,1\n0.1,3,1\n")
    with pytest.raises(ValueError, match=r"far\.csv.*home must be in \[0, 3\)"):
        EdgeSchedulingEnv(arrivals=path)


def test_render_ansi():
    env = EdgeSchedulingEnv(render_mode="ansi", **SMALL)
    env.reset(seed=0)
    env.step(7)
    text = env.render()
    assert text.startswith("slot     1") and "waiting" in text


# ---------------------------------------------------------------- input validation and bounds


@pytest.mark.parametrize(
    "kwargs,field",
    [
        ({"num_servers": "3"}, "num_servers"),
        ({"num_servers": True}, "num_servers"),
        ({"capacities": "500"}, "capacities"),
        ({"capacities": [[1, 2], [3]]}, "capacities"),
        ({"capacities": 10**13}, "capacities"),
        ({"capacities": 10**8}, r"capacities: would allocate .*MAX_ALLOC_BYTES"),
        ({"load": "0.8"}, "load"),
        ({"load": 1e308}, r"load must be a finite number in \(0.0, 1000.0\]"),
        ({"home_skew": [1e308] * 3}, r"home_skew .*finite sum"),
        ({"home_skew": "abc"}, "home_skew"),
        ({"home_skew": [1j, 1, 1]}, "home_skew"),
        ({"home_skew": None}, "home_skew"),
        ({"num_users": 2.5}, "num_users"),
        ({"window_slots": 0}, "window_slots"),
        ({"window_slots": 10**9}, r"window_slots: would allocate"),
        ({"slot_ms": 0.0}, "slot_ms"),
        ({"slot_ms": 1e308}, "slot_ms"),
        ({"buffer_size": 10**9}, r"buffer_size: would allocate"),
        ({"queue_limit": 10**400}, "queue_limit"),
        ({"eta": 1j}, "eta"),
        ({"action_mode": ["shares"]}, "action_mode"),
        ({"service_time": None}, "service_time"),
        ({"mean_service_slots": "10"}, "mean_service_slots"),
        ({"mean_service_slots": 1e6}, r"mean_service_slots must be .* \[1.0, 100000.0\]"),
        ({"mean_service_slots": 9e4, "window_slots": 10**8}, r"window_slots: would allocate"),
        ({"mean_service_slots": float("inf")}, "mean_service_slots"),
        ({"rpc_latency_ms": 1e308}, "rpc_latency_ms"),
        ({"lambda_wait": 1e308}, "lambda_wait"),
        ({"lambda_drop": float("nan")}, "lambda_drop"),
        ({"render_mode": ["ansi"]}, "render_mode"),
        ({"arrivals": 5}, "arrivals"),
        ({"arrivals": {"kind": ["trace"]}}, "kind"),
        ({"arrivals": {"kind": "trace", "path": 3}}, "path"),
        ({"arrivals": {"kind": "trace", "path": "a\0b"}}, "arrivals"),
        ({"arrivals": {"kind": "bernoulli", 1: 2}}, "unknown keys"),
    ],
)
def test_bad_arguments_name_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field):
        EdgeSchedulingEnv(**kwargs)


def test_huge_load_with_many_users_hits_the_task_set_bound():
    with pytest.raises(ValueError, match=r"window_slots: would allocate .*λ·window_slots"):
        EdgeSchedulingEnv(load=1000.0, num_users=10**9, capacities=10**4, window_slots=10**4)


def test_bad_actions_options_and_seeds_name_the_space():
    env = EdgeSchedulingEnv(**SMALL)
    env.reset(seed=0)
    for bad in (np.array([3]), 3.0, 1j, "3", np.nan, None, [[1], [2, 3]], True, np.int64(8)):
        with pytest.raises(ValueError, match=r"action must be one integer in \[0, 8\) \(Discrete"):
            env.step(bad)
    env.step(np.int64(3))  # numpy integers and 0-d arrays are fine
    env.step(np.array(5, dtype=np.uint8))
    with pytest.raises(ValueError, match="options must be a dict"):
        env.reset(options=5)
    with pytest.raises(ValueError, match="options must be a dict"):
        env.reset(options=[("task_set_seed", 1)])
    with pytest.raises(ValueError, match="unknown keys"):
        env.reset(options={1: 2, "x": 3})
    with pytest.raises(ValueError, match="task_set_seed"):
        env.reset(options={"task_set_seed": 1.5})
    with pytest.raises(ValueError, match="seed must be"):
        env.reset(seed="1")
    with pytest.raises(ValueError, match="seed must be"):
        env.reset(seed=-1)
    _, info = env.reset(seed=np.int64(5))
    assert info["task_set_seed"] == env.reset(seed=5)[1]["task_set_seed"]
    env_a = EdgeSchedulingEnv(action_mode="assign", **SMALL)
    env_a.reset(seed=0)
    for bad in (np.zeros(32), np.zeros(32, dtype=complex), ["0"] * 32, np.zeros((1, 32), int), 3):
        with pytest.raises(ValueError, match=r"MultiDiscrete\(\[4\] \* 32\)"):
            env_a.step(bad)


def test_arrival_csv_with_byte_order_mark(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbftime_s,home,service\r\n0.0,0,2\r\n0.01,1,1\r\n")
    env = EdgeSchedulingEnv(arrivals=path)
    env.reset(seed=0)
    np.testing.assert_array_equal(env.tasks.arrival, [0, 1])


@pytest.mark.parametrize(
    "text,line,what",
    [
        ("time_s,home,service\n0.0,0,1\n1e12,0,1\n", 3, "MAX_TRACE_TIME_S"),
        ("time_s,home,service\n0.0,0,1\n0.1,0,10000000000000\n", 3, r"service must be in \[1, "),
        ("time_s,home,service\n0.0,0,1\n0.1,99999999999999999999,1\n", 3, "home must be in"),
        ("time_s,home,service\n0.0,0,1\n0.1," + "1" * 200_000 + ",1\n", 3, "not a CSV file"),
    ],
)
def test_arrival_file_bounds_name_file_and_line(tmp_path, text, line, what):
    path = write_csv(tmp_path / "big.csv", text)
    with pytest.raises(ValueError, match=rf"big\.csv, line {line}: .*{what}"):
        EdgeSchedulingEnv(arrivals=path)


def test_arrival_file_not_utf8_names_line(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes(b"time_s,home,service\n0.0,0,1\n0.1,\xe9,1\n")
    with pytest.raises(ValueError, match=r"latin\.csv, line 3: not a UTF-8"):
        EdgeSchedulingEnv(arrivals=path)


def test_plain_trace_calendar_bound(tmp_path):
    path = write_csv(tmp_path / "long.csv", "time_s,home,service\n0.0,0,1\n9000000,1,1\n")
    with pytest.raises(ValueError, match=r"arrivals \(trace .*long\.csv\) with slot_ms=1e-06"):
        EdgeSchedulingEnv(arrivals=path, slot_ms=1e-6)
    EdgeSchedulingEnv(arrivals=path, slot_ms=10_000.0)  # 900 slots: fine
    svc = write_csv(tmp_path / "svc.csv", "time_s,home,service\n0.0,0,1\n0.1,1,900000000\n")
    with pytest.raises(ValueError, match="departure calendar"):
        EdgeSchedulingEnv(arrivals=svc)


@pytest.mark.skipif(not AZURE_CODE.exists(), reason="shared Azure arrival trace not present")
def test_azure_token_cost_overflow_is_refused():
    spec = {"kind": "trace", "path": str(AZURE_CODE), "decode_ms_per_token": 1e308}
    with pytest.raises(ValueError, match="decode_ms_per_token"):
        EdgeSchedulingEnv(arrivals=spec)
    spec["decode_ms_per_token"] = 1e9
    spec["prefill_ms_per_token"] = 1e9
    EdgeSchedulingEnv(arrivals=spec, window_slots=10)  # large but finite: rescaled
