"""Hardness report of the partitioning envs: does the right decision depend on the state?

Usage::

    .venv/bin/python benchmarks/hardness.py                        # v0 and v1, four DNNs
    .venv/bin/python benchmarks/hardness.py --ids EdgeRL/MECPartition-v1 --network mixture_test
    .venv/bin/python benchmarks/hardness.py --episodes 20 --json hardness.json

For every (env id, DNN): the best constant decision in hindsight and its mean gap to the
clairvoyant oracle, how often the oracle's decision changes from one frame to the next, how
many distinct decisions it takes, and every heuristic's mean gap and share of optimal frames
(``dp_measured``: the exact DP on the last measurement). See :mod:`agents.hardness`.
The v1 targets: best constant >= 5% and oracle change rate >= 10% on every DNN, MEC and D2D.
"""

from __future__ import annotations

import argparse
import time
import warnings

from agents.hardness import hardness_report
from pipeline.utils import atomic_write_json

DNNS = ("alexnet", "vgg16", "resnet32", "mobilenet_v1")
IDS = (
    "EdgeRL/MECPartition-v0",
    "EdgeRL/MECPartition-v1",
    "EdgeRL/D2DPartition-v0",
    "EdgeRL/D2DPartition-v1",
)
TARGET_CONSTANT, TARGET_CHANGE = 0.05, 0.10


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ids", nargs="+", default=list(IDS))
    parser.add_argument("--dnn", nargs="+", default=list(DNNS))
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--network", default=None, help="network spec for every id (default: each id's own)"
    )
    parser.add_argument("--json", default=None, help="also write the rows to this JSON file")
    args = parser.parse_args(argv)
    # Gymnasium's "v1 exists" notice on every make of a v0 id (v0 is compared on purpose)
    warnings.filterwarnings("ignore", message=".*-v0 is out of date")
    rows = []
    print(
        f"{'env':<24} {'dnn':<13} {'best const':>10} {'change':>7} {'distinct':>8} "
        f"{'best heuristic':>22} {'dp_measured':>11}  constant decision"
    )
    for env_id in args.ids:
        for dnn in args.dnn:
            kw = {"dnn": dnn} if args.network is None else {"dnn": dnn, "network": args.network}
            t0 = time.perf_counter()
            rep = hardness_report(
                env_id, episodes=args.episodes, frames=args.frames, seed=args.seed, **kw
            )
            name, gap = rep.best_heuristic
            dpm = rep.policies.get("dp_measured")
            ok = (
                "v1 ok"
                if (rep.best_constant_gap >= TARGET_CONSTANT and rep.change_rate >= TARGET_CHANGE)
                else ""
            )
            print(
                f"{env_id[7:]:<24} {dnn:<13} {100 * rep.best_constant_gap:9.2f}% "
                f"{100 * rep.change_rate:6.1f}% {rep.distinct_decisions:8d} "
                f"{name + f' {100 * gap:.2f}%':>22} "
                f"{'' if dpm is None else f'{100 * dpm.gap:.2f}%':>11}  "
                f"{''.join(map(str, rep.best_constant.tolist()))} {ok}"
            )
            row = rep.to_dict()
            row["network"] = args.network or "default"
            row["seconds"] = time.perf_counter() - t0
            rows.append(row)
    print(f"\n{args.episodes} episodes x {args.frames} frames, seed {args.seed}; gaps: mean of "
          "cost/optimum - 1 over all frames; change: share of consecutive frames whose oracle "
          "decision differs")  # fmt: skip
    if args.json:
        atomic_write_json(args.json, rows)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
