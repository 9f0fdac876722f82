"""The measurements of each section of ``docs/results.md`` (run by :mod:`.measure`).

Every function returns plain rows (lists of dicts of str/int/float, JSON-serialisable) so
the driver can write them to CSV/JSON and render tables and figures from them. Timing
functions run sequentially in this process (the machine has 2 cores: parallel timings would
disturb each other). Sections:

1. speed: :func:`env_speed` (single/vector env steps/s, via ``bench_envs``),
   :func:`oracle_speed` (DP oracle scalar and batched vs brute force),
   :func:`decision_latency` (NumpyActor vs torch vs SB3 predict, via ``bench_decisions``),
   :func:`policy_decision_times` (every baseline's ``act`` on one observation);
2. reproduction of Ren et al. Sec. 5: :func:`train_partition_agent` (IoRLO / IoRLO+ with
   a gap curve on fixed evaluation episodes) and :func:`evaluate_methods` (every method on
   the same frames of the native vector env);
3. DRLoS (Huang et al. Sec. 4.5): :func:`drlos_section` (``bench_drlos --replot``);
4. robustness: :func:`trace_specs`, :func:`robustness` (trained actors on trace replay);
5. scaling: :func:`rllib_scaling` (RLlib PPO samples/s vs env runners).
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from atomic_io import display_path

import envs  # noqa: F401  (registers the env ids)
from agents.common.evaluation import (
    DEFAULT_EVAL_SEEDS,
    evaluate_partition,
    evaluate_policy,
    time_decisions,
)
from agents.iorlo import IoRLO, IoRLOPlus
from agents.loading import load_actor
from agents.partition_policies import make_partition_policy
from envs.model.dp import brute_force
from envs.partition import D2DPartitionEnv, MECPartitionEnv
from envs.partition.vector import D2DPartitionVectorEnv, MECPartitionVectorEnv
from envs.traces import read_lumos5g, read_mmwave_list

ENV_IDS = {"mec": "EdgeRL/MECPartition-v0", "d2d": "EdgeRL/D2DPartition-v0"}
SINGLE = {"mec": MECPartitionEnv, "d2d": D2DPartitionEnv}
VECTOR = {"mec": MECPartitionVectorEnv, "d2d": D2DPartitionVectorEnv}
AGENTS = {"iorlo": IoRLO, "iorlo_plus": IoRLOPlus}
GAP_TARGET = 3.0  # percent, the "3% gap"


# ------------------------------------------------------------------------------ 1. speed
def env_speed(
    num_envs: Sequence[int], single_steps: int, repeats: int, dnn: str = "resnet32"
) -> list[dict[str, Any]]:
    """Env steps/s of the single env (raw class, ``gym.make``) and the native vector env,
    with and without the per-step oracle (``bench_envs`` functions; best of ``repeats``)."""
    from bench_envs import bench_single, bench_vector

    rows: list[dict[str, Any]] = []
    for scenario in ("mec", "d2d"):
        for oracle in (False, True):
            for kind, env in (
                ("single (raw class)", SINGLE[scenario](dnn=dnn, oracle=oracle)),
                ("single (gym.make)", gym.make(ENV_IDS[scenario], dnn=dnn, oracle=oracle)),
            ):
                rate = bench_single(env, single_steps, repeats)
                rows.append(_speed_row(scenario, kind, oracle, 1, rate))
        for oracle in (False, True):
            for num in num_envs:
                steps = max(10, int(min(40_000 / num, 3000) * single_steps / 10_000))
                env = VECTOR[scenario](num_envs=num, dnn=dnn, oracle=oracle)
                rate = bench_vector(env, steps, repeats)
                rows.append(_speed_row(scenario, "vector", oracle, num, rate))
    return rows


def _speed_row(scenario: str, kind: str, oracle: bool, num: int, rate: float) -> dict[str, Any]:
    print(
        f"  env speed {scenario} {kind} oracle={oracle} num_envs={num}: {rate:,.0f}/s", flush=True
    )
    return {
        "scenario": scenario,
        "kind": kind,
        "oracle": oracle,
        "num_envs": num,
        "steps_per_s": rate,
    }


def _frames(scenario: str, dnn: str, count: int, seed: int = 0) -> tuple[Any, list[Any]]:
    """``count`` consecutive frames (``PartitionProblem``) of a single env."""
    env = SINGLE[scenario](dnn=dnn, oracle=False)
    env.reset(seed=seed)
    action = np.full(env.n_blocks, 0.5, dtype=np.float32)
    problems = []
    for _ in range(count):
        problems.append(env.problem)
        env.step(action)
    return env, problems


def oracle_speed(
    dnns: Sequence[str],
    instances: int,
    batch: int,
    batch_repeats: int,
    brute_instances: int,
    brute_max_decisions: int = 2**17,
) -> list[dict[str, Any]]:
    """DP oracle time per instance (scalar ``Oracle.solve``; batched ``Oracle.solve_batch`` on
    ``batch`` states of the vector env) next to brute-force enumeration of all ``P^n``
    decisions (only where ``P^n <= brute_max_decisions``). Costs are cross-checked."""
    rows: list[dict[str, Any]] = []
    for scenario in ("mec", "d2d"):
        for dnn in dnns:
            env, problems = _frames(scenario, dnn, instances)
            oracle, kw = env.oracle, problems[0]._kw()
            P, n = env.num_platforms, env.n_blocks
            best = math.inf
            for _ in range(3):
                t0 = time.perf_counter()
                for p in problems:
                    oracle.solve(p.links, p.slowdown, **kw)
                best = min(best, time.perf_counter() - t0)
            scalar_us = best / len(problems) * 1e6

            venv = VECTOR[scenario](num_envs=batch, dnn=dnn, oracle=False)
            venv.reset(seed=0)
            bp = venv.problem
            oracle.solve_batch(bp.links, bp.slowdown, **kw)  # warm-up
            times = []
            for _ in range(batch_repeats):
                t0 = time.perf_counter()
                _, bcost = oracle.solve_batch(bp.links, bp.slowdown, **kw)
                times.append(time.perf_counter() - t0)
            batch_us = float(np.median(times)) / batch * 1e6
            # batched == scalar on a few rows
            for i in range(min(5, batch)):
                links_i = type(bp.links)(*(np.asarray(m)[i] for m in bp.links))
                c = oracle.solve(links_i, np.asarray(bp.slowdown)[i], **kw)[1]
                if not math.isclose(c, float(bcost[i]), rel_tol=1e-9):
                    raise AssertionError(f"{scenario}/{dnn}: batched oracle {bcost[i]} != {c}")

            decisions = P**n
            brute_ms, brute_ok = float("nan"), None
            if decisions <= brute_max_decisions and brute_instances > 0:
                brute_ok, t_total = True, 0.0
                for p in problems[:brute_instances]:
                    t0 = time.perf_counter()
                    _, bc = brute_force(
                        env.cost_model, p.links, p.slowdown, max_decisions=brute_max_decisions, **kw
                    )
                    t_total += time.perf_counter() - t0
                    dc = oracle.solve(p.links, p.slowdown, **kw)[1]
                    brute_ok &= math.isclose(bc, dc, rel_tol=1e-9)
                brute_ms = t_total / min(brute_instances, len(problems)) * 1e3
            row = {
                "scenario": scenario,
                "dnn": dnn,
                "blocks": n,
                "decisions": decisions,
                "scalar_us": scalar_us,
                "batch": batch,
                "batch_us_per_instance": batch_us,
                "brute_ms": brute_ms,
                "brute_matches_dp": brute_ok,
                "brute_over_dp": brute_ms * 1e3 / scalar_us
                if math.isfinite(brute_ms)
                else math.nan,
            }
            print(
                f"  oracle {scenario}/{dnn} (n={n}): scalar {scalar_us:.1f} µs, batched "
                f"{batch_us:.2f} µs/inst, brute force {brute_ms:.1f} ms",
                flush=True,
            )
            rows.append(row)
    return rows


def decision_latency(
    checkpoint: Path, scenario: str, dnn: str, single: int, batch: int, repeats: int
) -> list[dict[str, Any]]:
    """``bench_decisions.decision_rows`` on a trained checkpoint (NumpyActor, torch,
    TorchScript, SB3 TD3/DDPG ``predict`` with the same [50] architecture)."""
    from bench_decisions import decision_rows, env_observations

    env = gym.make(ENV_IDS[scenario], dnn=dnn)
    actor = load_actor(checkpoint, env=env)
    obs = env_observations(env, actor, max(batch, 1000))
    rows = decision_rows(actor, env, obs, single=single, batch=batch, repeats=repeats)
    for r in rows:
        print(f"  decision {r['method']}: {r['single_median_us']:.2f} µs", flush=True)
    return rows


def policy_decision_times(
    scenario: str, dnn: str, names: Sequence[str], actors: dict[str, Path], steps: int
) -> list[dict[str, Any]]:
    """Median µs of ``act(obs)`` on one observation
    (``agents.common.evaluation.time_decisions``) for every named baseline and loaded actor,
    in the env (the oracle/rules read the frame)."""
    rows = []
    for name in [*names, *actors]:
        env = gym.make(ENV_IDS[scenario], dnn=dnn, oracle=False)
        env.reset(seed=0)
        if name in actors:
            policy = load_actor(actors[name], env=env)
        else:
            policy = make_partition_policy(name, env, **({"seed": 0} if name == "random" else {}))
        us = time_decisions(policy, env, steps, seed=0)
        rows.append({"scenario": scenario, "dnn": dnn, "policy": name, "decision_us": us})
    return rows


# -------------------------------------------------------------- 2. training and evaluation
def eval_schedule(
    total: int, fine_until: int = 5000, fine: int = 250, coarse: int = 1000
) -> list[int]:
    """Evaluation points: every ``fine`` steps up to ``fine_until``, then every ``coarse``."""
    pts = list(range(fine, min(total, fine_until) + 1, fine))
    pts += list(range((fine_until // coarse + 1) * coarse, total + 1, coarse))
    if not pts or pts[-1] != total:
        pts.append(total)
    return sorted(set(pts))


def train_partition_agent(
    scenario: str,
    dnn: str,
    agent: str,
    steps: int,
    seed: int,
    checkpoint: Path,
    env_kw: dict[str, Any] | None = None,
    eval_seeds: Sequence[int] = DEFAULT_EVAL_SEEDS,
) -> dict[str, Any]:
    """Train IoRLO / IoRLO+ for ``steps`` env steps, evaluating the deterministic actor
    (``NumpyActor``) on ``eval_seeds`` (10 x 100 frames) at step 0 and on
    :func:`eval_schedule`. Training wall-clock excludes the evaluations (``learn`` is called
    in chunks; it continues the step count, so the run equals one ``learn(steps)`` call).
    Saves the checkpoint; returns the gap curve and the first step/wall-clock at which the
    mean gap is <= 3% (and from which it stays <= 3%)."""
    env_kw = env_kw or {}
    env = gym.make(ENV_IDS[scenario], dnn=dnn, **env_kw)
    ev = gym.make(ENV_IDS[scenario], dnn=dnn, **env_kw)
    a = AGENTS[agent](env, seed=seed)

    def gap() -> float:
        return 100.0 * evaluate_policy(a.fast_actor().act, ev, eval_seeds)["gap"]

    curve = [{"step": 0, "wall_s": 0.0, "gap": gap()}]
    wall = 0.0
    for target in eval_schedule(steps):
        t0 = time.perf_counter()
        a.learn(target - a.global_step)
        wall += time.perf_counter() - t0
        curve.append({"step": int(a.global_step), "wall_s": wall, "gap": gap()})
    a.save(checkpoint)
    first = next((c for c in curve if c["gap"] <= GAP_TARGET), None)
    stay = None
    for i in range(len(curve)):
        if all(c["gap"] <= GAP_TARGET for c in curve[i:]):
            stay = curve[i]
            break
    res = {
        "scenario": scenario,
        "dnn": dnn,
        "agent": agent,
        "seed": seed,
        "steps": steps,
        "train_s": wall,
        "sps": steps / wall if wall > 0 else math.nan,
        "gap_initial": curve[0]["gap"],
        "gap_final": curve[-1]["gap"],
        "gap_best": min(c["gap"] for c in curve),
        "first_step": first["step"] if first else None,
        "first_wall_s": first["wall_s"] if first else None,
        "stay_step": stay["step"] if stay else None,
        "stay_wall_s": stay["wall_s"] if stay else None,
        "checkpoint": str(checkpoint),
        "curve": curve,
    }
    print(
        f"  trained {agent} {scenario}/{dnn} {steps} steps in {wall:.1f} s: gap "
        f"{res['gap_initial']:.2f}% -> {res['gap_final']:.2f}%",
        flush=True,
    )
    return res


def evaluate_methods(
    scenario: str,
    dnn: str,
    methods: Sequence[str],
    actors: dict[str, Path],
    episodes: int,
    seed: int,
    env_kw: dict[str, Any] | None = None,
    setting: str = "",
) -> list[dict[str, Any]]:
    """Every method on the same frames: ``episodes`` copies of the native vector env reset
    with ``seed`` (``agents.common.evaluation.evaluate_partition``; the frames do not depend
    on the actions). Trained actors are loaded from their checkpoints (``agents.load_actor``)."""
    env_kw = env_kw or {}
    rows = []
    for name in [*methods, *actors]:
        # gym.make_vec (not the class): its spec id is what the checkpoint signature records
        venv = gym.make_vec(ENV_IDS[scenario], num_envs=episodes, dnn=dnn, **env_kw)
        if name in actors:
            with warnings.catch_warnings():  # e.g. an actor trained on Co-H evaluated on Co-L
                warnings.simplefilter("ignore", UserWarning)
                policy = load_actor(actors[name], env=venv)
            kind = "trained"
        else:
            policy = make_partition_policy(name, venv, **({"seed": 0} if name == "random" else {}))
            kind = "oracle" if name == "oracle" else "heuristic"
        res = evaluate_partition(policy, venv, seed, name=name, kind=kind).summary()
        res.update({"scenario": scenario, "dnn": dnn, "setting": setting, "method": name})
        res.pop("agent", None)
        res.pop("decision_ms", None)
        rows.append(res)
    return rows


# ------------------------------------------------------------------------------ 3. DRLoS
def drlos_section(drlos_dir: Path, fig_dir: Path, quick: bool, csv_dir: Path) -> dict[str, Any]:
    """DRLoS vs Q-learning and heuristics (``bench_drlos``). With the CSVs of a previous
    sweep in ``drlos_dir``: ``--replot`` (no training; figures to ``fig_dir``). Without:
    train at load 0.8 only (full: the script's default budget; quick: a 2-iteration smoke run)
    into ``csv_dir``."""
    import bench_drlos

    have = (drlos_dir / "drlos_results.csv").exists() and (drlos_dir / "drlos_curves.csv").exists()
    if have:
        argv = ["--replot", "--out", str(drlos_dir), "--fig-dir", str(fig_dir)]
        source = "replot"
    else:
        drlos_dir = csv_dir
        argv = ["--loads", "0.8", "--out", str(drlos_dir), "--fig-dir", str(fig_dir)]
        if quick:
            argv += [
                "--lambda-waits",
                "0.0",
                "--iterations",
                "2",
                "--n-rollouts",
                "2",
                "--episodes",
                "1",
                "--eval-every",
                "1",
            ]
        source = "run"
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        bench_drlos.main(argv)
    wall = time.perf_counter() - t0
    results = bench_drlos.read_results(drlos_dir)
    mtime = os.path.getmtime(drlos_dir / "drlos_results.csv")
    rows = []
    for cell in results:
        for r in cell["rows"]:
            rows.append({"lambda_wait": cell["lambda_wait"], "load": cell["load"], **r})
    curves = [
        {"lambda_wait": c["lambda_wait"], "load": c["load"], **cur}
        for c in results
        for cur in c["curve"]
    ]
    train_s = {(c["lambda_wait"], c["load"]): c["timing"] for c in results}
    convergence = []
    for c in results:  # training-variance trend at the convergence load (0.8)
        cur = sorted(c["curve"], key=lambda x: x["iteration"])
        if abs(c["load"] - 0.8) > 1e-9 or len(cur) < 3:
            continue
        k = max(1, min(10, len(cur) // 3))
        mid = (len(cur) - k) // 2
        windows = {"first": cur[:k], "mid": cur[mid : mid + k], "last": cur[-k:]}
        row = {"lambda_wait": c["lambda_wait"], "load": c["load"]}
        for name, w in windows.items():
            row[name] = float(np.mean([x["train_variance"] for x in w]))
            row[f"{name}_from"], row[f"{name}_to"] = int(w[0]["iteration"]), int(w[-1]["iteration"])
        convergence.append(row)
    shown = [display_path(a) if a.startswith("/") else a for a in argv]
    return {
        "source": source,
        "argv": shown,
        "dir": display_path(drlos_dir),
        "csv_mtime": time.strftime("%Y-%m-%d %H:%M", time.localtime(mtime)),
        "wall_s": wall,
        "rows": rows,
        "iterations": max((int(c["iteration"]) for c in curves), default=0),
        "train_s_total": sum(sum(t.values()) for t in train_s.values()),
        "convergence": sorted(convergence, key=lambda r: r["lambda_wait"]),
        # bench_drlos draws the load sweep only with two or more loads
        "figures": ["drlos_convergence.png"]
        + (["drlos_loads.png"] if len({c["load"] for c in results}) > 1 else []),
    }


# -------------------------------------------------------------------------- 4. robustness
def data_dir() -> Path:
    """``$EDGERL_DATA`` or ``../shared/data`` relative to the repository root."""
    env = os.environ.get("EDGERL_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared" / "data"


# (label, technology, Lumos5G downlink file, 5G-MeMU uplink file, 5G-MeMU ping file)
TRACES: tuple[tuple[str, str, str, str, str], ...] = (
    (
        "5G walk 100",
        "5G",
        "5G/5g_trace_100_walking",
        "walking/5g/away.list",
        "walking/5g/away.list",
    ),
    (
        "5G walk 101",
        "5G",
        "5G/5g_trace_101_walking",
        "walking/5g/toward.list",
        "walking/5g/toward.list",
    ),
    (
        "5G drive 103",
        "5G",
        "5G/5g_trace_103_driving",
        "driving/5g/throughput.list",
        "driving/5g/ping.list",
    ),
    (
        "4G walk 50007",
        "4G",
        "4G/4g_trace_walking_50007_c",
        "walking/lte/away.list",
        "walking/lte/away.list",
    ),
    (
        "4G walk 50008",
        "4G",
        "4G/4g_trace_walking_50008_a",
        "walking/lte/toward.list",
        "walking/lte/toward.list",
    ),
    (
        "4G drive 50015",
        "4G",
        "4G/4g_trace_driving_50015_dr",
        "driving/lte/throughput.list",
        "driving/lte/ping.list",
    ),
)


def trace_specs(root: Path, labels: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Network specs per trace and variant: ``down`` replays the Lumos5G downlink as
    ``b_te_down`` (other fields: the 5g_trial generator); ``te`` also replays the TE uplink
    and RTT from the 5G-MeMU mmWave/LTE uplink data of the same technology and mobility."""
    out = []
    lumos, memu = root / "traces" / "lumos5g", root / "traces" / "mmwave_uplink"
    for label, tech, down, up, ping in TRACES:
        if labels is not None and label not in labels:
            continue
        d, u, p = lumos / down, memu / "throughput" / up, memu / "ping" / ping
        stats = {
            "down_mbps": float(np.mean(read_lumos5g(d).values)),
            "up_mbps": float(np.mean(read_mmwave_list(u, unit="Mbps").values)),
            "rtt_ms": float(np.median(read_mmwave_list(p, unit="ms").values)),
            "rtt_p95_ms": float(np.percentile(read_mmwave_list(p, unit="ms").values, 95)),
        }
        files = {
            "down": f"lumos5g/{down}",
            "up": f"mmwave_uplink/throughput/{up}",
            "ping": f"mmwave_uplink/ping/{ping}",
        }
        out.append(
            {
                "trace": label,
                "tech": tech,
                "variant": "down",
                "files": files,
                **stats,
                "spec": {"type": "trace", "b_te_down": str(d)},
            }
        )
        out.append(
            {
                "trace": label,
                "tech": tech,
                "variant": "te",
                "files": files,
                **stats,
                "spec": {"type": "trace", "b_te_down": str(d), "b_te_up": str(u), "l_te": str(p)},
            }
        )
    return out


def robustness(
    dnns: Sequence[str],
    specs: Sequence[dict[str, Any]],
    actors: dict[str, dict[str, Path]],
    methods: Sequence[str],
    episodes: int,
    seed: int,
) -> list[dict[str, Any]]:
    """Trained actors (``actors[dnn][name]``, trained on 5g_trial) and the baselines on
    trace replay, on the same frames; one row per (dnn, trace, variant, method)."""
    rows = []
    for dnn in dnns:
        for s in specs:
            res = evaluate_methods(
                "mec",
                dnn,
                methods,
                actors.get(dnn, {}),
                episodes,
                seed,
                env_kw={"network": s["spec"]},
                setting=f"{s['trace']} [{s['variant']}]",
            )
            for r in res:
                r.update({"trace": s["trace"], "tech": s["tech"], "variant": s["variant"]})
            rows += res
            gaps = {r["method"]: r["gap_mean"] for r in res}
            print(
                f"  robustness {dnn} {s['trace']} [{s['variant']}]: "
                + ", ".join(f"{k} {v:.1f}%" for k, v in gaps.items()),
                flush=True,
            )
    return rows


# ------------------------------------------------------------------------------ 5. RLlib
def rllib_scaling(
    runners: Sequence[int],
    iterations: int,
    warmup: int,
    num_cpus: int,
    dnn: str = "resnet32",
    train_batch: int = 4000,
    num_epochs: int = 30,
    minibatch: int = 128,
) -> list[dict[str, Any]]:
    """RLlib PPO (new API stack, discrete MEC env, the pipeline's ``rllib_ppo`` defaults
    unless overridden) with ``num_env_runners`` in ``runners``: ``warmup`` untimed then
    ``iterations`` timed ``algo.train()`` calls each. Reports env steps per second of the
    whole iteration (sampling + learner update) and of sampling alone (RLlib's
    ``env_runner_sampling_timer``)."""
    os.environ["RAY_AUTH_MODE"] = "disabled"
    import ray
    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.tune.registry import register_env

    def creator(cfg: dict[str, Any]) -> Any:  # nested: pickled by value for the workers
        import importlib

        import gymnasium

        importlib.import_module("envs")  # registers the env ids in the worker process
        return gymnasium.make("EdgeRL/MECPartition-v0", dnn=cfg["dnn"], action_mode="discrete")

    register_env("edgerl-mec-report", creator)
    started = False
    if not ray.is_initialized():
        ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False)
        started = True
    rows = []
    try:
        for n in runners:
            config = (
                PPOConfig()
                .environment("edgerl-mec-report", env_config={"dnn": dnn})
                .framework("torch")
                .env_runners(num_env_runners=n, num_envs_per_env_runner=1)
                .learners(num_learners=0)
                .training(
                    lr=5e-5,
                    gamma=0.99,
                    train_batch_size_per_learner=train_batch,
                    minibatch_size=minibatch,
                    num_epochs=num_epochs,
                )
                .rl_module(model_config={"fcnet_hiddens": [256, 256], "fcnet_activation": "tanh"})
                .debugging(seed=0)
            )
            t0 = time.perf_counter()
            algo = config.build_algo()
            build_s = time.perf_counter() - t0
            for _ in range(warmup):
                algo.train()
            steps, wall, sampling, learner = 0, 0.0, 0.0, 0.0
            for _ in range(iterations):
                t0 = time.perf_counter()
                r = algo.train()
                wall += time.perf_counter() - t0
                steps += int(r["env_runners"]["num_env_steps_sampled"])
                sampling += float(r["timers"]["env_runner_sampling_timer"])
                learner += float(r["timers"]["learner_update_timer"])
            algo.stop()
            row = {
                "dnn": dnn,
                "num_env_runners": n,
                "iterations": iterations,
                "env_steps": steps,
                "iteration_s": wall / iterations,
                "samples_per_s": steps / wall,
                "sampling_s": sampling / iterations,
                "sampling_samples_per_s": steps / sampling if sampling > 0 else math.nan,
                "learner_s": learner / iterations,
                "build_s": build_s,
                "train_batch": train_batch,
                "num_epochs": num_epochs,
            }
            print(
                f"  rllib num_env_runners={n}: {row['samples_per_s']:.0f} samples/s "
                f"(sampling {row['sampling_samples_per_s']:.0f}/s)",
                flush=True,
            )
            rows.append(row)
    finally:
        if started:
            ray.shutdown()
    return rows


def timed(label: str, fn: Callable[[], Any], timings: dict[str, float]) -> Any:
    """Run ``fn`` and record its wall-clock under ``label``."""
    print(f"== {label}", flush=True)
    t0 = time.perf_counter()
    out = fn()
    timings[label] = time.perf_counter() - t0
    print(f"== {label}: {timings[label]:.0f} s", flush=True)
    return out
