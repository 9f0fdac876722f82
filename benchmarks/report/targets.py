"""Issue #16's speed targets ("Speed to the compiled limit"): every target of
``targets.json`` measured in this process with the benchmark scripts' functions
(``bench_oracle.measure``, ``bench_envs.bench_single`` / ``bench_vector``,
``bench_drlos.rollout_speed``, ``bench_rllib_sampling.measure``, ``bench_decisions``'
timers) and a short seeded IoRLO+ training.

:func:`speed_targets` returns plain data (JSON-serialisable): the measurements per group
(:data:`GROUPS`; ``skip`` leaves groups out). :func:`report.derive.speed_target_rows` turns
them into the rows of table 1.0 (target, measured, met) and
``templates/speed_targets.md.j2`` renders them. Used by ``benchmarks/speed_targets.py``
(this block only) and ``benchmarks/make_report.py``'s speed section.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
TARGETS_FILE = Path(__file__).resolve().parent / "targets.json"
#: measurement groups, in order (``--skip`` names)
GROUPS = ("oracle", "vector", "single", "iorlo", "drlos", "rllib", "decisions")
DNN = "resnet32"  # 17 blocks, the case
_FULL: dict[str, Any] = {
    "oracle_batch": 4096, "oracle_scalar": 2000, "oracle_repeats": 25,
    "vector_envs": [1024, 4096, 16384], "oracle_envs": 4096, "vector_repeats": 10,
    "single_steps": 10_000, "single_repeats": 10, "iorlo_frames": 40_000, "iorlo_pairs": 2,
    "drlos_iterations": 10, "drlos_rollouts": 20, "rllib_steps": 4000, "rllib_repeats": 3,
    "dec_single": 20_000, "dec_batch": 4096, "dec_repeats": 50, "probe_blocks": 40,
}  # fmt: skip
#: budgets of a full and a ``--quick`` measurement (quick: fewer steps and repeats; IoRLO+
#: 1500 frames, of which 1000 before the first update, so its frames/s come out higher).
#: The best of 10-25 short runs spreads each time over several seconds: a shared host's
#: contention comes and goes on that scale (the host probe), and the best run is the code's.
BUDGETS: dict[str, dict[str, Any]] = {
    "full": _FULL,
    "quick": {**_FULL, "oracle_scalar": 200, "oracle_repeats": 2, "vector_repeats": 1,
              "single_steps": 2500, "single_repeats": 1, "iorlo_frames": 5000, "iorlo_pairs": 1,
              "drlos_iterations": 2, "rllib_steps": 1000, "rllib_repeats": 1,
              "dec_single": 2000, "dec_repeats": 5, "probe_blocks": 10},
}  # fmt: skip


def load_targets(path: Path = TARGETS_FILE) -> dict[str, Any]:
    """The targets of issue #16 (``targets.json``)."""
    return json.loads(path.read_text())


@contextlib.contextmanager
def thread_clock() -> Iterator[str]:
    """``bench_envs``' rates timed with this thread's CPU time (less sensitive to other jobs
    on the machine) inside the block; yields the clock's name."""
    import bench_envs

    saved = getattr(bench_envs, "_clock", None)
    if saved is None:  # bench_envs without a module clock: its own (wall) timing
        yield "wall"
        return
    bench_envs._clock = time.thread_time
    try:
        yield "thread CPU"
    finally:
        bench_envs._clock = saved


def _python_work() -> int:
    s = 0
    for i in range(5_000):
        s += i
    return s


def host_probe(blocks: int) -> dict[str, dict[str, float]]:
    """Fixed work, timed the same way in every run (thread CPU time, ``blocks`` blocks; min
    and median): a pure-Python loop of 5,000 additions (interpreter speed, which the single
    env and the scalar calls follow) and a copy of 32 MB with numpy (memory bandwidth, which
    the large vector envs follow). Measured at the start and the end of a run, it says how
    fast this host ran while the absolute rows were timed, so runs can be compared."""
    src = np.ones(4 * 2**20)  # 32 MB of float64
    dst = np.empty_like(src)
    works = {"python_us": (_python_work, 1e6), "copy_32mb_ms": (lambda: np.copyto(dst, src), 1e3)}
    out = {}
    for name, (fn, scale) in works.items():
        fn()  # warm-up (pages touched, code warm)
        times = []
        for _ in range(blocks):
            t0 = time.thread_time()
            fn()
            times.append((time.thread_time() - t0) * scale)
        out[name] = {"min": min(times), "median": float(np.median(times))}
    return out


