"""Trace readers (envs/traces.py): real files from ../shared/data and malformed files."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from conftest import DATA_DIR, TRACES_DIR

from envs.traces import (
    Trace,
    TraceFormatError,
    list_runs,
    read_csv_trace,
    read_lumos5g,
    read_mmwave_list,
)

DATA = DATA_DIR
TRACES = TRACES_DIR
needs_data = pytest.mark.skipif(not TRACES.is_dir(), reason=f"real traces absent ({TRACES})")


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _raises_at(path: Path, line: int | None):
    """Expect a TraceFormatError naming the file and (when given) the 1-based line."""
    pattern = re.escape(str(path)) + (rf", line {line}:" if line is not None else "")
    return pytest.raises(TraceFormatError, match=pattern)


# ------------------------------------------------------------------------------------------
# real files


@needs_data
def test_all_lumos5g_files_parse():
    files = sorted((TRACES / "lumos5g").glob("*/*"))
    assert len(files) == 296  # 121 5G + 175 4G (data README)
    for f in files:
        tr = read_lumos5g(f)
        assert tr.unit == "Mbps" and tr.source == str(f)
        assert np.all(np.diff(tr.times_s) > 0) and np.all(tr.values >= 0)
        assert len(tr) > 10 and tr.period_s == 1.0


@needs_data
def test_lumos5g_values_match_file():
    f = TRACES / "lumos5g" / "5G" / "5g_trace_100_walking"
    rows = np.loadtxt(f)
    tr = read_lumos5g(f)
    np.testing.assert_array_equal(tr.times_s, rows[:, 0])
    np.testing.assert_array_equal(tr.values, rows[:, 1])
    assert tr.duration_s == rows[-1, 0] - rows[0, 0] + 1.0


@needs_data
def test_lumos5g_repeated_timestamp_merged_or_rejected():
    # A quirk of 31 shipped 4G files: one timestamp appears twice.
    f = TRACES / "lumos5g" / "4G" / "4g_trace_driving_50229_dr"
    rows = np.loadtxt(f)
    dup = int(np.flatnonzero(np.diff(rows[:, 0]) == 0)[0])
    tr = read_lumos5g(f)
    assert len(tr) == len(rows) - 1
    i = int(np.searchsorted(tr.times_s, rows[dup, 0]))
    assert tr.values[i] == pytest.approx(rows[dup : dup + 2, 1].mean())
    with _raises_at(f, dup + 2):  # file has no blank lines: row k is line k + 1
        read_lumos5g(f, duplicate_times="error")


@needs_data
def test_all_mmwave_lists_parse():
    files = sorted((TRACES / "mmwave_uplink").glob("**/*.list"))
    assert len(files) == 40
    for f in files:
        runs = list_runs(f)
        assert runs and len(set(runs)) == len(runs)
        unit = (
            "ms" if "ping" in f.parts else "Mbps"
        )  # the test knows the layout; the reader never guesses
        whole = read_mmwave_list(f, unit=unit)
        assert whole.unit == unit
        assert np.all(np.diff(whole.times_s) > 0)
        parts = [read_mmwave_list(f, r, unit=unit) for r in runs]
        assert len(whole) == sum(len(p) for p in parts)
        np.testing.assert_array_equal(whole.values, np.concatenate([p.values for p in parts]))


@needs_data
def test_mmwave_single_line_run_values_and_period():
    f = TRACES / "mmwave_uplink" / "ping" / "walking" / "5g" / "away.list"
    lines = f.read_text().splitlines()
    first = next(i for i, s in enumerate(lines) if s.strip() == "Run 2")
    expected = [float(x) for x in lines[first + 1].split(",") if x.strip()]
    tr = read_mmwave_list(f, run=2, unit="ms")
    assert tr.unit == "ms" and tr.source.endswith("#run=2")
    np.testing.assert_array_equal(tr.values, expected)
    np.testing.assert_allclose(np.diff(tr.times_s), 0.1)
    assert list_runs(f) == [1, 2, 3]


@needs_data
def test_mmwave_two_line_runs_use_file_times():
    f = TRACES / "mmwave_uplink" / "throughput" / "driving" / "5g" / "throughput.list"
    lines = f.read_text().splitlines()
    i = next(i for i, s in enumerate(lines) if s.strip() == "Run 1")
    times = [float(x) for x in lines[i + 1].split(",") if x.strip()]
    tr = read_mmwave_list(f, run=1, unit="Mbps")
    np.testing.assert_array_equal(tr.times_s, times)
    assert tr.unit == "Mbps" and len(tr) == len(times)
    # The second (times, values) pair's clock jumps backwards in the shipped file.
    with pytest.raises(TraceFormatError, match="backwards"):
        read_mmwave_list(f, run=1, series=1, unit="Mbps")
    with pytest.raises(ValueError, match="series must be in 0..1"):
        read_mmwave_list(f, run=1, series=2, unit="Mbps")
    with pytest.raises(ValueError, match="run must be one of"):
        read_mmwave_list(f, run=99, unit="Mbps")


# ------------------------------------------------------------------------------------------
# Lumos5G format, synthetic


def test_lumos5g_good_file_with_comments(tmp_path):
    f = _write(tmp_path, "good", "# header comment\n1.0 10\n\n2.0\t20.5\n3 0.0\n")
    tr = read_lumos5g(f)
    np.testing.assert_array_equal(tr.times_s, [1, 2, 3])
    np.testing.assert_array_equal(tr.values, [10, 20.5, 0.0])  # outages are valid data


@pytest.mark.parametrize(
    ("text", "line", "what"),
    [
        ("1 10\n2 abc\n", 2, "not a number"),
        ("1 10\n2 20 30\n", 2, "expected 2 columns"),
        ("1 10\n2\n", 2, "expected 2 columns"),
        ("1 10\n3 20\n2 30\n", 3, "backwards"),
        ("1 10\n2 nan\n", 2, "not finite"),
        ("1 10\n2 inf\n", 2, "not finite"),
        ("1 10\n\n2 -5\n", 3, "negative"),
        ("", 1, "empty"),
        ("\n  \n", 1, "empty"),
        ("# only a comment\n", 1, "no data"),
    ],
)
def test_lumos5g_malformed(tmp_path, text, line, what):
    f = _write(tmp_path, "bad", text)
    with _raises_at(f, line) as err:
        read_lumos5g(f)
    assert what in str(err.value)
    assert isinstance(err.value, ValueError)


def test_lumos5g_repeated_time_policy(tmp_path):
    f = _write(tmp_path, "dup", "1 10\n2 20\n2 40\n3 5\n")
    tr = read_lumos5g(f)
    np.testing.assert_array_equal(tr.times_s, [1, 2, 3])
    np.testing.assert_array_equal(tr.values, [10, 30, 5])
    with _raises_at(f, 3):
        read_lumos5g(f, duplicate_times="error")
    with pytest.raises(ValueError, match="duplicate_times"):
        read_lumos5g(f, duplicate_times="drop")  # type: ignore[arg-type]


def test_not_a_text_file(tmp_path):
    f = tmp_path / "bin"
    f.write_bytes(b"\xff\xfe\x00\x81")
    with _raises_at(f, 1):
        read_lumos5g(f)
    g = tmp_path / "bin2"
    g.write_bytes(b"0 1\n1 2\n\xff\xfe 3\n")  # the bad byte is on line 3
    with _raises_at(g, 3):
        read_lumos5g(g)


def test_csv_with_byte_order_mark(tmp_path):
    f = tmp_path / "bom.csv"
    f.write_bytes(b"\xef\xbb\xbftime_s,uplink_mbps,downlink_mbps,rtt_ms\r\n0,1,2,3\r\n1,4,5,6\r\n")
    out = read_csv_trace(f)
    np.testing.assert_array_equal(out["uplink_mbps"].values, [1, 4])
    np.testing.assert_array_equal(out["rtt_ms"].values, [3, 6])


# ------------------------------------------------------------------------------------------
# mmWave .list format, synthetic

LIST_GOOD = """
###############################
Run 1
1.5,2.5,3.5,
###############################
Run 2
0.0,0.1,0.3
4,5,6
###############################
Run 3
7,8
"""


def test_mmwave_good_file(tmp_path):
    f = _write(tmp_path, "thr.list", LIST_GOOD)
    assert list_runs(f) == [1, 2, 3]
    r1 = read_mmwave_list(f, 1, unit="Mbps")
    np.testing.assert_array_equal(r1.values, [1.5, 2.5, 3.5])  # trailing comma ignored
    np.testing.assert_allclose(r1.times_s, [0.0, 0.1, 0.2])
    assert r1.unit == "Mbps" and r1.period_s == pytest.approx(0.1)
    r2 = read_mmwave_list(f, 2, unit="Mbps")
    np.testing.assert_array_equal(r2.times_s, [0.0, 0.1, 0.3])
    np.testing.assert_array_equal(r2.values, [4, 5, 6])
    whole = read_mmwave_list(f, unit="Mbps")
    np.testing.assert_array_equal(whole.values, [1.5, 2.5, 3.5, 4, 5, 6, 7, 8])
    assert np.all(np.diff(whole.times_s) > 0)
    # each run starts one sample period after the previous run's last sample
    np.testing.assert_allclose(whole.times_s[3], 0.2 + 0.1)
    assert read_mmwave_list(f, 3, unit="ms").unit == "ms"
    # The unit is never guessed from the path: it is a required keyword.
    ping = tmp_path / "ping"
    ping.mkdir()
    g = _write(ping, "x.list", LIST_GOOD)
    assert read_mmwave_list(g, 1, unit="Mbps").unit == "Mbps"
    with pytest.raises(TypeError, match="unit"):
        read_mmwave_list(g, 1)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("text", "line", "what"),
    [
        ("1,2,3\n", 1, "before the first"),
        ("###\nRun x\n1,2\n", 2, "bad run header"),
        ("###\nRun 1\n1,2\nRun 1\n3\n", 4, "appears twice"),
        ("###\nRun 1\n###\nRun 2\n1,2\n", 2, "no data line"),
        ("###\nRun 1\n0,1\n2,3\n4,5\n", 5, "data lines"),
        ("###\nRun 1\n1.0,x,3\n", 3, "value 2 is not a number"),
        ("###\nRun 1\n1.0,,3\n", 3, "value 2 is not a number"),
        ("###\nRun 1\n1.0,-2,3\n", 3, "negative"),
        ("###\nRun 1\n1.0,NaN,3\n", 3, "not finite"),
        ("###\nRun 1\n0,1,2\n5,6\n", 4, "2 values for 3 times"),
        ("###\nRun 1\n0,1,0.5\n5,6,7\n", 3, "backwards"),
        ("", 1, "empty"),
        ("####\n", 1, "no 'Run N'"),
    ],
)
def test_mmwave_malformed(tmp_path, text, line, what):
    f = _write(tmp_path, "bad.list", text)
    with _raises_at(f, line) as err:
        read_mmwave_list(f, unit="Mbps")
    assert what in str(err.value)


def test_mmwave_bad_args(tmp_path):
    f = _write(tmp_path, "thr.list", LIST_GOOD)
    with pytest.raises(ValueError, match="unit must be one of"):
        read_mmwave_list(f, 1, unit="kbps")
    with pytest.raises(ValueError, match="series must be 0"):
        read_mmwave_list(f, 1, series=1, unit="Mbps")
    with pytest.raises(ValueError, match="period_s"):
        read_mmwave_list(f, 1, period_s=0.0, unit="Mbps")
    with pytest.raises(ValueError, match="period_s"):
        read_mmwave_list(f, 1, period_s="0.1", unit="Mbps")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unit must be one of"):
        read_mmwave_list(f, 1, unit=None)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------
# CSV format


def test_csv_good_file(tmp_path):
    f = _write(
        tmp_path,
        "t.csv",
        "# a comment\ntime_s, uplink_mbps, downlink_mbps, rtt_ms\n0,10,100,20\n1,11,110,0\n"
        "1,13,130,40\n2.5,0,120,25\n",
    )
    out = read_csv_trace(f)
    assert set(out) == {"uplink_mbps", "downlink_mbps", "rtt_ms"}
    np.testing.assert_array_equal(out["uplink_mbps"].times_s, [0, 1, 2.5])
    np.testing.assert_array_equal(out["uplink_mbps"].values, [10, 12, 0])
    np.testing.assert_array_equal(out["downlink_mbps"].values, [100, 120, 120])
    np.testing.assert_array_equal(out["rtt_ms"].values, [20, 20, 25])
    assert out["rtt_ms"].unit == "ms" and out["uplink_mbps"].unit == "Mbps"


def test_csv_columns_any_order(tmp_path):
    f = _write(tmp_path, "t.csv", "rtt_ms,time_s,downlink_mbps,uplink_mbps\n5,0,50,7\n6,1,60,8\n")
    out = read_csv_trace(f)
    np.testing.assert_array_equal(out["uplink_mbps"].values, [7, 8])
    np.testing.assert_array_equal(out["rtt_ms"].values, [5, 6])


HEADER = "time_s,uplink_mbps,downlink_mbps,rtt_ms\n"


@pytest.mark.parametrize(
    ("text", "line", "what"),
    [
        ("0,10,100,20\n1,10,100,20\n", 1, "header"),
        ("time_s,uplink_mbps,rtt_ms\n0,1,2\n", 1, "header"),
        (HEADER + "0,10,100,20\n1,10,100\n", 3, "expected 4 columns"),
        (HEADER + "0,10,100,20\n1,10,abc,20\n", 3, "value 3 is not a number"),
        (HEADER + "0,10,100,20\n\n1,10,100,-1\n", 4, "negative rtt_ms"),
        (HEADER + "0,10,100,20\n1,-3,100,20\n", 3, "negative uplink_mbps"),
        (HEADER + "0,10,100,20\n1,nan,100,20\n", 3, "not finite"),
        (HEADER + "5,10,100,20\n4,10,100,20\n", 3, "backwards"),
        (HEADER, 1, "no data rows"),
        ("", 1, "empty"),
    ],
)
def test_csv_malformed(tmp_path, text, line, what):
    f = _write(tmp_path, "bad.csv", text)
    with _raises_at(f, line) as err:
        read_csv_trace(f)
    assert what in str(err.value)


def test_csv_repeated_time_error_policy(tmp_path):
    f = _write(tmp_path, "d.csv", HEADER + "0,1,1,1\n0,2,2,2\n")
    with _raises_at(f, 3):
        read_csv_trace(f, duplicate_times="error")


# ------------------------------------------------------------------------------------------
# Trace dataclass


def test_trace_validation_and_immutability():
    t = np.array([0.0, 1.0, 2.0])
    tr = Trace(t, [1.0, 2.0, 3.0], source="x", unit="Mbps")
    assert tr.period_s == 1.0 and tr.duration_s == 3.0 and len(tr) == 3
    t[0] = 5.0  # the trace holds a copy
    assert tr.times_s[0] == 0.0
    with pytest.raises(ValueError):
        tr.values[0] = 9.0
    with pytest.raises(ValueError, match="strictly increasing"):
        Trace([0.0, 0.0], [1.0, 1.0], source="x", unit="ms")
    with pytest.raises(ValueError, match="non-negative"):
        Trace([0.0, 1.0], [1.0, -1.0], source="x", unit="ms")
    with pytest.raises(ValueError, match="unit must be one of"):
        Trace([0.0], [1.0], source="x", unit="kbps")
    with pytest.raises(ValueError, match="equal"):
        Trace([0.0, 1.0], [1.0], source="x", unit="ms")
    assert Trace([3.0], [1.0], source="x", unit="ms", period_s=0.5).duration_s == 0.5


# ------------------------------------------------------------------------------------------
# bounds, byte-order marks, missing files (envs.limits)


def test_byte_order_mark_accepted_by_every_reader(tmp_path):
    bom = b"\xef\xbb\xbf"
    lum = tmp_path / "bom_lumos"
    lum.write_bytes(bom + b"0 1.5\n1 2.5\n")
    np.testing.assert_array_equal(read_lumos5g(lum).values, [1.5, 2.5])
    lst = tmp_path / "bom.list"
    lst.write_bytes(bom + b"#####\nRun 1\n1,2,3\n")
    np.testing.assert_array_equal(read_mmwave_list(lst, 1, unit="ms").values, [1, 2, 3])
    assert list_runs(lst) == [1]


@pytest.mark.parametrize(
    ("name", "text", "line", "what"),
    [
        ("huge_time", "0 10\n1e12 60\n", 2, "MAX_TRACE_TIME_S"),
        ("neg_time", "-2e7 10\n0 60\n", 1, "MAX_TRACE_TIME_S"),
        ("huge_value", "0 10\n1 1e308\n", 2, "MAX_BANDWIDTH_MBPS"),
    ],
)
def test_lumos5g_bounds(tmp_path, name, text, line, what):
    f = _write(tmp_path, name, text)
    with _raises_at(f, line) as err:
        read_lumos5g(f)
    assert what in str(err.value)


def test_mmwave_and_csv_bounds(tmp_path):
    f = _write(tmp_path, "big.list", "###\nRun 1\n1,2\n###\nRun 2\n0,1e12\n5,6\n")
    with _raises_at(f, 6) as err:
        read_mmwave_list(f, unit="Mbps")
    assert "MAX_TRACE_TIME_S" in str(err.value)
    g = _write(tmp_path, "ping.list", "###\nRun 1\n1,2e8\n")
    with _raises_at(g, 3) as err:
        read_mmwave_list(g, unit="ms")
    assert "MAX_LATENCY_MS" in str(err.value)
    # the runs laid end to end exceed the bound although each run is fine
    h = _write(tmp_path, "long.list", "###\nRun 1\n0,9e6\n1,1\n###\nRun 2\n0,9e6\n1,1\n")
    with _raises_at(h, 6):
        read_mmwave_list(h, unit="Mbps")
    assert len(read_mmwave_list(h, 2, unit="Mbps")) == 2
    c = _write(tmp_path, "c.csv", HEADER + "0,1,1,1\n1e9,1,1,1\n")
    with _raises_at(c, 3) as err:
        read_csv_trace(c)
    assert "MAX_TRACE_TIME_S" in str(err.value)
    c2 = _write(tmp_path, "c2.csv", HEADER + "0,1,1,1\n1,1,1e300,1\n")
    with _raises_at(c2, 3) as err:
        read_csv_trace(c2)
    assert "downlink_mbps" in str(err.value)


def test_missing_file_and_bad_arguments_name_the_field(tmp_path):
    missing = tmp_path / "nope"
    with _raises_at(missing, None):
        read_lumos5g(missing)
    with _raises_at(tmp_path, None):  # a directory
        read_csv_trace(tmp_path)
    f = _write(tmp_path, "t", "0 1\n1 2\n")
    with pytest.raises(ValueError, match="unit must be one of"):
        read_lumos5g(f, unit="kbps")
    with pytest.raises(ValueError, match="duplicate_times"):
        read_lumos5g(f, duplicate_times=["mean"])  # type: ignore[arg-type]
    g = _write(tmp_path, "thr.list", LIST_GOOD)
    with pytest.raises(ValueError, match="series must be a non-negative integer"):
        read_mmwave_list(g, 1, series="0", unit="Mbps")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="run must be None or an integer"):
        read_mmwave_list(g, 1.5, unit="Mbps")  # type: ignore[arg-type]


def test_trace_bounds():
    with pytest.raises(ValueError, match="MAX_TRACE_TIME_S"):
        Trace([0.0, 1e12], [1.0, 1.0], source="x", unit="Mbps")
    with pytest.raises(ValueError, match=r"non-negative and at most 1e\+07 ms"):
        Trace([0.0, 1.0], [1.0, 1e308], source="x", unit="ms")
    with pytest.raises(ValueError, match="period_s"):
        Trace([0.0], [1.0], source="x", unit="ms", period_s=1e300)
