"""Measuring: runs every section of the report in this process, sequentially, and saves
the raw results (one CSV per table and ``results.json``)."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

from atomic_io import atomic_write_text

from pipeline.tables import write_csv as _write_csv

from .budgets import AGENT_NAMES, D2D_METHODS, D2D_SETTINGS, MEC_METHODS, ROBUST_METHODS

ROOT = Path(__file__).resolve().parents[2]


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    """The scalar columns of ``rows`` as a CSV (nothing for no rows)."""
    if rows:
        _write_csv(path, rows, flat_only=True)


def _run(cmd: list[str]) -> str:
    """stdout of a command in the repository ('' on failure); trailing newline removed only
    (``git status --porcelain`` lines start with a significant space)."""
    try:
        return subprocess.run(
            cmd, cwd=ROOT, capture_output=True, text=True, timeout=30
        ).stdout.rstrip("\n")
    except (OSError, subprocess.SubprocessError):
        return ""


def cpu_caches() -> str:
    """The first CPU's data and unified caches, e.g. ``"L1d 48K, L2 2048K, L3 266240K"``
    (sysfs; empty where unavailable): CPUs of one model name differ in them."""
    parts = []
    for index in sorted(Path("/sys/devices/system/cpu/cpu0/cache").glob("index*")):
        try:
            level, kind, size = ((index / f).read_text().strip() for f in ("level", "type", "size"))
        except OSError:
            continue
        if kind != "Instruction":
            parts.append(f"L{level}{'d' if kind == 'Data' else ''} {size}")
    return ", ".join(parts)


def machine_info() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = float("nan")
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gib = int(line.split()[1]) / 2**20
    except OSError:
        pass
    versions = {"python": platform.python_version()}
    for mod in ("numpy", "torch", "gymnasium", "stable_baselines3", "ray", "hydra", "matplotlib"):
        try:
            versions[mod] = __import__(mod).__version__
        except ImportError:
            versions[mod] = "not installed"
    dirty = _run(["git", "status", "--porcelain"])
    return {
        "cpu": cpu,
        "caches": cpu_caches(),
        "nproc": os.cpu_count(),
        "affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "mem_gib": mem_gib,
        "os": platform.platform(),
        "versions": versions,
        "commit": _run(["git", "rev-parse", "HEAD"]) or "unknown",
        "dirty": [ln[3:] for ln in dirty.splitlines() if len(ln) > 3] if dirty else [],
        "date": dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "gpu": "none (CPU only)",
    }


def measure(
    args: argparse.Namespace, P: dict[str, Any], csv_dir: Path, fig_dir: Path
) -> dict[str, Any]:
    import torch

    from envs.dnn import BUILTIN_PROFILES

    from . import sections as M

    torch.set_num_threads(1)
    timings: dict[str, float] = {}
    skip = set(args.skip)
    ckpt_dir = csv_dir / "checkpoints"
    R: dict[str, Any] = {"params": {k: v for k, v in P.items()}, "timings": timings}
    dnns = P["dnns"]

    if "speed" not in skip:
        from .targets import speed_targets

        R["speed_targets"] = M.timed(
            "1.0 speed targets",
            lambda: speed_targets(
                P["quick"],
                skip=["rllib"] if "rllib" in skip else [],
                command="benchmarks/make_report.py" + (" --quick" if P["quick"] else ""),
                seed=args.seed,
            ),
            timings,
        )
        R["env_speed"] = M.timed(
            "1. env steps/s",
            lambda: M.env_speed(P["num_envs"], P["env_steps"], P["env_repeats"]),
            timings,
        )
        oracle_dnns = P["oracle_dnns"] or list(BUILTIN_PROFILES)
        R["oracle_speed"] = M.timed(
            "1. oracle",
            lambda: M.oracle_speed(
                oracle_dnns,
                P["oracle_instances"],
                P["oracle_batch"],
                P["oracle_repeats"],
                P["brute_instances"],
            ),
            timings,
        )

    training: list[dict[str, Any]] = []
    ckpts: dict[tuple[str, str, str], Path] = {}
    for scenario in ("mec", "d2d"):
        if scenario in skip:
            continue
        env_kw = {} if scenario == "mec" else D2D_SETTINGS["Co-H"]

        def train_all(scenario: str = scenario, env_kw: dict = env_kw) -> list[dict[str, Any]]:
            out = []
            for dnn in dnns:
                for agent in AGENT_NAMES:
                    path = ckpt_dir / f"{scenario}_{dnn}_{agent}_seed{args.seed}.pt"
                    res = M.train_partition_agent(
                        scenario, dnn, agent, P["steps"], args.seed, path, env_kw=env_kw
                    )
                    ckpts[(scenario, dnn, agent)] = path
                    out.append(res)
            return out

        training += M.timed(f"2. train {scenario}", train_all, timings)
    R["training"] = training

    if "mec" not in skip:

        def eval_mec() -> list[dict[str, Any]]:
            rows = []
            for dnn in dnns:
                actors = {a: ckpts[("mec", dnn, a)] for a in AGENT_NAMES}
                rows += M.evaluate_methods(
                    "mec", dnn, MEC_METHODS, actors, P["episodes"], args.eval_seed
                )
            return rows

        R["mec"] = M.timed("2. evaluate mec", eval_mec, timings)
    if "d2d" not in skip:

        def eval_d2d() -> list[dict[str, Any]]:
            rows = []
            for dnn in dnns:
                for setting, kw in D2D_SETTINGS.items():
                    actors = {}
                    if setting == "Co-H":
                        actors = {a: ckpts[("d2d", dnn, a)] for a in AGENT_NAMES}
                    elif setting == "Co-L":
                        actors = {"iorlo_plus": ckpts[("d2d", dnn, "iorlo_plus")]}
                    rows += M.evaluate_methods(
                        "d2d",
                        dnn,
                        D2D_METHODS[setting],
                        actors,
                        P["episodes"],
                        args.eval_seed,
                        env_kw=kw,
                        setting=setting,
                    )
            return rows

        R["d2d"] = M.timed("2. evaluate d2d", eval_d2d, timings)

    if "speed" not in skip:
        dec_dnn = "resnet32" if "resnet32" in dnns else dnns[0]
        key = ("mec", dec_dnn, "iorlo_plus")
        if key in ckpts:
            R["decision_dnn"] = dec_dnn
            R["decisions"] = M.timed(
                "1. decision latency",
                lambda: M.decision_latency(
                    ckpts[key], "mec", dec_dnn, P["dec_single"], P["dec_batch"], P["dec_repeats"]
                ),
                timings,
            )
            R["policy_decisions"] = M.timed(
                "1. policy decision times",
                lambda: M.policy_decision_times(
                    "mec", dec_dnn, MEC_METHODS, {"iorlo_plus": ckpts[key]}, P["policy_steps"]
                ),
                timings,
            )

    if "robustness" not in skip and "mec" not in skip:
        root = M.data_dir()
        if (root / "traces" / "lumos5g").is_dir() and (root / "traces" / "mmwave_uplink").is_dir():
            specs = M.trace_specs(root, P["traces"])
            R["traces"] = [{k: v for k, v in s.items() if k != "spec"} for s in specs]
            actors = {d: {a: ckpts[("mec", d, a)] for a in AGENT_NAMES} for d in dnns}
            R["robustness"] = M.timed(
                "4. robustness",
                lambda: M.robustness(
                    dnns, specs, actors, ROBUST_METHODS, P["trace_episodes"], args.eval_seed
                ),
                timings,
            )
        else:
            R["robustness_skipped"] = f"trace data not found under {root}/traces"

    if "drlos" not in skip:
        R["drlos"] = M.timed(
            "3. drlos",
            lambda: M.drlos_section(Path(args.drlos_dir), fig_dir, args.quick, csv_dir),
            timings,
        )

    if "rllib" not in skip:
        try:
            R["rllib"] = M.timed(
                "5. rllib",
                lambda: M.rllib_scaling(
                    P["rllib_runners"],
                    P["rllib_iterations"],
                    P["rllib_warmup"],
                    num_cpus=max(2, max(P["rllib_runners"])),
                    train_batch=P["rllib_batch"],
                    num_epochs=P["rllib_epochs"],
                    minibatch=P["rllib_minibatch"],
                ),
                timings,
            )
        except ImportError as exc:  # ray is an optional dependency
            R["rllib_skipped"] = f"ray[rllib] not importable: {exc}"
    return R


def save_raw(R: dict[str, Any], csv_dir: Path) -> None:
    for key in (
        "env_speed",
        "oracle_speed",
        "decisions",
        "policy_decisions",
        "mec",
        "d2d",
        "robustness",
        "rllib",
    ):
        if R.get(key):
            write_csv(csv_dir / f"{key}.csv", R[key])
    if R.get("training"):
        write_csv(csv_dir / "training.csv", R["training"])
        write_csv(
            csv_dir / "training_curves.csv",
            [
                {"scenario": t["scenario"], "dnn": t["dnn"], "agent": t["agent"], **c}
                for t in R["training"]
                for c in t["curve"]
            ],
        )
    atomic_write_text(csv_dir / "results.json", json.dumps(R, indent=1, default=str))