def _minor_faults() -> int:
    who = getattr(resource, "RUSAGE_THREAD", resource.RUSAGE_SELF)
    return resource.getrusage(who).ru_minflt


# ------------------------------------------------------------------ measurements
def oracle_rows(b: dict[str, Any]) -> list[dict[str, Any]]:
    """``bench_oracle.measure``: compiled vs reference oracle, MEC and D2D, with and without
    early exits (time per instance, scalar and batched; costs compared)."""
    import bench_oracle

    return [
        bench_oracle.measure(
            scenario, DNN, b["oracle_batch"], b["oracle_scalar"], b["oracle_repeats"], exits
        )
        for scenario in ("mec", "d2d")
        for exits in (False, True)
    ]


def vector_rows(b: dict[str, Any]) -> list[dict[str, Any]]:
    """v1 vector env steps/s (``bench_envs.bench_vector``) without the oracle at each of
    ``vector_envs`` and with it at ``oracle_envs``, default malloc; minor page faults per
    vector step (``getrusage`` of this thread) after the timed steps: the median of 3 runs
    of as many steps (one run may catch a one-off heap trim or growth)."""
    from bench_envs import bench_vector

    from envs.partition.vector import D2DPartitionVectorEnvV1, MECPartitionVectorEnvV1

    classes = {"mec": MECPartitionVectorEnvV1, "d2d": D2DPartitionVectorEnvV1}
    runs = [(n, False) for n in b["vector_envs"]] + [(b["oracle_envs"], True)]
    rows = []
    for scenario, cls in classes.items():
        for num, oracle in runs:
            steps = max(10, int(min(40_000 / num, 3000)))
            env = cls(num_envs=num, dnn=DNN, oracle=oracle)
            rate = bench_vector(env, steps, b["vector_repeats"])
            actions = [env.action_space.sample() for _ in range(8)]
            chunks = []
            for _ in range(3):
                f0 = _minor_faults()
                for i in range(steps):
                    env.step(actions[i & 7])
                chunks.append((_minor_faults() - f0) / steps)
            faults = float(np.median(chunks))
            env.close()
            del env
            rows.append(
                {"scenario": scenario, "num_envs": num, "oracle": oracle, "steps": steps,
                 "steps_per_s": rate, "minor_faults_per_step": faults}
            )  # fmt: skip
            print(f"  vector {scenario} v1 {num} envs oracle={oracle}: {rate:,.0f} env-steps/s, "
                  f"{faults:.2f} minor faults/step", flush=True)  # fmt: skip
    return rows


def single_rows(b: dict[str, Any]) -> list[dict[str, Any]]:
    """The v1 MEC single env (raw class) with the per-step oracle (``bench_envs.bench_single``)."""
    from bench_envs import bench_single

    from envs.partition import MECPartitionEnvV1

    rate = bench_single(
        MECPartitionEnvV1(dnn=DNN, oracle=True), b["single_steps"], b["single_repeats"]
    )
    print(f"  single MEC v1 with the oracle: {rate:,.0f} steps/s", flush=True)
    return [{"scenario": "mec", "version": 1, "oracle": True, "steps_per_s": rate}]


def iorlo_training(frames: int, seed: int = 0, **kwargs: Any) -> tuple[dict[str, Any], Any, Any]:
    """IoRLO+ (seed ``seed``) on ``EdgeRL/MECPartition-v1`` ResNet-32 for ``frames`` env steps,
    in this process (no timing): the agent and its env, whose actor the decision targets time."""
    import gymnasium as gym

    from agents.iorlo import IoRLOPlus

    env = gym.make("EdgeRL/MECPartition-v1", dnn=DNN)
    agent = IoRLOPlus(env, seed=seed, **kwargs)
    agent.learn(frames)
    return {"frames": frames}, agent, env


