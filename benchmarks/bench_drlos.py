"""Benchmark of DRLoS (Huang et al. Sec. 4.5) against Q-learning and the heuristic schedulers.

For each waiting penalty λ_wait (``--lambda-waits``; 0 is the paper's reward) and load level
ρ (``--loads``), trains on ``EdgeRL/EdgeScheduling-v0`` (defaults: 3 × 500 slots, M = 500):

- DRLoS (``agents.drlos``): ``--iterations`` iterations of N = ``--n-rollouts`` episodes;
- tabular Q-learning (``agents.qlearning``) on the same number of episodes
  (``iterations × n_rollouts`` unless ``--qlearning-episodes``), so both see as many env steps;

then evaluates, on the same held-out task sets (``task_set_seed = seed + 1000 + e``), DRLoS
greedy (argmax, the fast actor) and sampled (the paper's stochastic policy), Q-learning
(greedy), a uniformly random share action (``random_share``: DRLoS's untrained starting
point), and the per-task heuristics closest / average / random / least_loaded (assign mode).
Metrics per cell: mean per-step utilisation variance (the paper's objective), mean and p95
task latency, drops and forwarded tasks (% of the task set), episode return under the
env's reward (with that λ_wait), steps.

Writes to ``--out`` (atomically): ``drlos_results.csv`` (the table), ``drlos_curves.csv``
(per-iteration training return / variance and periodic greedy evaluation),
``drlos_convergence.png`` (mean return and variance vs iteration at ``--curve-load``, with
the baselines as horizontal lines) and, with several loads, ``drlos_loads.png`` (variance
and latency vs load; both PNGs to ``--fig-dir`` when given); prints the table. ``--replot``
redraws from the CSVs already in ``--out`` without training.

``--speed`` only times DRLoS training (no Q-learning, no evaluation): ``--iterations``
iterations at each (λ_wait, ρ) with the default env (3 × 500, M = 500) and
``--n-rollouts``; prints iterations/s, env steps/s and a checksum of the trained weights
(equal checksums: the same training result).

    .venv/bin/python benchmarks/bench_drlos.py                       # ρ = 0.8, both λ_wait
    .venv/bin/python benchmarks/bench_drlos.py --speed --iterations 20 --lambda-waits 0.01
    .venv/bin/python benchmarks/bench_drlos.py --workers 2 \\
        --loads 0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,1.0,1.1,1.2,1.3
"""

from __future__ import annotations

import argparse
import csv
import multiprocessing as mp
import time
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
import torch
from atomic_io import save_png, write_csv

from agents.common.evaluation import FnPolicy, evaluate, mean_metrics
from agents.drlos import DRLoS
from agents.qlearning import QLearningAgent
from agents.scheduling_baselines import SCHEDULING_POLICIES, make_scheduling_policy
from envs.scheduling import ENV_ID

ALL_LOADS = ",".join(f"{x / 10:.1f}" for x in range(1, 14))
#: column -> episode metric (:class:`agents.common.evaluation.SchedulingEpisode`)
METRICS = {
    "variance": "variance", "latency_ms": "latency_mean_ms", "p95_latency_ms": "latency_p95_ms",
    "drop_pct": "dropped_pct", "forwarded_pct": "forwarded_pct", "return": "episodic_return",
    "steps": "steps",
}  # fmt: skip
POLICY_ORDER = (
    "drlos",
    "drlos_sampled",
    "qlearning",
    "random_share",
    "closest",
    "average",
    "random",
    "least_loaded",
    "latency_greedy",
)


def run_policy(env: gymnasium.Env, policy: Any, seeds: list[int]) -> dict[str, float]:
    """Metrics of ``policy`` (``act``, or an object with ``act`` and ``reset``) over one
    episode per task set: means over the episodes, NaNs skipped (no placed task: no latency)."""
    return mean_metrics(evaluate(policy, env, seeds), METRICS)


