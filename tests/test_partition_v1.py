"""Partition envs v1 (SPEC §10): v0 unchanged, measured state, one-way latency, platform
load, network mixtures with a train/test split, collaborators of their own speed, and the
hardness report."""

from __future__ import annotations

import itertools

import gymnasium as gym
import numpy as np
import pytest
from conftest import DATA_DIR, needs_traces

import envs
from agents import make_policy
from agents.hardness import hardness_report
from envs.dynamics import MEC_LINK_FIELDS, make_link_process
from envs.mixture import (
    MMWAVE_TEST,
    NetworkMixture,
    RandomisedLink,
    make_trace_bank,
    trace_split,
)
from envs.partition.common import squash
from envs.partition.sim import D2D_LINK_SCALES, MEC_LINK_SCALES

V1 = ("EdgeRL/MECPartition-v1", "EdgeRL/D2DPartition-v1")
SYN = {"network": "mixture_synthetic"}  # v1 without the shared traces


def _three_costs(env_id: str, **kwargs) -> list[list[float]]:
    """[cost, optimal cost] of three random actions after ``reset(seed=123)``."""
    env = gym.make(env_id, **kwargs)
    env.reset(seed=123)
    rng = np.random.default_rng(7)
    got = []
    for _ in range(3):
        info = env.step(rng.random(env.action_space.shape).astype(np.float32))[4]
        got.append([info["cost"], info["optimal_cost"]])
    return got


# D2D v0 with platform load, first frame: numpy's vectorised math rounds the last bit
# differently with AVX-512 and with AVX2, so each CPU kind the project runs on has its value.
D2D_V0_FIRST_FRAME = {
    "Intel Xeon (AVX-512)": [226.9874425086452, 112.24416098673065],
    "AMD EPYC Zen 1 (AVX2)": [226.98744250864522, 112.24416098673066],
}


def test_v0_results_are_pinned():
    """v0 is the paper's MDP: these numbers were produced before v1 existed. Bit for bit; the
    one frame whose last bit depends on the CPU's SIMD path must equal one known CPU's value
    (on a new kind of CPU, add its value after checking it differs in the last bit only)."""
    assert _three_costs("EdgeRL/MECPartition-v0", dnn="alexnet") == [
        [320.0753153527159, 58.090947829020095],
        [216.0398343520272, 64.78102176250748],
        [188.0477117837601, 65.88750277712978],
    ]
    first, *rest = _three_costs("EdgeRL/D2DPartition-v0", dnn="alexnet", platform_load=True)
    assert first in D2D_V0_FIRST_FRAME.values(), (first, D2D_V0_FIRST_FRAME)
    assert rest == [
        [156.8627994038536, 130.25247490948212],
        [313.9566474754539, 144.7514266244827],
    ]
    v = gym.make_vec("EdgeRL/D2DPartition-v0", num_envs=3, vectorization_mode="vector_entry_point",
                     dnn="vgg16")  # fmt: skip
    v.reset(seed=5)
    for _ in range(105):
        _, r, *_ = v.step(np.full(v.action_space.shape, 0.5, np.float32))
    assert r.tolist() == [-306.52742450642484, -344.8456807697858, -293.72545640615306]


@pytest.mark.parametrize("env_id", V1)
def test_v1_synthetic_checks_and_determinism(env_id):
    from gymnasium.utils.env_checker import check_env

    env = gym.make(env_id, dnn="mobilenet_v1", **SYN)
    check_env(env.unwrapped, skip_render_check=True)
    runs = []
    for _ in range(2):
        e = gym.make(env_id, dnn="mobilenet_v1", **SYN)
        obs, _ = e.reset(seed=3)
        e.action_space.seed(4)
        trace = [obs]
        for _ in range(30):
            obs, r, *_, info = e.step(e.action_space.sample())
            assert np.isfinite(r) and e.observation_space.contains(obs)
            trace += [obs, r, info["optimal_cost"]]
        runs.append(trace)
    for a, b in zip(*runs, strict=True):
        np.testing.assert_array_equal(a, b)


