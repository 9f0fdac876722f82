"""Scheduling scoreboard (docs/results.md §3; docs/model.md §8.1-8.2).

Every policy on ``EdgeRL/EdgeScheduling-v1`` (its defaults: bursty on/off Bernoulli arrivals,
capacities 120/80/50, 30 ms RPC, combined objective w = 0.1): the episode objective J (lower
is better), mean utilisation variance, mean and p95 task latency (waiting + service + RPC),
forwarded %, dropped %; across load levels, and at load 0.8 with plain (not bursty) Bernoulli
arrivals and on the Azure LLM code trace.

Policies: the heuristics (Closest, Average, Random, Least-loaded, Latency-greedy) and four
learned agents, each trained once here at load 0.8 on the default (bursty Bernoulli)
arrivals with the budget below, then evaluated unchanged at every load and on the Azure
trace (never trained or tuned on it):

- ``drlos_plus``: DRLoS+ (``agents.drlos_plus``, its defaults), ``--plus-iters`` iterations
  of 16 episodes (default 200, ~450k env steps);
- ``drlos``: the paper's DRLoS (share actions, ``agents.drlos``, the agent config's lr 0.01,
  N = 20) trained on the same v1 reward, ``--drlos-iters`` iterations (default 500, a third
  of the paper's 1500);
- ``maskable_ppo``: sb3-contrib ``MaskablePPO`` on the "assign" mode with the env's action
  mask (``configs/agent/sb3_maskable_ppo.yaml``'s hyperparameters), ``--ppo-steps`` env steps
  (default 10,240 = 5 rollouts of 2048: ~35 steps/s on 2 busy cores, 100 categorical
  heads per step);
- ``qlearning``: tabular Q-learning over the share actions, ``--q-episodes`` episodes.

Evaluation task sets are ``10000 + k`` (k < ``--episodes``), disjoint from training (random
62-bit seeds). CSV (one row per arrivals x load x policy, means over the task sets) written
atomically to ``benchmarks/out/scheduling_scoreboard.csv``, the learning curves to
``scheduling_convergence.csv``.

    nice python benchmarks/scheduling_scoreboard.py                 # ~15 min on 2 cores
    python benchmarks/scheduling_scoreboard.py --quick              # smoke run, ~1 min
    python benchmarks/scheduling_scoreboard.py --tables             # docs/results.md §3 tables
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import envs  # noqa: F401
from agents.common.evaluation import scoreboard
from agents.scheduling_baselines import SCHEDULING_POLICIES, make_scheduling_policy
from benchmarks.atomic_io import write_csv
from envs.scheduling.objective import SCOREBOARD_COLUMNS

ENV_ID = "EdgeRL/EdgeScheduling-v1"
LOADS = (0.1, 0.3, 0.5, 0.7, 0.8, 0.9, 1.1, 1.3)
AZURE = Path(__file__).resolve().parents[2] / "shared" / "data" / "arrivals"
AZURE_CODE = AZURE / "azure_llm_inference_code_2023.csv"
OUT = Path(__file__).resolve().parent / "out"


def make(mode: str, **kw: Any) -> gym.Env:
    return gym.make(ENV_ID, action_mode=mode, **kw)


def train_agents(args: argparse.Namespace, log: list[dict[str, Any]]) -> dict[str, Any]:
    """Train the learned agents at load 0.8 (default arrivals); returns name -> (mode, act)."""
    import torch

    from agents.drlos import DRLoS
    from agents.drlos_plus import DRLoSPlus
    from agents.qlearning import QLearningAgent

    torch.set_num_threads(1)
    out: dict[str, Any] = {}
    t0 = time.perf_counter()
    plus = DRLoSPlus(make("assign"), seed=args.seed)

    def curve(name: str) -> Any:
        def cb(agent: Any, m: dict[str, float]) -> None:
            log.append({"agent": name, "iteration": int(m["iteration"]),
                        "timesteps": int(m["timesteps"]),
                        # DRLoS logs no J: -(mean episode return) / window_slots
                        "objective": m.get("objective", -m["episodic_return"] / 100.0),
                        "variance": m["cost"], "latency_ms": m["latency_ms"],
                        "wall_s": round(time.perf_counter() - t0, 2)})  # fmt: skip

        return cb

    plus.learn(args.plus_iters, callback=curve("drlos_plus"))
    print(f"drlos_plus: {args.plus_iters} iterations, {plus.num_timesteps} steps, "
          f"{time.perf_counter() - t0:.0f} s", flush=True)  # fmt: skip
    out["drlos_plus"] = ("assign", plus.fast_actor())

    t0 = time.perf_counter()
    drlos = DRLoS(make("shares"), lr=0.01, seed=args.seed)
    drlos.learn(args.drlos_iters, callback=curve("drlos"))
    print(f"drlos: {args.drlos_iters} iterations, {drlos.num_timesteps} steps, "
          f"{time.perf_counter() - t0:.0f} s", flush=True)  # fmt: skip
    out["drlos"] = ("shares", drlos.fast_actor())

    t0 = time.perf_counter()
    q_env = make("shares")
    q = QLearningAgent(q_env)
    q.train(q_env, args.q_episodes, seed=args.seed)
    print(f"qlearning: {args.q_episodes} episodes, {time.perf_counter() - t0:.0f} s", flush=True)
    out["qlearning"] = ("shares", q)

    if args.ppo_steps:
        out["maskable_ppo"] = ("assign", train_maskable_ppo(args))
    return out


class MaskedPPOPolicy:
    """A trained MaskablePPO as ``act(obs)`` with the mask computed from the observation."""

    def __init__(self, model: Any, env: gym.Env) -> None:
        from envs.scheduling.env import action_masks_from_obs

        base = env.unwrapped
        self.model = model
        self.mask = lambda obs: action_masks_from_obs(
            obs, base.obs_layout, float(base.capacities.max())
        )

    def act(self, obs: np.ndarray) -> np.ndarray:
        a, _ = self.model.predict(obs, deterministic=True, action_masks=self.mask(obs))
        return np.asarray(a, dtype=np.int64)


def train_maskable_ppo(args: argparse.Namespace) -> MaskedPPOPolicy:
    import torch
    from sb3_contrib import MaskablePPO

    t0 = time.perf_counter()
    env = make("assign")
    model = MaskablePPO(
        "MlpPolicy", env, learning_rate=3e-4, n_steps=2048, batch_size=64, n_epochs=10,
        gamma=0.99, policy_kwargs={"net_arch": [64, 64], "activation_fn": torch.nn.Tanh},
        seed=args.seed, device="cpu", verbose=0,
    )  # fmt: skip
    model.learn(total_timesteps=args.ppo_steps)
    print(f"maskable_ppo: {args.ppo_steps} steps, {time.perf_counter() - t0:.0f} s", flush=True)
    return MaskedPPOPolicy(model, env)


def evaluate_all(
    agents: dict[str, Any], env_kw: dict[str, Any], seeds: list[int], label: str, load: float
) -> list[dict[str, Any]]:
    rows = []
    for name in SCHEDULING_POLICIES:
        env = make("assign", load=load, **env_kw)
        kw = {"seed": 0} if name == "random" else {}
        rows.append(
            {"policy": name, **scoreboard(env, make_scheduling_policy(name, env, **kw), seeds)}
        )
    for name, (mode, policy) in agents.items():
        env = make(mode, load=load, **env_kw)
        rows.append({"policy": name, **scoreboard(env, policy, seeds)})
    for r in rows:
        r.update(arrivals=label, load=load)
    return rows


def print_table(rows: list[dict[str, Any]], title: str) -> None:
    print(f"\n{title}")
    print("| policy | J | variance | latency ms | p95 ms | forwarded % | dropped % |")
    print("|---|---|---|---|---|---|---|")
    for r in sorted(rows, key=lambda r: r["objective"]):
        print(f"| {r['policy']} | {r['objective']:.4f} | {r['variance']:.5f} | "
              f"{r['latency_mean_ms']:.1f} | {r['latency_p95_ms']:.0f} | "
              f"{r['forwarded_pct']:.1f} | {r['dropped_pct']:.2f} |")  # fmt: skip


def render_tables(out: Path) -> str:
    """docs/results.md §3's tables from the CSVs in ``out`` (``--tables``)."""
    import csv

    with open(out / "scheduling_scoreboard.csv") as f:
        rows = list(csv.DictReader(f))
    lines: list[str] = []

    def board(sel: list[dict[str, str]], title: str) -> None:
        lines.extend([f"**{title}**", "",
                      "| policy | J | variance | mean latency ms | p95 ms | forwarded % | dropped % |",
                      "|---|---|---|---|---|---|---|"])  # fmt: skip
        for r in sorted(sel, key=lambda r: float(r["objective"])):
            lines.append(
                f"| {r['policy']} | {float(r['objective']):.4f} | {float(r['variance']):.5f} | "
                f"{float(r['latency_mean_ms']):.1f} | {float(r['latency_p95_ms']):.0f} | "
                f"{float(r['forwarded_pct']):.1f} | {float(r['dropped_pct']):.2f} |"
            )
        lines.append("")

    bursty = [r for r in rows if r["arrivals"] == "bursty"]
    board([r for r in bursty if float(r["load"]) == 0.8], "Load 0.8, bursty Bernoulli arrivals")
    plain = [r for r in rows if r["arrivals"] == "bernoulli"]
    if plain:
        board(plain, "Load 0.8, plain Bernoulli arrivals (v0's process, not bursty)")
    azure = [r for r in rows if r["arrivals"] == "azure_code"]
    if azure:
        board(azure, "Load 0.8, Azure LLM code trace (never trained on)")
    policies = list(dict.fromkeys(r["policy"] for r in bursty))
    loads = sorted({float(r["load"]) for r in bursty})
    for key, title, fmt in (("objective", "J", "{:.4f}"), ("variance", "variance", "{:.2g}"),
                            ("latency_mean_ms", "mean latency ms", "{:.0f}"),
                            ("forwarded_pct", "forwarded %", "{:.0f}")):  # fmt: skip
        lines.extend([f"**{title} vs load (bursty Bernoulli)**", "",
                      "| load | " + " | ".join(policies) + " |",
                      "|---" * (len(policies) + 1) + "|"])  # fmt: skip
        for load in loads:
            cell = {r["policy"]: float(r[key]) for r in bursty if float(r["load"]) == load}
            lines.append(
                f"| {load:g} | " + " | ".join(fmt.format(cell[p]) for p in policies) + " |"
            )
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--episodes", type=int, default=10, help="evaluation task sets per cell")
    p.add_argument("--loads", type=float, nargs="+", default=list(LOADS))
    p.add_argument("--plus-iters", type=int, default=200)
    p.add_argument("--drlos-iters", type=int, default=500)
    p.add_argument("--ppo-steps", type=int, default=10240)
    p.add_argument("--q-episodes", type=int, default=300)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--azure", type=Path, default=AZURE_CODE)
    p.add_argument("--out", type=Path, default=OUT)
    p.add_argument("--quick", action="store_true", help="tiny budgets, load 0.8 (smoke run)")
    p.add_argument("--tables", action="store_true", help="print the report tables of --out's CSVs")
    args = p.parse_args(argv)
    if args.tables:
        print(render_tables(args.out))
        return
    if args.quick:
        args.episodes, args.loads = 2, [0.8]
        args.plus_iters, args.drlos_iters, args.ppo_steps, args.q_episodes = 3, 2, 256, 3
    seeds = [10000 + k for k in range(args.episodes)]
    curves: list[dict[str, Any]] = []
    agents = train_agents(args, curves)
    rows: list[dict[str, Any]] = []
    for load in args.loads:
        cell = evaluate_all(agents, {}, seeds, "bursty", load)
        rows += cell
        print_table(cell, f"bursty Bernoulli arrivals, load {load}")
    cell = evaluate_all(agents, {"arrivals": "bernoulli"}, seeds, "bernoulli", 0.8)
    rows += cell
    print_table(cell, "plain (not bursty) Bernoulli arrivals, load 0.8")
    if args.azure.is_file():
        cell = evaluate_all(agents, {"arrivals": {"kind": "trace", "path": str(args.azure)}},
                            seeds, "azure_code", 0.8)  # fmt: skip
        rows += cell
        print_table(cell, f"Azure LLM code trace ({args.azure.name}), load 0.8")
    else:
        print(f"\n(no Azure trace at {args.azure}: skipped)")
    cols = ["arrivals", "load", "policy", *SCOREBOARD_COLUMNS]
    args.out.mkdir(parents=True, exist_ok=True)
    write_csv(args.out / "scheduling_scoreboard.csv", rows, cols)
    ccols = ["agent", "iteration", "timesteps", "objective", "variance", "latency_ms", "wall_s"]
    if curves:
        write_csv(args.out / "scheduling_convergence.csv", curves, ccols)
    print(f"\nwrote {args.out / 'scheduling_scoreboard.csv'} and scheduling_convergence.csv")


if __name__ == "__main__":
    main()
