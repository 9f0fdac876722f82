"""Steps per second of the MEC/D2D partitioning envs (single and native vector env).

Usage: ``.venv/bin/python benchmarks/bench_envs.py [--quick] [--scenario mec|d2d|both]
[--version 0 1] [--num-envs 1 64 1024 4096] [--no-tune-malloc]``.

Prints one table: the single env (the raw class and through ``gymnasium.make``, i.e. with
the TimeLimit/OrderEnforcing/PassiveEnvChecker wrappers), with and without the per-step
oracle, and the vector env's env-steps/s at each ``--num-envs``, with and without the
oracle. Vector rows are measured twice: with glibc's default heap settings, then after
:func:`envs.partition.vector.tune_malloc` (``M_TOP_PAD`` = 64 MiB; process-wide, so it
runs second). Each number is the best of ``--repeats`` timed runs (the machine may be
shared; best-of filters out interference; ``--clock thread`` times this thread's CPU time
instead of wall time, for a machine busy with other jobs). Actions are sampled once up front, so action
sampling is not timed. Targets (v0 and v1 alike): single env >= 20k steps/s without the
oracle, >= 10k with it; vector env >= 1M env-steps/s at 4096 envs. v1 runs its default
network (``mixture_train``, which replays the shared traces: ``EDGERL_DATA`` or
``../shared/data``), measured observations and platform load.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import gymnasium as gym
import numpy as np

import envs
from envs.partition import (
    D2DPartitionEnv,
    D2DPartitionEnvV1,
    MECPartitionEnv,
    MECPartitionEnvV1,
)
from envs.partition.vector import (
    D2DPartitionVectorEnv,
    D2DPartitionVectorEnvV1,
    MECPartitionVectorEnv,
    MECPartitionVectorEnvV1,
    tune_malloc,
)

SCENARIOS = {
    ("mec", 0): ("EdgeRL/MECPartition-v0", MECPartitionEnv, MECPartitionVectorEnv),
    ("d2d", 0): ("EdgeRL/D2DPartition-v0", D2DPartitionEnv, D2DPartitionVectorEnv),
    ("mec", 1): ("EdgeRL/MECPartition-v1", MECPartitionEnvV1, MECPartitionVectorEnvV1),
    ("d2d", 1): ("EdgeRL/D2DPartition-v1", D2DPartitionEnvV1, D2DPartitionVectorEnvV1),
}


CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter, "thread": time.thread_time}
_clock = time.perf_counter


def _best_rate(run: Callable[[int], None], steps: int, repeats: int) -> float:
    """Best steps/s over ``repeats`` runs of ``run(steps)``."""
    best = float("inf")
    for _ in range(repeats):
        t0 = _clock()
        run(steps)
        best = min(best, _clock() - t0)
    return steps / best


def bench_single(env: gym.Env, steps: int, repeats: int) -> float:
    env.reset(seed=0)
    env.action_space.seed(0)
    actions = [env.action_space.sample() for _ in range(256)]

    def run(k: int) -> None:
        for i in range(k):
            _, _, terminated, truncated, _ = env.step(actions[i & 255])
            if terminated or truncated:
                env.reset()

    run(50)  # warm-up
    return _best_rate(run, steps, repeats)


def bench_vector(env: gym.vector.VectorEnv, steps: int, repeats: int) -> float:
    env.reset(seed=0)
    env.action_space.seed(0)
    actions = [env.action_space.sample() for _ in range(8)]

    def run(k: int) -> None:
        for i in range(k):
            env.step(actions[i & 7])

    run(3)
    return _best_rate(run, steps, repeats) * env.num_envs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps (noisier)")
    parser.add_argument("--scenario", choices=("mec", "d2d", "both"), default="both")
    parser.add_argument("--version", type=int, nargs="+", choices=(0, 1), default=[0, 1])
    parser.add_argument("--num-envs", type=int, nargs="+", default=[1, 64, 1024, 4096])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--clock",
        choices=tuple(CLOCKS),
        default="wall",
        help="wall time, or this thread's CPU time (less sensitive to other jobs on the machine)",
    )
    parser.add_argument(
        "--no-tune-malloc", action="store_true", help="skip the tune_malloc() vector rows"
    )
    args = parser.parse_args()
    global _clock
    _clock = CLOCKS[args.clock]
    scale = 0.25 if args.quick else 1.0
    single_steps = int(10000 * scale)
    names = [
        (sc, v)
        for v in args.version
        for sc in (("mec", "d2d") if args.scenario == "both" else (args.scenario,))
    ]
    rows: list[tuple[str, str, str, str, float]] = []

    def add(env_id: str, kind: str, oracle: bool, num: str, rate: float) -> None:
        rows.append((env_id, kind, "on" if oracle else "off", num, rate))
        print(f"  measured {env_id} {kind} oracle={'on' if oracle else 'off'} {num}: {rate:,.0f}")

    for name in names:
        env_id, single_cls, _ = SCENARIOS[name]
        for oracle in (False, True):
            add(env_id, "single (raw class)", oracle, "1",
                bench_single(single_cls(oracle=oracle), single_steps, args.repeats))  # fmt: skip
            add(env_id, "single (gym.make)", oracle, "1",
                bench_single(gym.make(env_id, oracle=oracle), single_steps, args.repeats))  # fmt: skip

    def vector_rows(label: str) -> None:
        for name in names:
            env_id, _, vec_cls = SCENARIOS[name]
            for oracle in (False, True):
                for num in args.num_envs:
                    steps = max(10, int(scale * min(40000 / num, 3000)))
                    env = vec_cls(num_envs=num, oracle=oracle)
                    add(env_id, f"vector ({label})", oracle, str(num),
                        bench_vector(env, steps, args.repeats))  # fmt: skip

    vector_rows("default malloc")
    if not args.no_tune_malloc:
        if tune_malloc():
            vector_rows("tune_malloc")
        else:
            print("tune_malloc() unavailable (not glibc): skipped")

    print()
    print(f"{'env':<26} {'kind':<24} {'oracle':<6} {'num_envs':>8} {'(env-)steps/s':>14}")
    print("-" * 82)
    for env_id, kind, oracle, num, rate in rows:
        print(f"{env_id:<26} {kind:<24} {oracle:<6} {num:>8} {rate:>14,.0f}")
    from envs.model import kernels

    print(f"\nnumpy {np.__version__}, gymnasium {gym.__version__}, ids {envs.PARTITION_ENV_IDS}")
    print(f"v1 hot paths: {kernels.BACKEND} (EDGERL_NO_NUMBA=1 forces numpy; v0 always numpy)")


if __name__ == "__main__":
    main()