def test_measured_observation_is_the_previous_frame():
    env = gym.make("EdgeRL/MECPartition-v1", dnn="alexnet", **SYN)
    obs, _ = env.reset(seed=0)
    u = env.unwrapped
    first = u.sim.values[0].copy()
    np.testing.assert_allclose(obs[:6], squash(first, MEC_LINK_SCALES), rtol=1e-6)
    for _ in range(20):
        charged = u.sim.values[0].copy()
        obs, _, _, _, info = env.step(env.action_space.sample())
        net = np.array([info["network"][f] for f in MEC_LINK_FIELDS])
        np.testing.assert_array_equal(net, charged)  # info reveals the charged frame
        np.testing.assert_allclose(obs[:6], squash(net, MEC_LINK_SCALES), rtol=1e-6)
        assert not np.allclose(u.sim.values[0], net)  # the next frame is already different
    cur = gym.make("EdgeRL/MECPartition-v1", dnn="alexnet", observe="current", **SYN)
    obs, _ = cur.reset(seed=0)
    for _ in range(5):
        np.testing.assert_allclose(
            obs[:6], squash(cur.unwrapped.sim.values[0], MEC_LINK_SCALES), rtol=1e-6
        )
        obs = cur.step(cur.action_space.sample())[0]


@pytest.mark.parametrize("env_id", ["EdgeRL/MECPartition-v1", "EdgeRL/D2DPartition-v1"])
def test_observe_changes_what_the_agent_sees_not_the_frames(env_id):
    """observe="current" and "measured" run the same frames and optima for a seed, whatever
    the actions, and the same costs for the same actions, across episode ends (what training
    on the decided frame and deploying on the measurement relies on, docs/model.md §13);
    only the observations differ."""

    def run(mode: str, action_seed: int) -> tuple[list, list, np.ndarray]:
        env = gym.make(env_id, dnn="alexnet", observe=mode, max_episode_steps=40, **SYN)
        rng = np.random.default_rng(action_seed)
        obs, _ = env.reset(seed=3)
        frames, rewards, seen = [], [], [obs]
        for t in range(100):
            obs, r, term, trunc, info = env.step(rng.random(env.action_space.shape, np.float32))
            frames.append((sorted(info["network"].items()), info["optimal_cost"]))
            rewards.append(r)
            seen.append(obs)
            if term or trunc:
                obs, _ = env.reset(seed=4 + t)
        return frames, rewards, np.array(seen)

    measured, current, other = run("measured", 0), run("current", 0), run("current", 1)
    assert measured[0] == current[0] == other[0]
    assert measured[1] == current[1] and current[1] != other[1]
    assert not np.array_equal(measured[2], current[2])


@pytest.mark.parametrize("scenario", ["mec", "d2d"])
def test_ratio_features_undo_the_squash_of_the_links(scenario):
    """ratio_features lists the squashed link and factor entries: v / (1 - v) times each
    entry's scale is the frame's value (MEC: links and factors; D2D: the selected link and
    factors), and the vector env lists the same entries."""
    env_id = f"EdgeRL/{scenario.upper()}Partition-v1"
    env = gym.make(env_id, dnn="alexnet", observe="current", **SYN)
    idx = env.unwrapped.ratio_features
    vec = gym.make_vec(
        env_id, num_envs=2, vectorization_mode="vector_entry_point", dnn="alexnet", **SYN
    )
    np.testing.assert_array_equal(vec.unwrapped.ratio_features, idx)
    obs, _ = env.reset(seed=3)
    for _ in range(10):
        v = obs[idx].astype(np.float64)
        obs, _, _, _, info = env.step(env.action_space.sample())
        net = info["network"]
        if scenario == "mec":
            assert idx.tolist() == list(range(9))
            want = [net[f] for f in MEC_LINK_FIELDS] / MEC_LINK_SCALES
            want = [*want, net["d_t"], net["d_e"], net["d_c"]]
        else:
            m = env.unwrapped.sim.m
            cand = [5 + 5 * env.unwrapped.n_blocks + 6 * j + k for j in range(m) for k in (3, 4)]
            assert idx.tolist() == [0, 1, 2, 3, *cand]
            v = v[:4]
            want = [
                net["b"] / D2D_LINK_SCALES[0],
                net["l"] / D2D_LINK_SCALES[1],
                net["d_u"],
                net["d_h"],
            ]
        np.testing.assert_allclose(v / (1 - v), want, rtol=1e-4)