def _train_py_sps(tree: Path, frames: int, seed: int, overrides: Sequence[str] = ()) -> float:
    """``python train.py agent=iorlo_plus`` (the default env, plus ``overrides``) of the
    checkout ``tree`` for ``frames`` frames: the frames per second its ``metrics.json`` reports
    (``sps``: the training loop's wall clock, its periodic evaluations included)."""
    import subprocess
    import sys
    import tempfile

    from blas_threads import user_environ

    from envs.mixture import default_data_dir

    # as the user would type it (not the one BLAS thread of the in-process timers); another
    # tree reads the same shared traces (the default lookup is relative to the tree)
    env = {**user_environ(), "EDGERL_DATA": str(default_data_dir())}
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "run"
        # IoRLO+ named: v1's default agent in the baseline commit, DP-forecast since
        cmd = [sys.executable, "train.py", "agent=iorlo_plus", f"seed={seed}",
               f"run_dir={run_dir}", f"train.total_steps={frames}", "train.progress=false",
               *overrides]  # fmt: skip
        proc = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True)
        if proc.returncode != 0:  # say which tree failed and why, not just the exit status
            raise RuntimeError(f"python train.py in {tree} failed:\n{proc.stderr[-2000:]}")
        return float(json.loads((run_dir / "metrics.json").read_text())["sps"])


def _export_commit(ref: str, dest: Path) -> str | None:
    """``git archive`` of commit ``ref`` of this checkout into ``dest`` (the repository is
    only read). Returns why not when there is no git, no history (a shallow or exported
    checkout) or no such commit; else None."""
    import shutil
    import subprocess

    if shutil.which("git") is None:
        return "git is not installed"
    found = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--verify", "--quiet",
                            f"{ref}^{{commit}}"], capture_output=True, text=True)  # fmt: skip
    if found.returncode != 0:
        return f"commit {ref} is not in this checkout's history"
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", ref],
                             capture_output=True, check=True)  # fmt: skip
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    return None


def train_py_speed(
    frames: int, seed: int = 0, baseline_ref: str | None = None, pairs: int = 2,
    baseline_config: Sequence[str] = (),
) -> dict[str, Any]:  # fmt: skip
    """The issue's measurement: ``python train.py agent=iorlo_plus`` with the default env
    (``env=mec_v1``; IoRLO+ was the default agent when the issue was filed) for ``frames``
    frames, seed ``seed``, in a subprocess (frames/s of training, :func:`_train_py_sps`).

    With ``baseline_ref`` (a commit of this repository) the same command also runs in that
    commit's tree, interleaved with this tree (baseline, current) ``pairs`` times, so the
    ratio is measured on one machine in one run (a shared machine's speed drifts by tens of
    percent in minutes). ``frames_per_s`` is then the median of this tree's runs and
    ``baseline`` holds the commit's runs; without git history ``baseline`` says why not and
    the report falls back to the fixed number of ``targets.json``. With ``baseline_config``
    (the overrides that give this tree the commit's IoRLO+ configuration) each pair also
    times this tree with them, like for like (``like_for_like``: the same work per frame
    as the commit; the defaults changed since, for quality)."""
    import tempfile

    row: dict[str, Any] = {
        "command": f"python train.py agent=iorlo_plus seed={seed} run_dir=<tmp> "
                   f"train.total_steps={frames} "
                   "train.progress=false",
        "frames": frames, "seed": seed,
    }  # fmt: skip
    if not baseline_ref:
        row["frames_per_s"] = _train_py_sps(ROOT, frames, seed)
        print(f"  IoRLO+ python train.py, {frames} frames: {row['frames_per_s']:,.0f} frames/s",
              flush=True)  # fmt: skip
        return row
    with tempfile.TemporaryDirectory() as tmp:
        why = _export_commit(baseline_ref, Path(tmp))
        if why is not None:
            print(f"  IoRLO+ baseline {baseline_ref} not timed: {why}", flush=True)
            row["frames_per_s"] = _train_py_sps(ROOT, frames, seed)
            row["baseline"] = {"ref": baseline_ref, "not_measured": why}
            return row
        for tree in (Path(tmp), ROOT):  # compile and cache both trees' numba kernels, untimed
            _train_py_sps(tree, 300, seed)
        base, current, same = [], [], []
        for i in range(pairs):
            base.append(_train_py_sps(Path(tmp), frames, seed))
            current.append(_train_py_sps(ROOT, frames, seed))
            like = ""
            if baseline_config:
                same.append(_train_py_sps(ROOT, frames, seed, baseline_config))
                like = f"; with its configuration {same[-1]:,.0f} ({same[-1] / base[-1]:.2f}×)"
            print(f"  IoRLO+ python train.py, {frames} frames, pair {i + 1}: {baseline_ref} "
                  f"{base[-1]:,.0f}, this tree {current[-1]:,.0f} frames/s "
                  f"({current[-1] / base[-1]:.2f}×){like}", flush=True)  # fmt: skip
    row["frames_per_s"] = float(np.median(current))
    row["runs_frames_per_s"] = current
    row["baseline"] = {"ref": baseline_ref, "runs_frames_per_s": base}
    if baseline_config:
        row["like_for_like"] = {"overrides": list(baseline_config), "runs_frames_per_s": same}
    return row