def run_cell(task: dict[str, Any]) -> dict[str, Any]:
    """Train DRLoS and Q-learning at one (λ_wait, ρ) and evaluate everything there."""
    torch.set_num_threads(1)
    lw, load, seed = task["lambda_wait"], task["load"], task["seed"]
    eval_seeds = [seed + 1000 + e for e in range(task["episodes"])]
    env_s = gymnasium.make(ENV_ID, load=load, lambda_wait=lw)
    env_a = gymnasium.make(ENV_ID, load=load, lambda_wait=lw, action_mode="assign")
    rows, timing = [], {}

    t0 = time.perf_counter()
    agent = DRLoS(env_s, lr=task["lr"], n_rollouts=task["n_rollouts"], seed=seed)
    agent.learn(task["iterations"], eval_every=task["eval_every"], eval_task_sets=eval_seeds)
    timing["drlos_train_s"] = time.perf_counter() - t0
    if task.get("checkpoint_dir"):
        agent.save(Path(task["checkpoint_dir"]) / f"drlos_lw{lw:g}_load{load:g}.pt")
    actor = agent.fast_actor()
    rows.append({"policy": "drlos", **run_policy(env_s, actor.act, eval_seeds)})
    gen = torch.Generator()
    rows.append(
        {
            "policy": "drlos_sampled",
            **run_policy(
                env_s,
                FnPolicy(
                    lambda o: agent.predict(o, deterministic=False, generator=gen),
                    reset=lambda: gen.manual_seed(seed),
                ),
                eval_seeds,
            ),
        }
    )

    t0 = time.perf_counter()
    q = QLearningAgent(env_s)
    q_episodes = task["qlearning_episodes"] or task["iterations"] * task["n_rollouts"]
    q.train(env_s, q_episodes, seed=seed + 10_000)
    timing["qlearning_train_s"] = time.perf_counter() - t0
    rows.append({"policy": "qlearning", **run_policy(env_s, q.act, eval_seeds)})

    rng = np.random.default_rng(seed)
    n_actions = int(env_s.action_space.n)
    rows.append(
        {
            "policy": "random_share",
            **run_policy(env_s, lambda o: int(rng.integers(n_actions)), eval_seeds),
        }
    )
    for name in SCHEDULING_POLICIES:
        policy = make_scheduling_policy(name, env_a, **({"seed": seed} if name == "random" else {}))
        rows.append({"policy": name, **run_policy(env_a, policy, eval_seeds)})
    print(
        f"  cell λ_wait={lw:g} ρ={load:g}: DRLoS {timing['drlos_train_s']:.0f} s, "
        f"Q-learning {timing['qlearning_train_s']:.0f} s",
        flush=True,
    )
    curve = [
        {
            "lambda_wait": lw,
            "load": load,
            "iteration": int(h["iteration"]),
            "timesteps": int(h["timesteps"]),
            "train_return": h["episodic_return"],
            "train_variance": h["cost"],
            "entropy": h["entropy"],
            "eval_variance": h.get("eval/cost", float("nan")),
            "eval_return": h.get("eval/episodic_return", float("nan")),
        }
        for h in agent.history
    ]
    return {"rows": rows, "curve": curve, "timing": timing, "lambda_wait": lw, "load": load}


def measure_speed(
    loads: list[float], lws: list[float], iterations: int, n_rollouts: int, lr: float, seed: int
) -> list[dict[str, Any]]:
    """DRLoS training speed per (λ_wait, ρ): iterations/s, env steps/s, weight checksum."""
    rows = []
    for lw in lws:
        for load in loads:
            env = gymnasium.make(ENV_ID, load=load, lambda_wait=lw)
            agent = DRLoS(env, lr=lr, n_rollouts=n_rollouts, seed=seed)
            agent.learn(1)  # warm-up: builds the rollout envs, first task set
            t0 = time.perf_counter()
            agent.learn(iterations)
            dt = time.perf_counter() - t0
            steps = agent.num_timesteps - agent.history[0]["timesteps"]
            weights = torch.cat([p.detach().flatten() for p in agent.policy.parameters()])
            rows.append(
                {
                    "lambda_wait": lw,
                    "load": load,
                    "iterations": iterations,
                    "n_rollouts": n_rollouts,
                    "seconds": dt,
                    "iterations_per_s": iterations / dt,
                    "env_steps_per_s": steps / dt,
                    "weights_checksum": float(weights.double().sum()),
                    "final_return": agent.history[-1]["episodic_return"],
                }
            )
            r = rows[-1]
            print(
                f"λ_wait={lw:g} ρ={load:g}: {iterations} iterations × N={n_rollouts} in "
                f"{dt:.2f} s = {r['iterations_per_s']:.2f} it/s, "
                f"{r['env_steps_per_s']:.0f} env steps/s; weights checksum "
                f"{r['weights_checksum']:.10f}, last return {r['final_return']:.6f}",
                flush=True,
            )
    return rows