@pytest.mark.parametrize("env_id", V1)
def test_dp_measured_is_a_baseline_not_the_optimum(env_id):
    env = gym.make(env_id, dnn="vgg16", **SYN)
    obs, _ = env.reset(seed=1)
    dpm, gaps = make_policy("dp_measured", env), []
    for _ in range(60):
        obs, _, _, _, info = env.step(dpm.act(obs))
        gaps.append(info["gap"])
    assert min(gaps) >= -1e-12 and np.mean(gaps) > 1e-3
    # v0 (and observe="current"): the measurement is the frame, so it is the oracle
    for kw in ({"id": "EdgeRL/MECPartition-v0"}, {"id": env_id, "observe": "current", **SYN}):
        e = gym.make(kw.pop("id"), dnn="vgg16", **kw)
        obs, _ = e.reset(seed=1)
        p = make_policy("dp_measured", e)
        for _ in range(10):
            obs, _, _, _, info = e.step(p.act(obs))
            assert info["gap"] == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("scenario", ["mec", "d2d"])
def test_one_way_latency_halves_the_charged_latency(scenario):
    env_id = f"EdgeRL/{'MEC' if scenario == 'mec' else 'D2D'}Partition-v1"
    kw = dict(dnn="alexnet", network="constant", platform_load=False, observe="current")
    if scenario == "d2d":
        kw.update(availability=(1.0, 1.0), churn={"join": 1.0, "leave": 0.0, "overload": 0.0,
                  "disconnect": 0.0}, collaborator_speedup=None)  # fmt: skip
    costs = {}
    for reading in ("one_way", "round_trip"):
        env = gym.make(env_id, latency_reading=reading, **kw)
        env.reset(seed=0)
        remote = np.full(env.action_space.shape, 0.5 if scenario == "mec" else 0.9, np.float32)
        costs[reading] = env.step(remote)[4]["latency_ms"]
    # every block remote: two transfers; MEC: up and back over T-E (Table 2 l_te = 8.76 ms)
    rtt = 8.76 if scenario == "mec" else 23.14
    assert costs["round_trip"] - costs["one_way"] == pytest.approx(2 * rtt / 2, rel=1e-9)


def test_collaborators_have_their_own_speed():
    env = gym.make("EdgeRL/D2DPartition-v1", dnn="alexnet", **SYN)
    env.reset(seed=0)
    pool = env.unwrapped.collaborators
    s = pool.base_factor / pool.own
    assert pool.own.shape == (1, 4) and np.all((s >= 0.5) & (s <= 2.5)) and np.ptp(s) > 0
    np.testing.assert_allclose(pool.factors(), pool.own / pool.avail)
    assert gym.make("EdgeRL/D2DPartition-v0").unwrapped.collaborators.own is None


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"observe": "future"}, "observe must be one of"),
        ({"latency_reading": "half"}, "latency_reading must be one of"),
        ({"network": {"type": "mixture", "components": {}}}, "at least one component"),
        ({"network": {"type": "mixture", "split": "val"}}, "split must be one of"),
        ({"network": {"type": "mixture", "components": {"lte": 1.0}}}, "unknown"),
        (
            {"network": {"type": "mixture", "components": {"generator": -1}}},
            r"components\['generator'\]",
        ),
        ({"network": {"type": "mixture", "bogus": 1}}, "unknown keys"),
        ({"network": {"l_te": float("inf")}}, "l_te"),
        ({"network": {"b_te_up": float("nan")}}, "b_te_up"),
        ({"platform_load": {"enabled": "false"}}, r"platform_load\['enabled'\]"),
        ({"network": {"type": "mixture", "ranges": {"b_te_up": [5, 1]}}}, "lo <= hi"),
    ],
)
def test_bad_v1_input_names_the_field(kwargs, match):
    with pytest.raises(ValueError, match=match):
        gym.make("EdgeRL/MECPartition-v1", **{"network": "mixture_synthetic", **kwargs})


