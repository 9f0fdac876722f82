"""Time ``step()`` of the network/platform processes for one env and a 4096-env batch.

Usage: ``.venv/bin/python benchmarks/bench_network.py [--quick]``. Prints microseconds per
``step()`` call (best of 5 repeats). Target: FiveGTrialMEC with ``num=1`` at about 10 µs or
less (a single env's per-frame network update must be negligible next to the cost model).
The trace-replay rows use real traces from ``../shared/data/traces`` when present (Lumos5G,
Narayanan et al. SIGCOMM 2021; mmWave uplink/ping, Ghoshal et al. 5G-MeMU 2022), else a
synthetic trace.
"""

from __future__ import annotations

import argparse
import timeit
from pathlib import Path

import numpy as np

from envs.dynamics import (
    BatchedProcess,
    FiveGTrialD2D,
    FiveGTrialMEC,
    LinkProcess,
    PlatformLoad,
    TraceReplay,
    make_link_process,
)
from envs.traces import Trace

TRACES = Path(__file__).resolve().parents[2] / "shared" / "data" / "traces"


def _trace_process() -> tuple[str, LinkProcess]:
    lumos = TRACES / "lumos5g" / "5G" / "5g_trace_100_walking"
    up = TRACES / "mmwave_uplink" / "throughput" / "walking" / "5g" / "away.list"
    ping = TRACES / "mmwave_uplink" / "ping" / "walking" / "5g" / "away.list"
    if lumos.exists() and up.exists() and ping.exists():
        spec = {"type": "trace", "b_te_down": str(lumos), "b_te_up": str(up), "l_te": str(ping)}
        return "TraceReplay (real TE traces + 5g_trial EC)", make_link_process(spec, "mec")
    synthetic = Trace(np.arange(600.0), np.linspace(50, 500, 600), source="synthetic", unit="Mbps")
    return "TraceReplay (synthetic b_te_down + 5g_trial)", TraceReplay(
        ("b_te_up", "b_te_down", "b_ec_up", "b_ec_down", "l_te", "l_ec"),
        {"b_te_down": synthetic},
        FiveGTrialMEC(),
    )


def _time_step(proc: BatchedProcess, num: int, calls: int) -> float:
    rng = np.random.default_rng(0)
    proc.reset(rng, num=num)
    best = min(timeit.repeat(lambda: proc.step(rng), number=calls, repeat=5))
    return best / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer calls (noisier)")
    args = parser.parse_args()
    scale = 0.2 if args.quick else 1.0
    trace_name, trace_proc = _trace_process()
    cases: list[tuple[str, BatchedProcess]] = [
        ("FiveGTrialMEC (5g_trial, 6 fields)", FiveGTrialMEC()),
        ("FiveGTrialD2D (5g_trial, 2 fields)", FiveGTrialD2D()),
        (trace_name, trace_proc),
        ("PlatformLoad (3 platforms, enabled)", PlatformLoad(3, enabled=True)),
        ("PlatformLoad (3 platforms, disabled)", PlatformLoad(3)),
    ]
    print(f"{'process':46s} {'num=1 [us]':>12s} {'num=4096 [us]':>14s} {'per env [us]':>13s}")
    for name, proc in cases:
        t1 = _time_step(proc, 1, max(100, int(20000 * scale)))
        tb = _time_step(proc, 4096, max(10, int(300 * scale)))
        print(f"{name:46s} {t1:12.2f} {tb:14.1f} {tb / 4096:13.4f}")


if __name__ == "__main__":
    main()
