"""Quality of IoRLO / IoRLO+ against the oracle and the heuristic baselines.

Usage: ``.venv/bin/python benchmarks/iorlo_quality.py [--scenario mec|d2d]
[--dnn alexnet vgg16 resnet32 mobilenet_v1] [--steps 20000] [--agents iorlo iorlo_plus]
[--seed 0] [--env-kw '{"epsilon": 0.6, "phi": 0.8}'] [--save-dir DIR] [--csv PATH]``.

For every DNN: trains each agent for ``--steps`` env steps on the default env (``5g_trial``
network, default parameters unless ``--env-kw``), then evaluates the deterministic actor
(``NumpyActor``) on 10 episodes x 100 frames reset with the fixed seeds
``agents.common.evaluation.DEFAULT_EVAL_SEEDS``, together with the untrained actor and every
heuristic baseline of :mod:`agents.partition_policies` on the same frames. The metric is
the mean optimality gap ``expected_cost / optimal_cost - 1`` over frames (``info["gap"]``).
Prints one table per DNN plus a summary; ``--csv`` writes every row (atomic write).
Training wall-clock and steps/s are of this machine at the time of the run.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import gymnasium as gym
from atomic_io import write_csv

import envs  # noqa: F401  (registers the env ids)
from agents.common.evaluation import DEFAULT_EVAL_SEEDS, evaluate_policy
from agents.iorlo import IoRLO, IoRLOPlus
from agents.partition_baselines import D2D_ONLY, MEC_ONLY
from agents.partition_policies import PARTITION_POLICY_NAMES, make_partition_policy

ENV_IDS = {"mec": "EdgeRL/MECPartition-v0", "d2d": "EdgeRL/D2DPartition-v0"}
AGENTS = {"iorlo": IoRLO, "iorlo_plus": IoRLOPlus}


def baseline_rows(env_id: str, scenario: str, dnn: str, env_kw: dict) -> list[dict]:
    rows = []
    skip = D2D_ONLY if scenario == "mec" else MEC_ONLY
    for name in PARTITION_POLICY_NAMES:
        if name in skip or name == "oracle":
            continue
        env = gym.make(env_id, dnn=dnn, **env_kw)
        kw = {"seed": 0} if name == "random" else {}
        policy = make_partition_policy(name, env, **kw)
        res = evaluate_policy(policy.act, env, DEFAULT_EVAL_SEEDS)
        rows.append({"dnn": dnn, "method": name, "kind": "baseline", **res})
    return rows


def train_row(
    env_id: str,
    dnn: str,
    env_kw: dict,
    agent_name: str,
    steps: int,
    seed: int,
    save_dir: Path | None,
) -> list[dict]:
    env = gym.make(env_id, dnn=dnn, **env_kw)
    eval_env = gym.make(env_id, dnn=dnn, **env_kw)
    agent = AGENTS[agent_name](env, seed=seed)
    init = evaluate_policy(agent.fast_actor().act, eval_env, DEFAULT_EVAL_SEEDS)
    t0 = time.perf_counter()
    agent.learn(steps)
    wall = time.perf_counter() - t0
    res = evaluate_policy(agent.fast_actor().act, eval_env, DEFAULT_EVAL_SEEDS)
    if save_dir is not None:
        agent.save(save_dir / f"{agent_name}_{dnn}_seed{seed}.pt")
    return [
        {"dnn": dnn, "method": f"{agent_name} (untrained)", "kind": "agent", **init},
        {
            "dnn": dnn,
            "method": agent_name,
            "kind": "agent",
            "steps": steps,
            "train_s": round(wall, 1),
            "sps": round(steps / wall, 1),
            **res,
        },
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", choices=tuple(ENV_IDS), default="mec")
    parser.add_argument(
        "--dnn", nargs="+", default=["alexnet", "vgg16", "resnet32", "mobilenet_v1"]
    )
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--agents", nargs="+", choices=tuple(AGENTS), default=list(AGENTS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--env-kw", type=json.loads, default={})
    parser.add_argument("--save-dir", type=Path, default=None)
    parser.add_argument("--csv", type=Path, default=None)
    args = parser.parse_args()
    env_id = ENV_IDS[args.scenario]
    all_rows: list[dict] = []
    summary = []
    for dnn in args.dnn:
        rows = baseline_rows(env_id, args.scenario, dnn, args.env_kw)
        for name in args.agents:
            rows += train_row(env_id, dnn, args.env_kw, name, args.steps, args.seed, args.save_dir)
        all_rows += rows
        print(
            f"\n## {env_id} dnn={dnn} {args.env_kw or ''} (10 x 100 frames, seeds "
            f"{DEFAULT_EVAL_SEEDS[0]}..{DEFAULT_EVAL_SEEDS[-1]})"
        )
        print(
            f"{'method':<26} {'mean gap %':>10} {'mean cost':>10} {'steps':>7} "
            f"{'train s':>8} {'SPS':>7}"
        )
        for r in rows:
            print(
                f"{r['method']:<26} {100 * r['gap']:>10.3f} {r['cost']:>10.2f} "
                f"{r.get('steps', ''):>7} {r.get('train_s', ''):>8} {r.get('sps', ''):>7}"
            )
        heur = [r for r in rows if r["kind"] == "baseline" and r["method"] != "random"]
        best = min(heur, key=lambda r: r["gap"])
        for r in rows:
            if r["kind"] == "agent" and "untrained" not in r["method"]:
                summary.append(
                    (
                        dnn,
                        r["method"],
                        r["gap"],
                        best["method"],
                        best["gap"],
                        r["steps"],
                        r["train_s"],
                    )
                )
        if args.csv is not None:
            keys = sorted(
                {k for r in all_rows for k in r}, key=lambda k: (k not in ("dnn", "method"), k)
            )
            write_csv(args.csv, all_rows, fieldnames=keys)
    print("\n## summary: agent gap vs best heuristic baseline")
    print(
        f"{'dnn':<14} {'agent':<12} {'gap %':>8} {'best baseline':>14} {'its gap %':>10} "
        f"{'within 3%':>10} {'beats it':>9} {'steps':>7} {'train s':>8}"
    )
    for dnn, name, gap, bname, bgap, steps, secs in summary:
        print(
            f"{dnn:<14} {name:<12} {100 * gap:>8.3f} {bname:>14} {100 * bgap:>10.3f} "
            f"{'yes' if gap <= 0.03 else 'no':>10} {'yes' if gap < bgap else 'no':>9} "
            f"{steps:>7} {secs:>8}"
        )


if __name__ == "__main__":
    main()