@pytest.mark.parametrize("bad", [(0.0, 1.0), (2.0, 1.0), ("a", 1), 3.0, (1.0, float("inf"))])
def test_bad_collaborator_speedup(bad):
    with pytest.raises(ValueError, match="collaborator_speedup"):
        gym.make("EdgeRL/D2DPartition-v1", collaborator_speedup=bad, **SYN)


def test_mixture_without_data_names_the_directory(tmp_path):
    with pytest.raises(ValueError, match="EDGERL_DATA"):
        make_link_process({"type": "mixture", "data_dir": str(tmp_path)}, "mec")
    # without traces no data is needed
    proc = make_link_process({"type": "mixture", "data_dir": str(tmp_path),
                              "components": {"generator": 1.0}}, "mec")  # fmt: skip
    assert proc.names == ("generator",)


@pytest.mark.parametrize("num", [1, 4])
def test_randomised_link_scalar_path_equals_batched(num):
    a, b = RandomisedLink(MEC_LINK_FIELDS), RandomisedLink(MEC_LINK_FIELDS)
    b.scalar = False  # the numpy path on a few copies
    ra, rb = np.random.default_rng(9), np.random.default_rng(9)
    np.testing.assert_array_equal(a.reset(ra, num), b.reset(rb, num))
    mask = np.arange(num) == num - 1
    for t in range(200):
        if t % 50 == 49:
            # math.exp and numpy's exp may differ in the last bit
            np.testing.assert_allclose(a.reset_where(ra, mask), b.reset_where(rb, mask), rtol=1e-14)
        np.testing.assert_allclose(a.step(ra), b.step(rb), rtol=1e-14)


def test_mixture_draws_components_with_their_weights():
    proc = NetworkMixture("mec", {"generator": 3.0, "5g_trial": 1.0}, split=None)
    rng = np.random.default_rng(0)
    proc.reset(rng, 20000)
    share = np.bincount(proc.component, minlength=2) / 20000
    np.testing.assert_allclose(share, [0.75, 0.25], atol=0.015)
    v = proc.values
    trial = v[proc.component == 1]
    assert trial[:, 0].min() >= 74.4 and trial[:, 0].max() <= 77.9  # Table 2 b_te_up range
    for _ in range(5):
        v = proc.step(rng)
    assert np.all(np.isfinite(v)) and np.all(v > 0)


def _check_rows_reset(proc: NetworkMixture) -> None:
    rng = np.random.default_rng(1)
    proc.reset(rng, 300)
    for _ in range(6):
        before = proc.step(rng)
        kept = before.copy()
        mask = rng.random(300) < 0.1
        after = proc.reset_where(rng, mask)
        np.testing.assert_array_equal(before, kept)  # a new array: old references intact
        np.testing.assert_array_equal(after[~mask], kept[~mask])
        np.testing.assert_array_equal(after, proc._assemble())  # rows alone = full assembly
        # counts kept per reset = counted afresh
        np.testing.assert_array_equal(
            proc._count, np.bincount(proc.component, minlength=len(proc.names))
        )