def rollout_speed(
    iterations: int, n_rollouts: int = 20, load: float = 0.8, lw: float = 0.0, seed: int = 0
) -> dict[str, Any]:
    """DRLoS iterations/s with the N rollouts of a task set stepped as one batch (the
    N-copy vector env, as ``DRLoS.collect``) vs one episode at a time (N calls of
    :func:`~agents.drlos.rollout.collect_rollouts` on a 1-copy vector env): this thread's
    CPU time per iteration = the rollouts + one update (``DRLoS.update`` of the batched
    rollouts, the same for both), mean over ``iterations`` task sets."""
    from agents.drlos.rollout import collect_rollouts, make_rollout_envs

    env = gymnasium.make(ENV_ID, load=load, lambda_wait=lw)
    agent = DRLoS(env, n_rollouts=n_rollouts, seed=seed)
    agent.learn(1)  # warm-up: builds the rollout envs
    one = make_rollout_envs(env, 1)
    gen = torch.Generator().manual_seed(seed)
    t_batch = t_one = t_update = 0.0
    steps = 0
    for it in range(iterations):
        k = seed + 1 + it
        t0 = time.thread_time()
        batch = agent.collect(k)
        t1 = time.thread_time()
        agent.update(batch)
        t2 = time.thread_time()
        for _ in range(n_rollouts):
            collect_rollouts(one, agent.policy, [k], max_steps=agent.max_steps, generator=gen)
        t3 = time.thread_time()
        t_batch, t_update, t_one = t_batch + t1 - t0, t_update + t2 - t1, t_one + t3 - t2
        steps += int(batch.lengths.sum())
    batched = iterations / (t_batch + t_update)
    sequential = iterations / (t_one + t_update)
    return {
        "n_rollouts": n_rollouts, "iterations": iterations, "load": load, "lambda_wait": lw,
        "rollout_batched_s": t_batch / iterations, "rollout_one_at_a_time_s": t_one / iterations,
        "update_s": t_update / iterations, "batched_iterations_per_s": batched,
        "one_at_a_time_iterations_per_s": sequential, "speedup": batched / sequential,
        "env_steps_per_iteration": steps / iterations,
    }  # fmt: skip


def plot(results: list[dict[str, Any]], curve_load: float, path: Path) -> bool:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cells = sorted(
        (r for r in results if abs(r["load"] - curve_load) < 1e-9), key=lambda r: r["lambda_wait"]
    )
    if not cells:
        return False
    fig, axes = plt.subplots(len(cells), 2, figsize=(12, 3.8 * len(cells)), squeeze=False)
    for (ax_r, ax_v), cell in zip(axes, cells, strict=True):
        cur = cell["curve"]
        it = [c["iteration"] for c in cur]
        base = {r["policy"]: r for r in cell["rows"]}
        ax_r.plot(it, [c["train_return"] for c in cur], label="DRLoS (training, sampled)")
        ev = [(c["iteration"], c["eval_return"]) for c in cur if np.isfinite(c["eval_return"])]
        if ev:
            ax_r.plot(*zip(*ev, strict=True), "o-", label="DRLoS greedy (held-out)")
        ax_v.plot(it, [c["train_variance"] for c in cur], label="DRLoS (training, sampled)")
        ev = [(c["iteration"], c["eval_variance"]) for c in cur if np.isfinite(c["eval_variance"])]
        if ev:
            ax_v.plot(*zip(*ev, strict=True), "o-", label="DRLoS greedy (held-out)")
        for i, name in enumerate(("qlearning", "closest", "random_share", "least_loaded")):
            style = dict(color=f"C{i + 2}", linestyle=("--", ":", "-.", (0, (1, 3)))[i])
            ax_r.axhline(base[name]["return"], label=name, **style)
            ax_v.axhline(base[name]["variance"], label=name, **style)
        ax_r.set_ylabel(f"episode return (λ_wait={cell['lambda_wait']:g})")
        ax_v.set_ylabel("mean per-step utilisation variance")
        ax_v.set_yscale("log")
        for ax in (ax_r, ax_v):
            ax.set_xlabel("iteration (one task set, N episodes)")
            ax.grid(alpha=0.3)
        ax_v.legend(fontsize=8)
    fig.suptitle(f"DRLoS convergence, EdgeScheduling-v0 at load ρ = {curve_load:g}")
    fig.tight_layout()
    save_png(fig, path, dpi=110)
    return True


