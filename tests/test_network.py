"""Network and platform dynamics (envs/dynamics/): calibration, determinism, batching, replay."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import TRACES_DIR

from envs.dynamics import (
    D2D_LINK_FIELDS,
    MEC_LINK_FIELDS,
    TABLE2,
    ConstantLink,
    FieldModel,
    FiveGTrialD2D,
    FiveGTrialMEC,
    FiveGTrialProcess,
    PlatformLoad,
    TraceReplay,
    make_link_process,
    table2_means,
)
from envs.traces import Trace

TRACES = TRACES_DIR
needs_data = pytest.mark.skipif(not TRACES.is_dir(), reason=f"real traces absent ({TRACES})")

MEC_TABLE = np.array(
    [TABLE2[k] for k in ("b_te_up", "b_te_down", "b_ec_up", "b_ec_down", "l_te", "l_ec")]
)
D2D_TABLE = np.array([TABLE2["b_d2d"], TABLE2["l_d2d"]])


def _run(proc, seed: int, num: int, steps: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = [proc.reset(rng, num=num)]
    out += [proc.step(rng) for _ in range(steps)]
    return np.stack(out)


def test_field_orders():
    assert MEC_LINK_FIELDS == ("b_te_up", "b_te_down", "b_ec_up", "b_ec_down", "l_te", "l_ec")
    assert D2D_LINK_FIELDS == ("b", "l")
    assert FiveGTrialMEC().fields == MEC_LINK_FIELDS
    assert FiveGTrialD2D().fields == D2D_LINK_FIELDS
    np.testing.assert_array_equal(table2_means("mec"), MEC_TABLE[:, 2])
    np.testing.assert_array_equal(table2_means("d2d"), D2D_TABLE[:, 2])


# ------------------------------------------------------------------------------------------
# 5g_trial generator


@pytest.mark.parametrize(("cls", "table"), [(FiveGTrialMEC, MEC_TABLE), (FiveGTrialD2D, D2D_TABLE)])
def test_5g_trial_bounds_and_long_run_means(cls, table):
    proc = cls()
    # calibration is exact in the stationary law ...
    for name, (lo, hi, avg) in zip(proc.fields, table, strict=True):
        m = proc.models[name]
        assert (m.minimum, m.maximum, m.mean) == (lo, hi, avg)
        assert m.stationary_mean() == pytest.approx(avg, rel=1e-9)
    # ... and the simulation agrees: 1M frames per field, within 3% (issue asks for 10%)
    vals = _run(proc, seed=123, num=500, steps=2000).reshape(-1, len(proc.fields))
    assert np.all(vals >= table[:, 0]) and np.all(vals <= table[:, 1])
    np.testing.assert_allclose(vals.mean(axis=0), table[:, 2], rtol=0.03)
    # latency shows heavy-tailed spikes well above its average (Table 2 "max shows spikes")
    lat = [i for i, f in enumerate(proc.fields) if f.startswith("l")]
    assert np.all(vals[:, lat].max(axis=0) > 0.5 * table[lat, 1])
    share = (vals[:, lat] > np.array([proc.models[proc.fields[i]].spike_from for i in lat])).mean(0)
    expected = np.array([proc.models[proc.fields[i]].spike_share for i in lat])
    np.testing.assert_allclose(share, expected, rtol=0.15)


def test_5g_trial_determinism():
    a = _run(FiveGTrialMEC(), seed=7, num=1, steps=300)
    b = _run(FiveGTrialMEC(), seed=7, num=1, steps=300)
    c = _run(FiveGTrialMEC(), seed=8, num=1, steps=300)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    a8 = _run(FiveGTrialD2D(), seed=7, num=8, steps=300)
    np.testing.assert_array_equal(a8, _run(FiveGTrialD2D(), seed=7, num=8, steps=300))
    assert not np.array_equal(a8, _run(FiveGTrialD2D(), seed=9, num=8, steps=300))
    # copies are independent, not clones
    assert not np.array_equal(a8[:, 0], a8[:, 1])


def test_5g_trial_time_correlation():
    vals = _run(FiveGTrialMEC(), seed=1, num=64, steps=500)[:, :, 1]  # b_te_down
    x = vals - vals.mean()
    lag1 = (x[1:] * x[:-1]).mean() / (x * x).mean()
    assert 0.8 < lag1 < 0.95  # rho = 0.9 on the log-excess


def test_single_copy_fast_path_matches_batched_path():
    a, b = FiveGTrialMEC(), FiveGTrialMEC()
    ra, rb = np.random.default_rng(3), np.random.default_rng(3)
    a.reset(ra)
    b.reset(rb)
    va = np.vstack([a.step(ra) for _ in range(3000)])
    vb = np.vstack([b._step_batched(rb) for _ in range(3000)])
    assert (va[:, 4] > 30).any()  # spikes were exercised
    np.testing.assert_allclose(va, vb, rtol=1e-12)
    assert ra.bit_generator.state == rb.bit_generator.state


def test_5g_trial_reset_where_touches_only_masked_rows():
    proc = FiveGTrialMEC()
    rng = np.random.default_rng(0)
    proc.reset(rng, num=6)
    for _ in range(5):
        before = proc.step(rng)
    z_before = proc._z.copy()
    mask = np.array([True, False, False, True, False, False])
    state = rng.bit_generator.state
    after = proc.reset_where(rng, mask)
    np.testing.assert_array_equal(after[~mask], before[~mask])
    np.testing.assert_array_equal(proc._z[~mask], z_before[~mask])
    assert not np.array_equal(after[mask], before[mask])
    # masked rows get exactly what a fresh reset of mask.sum() copies gets
    twin = np.random.default_rng()
    twin.bit_generator.state = state
    np.testing.assert_array_equal(after[mask], FiveGTrialMEC().reset(twin, num=2))
    assert twin.bit_generator.state == rng.bit_generator.state
    # an empty mask consumes nothing and changes nothing
    state = rng.bit_generator.state
    same = proc.reset_where(rng, np.zeros(6, dtype=bool))
    assert rng.bit_generator.state == state
    np.testing.assert_array_equal(same, after)
    with pytest.raises(ValueError, match="mask"):
        proc.reset_where(rng, np.ones(5, dtype=bool))


def test_returned_arrays_are_not_mutated_later():
    for num in (1, 4):
        proc = FiveGTrialMEC()
        rng = np.random.default_rng(0)
        first = proc.reset(rng, num=num)
        keep = first.copy()
        second = proc.step(rng)
        keep2 = second.copy()
        proc.step(rng)
        proc.reset_where(rng, np.ones(num, dtype=bool))
        np.testing.assert_array_equal(first, keep)
        np.testing.assert_array_equal(second, keep2)


def test_5g_trial_overrides_and_validation():
    proc = FiveGTrialMEC(l_te={"spike_prob": 0.03, "mean": 12.0})
    assert proc.models["l_te"].spike_prob == 0.03
    assert proc.models["l_te"].stationary_mean() == pytest.approx(12.0)
    assert proc.models["b_te_up"].mean == 76.1
    custom = FieldModel(10.0, 20.0, 15.0, heavy="down", sigma=0.0)
    vals = _run(FiveGTrialProcess({"b_x": custom}), 0, 3, 5)
    np.testing.assert_allclose(vals, 15.0)
    with pytest.raises(ValueError, match="unknown FieldModel keys"):
        FiveGTrialMEC(l_te={"spike_probability": 0.1})
    with pytest.raises(ValueError, match="minimum < mean < maximum"):
        FieldModel(10.0, 20.0, 25.0, heavy="up")
    with pytest.raises(ValueError, match="heavy"):
        FieldModel(10.0, 20.0, 15.0, heavy="sideways")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="rho"):
        FieldModel(10.0, 20.0, 15.0, heavy="up", rho=1.0)
    with pytest.raises(ValueError, match="spike_from"):
        FieldModel(10.0, 20.0, 15.0, heavy="up", spike_prob=0.1)
    with pytest.raises(ValueError, match="excursions alone exceed the mean"):
        FieldModel(1.0, 100.0, 2.0, heavy="up", spike_prob=0.5, spike_len=5, spike_from=50.0)
    with pytest.raises(ValueError, match="'b'"):
        FiveGTrialProcess({"x": custom})
    # bounds that would let a bandwidth reach 0 or a latency go negative name the field
    with pytest.raises(ValueError, match="b_te_up .*minimum must be > 0"):
        FiveGTrialMEC(b_te_up={"minimum": -5.0})
    with pytest.raises(ValueError, match="l_ec .*minimum must be >= 0"):
        FiveGTrialMEC(l_ec={"minimum": -1.0})
    with pytest.raises(RuntimeError, match="reset"):
        FiveGTrialMEC().step(np.random.default_rng(0))
    with pytest.raises(ValueError, match="num"):
        FiveGTrialMEC().reset(np.random.default_rng(0), num=0)


# ------------------------------------------------------------------------------------------
# trace replay


def _ramp(n: int = 10, start: float = 10.0, unit: str = "Mbps", period: float = 1.0) -> Trace:
    return Trace(np.arange(n) * period, start + np.arange(n), source="ramp", unit=unit)


def test_trace_replay_fixed_offset_repeatable_and_loops():
    proc = TraceReplay(
        MEC_LINK_FIELDS, {"b_te_down": _ramp(), "l_te": _ramp(4, 1.0, "ms")}, FiveGTrialMEC()
    )
    assert proc.lengths == {"b_te_down": 10, "l_te": 4}
    a = _run(proc, seed=1, num=1, steps=12)
    b = _run(proc, seed=1, num=1, steps=12)
    np.testing.assert_array_equal(a, b)
    rng = np.random.default_rng(1)
    c = np.stack([proc.reset(rng, offset=3)] + [proc.step(rng) for _ in range(12)])
    np.testing.assert_array_equal(c[:, 0, 1], [13, 14, 15, 16, 17, 18, 19, 10, 11, 12, 13, 14, 15])
    np.testing.assert_array_equal(c[:, 0, 4], [4, 1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4])
    # the same offset again replays the same trace frames
    rng2 = np.random.default_rng(99)
    d = np.stack([proc.reset(rng2, offset=3)] + [proc.step(rng2) for _ in range(12)])
    np.testing.assert_array_equal(d[:, 0, [1, 4]], c[:, 0, [1, 4]])
    # fallback fields are the 5g_trial model, inside Table 2's ranges
    fb = c[:, 0, [0, 2, 3, 5]]
    assert np.all(fb >= MEC_TABLE[[0, 2, 3, 5], 0]) and np.all(fb <= MEC_TABLE[[0, 2, 3, 5], 1])


def test_trace_replay_batched_equals_single_copies():
    series = {"b": _ramp(7), "l": _ramp(5, 3.0, "ms")}
    offsets = np.array([0, 2, 5, 11])
    proc = TraceReplay(D2D_LINK_FIELDS, series)
    rng = np.random.default_rng(0)
    batched = np.stack(
        [proc.reset(rng, num=4, offset=offsets)] + [proc.step(rng) for _ in range(9)]
    )
    for i, off in enumerate(offsets):
        single = np.stack([proc.reset(rng, offset=int(off))] + [proc.step(rng) for _ in range(9)])
        np.testing.assert_array_equal(batched[:, i], single[:, 0])


def test_trace_replay_random_offsets_deterministic():
    proc = TraceReplay(D2D_LINK_FIELDS, {"b": _ramp(50), "l": _ramp(30, 1.0, "ms")})
    a = _run(proc, seed=4, num=16, steps=5)
    np.testing.assert_array_equal(a, _run(proc, seed=4, num=16, steps=5))
    assert not np.array_equal(a, _run(proc, seed=5, num=16, steps=5))
    assert len(np.unique(a[0, :, 0])) > 1  # copies start at different frames


def test_trace_replay_reset_where():
    proc = TraceReplay(D2D_LINK_FIELDS, {"b": _ramp(10), "l": _ramp(10, 1.0, "ms")})
    rng = np.random.default_rng(0)
    proc.reset(rng, num=3, offset=np.array([0, 1, 2]))
    proc.step(rng)
    v = proc.reset_where(rng, np.array([False, True, False]), offset=np.array([7, 8, 9]))
    np.testing.assert_array_equal(v[:, 0], [11, 18, 13])
    v = proc.reset_where(rng, np.array([True, False, True]), offset=np.array([4, 5]))
    np.testing.assert_array_equal(v[:, 0], [14, 18, 15])
    with pytest.raises(ValueError, match="offset"):
        proc.reset_where(rng, np.array([True, False, True]), offset=np.array([1, 2, 3, 4]))


def test_trace_replay_resampling_hold_linear_and_floor():
    tr = Trace([0.0, 1.0, 2.0], [0.0, 4.0, 8.0], source="t", unit="Mbps")
    rng = np.random.default_rng(0)
    hold = TraceReplay(("b",), {"b": tr}, frame_s=0.5, min_bandwidth_mbps=0.5)
    v = np.stack([hold.reset(rng, offset=0)] + [hold.step(rng) for _ in range(6)])[:, 0, 0]
    np.testing.assert_array_equal(v, [0.5, 0.5, 4, 4, 8, 8, 0.5])  # 0 Mbps outage floored
    lin = TraceReplay(("b",), {"b": tr}, frame_s=0.5, interp="linear")
    v = np.stack([lin.reset(rng, offset=0)] + [lin.step(rng) for _ in range(6)])[:, 0, 0]
    np.testing.assert_allclose(v, [0.1, 2, 4, 6, 8, 4, 0.1])  # wraps 8 -> 0 over the last period
    scaled = TraceReplay(("l",), {"l": _ramp(3, 10.0, "ms")}, scales={"l": 0.5})
    np.testing.assert_array_equal(scaled.reset(rng, offset=1), [[5.5]])


def test_trace_replay_validation():
    with pytest.raises(ValueError, match="needs a trace in Mbps"):
        TraceReplay(D2D_LINK_FIELDS, {"b": _ramp(unit="ms"), "l": _ramp(unit="ms")})
    with pytest.raises(ValueError, match="give a fallback"):
        TraceReplay(D2D_LINK_FIELDS, {"b": _ramp()})
    with pytest.raises(ValueError, match="missing"):
        TraceReplay(MEC_LINK_FIELDS, {"b_te_down": _ramp()}, fallback=FiveGTrialD2D())
    with pytest.raises(ValueError, match="trace field must be one of"):
        TraceReplay(D2D_LINK_FIELDS, {"x": _ramp()}, fallback=FiveGTrialD2D())
    with pytest.raises(ValueError, match="interp"):
        TraceReplay(D2D_LINK_FIELDS, {"b": _ramp()}, FiveGTrialD2D(), interp="cubic")
    with pytest.raises(ValueError, match="frame_s"):
        TraceReplay(D2D_LINK_FIELDS, {"b": _ramp()}, FiveGTrialD2D(), frame_s=0)
    with pytest.raises(ValueError, match="min_bandwidth_mbps"):
        TraceReplay(D2D_LINK_FIELDS, {"b": _ramp()}, FiveGTrialD2D(), min_bandwidth_mbps=0)


def test_trace_replay_without_fallback_consumes_no_randomness_with_offset():
    proc = TraceReplay(D2D_LINK_FIELDS, {"b": _ramp(), "l": _ramp(unit="ms")}, FiveGTrialD2D())
    assert proc.fallback is None  # every field has a trace
    rng = np.random.default_rng(0)
    state = rng.bit_generator.state
    proc.reset(rng, num=3, offset=2)
    proc.step(rng)
    assert rng.bit_generator.state == state


@needs_data
def test_replay_real_traces_through_factory():
    lumos = TRACES / "lumos5g" / "5G" / "5g_trace_100_walking"
    up = TRACES / "mmwave_uplink" / "throughput" / "walking" / "5g" / "away.list"
    ping = TRACES / "mmwave_uplink" / "ping" / "walking" / "5g" / "away.list"
    spec = {
        "type": "trace",
        "b_te_down": str(lumos),
        "b_te_up": {"path": str(up), "run": 2},
        "l_te": str(ping),
        "frame_s": 1.0,
        "run": 1,
    }
    proc = make_link_process(spec, "mec")
    assert isinstance(proc, TraceReplay) and isinstance(proc.fallback, FiveGTrialMEC)
    rng = np.random.default_rng(0)
    v = np.stack([proc.reset(rng, num=2, offset=np.array([0, 5])), proc.step(rng)])
    rows = np.loadtxt(lumos)
    np.testing.assert_array_equal(v[:, 0, 1], rows[[0, 1], 1].clip(min=0.1))
    np.testing.assert_array_equal(v[:, 1, 1], rows[[5, 6], 1].clip(min=0.1))
    assert np.all(v[..., [0, 1]] >= 0.1) and np.all(v[..., 4] > 0)
    assert proc.series["l_te"].source.endswith("#run=1")
    assert proc.series["b_te_up"].source.endswith("#run=2")
    # 0.1 s samples, 1 s frames, sample-and-hold: every 10th sample
    np.testing.assert_array_equal(v[:, 0, 4], proc.series["l_te"].values[[0, 10]])
    # a long random-offset run stays finite and inside the fallback's ranges
    proc.reset(rng, num=64)
    for _ in range(200):
        v = proc.step(rng)
    assert np.all(np.isfinite(v)) and np.all(v[:, [2, 3]] <= MEC_TABLE[[2, 3], 1])


# ------------------------------------------------------------------------------------------
# factory


def test_factory_specs(tmp_path):
    assert isinstance(make_link_process("5g_trial"), FiveGTrialMEC)
    assert isinstance(make_link_process("5g_trial", "d2d"), FiveGTrialD2D)
    p = make_link_process({"type": "5g_trial", "l": {"spike_prob": 0.02}}, "d2d")
    assert p.models["l"].spike_prob == 0.02
    const = make_link_process({"type": "constant", "l_te": 5.0})
    rng = np.random.default_rng(0)
    expected = table2_means("mec")
    expected[4] = 5.0
    np.testing.assert_array_equal(const.reset(rng, num=2), [expected, expected])
    np.testing.assert_array_equal(const.step(rng)[0], expected)
    proc = FiveGTrialMEC()
    assert make_link_process(proc) is proc
    with pytest.raises(ValueError, match="do not match"):
        make_link_process(proc, "d2d")
    with pytest.raises(ValueError, match=r"type must be one of \('5g_trial'"):
        make_link_process("lte")
    with pytest.raises(ValueError, match="scenario must be one of"):
        make_link_process("5g_trial", "v2x")
    with pytest.raises(ValueError, match="unknown keys"):
        make_link_process({"type": "trace", "b_te_dn": "x"})
    with pytest.raises(ValueError, match="names no field"):
        make_link_process({"type": "trace", "frame_s": 1.0})


def test_factory_csv(tmp_path):
    f = tmp_path / "link.csv"
    f.write_text("time_s,uplink_mbps,downlink_mbps,rtt_ms\n0,10,100,20\n1,30,300,40\n")
    rng = np.random.default_rng(0)
    mec = make_link_process({"type": "csv", "path": "link.csv"}, "mec", base_dir=tmp_path)
    v = mec.reset(rng, offset=1)[0]
    assert (v[0], v[1], v[4]) == (30, 300, 40)  # b_te_up, b_te_down, l_te = rtt_ms
    ec = make_link_process({"type": "csv", "path": str(f), "link": "ec"}, "mec")
    v = ec.reset(rng, offset=0)[0]
    assert (v[2], v[3], v[5]) == (10, 100, 20)
    d2d = make_link_process({"type": "csv", "path": str(f), "fallback": None}, "d2d")
    np.testing.assert_array_equal(d2d.reset(rng, offset=0), [[55, 20]])  # b = (up + down) / 2
    # per-field CSV in a trace spec, no fallback when every field has a trace
    full = make_link_process({"type": "trace", "b": str(f), "l": str(f), "fallback": None}, "d2d")
    np.testing.assert_array_equal(full.reset(rng, offset=1), [[165, 40]])
    with pytest.raises(ValueError, match="link must be"):
        make_link_process({"type": "csv", "path": str(f), "link": "tc"}, "mec")
    with pytest.raises(ValueError, match="give a fallback"):
        make_link_process({"type": "csv", "path": str(f), "fallback": None}, "mec")


# ------------------------------------------------------------------------------------------
# constant links and platform load


def test_constant_link():
    with pytest.raises(ValueError, match=r"'b' \(Mbps\) must be in \[1e-06"):
        ConstantLink(D2D_LINK_FIELDS, [0.0, 1.0])
    with pytest.raises(ValueError, match=r"'b' \(Mbps\) must be in"):
        ConstantLink(D2D_LINK_FIELDS, [5e-324, 1.0])  # 8 G / B would overflow to inf
    with pytest.raises(ValueError, match=r"'l' \(ms\) must be in"):
        ConstantLink(D2D_LINK_FIELDS, [1.0, -1.0])
    proc = ConstantLink(D2D_LINK_FIELDS, [50.0, 2.0])
    rng = np.random.default_rng(0)
    state = rng.bit_generator.state
    v = proc.reset(rng, num=3)
    assert v.shape == (3, 2) and not v.flags.writeable
    proc.reset_where(rng, np.array([True, False, True]))
    np.testing.assert_array_equal(proc.step(rng), v)
    assert rng.bit_generator.state == state


def test_platform_load_disabled_is_ones_and_consumes_nothing():
    load = PlatformLoad(3)
    rng = np.random.default_rng(0)
    state = rng.bit_generator.state
    v = load.reset(rng, num=4)
    v = load.step(rng)
    v = load.reset_where(rng, np.array([True, False, True, False]))
    np.testing.assert_array_equal(v, np.ones((4, 3)))
    assert rng.bit_generator.state == state
    assert load.fields == ("platform_0", "platform_1", "platform_2")


def test_platform_load_enabled():
    load = PlatformLoad(
        3,
        enabled=True,
        mean_util=[0.0, 0.3, 0.2],
        std_util=[0.0, 0.1, 0.05],
        max_util=0.8,
        names=("terminal", "edge", "cloud"),
    )
    vals = _run(load, seed=2, num=200, steps=500)
    np.testing.assert_array_equal(vals, _run(load, seed=2, num=200, steps=500))
    assert not np.array_equal(vals, _run(load, seed=3, num=200, steps=500))
    assert np.all(vals >= 1.0) and np.all(vals <= 1 / (1 - 0.8) + 1e-12)
    np.testing.assert_array_equal(vals[..., 0], 1.0)  # no load on the terminal
    util = 1 - 1 / vals.reshape(-1, 3)
    np.testing.assert_allclose(util.mean(0)[1:], [0.3, 0.2], atol=0.01)
    rng = np.random.default_rng(0)
    load.reset(rng, num=3)
    before = load.step(rng)
    after = load.reset_where(rng, np.array([False, True, False]))
    np.testing.assert_array_equal(after[[0, 2]], before[[0, 2]])


def test_platform_load_expected_factor_is_the_mean_of_the_next_step():
    # The v1 MEC terminal and edge, a platform clipped often at 0 and one without innovation;
    # every start state stepped 400,000 times: the forecast lies within 4 standard errors.
    load = PlatformLoad(4, enabled=True, mean_util=[0.2, 0.6, 0.05, 0.3],
                        std_util=[0.1, 0.25, 0.3, 0.0], rho=0.9, max_util=0.95)  # fmt: skip
    starts = np.array([[0.0, 0.0, 0.0, 0.0], [0.2, 0.6, 0.05, 0.3], [0.5, 0.95, 0.9, 0.9]])
    n = 400_000
    rng = np.random.default_rng(0)
    for u0 in starts:
        load.reset(rng, num=n)
        load.util = np.tile(u0, (n, 1))
        nxt = load.step(rng)
        want = load.expected_factor(1 / (1 - u0))
        se = nxt.std(0) / np.sqrt(n)
        assert np.all(np.abs(nxt.mean(0) - want) <= 4 * se + 1e-9), (u0, nxt.mean(0), want)
        np.testing.assert_allclose(want[3], 1 / (1 - (0.03 + 0.9 * u0[3])), rtol=1e-12)
    batch = load.expected_factor(1 / (1 - starts))  # any leading shape
    assert batch.shape == starts.shape
    np.testing.assert_array_equal(batch[2], load.expected_factor(1 / (1 - starts[2])))
    np.testing.assert_array_equal(PlatformLoad(3).expected_factor(np.full((2, 3), 2.0)), 1.0)


@pytest.mark.parametrize(
    ("kwargs", "what"),
    [
        ({"max_util": 1.0}, "max_util"),
        ({"mean_util": 0.95}, "mean_util"),
        ({"rho": -0.1}, "rho"),
        ({"std_util": -1.0}, "std_util"),
        ({"names": ("a", "b")}, "names"),
        ({"mean_util": [0.1, 0.2]}, "mean_util must be a number or 3 numbers"),
    ],
)
def test_platform_load_validation(kwargs, what):
    with pytest.raises(ValueError, match=what):
        PlatformLoad(3, enabled=True, **kwargs)


def test_process_classes():
    import envs.dynamics

    # Platform load is a process but not a link process; the link processes are both.
    assert issubclass(PlatformLoad, envs.dynamics.BatchedProcess)
    assert not issubclass(PlatformLoad, envs.dynamics.LinkProcess)
    for cls in (FiveGTrialProcess, ConstantLink, TraceReplay):
        assert issubclass(cls, envs.dynamics.LinkProcess)
    with pytest.raises(ValueError, match="must be a string, mapping or LinkProcess"):
        make_link_process(PlatformLoad(6, names=MEC_LINK_FIELDS), "mec")
