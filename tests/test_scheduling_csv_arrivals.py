"""Request logs (CSV) as arrivals: exact replay or scaled to a load level, homes by column,
hash of a group column or the skew model; errors that name the field (files in tmp_path)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from envs.scheduling import (
    CsvTraceArrivals,
    EdgeSchedulingEnv,
    PlainTraceArrivals,
    read_csv_trace,
)


def production_log(path: Path, rows: int = 3000, seed: int = 0) -> Path:
    """An hour of requests: date-time stamps, 40 users, durations in ms, an unused column."""
    rng = np.random.default_rng(seed)
    t = np.sort(rng.uniform(0, 3600, rows))
    base = np.datetime64("2024-03-01T08:00:00", "us")
    stamps = base + (t * 1e6).astype("timedelta64[us]")
    users = rng.integers(0, 40, rows)
    dur = rng.exponential(80.0, rows) + 1.0
    lines = ["timestamp,user_id,duration_ms,status"] + [
        f"{str(s).replace('T', ' ')},user{u},{d:.3f},200"
        for s, u, d in zip(stamps, users, dur, strict=True)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


LOG_SPEC = {
    "kind": "trace",
    "format": "csv",
    "columns": {"time_s": "timestamp", "service": "duration_ms", "group": "user_id"},
    "time_unit": "datetime",
    "time_scale": "load",
    "service_unit": "ms",
    "service_scale": "mean",
    "homes": "hash",
}


def test_production_log_replayed_at_load_on_three_servers(tmp_path):
    path = production_log(tmp_path / "log.csv")
    env = EdgeSchedulingEnv(arrivals={**LOG_SPEC, "path": str(path)}, load=0.8)  # 3 × 500
    proc = env.arrival_process
    assert isinstance(proc, CsvTraceArrivals) and proc.scaled
    assert proc.mean_service_slots == pytest.approx(10.0, rel=0.02)  # rescaled, then rounded
    lam = 0.8 * 1500 / proc.mean_service_slots
    assert proc.rate_per_slot == pytest.approx(lam)
    sizes = np.array([env.task_set(k).size for k in range(30)])
    assert sizes.mean() == pytest.approx(lam * 100, rel=0.1) and sizes.std() > 0
    # A user always has the same home server, in every task set.
    trace = proc.trace
    homes = {}
    for g, h in zip(trace.group_hash.tolist(), proc._fixed_home.tolist(), strict=True):
        assert homes.setdefault(g, h) == h
    assert len(set(homes.values())) == 3  # 40 users over three servers
    env.reset(seed=1)
    for _ in range(50):
        *_, info = env.step(5)
    assert info["arrived"] == info["completed"] + info["waiting"] + info["in_service"]


def test_hashed_homes_follow_the_home_weights(tmp_path):
    path = production_log(tmp_path / "log.csv")
    only0 = EdgeSchedulingEnv(arrivals={**LOG_SPEC, "path": str(path)}, home_skew=[1, 0, 0])
    assert (only0.task_set(0).home == 0).all()
    skewed = EdgeSchedulingEnv(arrivals={**LOG_SPEC, "path": str(path)}, home_skew=[3, 1, 0])
    home = skewed.arrival_process._fixed_home
    assert set(np.unique(home)) <= {0, 1} and (home == 0).mean() > 0.5


def test_time_compression_factor_maps_trace_time_to_slots(tmp_path):
    # 100 requests every 0.1 s: a cycle of 10 s; c = 5 trace s per simulated s makes a
    # 10 ms slot span 0.05 trace s, so 0.5 requests per slot and 20 in 40 slots.
    lines = ["time_s,home,service"] + [f"{0.1 * i:.1f},{i % 3},2" for i in range(100)]
    path = tmp_path / "regular.csv"
    path.write_text("\n".join(lines) + "\n")
    env = EdgeSchedulingEnv(
        arrivals={"path": str(path), "time_scale": 5}, window_slots=40, capacities=10
    )
    proc = env.arrival_process
    assert isinstance(proc, CsvTraceArrivals) and proc.rate_per_slot == pytest.approx(0.5)
    for k in range(5):
        tasks = env.task_set(k)
        assert tasks.size == 20
        assert np.all(np.diff(tasks.arrival) >= 0) and tasks.arrival.max() <= 39
        assert set(np.diff(tasks.arrival).tolist()) <= {1, 2}  # one request every 2 slots
        assert np.all(tasks.service == 2)


def test_exact_replay_with_column_names_and_units(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("Server,ignored,ts_ms,dur_s\n2,x,120,0.031\n0,y,0,0.5\n1,z,55,0.0\n")
    env = EdgeSchedulingEnv(
        arrivals={
            "path": str(path),
            "columns": {"time_s": "ts_ms", "home": "server", "service": "dur_s"},
            "time_unit": "ms",
            "service_unit": "s",
        }
    )
    env.reset(seed=0)
    np.testing.assert_array_equal(env.tasks.arrival, [0, 5, 12])  # floor(ms / 10 ms)
    np.testing.assert_array_equal(env.tasks.home, [0, 1, 2])
    np.testing.assert_array_equal(env.tasks.service, [50, 1, 3])  # rint(s / 10 ms), >= 1
    assert env.task_set(7).size == 3  # the whole file, every task set


def test_plain_file_stays_exact_without_options(tmp_path):
    path = tmp_path / "plain.csv"
    path.write_text("time_s,home,service\n0.0,0,3\n0.02,1,1\n0.5,2,2\n")
    assert isinstance(EdgeSchedulingEnv(arrivals=str(path)).arrival_process, PlainTraceArrivals)
    scaled = EdgeSchedulingEnv(
        arrivals={"path": str(path), "time_scale": "load", "service_scale": 2.0},
        load=0.5, capacities=4,
    )  # fmt: skip
    proc = scaled.arrival_process
    assert isinstance(proc, CsvTraceArrivals)
    np.testing.assert_array_equal(proc.service_slots, [6, 2, 4])
    assert proc.rate_per_slot == pytest.approx(0.5 * 12 / 4.0)


def test_timestamps_only_homes_from_skew_and_drawn_service(tmp_path):
    lines = ["t"] + [f"{0.013 * i:.3f}" for i in range(400)]
    path = tmp_path / "stamps.csv"
    path.write_text("\n".join(lines) + "\n")
    spec = {"path": str(path), "columns": {"time_s": "t"}, "homes": "skew",
            "time_scale": "load"}  # fmt: skip
    env = EdgeSchedulingEnv(arrivals=spec, home_skew=0.0, mean_service_slots=4.0, load=0.6)
    proc = env.arrival_process
    assert proc.service_slots is None and proc.mean_service_slots == 4.0
    tasks = [env.task_set(k) for k in range(20)]
    service = np.concatenate([t.service for t in tasks])
    home = np.concatenate([t.home for t in tasks])
    assert service.mean() == pytest.approx(4.0, rel=0.1)
    assert np.bincount(home, minlength=3).min() > 0.25 * home.size
    assert env.task_set(3).size == tasks[3].size  # task set k is reproducible
    np.testing.assert_array_equal(env.task_set(3).home, tasks[3].home)


def test_read_csv_trace_is_cached_and_parses_groups(tmp_path):
    path = tmp_path / "g.csv"
    path.write_text("time_s,group\n1.0,a\n0.5,b\n2.0,a\n")
    trace = read_csv_trace(path, {"group": "group"})
    assert trace is read_csv_trace(path, {"group": "group"})
    np.testing.assert_array_equal(trace.time_s, [0.0, 0.5, 1.5])
    assert trace.group_hash[1] == trace.group_hash[2] != trace.group_hash[0]
    assert trace.home is None and trace.service is None


def _azure_file(path: Path) -> Path:
    path.write_text(
        "TIMESTAMP,ContextTokens,GeneratedTokens\n"
        "2023-11-16 18:15:46.6,374,44\n2023-11-16 18:15:50.9,396,109\n"
    )
    return path


@pytest.mark.parametrize(
    "text,spec,match",
    [
        ("ts,home\n0,0\n1,1\n", {"columns": {"when": "ts"}}, r"arrivals\['columns'\]: keys"),
        ("ts,home\n0,0\n1,1\n", {"columns": {"time_s": 3}}, r"arrivals\['columns'\]: keys"),
        ("ts,home\n0,0\n1,1\n", {"columns": {"time_s": "t"}},
         r"line 1: no column 't' for time_s \(arrivals\['columns'\]\['time_s'\]\)"),
        ("ts,home\n0,0\n1,1\n", {}, r"line 1: no column 'time_s' for time_s"),
        ("ts,home\n0,0\n1,1\n", {"columns": {"time_s": "ts", "service": "dur"}},
         r"no column 'dur' for service"),
        ("time_s,home\n0,0\n1,1\n", {"time_scale": "fast"}, r"arrivals\['time_scale'\]"),
        ("time_s,home\n0,0\n1,1\n", {"time_scale": 0}, r"arrivals\['time_scale'\]"),
        ("time_s,home\n0,0\n1,1\n", {"time_scale": True}, r"arrivals\['time_scale'\]"),
        ("time_s,home\n0,0\n1,1\n", {"time_unit": "h"}, r"arrivals\['time_unit'\]"),
        ("time_s,home\n0,0\n1,1\n", {"service_unit": "min"}, r"arrivals\['service_unit'\]"),
        ("time_s,home,service\n0,0,1\n1,1,1\n", {"service_scale": 0},
         r"arrivals\['service_scale'\]"),
        ("time_s,home\n0,0\n1,1\n", {"service_scale": "max"}, r"arrivals\['service_scale'\]"),
        ("time_s,home\n0,0\n1,1\n", {"homes": "nearest"}, r"arrivals\['homes'\] must be one of"),
        ("time_s,home\n0,0\n1,1\n", {"homes": "hash"}, r"homes='hash' needs a group column"),
        ("time_s,user\n0,a\n1,b\n", {"homes": "column"}, r"homes='column' needs a home column"),
        ("time_s,home\n0,0\n1,3\n", {"homes": "column", "time_scale": "load"},
         r"home must be in \[0, 3\)"),
        ("ts\n0\nsoon\n", {"columns": {"time_s": "ts"}, "homes": "skew"},
         r"line 3: time column 'ts' must be a number"),
        ("ts\n2024-01-01 10:00:00\n10:01\n", {"columns": {"time_s": "ts"}, "homes": "skew",
                                            "time_unit": "datetime"},
         r"line 3: time column 'ts' must be a date-time"),
        ("time_s,home,dur\n0,0,1\n1,1,-2\n", {"columns": {"service": "dur"}},
         r"line 3: service column 'dur' must be a finite number"),
        ("time_s,home\n0,0\n", {"homes": "column", "time_scale": "load"},
         r"line 3: an arrival CSV needs at least two data rows"),
        ("time_s,home\n1,0\n1,1\n", {"time_scale": "load"}, r"two distinct arrival times"),
        ("time_s,home,service\n0,0,1\n1,1,1\n", {"prefill_ms_per_token": 1.0},
         r"only apply to Azure traces"),
        ("time_s,home,service\n0,0,0\n1,1,0\n", {"service_scale": "mean", "format": "plain"},
         r"needs a positive mean service time"),
        ("time_s,home\n0,0\n1,1\n", {"rate": "load"}, r"unknown keys \['rate'\]"),
    ],
)  # fmt: skip
def test_bad_options_and_files_name_the_field(tmp_path, text, spec, match):
    path = tmp_path / "log.csv"
    path.write_text(text)
    with pytest.raises(ValueError, match=match):
        EdgeSchedulingEnv(arrivals={"path": str(path), **spec})


def test_csv_options_do_not_apply_to_azure(tmp_path):
    path = _azure_file(tmp_path / "azure.csv")
    with pytest.raises(ValueError, match=r"\['homes'\] apply to plain/csv traces, not Azure"):
        EdgeSchedulingEnv(arrivals={"path": str(path), "homes": "hash"})