def plot_loads(results: list[dict[str, Any]], path: Path) -> bool:
    """Variance and latency vs load, one row per λ_wait (needs at least two loads)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lws = sorted({r["lambda_wait"] for r in results})
    if len({r["load"] for r in results}) < 2:
        return False
    fig, axes = plt.subplots(len(lws), 2, figsize=(13, 4 * len(lws)), squeeze=False)
    for (ax_v, ax_l), lw in zip(axes, lws, strict=True):
        cells = sorted((r for r in results if r["lambda_wait"] == lw), key=lambda r: r["load"])
        for i, name in enumerate(POLICY_ORDER):
            pts = [(c["load"], row) for c in cells for row in c["rows"] if row["policy"] == name]
            style = dict(
                label=name,
                marker="osD^v<>ph"[i],
                linestyle=("-", "--", ":", "-.")[i % 4],
                alpha=0.85,
            )
            ax_v.plot([x for x, _ in pts], [r["variance"] for _, r in pts], **style)
            ax_l.plot([x for x, _ in pts], [r["latency_ms"] for _, r in pts], **style)
        ax_v.set_yscale("log")
        ax_v.set_ylabel(f"variance (λ_wait={lw:g})")
        ax_l.set_ylabel(f"mean latency ms (λ_wait={lw:g})")
        for ax in (ax_v, ax_l):
            ax.set_xlabel("load ρ")
            ax.grid(alpha=0.3)
    axes[0][1].legend(fontsize=8)
    fig.suptitle("DRLoS vs Q-learning and heuristics, EdgeScheduling-v0 (3 × 500, M = 500)")
    fig.tight_layout()
    save_png(fig, path, dpi=110)
    return True


def print_table(results: list[dict[str, Any]]) -> None:
    header = (
        f"{'λ_wait':>6} {'load':>5} {'policy':<14} {'variance':>9} {'÷closest':>8} {'lat ms':>7} "
        f"{'p95 ms':>7} {'drop %':>7} {'fwd %':>6} {'return':>8} {'steps':>6}"
    )
    print(header)
    print("-" * len(header))
    for res in results:
        closest = next(r for r in res["rows"] if r["policy"] == "closest")["variance"]
        for r in res["rows"]:
            print(
                f"{res['lambda_wait']:6g} {res['load']:5.1f} {r['policy']:<14} {r['variance']:9.5f} "
                f"{closest / max(r['variance'], 1e-12):8.1f} {r['latency_ms']:7.1f} "
                f"{r['p95_latency_ms']:7.1f} {r['drop_pct']:7.2f} {r['forwarded_pct']:6.1f} "
                f"{r['return']:8.3f} {r['steps']:6.0f}"
            )
        t = res["timing"]
        if t:
            print(
                f"{'':13}(training: DRLoS {t['drlos_train_s']:.0f} s, "
                f"Q-learning {t['qlearning_train_s']:.0f} s)"
            )


def read_results(out: Path) -> list[dict[str, Any]]:
    """Rebuild the per-cell results from ``drlos_results.csv`` and ``drlos_curves.csv``."""
    with open(out / "drlos_results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    with open(out / "drlos_curves.csv", newline="") as f:
        curves = list(csv.DictReader(f))
    cells: dict[tuple[float, float], dict[str, Any]] = {}
    for r in rows:
        key = (float(r["lambda_wait"]), float(r["load"]))
        cell = cells.setdefault(
            key, {"lambda_wait": key[0], "load": key[1], "rows": [], "curve": [], "timing": {}}
        )
        cell["rows"].append({"policy": r["policy"], **{m: float(r[m]) for m in METRICS}})
        if r.get("train_s"):
            cell["timing"][f"{r['policy']}_train_s"] = float(r["train_s"])
    for c in curves:
        key = (float(c["lambda_wait"]), float(c["load"]))
        cells[key]["curve"].append(
            {k: (int(v) if k in ("iteration", "timesteps") else float(v)) for k, v in c.items()}
        )
    return list(cells.values())


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--loads", default="0.8", help=f"comma-separated ρ (all: {ALL_LOADS})")
    p.add_argument("--lambda-waits", default="0.0,0.01", help="comma-separated λ_wait values")
    p.add_argument("--iterations", type=int, default=100, help="DRLoS iterations per cell")
    p.add_argument("--n-rollouts", type=int, default=20, help="N, episodes per task set")
    p.add_argument("--lr", type=float, default=1e-2, help="DRLoS learning rate (paper: 1e-3)")
    p.add_argument(
        "--qlearning-episodes", type=int, default=0,
        help="Q-learning episodes per cell (0: iterations × n_rollouts, the same env steps)",
    )  # fmt: skip
    p.add_argument("--episodes", type=int, default=5, help="held-out task sets per cell")
    p.add_argument("--eval-every", type=int, default=10, help="DRLoS greedy eval period")
    p.add_argument("--curve-load", type=float, default=0.8, help="load of the convergence plot")
    p.add_argument("--workers", type=int, default=1, help="cells trained in parallel processes")
    p.add_argument("--checkpoint-dir", type=Path, default=None, help="save DRLoS checkpoints")
    p.add_argument(
        "--replot", action="store_true",
        help="no training: print and plot the CSVs already in --out",
    )  # fmt: skip
    p.add_argument(
        "--speed", action="store_true",
        help="only time DRLoS training: iterations/s and env steps/s (writes drlos_speed.csv)",
    )  # fmt: skip
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "out")
    p.add_argument(
        "--fig-dir", type=Path, default=None,
        help="where the PNGs go (default: --out; e.g. docs/figures with --replot)",
    )  # fmt: skip
    args = p.parse_args(argv)
    fig_dir = args.out if args.fig_dir is None else args.fig_dir
    loads = [float(x) for x in args.loads.split(",") if x.strip()]
    lws = [float(x) for x in args.lambda_waits.split(",") if x.strip()]
    if not loads or not lws or args.iterations < 1 or args.episodes < 1 or args.workers < 1:
        p.error("--loads/--lambda-waits non-empty; --iterations, --episodes, --workers >= 1")

    if args.speed:
        torch.set_num_threads(1)
        rows = measure_speed(loads, lws, args.iterations, args.n_rollouts, args.lr, args.seed)
        write_csv(args.out / "drlos_speed.csv", rows)
        print(f"wrote {args.out / 'drlos_speed.csv'}")
        return
    if args.replot:
        results = read_results(args.out)
        print(f"results read from {args.out}")
    else:
        tasks = [
            {
                "lambda_wait": lw,
                "load": load,
                "seed": args.seed,
                "iterations": args.iterations,
                "n_rollouts": args.n_rollouts,
                "lr": args.lr,
                "episodes": args.episodes,
                "qlearning_episodes": args.qlearning_episodes,
                "eval_every": args.eval_every,
                "checkpoint_dir": None if args.checkpoint_dir is None else str(args.checkpoint_dir),
            }
            for lw in lws
            for load in loads
        ]
        t0 = time.perf_counter()
        if args.workers > 1 and len(tasks) > 1:
            with mp.get_context("spawn").Pool(min(args.workers, len(tasks))) as pool:
                results = pool.map(run_cell, tasks, chunksize=1)
        else:
            results = [run_cell(t) for t in tasks]
        print(
            f"DRLoS {args.iterations} iterations × N={args.n_rollouts} (lr {args.lr:g}); "
            f"{args.episodes} held-out task sets per cell; "
            f"{time.perf_counter() - t0:.0f} s wall"
        )
    for res in results:
        res["rows"].sort(key=lambda x: POLICY_ORDER.index(x["policy"]))
    print_table(results)

    wrote = []
    if not args.replot:
        rows = [
            {
                "lambda_wait": res["lambda_wait"],
                "load": res["load"],
                **{k: v for k, v in row.items() if k not in ("lambda_wait", "load")},
                "train_s": res["timing"].get(f"{row['policy']}_train_s", ""),
            }
            for res in results
            for row in res["rows"]
        ]
        write_csv(args.out / "drlos_results.csv", rows)
        write_csv(args.out / "drlos_curves.csv", [c for r in results for c in r["curve"]])
        wrote += ["drlos_results.csv", "drlos_curves.csv"]
    if plot(results, args.curve_load, fig_dir / "drlos_convergence.png"):
        wrote.append(str(fig_dir / "drlos_convergence.png"))
    if plot_loads(results, fig_dir / "drlos_loads.png"):
        wrote.append(str(fig_dir / "drlos_loads.png"))
    print(f"\nwrote {', '.join(wrote)}")


if __name__ == "__main__":
    main()