def test_mixture_reset_where_reassembles_only_the_reset_rows():
    _check_rows_reset(NetworkMixture("mec", {"generator": 1.0, "5g_trial": 1.0}, split=None))
    _check_rows_reset(NetworkMixture("d2d", {"generator": 1.0, "5g_trial": 1.0}, split=None))


@needs_traces
def test_mixture_with_traces_reset_where_reassembles_only_the_reset_rows():
    for scenario in ("mec", "d2d"):
        _check_rows_reset(NetworkMixture(scenario, split="train", data_dir=DATA_DIR))


@needs_traces
def test_trace_split_is_disjoint_and_fixed():
    tr, te, al = (trace_split(DATA_DIR, s) for s in ("train", "test", "all"))
    assert not set(tr.uplink_ping) & set(te.uplink_ping)
    assert not set(tr.downlink) & set(te.downlink)
    assert set(tr.uplink_ping) | set(te.uplink_ping) == set(al.uplink_ping)
    assert set(tr.downlink) | set(te.downlink) == set(al.downlink)
    assert (len(tr.uplink_ping), len(te.uplink_ping)) == (13, 7) == (20 - len(MMWAVE_TEST), 7)
    ids = [int(next(w for w in p.name.split("_")[2:] if w.isdigit())) for p in te.downlink]
    assert all(i % 4 == 0 for i in ids)
    assert {p.parent.name for p in te.downlink} == {"4G", "5G"}  # both technologies
    assert (len(tr.downlink), len(te.downlink)) == (219, 77)
    bank = make_trace_bank("mec", DATA_DIR, "test")
    rng = np.random.default_rng(0)
    v = bank.reset(rng, 64)
    assert np.isnan(v[:, 2:4]).all() and np.isfinite(v[:, [0, 1, 4]]).all()  # EC from elsewhere


@needs_traces
@pytest.mark.parametrize("env_id", V1)
def test_default_network_is_the_training_mixture(env_id):
    env = gym.make(env_id)
    link = env.unwrapped.link_process
    assert isinstance(link, NetworkMixture) and link.split == "train"
    assert link.names == ("generator", "traces")
    test = gym.make(env_id, network="mixture_test").unwrapped.link_process
    assert test.split == "test"


@pytest.mark.parametrize("scenario", ["mec", "d2d"])
def test_best_constant_is_exact(scenario):
    """The summed-terms DP finds the constant decision a brute force over all P^n finds."""
    env_id = f"EdgeRL/{'MEC' if scenario == 'mec' else 'D2D'}Partition-v1"
    kw = dict(dnn="mobilenet_v1", **SYN)
    rep = hardness_report(env_id, episodes=4, frames=6, seed=2, **kw)
    vec = gym.make_vec(env_id, num_envs=4, vectorization_mode="vector_entry_point",
                       max_episode_steps=None, oracle=False, **kw)  # fmt: skip
    vec.reset(seed=2)
    u = vec.unwrapped
    P, n = u.num_platforms, u.n_blocks
    cands = np.array(list(itertools.product(range(P), repeat=n)))
    total = np.zeros(len(cands))
    for _ in range(6):
        prob = u.problem
        opt = prob.optimum()[1]
        c = prob.evaluate_candidates(cands).cost / opt[:, None]
        avail = u.sim.available
        if avail is not None:
            c[~avail] = 1.0
        total += c.sum(0)
        vec.step(np.zeros(vec.action_space.shape, vec.action_space.dtype))
    best = total.argmin()
    assert rep.best_constant_gap == pytest.approx(total[best] / 24 - 1.0, rel=1e-9)
    assert total[best] == pytest.approx(total[np.ravel_multi_index(rep.best_constant, [P] * n)])
    assert set(rep.policies) >= {"self", "neuro_l", "dp_measured"}
    for st in rep.policies.values():
        assert st.gap >= -1e-12 and 0.0 <= st.optimal_share <= 1.0