def drlos_speed(b: dict[str, Any]) -> dict[str, Any]:
    """``bench_drlos.rollout_speed``: iterations/s, N rollouts batched vs one at a time."""
    from bench_drlos import rollout_speed

    row = rollout_speed(b["drlos_iterations"], b["drlos_rollouts"])
    print(f"  DRLoS: {row['batched_iterations_per_s']:.2f} vs "
          f"{row['one_at_a_time_iterations_per_s']:.2f} iterations/s", flush=True)  # fmt: skip
    return row


def default_envs_per_runner() -> int:
    """``num_envs_per_env_runner`` of the pipeline's ``rllib_ppo`` config."""
    import yaml

    cfg = yaml.safe_load((ROOT / "configs" / "agent" / "rllib_ppo.yaml").read_text())
    return int(cfg["num_envs_per_env_runner"])


def rllib_speed(b: dict[str, Any]) -> dict[str, Any]:
    """``bench_rllib_sampling.measure``: sampling env steps/s with 1 env and with the
    default ``num_envs_per_env_runner``."""
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    from bench_rllib_sampling import measure

    default = default_envs_per_runner()
    rows = []
    for k in dict.fromkeys((1, default)):
        rate = measure(k, b["rllib_steps"], b["rllib_repeats"], DNN)
        rows.append({"num_envs": k, "steps_per_s": rate})
        print(f"  RLlib sampling, {k} env(s) per runner: {rate:,.0f} env steps/s", flush=True)
    return {"default_envs": default, "rows": rows}


def decision_speed(actor: Any, env: Any, b: dict[str, Any]) -> dict[str, Any]:
    """The fast actor (``NumpyActor`` of the IoRLO+ actor): median single ``decide`` (its
    compiled path and numpy's), and ``decide_batch`` per batch backend (median ms, and
    whether its decisions and its ``act_batch`` actions equal numpy's: a backend whose
    logits differ in the last bits, as onnxruntime's kernels on some CPUs, decides alike on
    most batches but acts otherwise, and ``"auto"`` rules it out); the backend ``"auto"``
    picks, and whether its decisions equal numpy's (batched and one by one)."""
    from bench_decisions import env_observations, time_batch, time_single

    from agents.common.fast_actor import NumpyActor

    obs = env_observations(env, actor, max(b["dec_batch"], 1000))
    batch = obs[: b["dec_batch"]]
    plain = NumpyActor(actor.spec, actor.signature, batch_backend="numpy", compiled=False)
    backends: dict[str, Any] = {"numpy": plain}
    with contextlib.suppress(ImportError):
        backends["onnxruntime"] = NumpyActor(
            actor.spec, actor.signature, batch_backend="onnxruntime"
        )
    auto = NumpyActor(actor.spec, actor.signature, batch_backend="auto")
    ref = plain.decide_batch(batch)
    ref_act = plain.act_batch(batch)
    auto_actions = auto.decide_batch(batch)  # "auto" picks its backend on this batch
    one_by_one = np.array([auto.decide(x) for x in batch[:512]])
    out: dict[str, Any] = {
        "single_us": time_single(auto.decide, obs, b["dec_single"])[0],
        "single_compiled": bool(auto.compiled),
        "numpy_single_us": time_single(plain.decide, obs, b["dec_single"])[0],
        "batch": len(batch),
        "auto_backend": auto.batch_backend_used,
        "identical": bool(
            np.array_equal(auto_actions, ref) and np.array_equal(one_by_one, ref[:512])
        ),
        "backends": [],
    }
    for name, a in backends.items():
        acts = a.act_batch(batch)
        out["backends"].append(
            {"backend": name, "batch_ms": time_batch(a.decide_batch, batch, b["dec_repeats"]),
             "identical": bool(np.array_equal(a.decide_batch(batch), ref)
                               and np.array_equal(acts, ref_act)),
             "act_max_diff": float(np.max(np.abs(acts - ref_act)))}
        )  # fmt: skip
    print(f"  fast actor: decide {out['single_us']:.2f} µs; auto -> {out['auto_backend']}; "
          + ", ".join(f"{r['backend']} {r['batch_ms']:.3f} ms" for r in out["backends"]),
          flush=True)  # fmt: skip
    return out


