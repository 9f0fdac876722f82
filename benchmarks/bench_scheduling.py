"""Benchmark of EdgeRL/EdgeScheduling-v0: simulator speed and the heuristic schedulers.

1. Steps per second at M = 500 (default config): raw ``env.step`` in both action modes with
   pre-drawn random actions, and least-loaded with the policy in the loop.
2. Each heuristic (closest, average, random, least-loaded; optionally Q-learning trained per
   load, on the reward with ``--lambda-wait``) across load levels ρ: mean per-step utilisation variance (the negated reward), mean
   task latency, throughput (completed tasks per second of simulated time), drops and
   forwarded tasks. All policies see the same task sets (``task_set_seed`` = seed + episode).

Writes ``scheduling_speed.csv``, ``scheduling_heuristics.csv`` and ``scheduling_heuristics.png``
to ``--out`` (atomically) and prints both tables.

``--queue-scaling`` measures only how the step time depends on the queue length: 5 servers
(5 × 500), M = 2000, load 1.3, no queue limit, random share actions (seeded), one episode
whose arrival window (``--queue-window`` slots) keeps the queue growing; it prints the mean
time per ``env.step`` in bins of the queue length at the start of the step and writes
``scheduling_queue_scaling.csv``. The step time should stay flat as the queue grows.

    .venv/bin/python benchmarks/bench_scheduling.py [--episodes 5] [--loads 0.1,0.5,1.3]
    .venv/bin/python benchmarks/bench_scheduling.py --queue-scaling [--queue-window 3000]
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
from atomic_io import save_png, write_csv

from agents.common.evaluation import evaluate, mean_metrics
from agents.qlearning import QLearningAgent
from agents.scheduling_baselines import SCHEDULING_POLICIES, make_scheduling_policy
from envs.scheduling import ENV_ID

DEFAULT_LOADS = ",".join(f"{x / 10:.1f}" for x in range(1, 14))
#: column -> episode metric (:class:`agents.common.evaluation.SchedulingEpisode`)
METRICS = {
    "variance": "variance", "latency_ms": "latency_mean_ms", "p95_latency_ms": "latency_p95_ms",
    "throughput_per_s": "throughput_per_s", "drop_pct": "dropped_pct",
    "forwarded_pct": "forwarded_pct", "steps": "steps",
}  # fmt: skip


def measure_speed(steps: int, seed: int) -> list[dict[str, Any]]:
    rows = []
    for mode in ("shares", "assign"):
        env = gymnasium.make(ENV_ID, action_mode=mode).unwrapped  # raw simulator speed
        env.action_space.seed(seed)
        actions = [env.action_space.sample() for _ in range(min(steps, 2000))]
        env.reset(seed=seed)
        done, n, t0 = False, 0, time.perf_counter()
        while n < steps:
            if done:
                env.reset()
            _, _, done, _, _ = env.step(actions[n % len(actions)])
            n += 1
        rows.append(
            {
                "case": f"env.step, {mode} mode, random actions",
                "steps_per_s": n / (time.perf_counter() - t0),
            }
        )
    env = gymnasium.make(ENV_ID, action_mode="assign")
    policy = make_scheduling_policy("least_loaded", env)
    obs, _ = env.reset(seed=seed)
    n, t0 = 0, time.perf_counter()
    while n < steps:
        obs, _, terminated, truncated, _ = env.step(policy.act(obs))
        n += 1
        if terminated or truncated:
            obs, _ = env.reset()
    rows.append(
        {"case": "least_loaded act + step (assign)", "steps_per_s": n / (time.perf_counter() - t0)}
    )
    return rows


QUEUE_BINS = (0, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000, 200_000, 500_000, 1_000_000)


def measure_queue_scaling(window_slots: int, seed: int) -> list[dict[str, Any]]:
    """Mean ``env.step`` time per bin of the queue length (5 × 500, M = 2000, ρ = 1.3)."""
    env = gymnasium.make(
        ENV_ID, num_servers=5, buffer_size=2000, load=1.3, queue_limit=None,
        num_users=10_000, window_slots=window_slots,
    ).unwrapped  # fmt: skip
    rng = np.random.default_rng(seed)
    actions = rng.integers(env.action_space.n, size=100_000)
    _, info = env.reset(seed=seed)
    queue, times = [], []  # queue length at the start of each step, its duration
    for a in actions.tolist():
        queue.append(info["waiting"])
        t0 = time.perf_counter()
        _, _, terminated, _, info = env.step(a)
        times.append(time.perf_counter() - t0)
        if terminated:
            break
    queue_arr, times_arr = np.asarray(queue), np.asarray(times)
    rows = []
    for lo, hi in itertools.pairwise(QUEUE_BINS):
        sel = (queue_arr >= lo) & (queue_arr < hi)
        if sel.sum() >= 5:
            rows.append(
                {
                    "queue_from": lo,
                    "queue_to": hi,
                    "steps": int(sel.sum()),
                    "ms_per_step": 1000.0 * float(np.mean(times_arr[sel])),
                    "median_ms_per_step": 1000.0 * float(np.median(times_arr[sel])),
                }
            )
    return rows


def run_policy(env: gymnasium.Env, act, episodes: int, seed: int) -> dict[str, float]:
    """Means over task sets ``seed + e`` (NaNs skipped: no latency without a placed task)."""
    return mean_metrics(evaluate(act, env, range(seed, seed + episodes)), METRICS)


def sweep(
    loads: list[float], episodes: int, seed: int, q_episodes: int, lambda_wait: float
) -> list[dict[str, Any]]:
    rows = []
    for load in loads:
        env = gymnasium.make(ENV_ID, action_mode="assign", load=load)
        for name in SCHEDULING_POLICIES:
            policy = make_scheduling_policy(
                name, env, **({"seed": seed} if name == "random" else {})
            )
            rows.append(
                {"load": load, "policy": name, **run_policy(env, policy.act, episodes, seed)}
            )
        if q_episodes:
            env_s = gymnasium.make(ENV_ID, action_mode="shares", load=load, lambda_wait=lambda_wait)
            agent = QLearningAgent(env_s)
            agent.train(env_s, q_episodes, seed=seed + 10_000)  # task sets apart from the test ones
            rows.append(
                {
                    "load": load,
                    "policy": "qlearning",
                    **run_policy(env_s, agent.act, episodes, seed),
                }
            )
    return rows


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [
        ("variance", "utilisation variance (per step)"),
        ("latency_ms", "mean latency (ms)"),
        ("throughput_per_s", "throughput (tasks/s)"),
    ]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    for ax, (key, label) in zip(axes, panels, strict=True):
        # Distinct markers and dashes: several heuristics overlap in latency and throughput.
        for i, name in enumerate(dict.fromkeys(r["policy"] for r in rows)):
            sel = [r for r in rows if r["policy"] == name]
            ax.plot(
                [r["load"] for r in sel], [r[key] for r in sel], label=name,
                marker="osD^v"[i % 5], linestyle=("-", "--", ":", "-.")[i % 4], alpha=0.85,
            )  # fmt: skip
        ax.set_xlabel("load ρ")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0].set_yscale("log")
    axes[1].legend()
    fig.suptitle("EdgeScheduling-v0: 3 × 500 slots, M = 500, home skew Zipf(1)")
    fig.tight_layout()
    save_png(fig, path, dpi=120)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--loads", default=DEFAULT_LOADS, help="comma-separated load levels ρ")
    p.add_argument("--episodes", type=int, default=5, help="task sets per (load, policy)")
    p.add_argument("--speed-steps", type=int, default=5000, help="steps per speed measurement")
    p.add_argument(
        "--qlearning-episodes", type=int, default=0, help="train Q-learning per load (0: skip)"
    )
    p.add_argument(
        "--lambda-wait", type=float, default=0.0,
        help="waiting penalty of the env Q-learning trains on (0 = the paper's reward)",
    )  # fmt: skip
    p.add_argument(
        "--queue-scaling", action="store_true",
        help="only measure the step time against the queue length (5 servers, M = 2000, ρ = 1.3)",
    )  # fmt: skip
    p.add_argument(
        "--queue-window", type=int, default=3000,
        help="arrival window (slots) of the --queue-scaling episode; longer = longer queue",
    )  # fmt: skip
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "out")
    args = p.parse_args(argv)
    if args.queue_scaling:
        if args.queue_window < 1:
            p.error("--queue-window must be >= 1")
        rows = measure_queue_scaling(args.queue_window, args.seed)
        print("Step time vs queue length (5 × 500, M = 2000, ρ = 1.3, no queue limit)")
        print(f"{'queue length':>16} {'steps':>6} {'mean ms':>8} {'median ms':>9}")
        for r in rows:
            print(
                f"{r['queue_from']:>7}-{r['queue_to']:<8} {r['steps']:6d} "
                f"{r['ms_per_step']:8.3f} {r['median_ms_per_step']:9.3f}"
            )
        write_csv(args.out / "scheduling_queue_scaling.csv", rows)
        print(f"\nwrote {args.out}/scheduling_queue_scaling.csv")
        return
    loads = [float(x) for x in args.loads.split(",") if x.strip()]
    if args.episodes < 1 or not loads:
        p.error("--episodes must be >= 1 and --loads non-empty")

    speed = measure_speed(args.speed_steps, args.seed)
    print("Simulator speed (M = 500, 3 servers × 500, ρ = 0.8)")
    for r in speed:
        print(f"  {r['case']:<42s} {r['steps_per_s']:9.0f} steps/s")
    write_csv(args.out / "scheduling_speed.csv", speed)

    t0 = time.perf_counter()
    rows = sweep(loads, args.episodes, args.seed, args.qlearning_episodes, args.lambda_wait)
    print(f"\nHeuristics, {args.episodes} task sets per cell ({time.perf_counter() - t0:.1f} s)")
    header = f"{'load':>5} {'policy':<13} {'variance':>9} {'lat ms':>7} {'p95 ms':>7} {'tasks/s':>8} {'drop %':>7} {'fwd %':>6} {'steps':>6}"
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r['load']:5.1f} {r['policy']:<13} {r['variance']:9.5f} {r['latency_ms']:7.1f} "
            f"{r['p95_latency_ms']:7.1f} {r['throughput_per_s']:8.0f} {r['drop_pct']:7.2f} "
            f"{r['forwarded_pct']:6.1f} {r['steps']:6.0f}"
        )
    write_csv(args.out / "scheduling_heuristics.csv", rows)
    plot(rows, args.out / "scheduling_heuristics.png")
    print(
        f"\nwrote {args.out}/scheduling_speed.csv, scheduling_heuristics.csv, scheduling_heuristics.png"
    )


if __name__ == "__main__":
    main()