def test_hardness_v1_is_harder_than_v0():
    v0 = hardness_report("EdgeRL/MECPartition-v0", dnn="vgg16", episodes=20, frames=50)
    v1 = hardness_report("EdgeRL/MECPartition-v1", dnn="vgg16", episodes=20, frames=50, **SYN)
    assert v0.best_constant_gap < 0.01 and v1.best_constant_gap > 0.05
    assert v1.change_rate > 0.1 and v1.distinct_decisions > v0.distinct_decisions
    with pytest.raises(ValueError, match="episodes"):
        hardness_report("EdgeRL/MECPartition-v1", episodes=0, **SYN)
    with pytest.raises(ValueError, match="does not apply"):
        hardness_report("EdgeRL/MECPartition-v1", heuristics=["co_h"], **SYN)


def test_v1_ids_registered():
    assert set(V1) <= set(envs.PARTITION_ENV_IDS)
    for env_id in V1:
        assert gym.spec(env_id).vector_entry_point.endswith("V1")


def test_v1_worked_reward_examples():
    """The v1 docstrings' worked examples (Table 2 averages, ResNet-32, RTT / 2)."""
    mec = gym.make("EdgeRL/MECPartition-v1", network="constant", observe="current",
                   platform_load={"mean_util": [0.2, 0.6, 0.4], "std_util": 0.0, "rho": 0.0},
                   action_mode="discrete")  # fmt: skip
    mec.reset(seed=0)
    _, reward, _, _, info = mec.step(np.ones(17, dtype=np.int64))
    assert info["latency_ms"] == pytest.approx(176.796, abs=1e-3)
    assert info["energy_j"] == pytest.approx(0.1384, abs=1e-4)
    assert reward == pytest.approx(-278.18, abs=5e-3)
    assert info["optimal_cost"] == pytest.approx(217.83, abs=5e-3)
    d2d = gym.make("EdgeRL/D2DPartition-v1", network="constant", observe="current",
                   platform_load=False, availability=(1.0, 1.0), collaborator_speedup=(2.0, 2.0),
                   churn={"join": 1.0, "leave": 0.0, "overload": 0.0, "disconnect": 0.0},
                   action_mode="discrete")  # fmt: skip
    d2d.reset(seed=0)
    _, reward, _, _, info = d2d.step(np.ones(17, dtype=np.int64))
    assert info["latency_ms"] == pytest.approx(157.594, abs=1e-3)
    assert reward == pytest.approx(-163.44, abs=5e-3)
    assert d2d.step(np.zeros(17, dtype=np.int64))[1] == pytest.approx(-612.45, abs=5e-3)


def test_vector_env_size_is_bounded():
    with pytest.raises(ValueError, match="num_envs: would allocate about .* bound"):
        gym.make_vec(
            "EdgeRL/MECPartition-v1", num_envs=10**8, vectorization_mode="vector_entry_point", **SYN
        )


@needs_traces
def test_split_networks_one_component_each():
    """A split's networks one by one: the generator alone and each mmWave scenario alone."""
    from envs.mixture import MMWAVE_TEST, split_networks

    nets = split_networks(DATA_DIR, "test")
    assert next(iter(nets)) == "generator" and set(nets) - {"generator"} == set(MMWAVE_TEST)
    env = gym.make("EdgeRL/D2DPartition-v1", network=nets["walking/5g/lateral"])
    env.reset(seed=0)
    bank = env.unwrapped.sim.pool.link.traces
    assert bank._ncand.tolist() == [1]  # one uplink/ping pair
    assert env.unwrapped.sim.pool.link.names == ("traces",)
    with pytest.raises(ValueError, match="not among the mmWave scenarios of split 'train'"):
        gym.make("EdgeRL/MECPartition-v1",
                 network={"type": "mixture", "split": "train", "scenarios": ["driving/lte"]})  # fmt: skip