# ------------------------------------------------------------------ all of them
def speed_targets(
    quick: bool = False,
    skip: Sequence[str] = (),
    command: str = "",
    seed: int = 0,
    iorlo_baseline: str | None = "default",
) -> dict[str, Any]:
    """Measure every target of ``targets.json`` (groups in ``skip`` left out), sequentially
    in this process (one torch and BLAS thread). Returns ``{"measured": {group: data},
    "seconds": {group: wall s}, "budget", "quick", "skip", "command", "clock", "meta"
    (:func:`.measure.machine_info`), "oracle_backend", "host_probe" (:func:`host_probe` at
    the start and the end)}``; :func:`report.derive.speed_target_rows` reads it."""
    import torch

    from envs.model import kernels

    from .measure import machine_info

    unknown = set(skip) - set(GROUPS)
    if unknown:
        raise ValueError(f"unknown groups {sorted(unknown)}; choose from {GROUPS}")
    torch.set_num_threads(1)
    b = BUDGETS["quick" if quick else "full"]
    config: list[str] = []  # the default baseline's IoRLO+ configuration (like for like)
    if iorlo_baseline == "default":
        targets = load_targets()
        iorlo_baseline = targets["iorlo_plus_baseline_ref"]
        config = targets["iorlo_plus_baseline_config"]
    measured: dict[str, Any] = {}
    seconds: dict[str, float] = {}

    def decisions() -> dict[str, Any]:
        # a briefly trained IoRLO+ actor (untimed): decision time does not depend on training
        agent, env = iorlo_training(400, seed, learning_starts=200)[1:]
        return decision_speed(agent.fast_actor(), env, b)

    steps: dict[str, Callable[[], Any]] = {
        "oracle": lambda: oracle_rows(b), "vector": lambda: vector_rows(b),
        "single": lambda: single_rows(b), "iorlo": lambda: train_py_speed(b["iorlo_frames"], seed, iorlo_baseline, b["iorlo_pairs"], config), "drlos": lambda: drlos_speed(b),
        "rllib": lambda: rllib_speed(b), "decisions": decisions,
    }  # fmt: skip
    probe = {"start": host_probe(b["probe_blocks"])}
    with thread_clock() as clock:
        for group in GROUPS:
            if group in skip:
                continue
            print(f"[speed targets] {group}", flush=True)
            t0 = time.perf_counter()
            measured[group] = steps[group]()
            seconds[group] = time.perf_counter() - t0
    probe["end"] = host_probe(b["probe_blocks"])
    return {
        "measured": measured, "seconds": seconds, "budget": b, "quick": quick,
        "skip": [g for g in GROUPS if g in skip], "command": command, "clock": clock,
        "meta": machine_info(), "oracle_backend": kernels.BACKEND, "host_probe": probe,
    }  # fmt: skip
