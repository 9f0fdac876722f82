"""RLlib sampling throughput: env steps/s of one env runner with k envs (PPO defaults).

    RAY_AUTH_MODE=disabled .venv/bin/python benchmarks/bench_rllib_sampling.py
    .venv/bin/python benchmarks/bench_rllib_sampling.py --envs 1 4 8 16 --steps 4000

Builds RLlib's ``SingleAgentEnvRunner`` (new API stack) in this process, as the pipeline's
``rllib_ppo`` does with ``num_env_runners=0`` (the default: sampling in the driver), with
the pipeline's PPO model (MLP 256x256 tanh) on ``EdgeRL/MECPartition-v0`` (ResNet-32,
``action_mode="discrete"``), and times ``runner.sample(num_timesteps=--steps)`` for each
``num_envs_per_env_runner`` in ``--envs`` (this thread's CPU time, best of ``--repeats``
after one warm-up sample; no Ray cluster is started). An env runner steps its envs as one
gymnasium vector env and runs one RLModule forward per vector step, so k envs share that
forward and its connector passes. Target (issue "Speed to the compiled limit"): the
default ``num_envs_per_env_runner`` samples >= 3x the env steps/s of one env.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from typing import Any

os.environ.setdefault("RAY_AUTH_MODE", "disabled")
warnings.filterwarnings("ignore", message=".*is out of date.*")


def make_runner(num_envs: int, dnn: str) -> Any:
    """A local PPO env runner with ``num_envs`` copies of the discrete MEC env."""
    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.rllib.env.single_agent_env_runner import SingleAgentEnvRunner
    from ray.tune.registry import register_env

    def creator(cfg: dict[str, Any]) -> Any:
        import gymnasium

        import envs  # noqa: F401  (registers the env ids)

        return gymnasium.make("EdgeRL/MECPartition-v0", dnn=cfg["dnn"], action_mode="discrete")

    register_env("edgerl-mec-sampling", creator)
    config = (
        PPOConfig()
        .environment("edgerl-mec-sampling", env_config={"dnn": dnn})
        .framework("torch")
        .env_runners(num_env_runners=0, num_envs_per_env_runner=num_envs)
        .rl_module(model_config={"fcnet_hiddens": [256, 256], "fcnet_activation": "tanh"})
        .debugging(seed=0)
    )
    return SingleAgentEnvRunner(config=config)


def measure(num_envs: int, steps: int, repeats: int, dnn: str) -> float:
    """Best env steps/s of ``runner.sample(num_timesteps=steps)``."""
    import torch

    torch.set_num_threads(1)
    runner = make_runner(num_envs, dnn)
    try:
        runner.sample(num_timesteps=steps)  # warm-up
        best = float("inf")
        for _ in range(repeats):
            t0 = time.thread_time()
            episodes = runner.sample(num_timesteps=steps)
            best = min(best, time.thread_time() - t0)
        sampled = sum(len(e) for e in episodes)
    finally:
        runner.stop()
    return sampled / best


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--envs", type=int, nargs="+", default=[1, 2, 4, 8, 16])
    p.add_argument("--steps", type=int, default=4000, help="env steps per timed sample()")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--dnn", default="resnet32")
    args = p.parse_args(argv)
    print("| num_envs_per_env_runner | env steps/s (sampling) | vs 1 env |\n|---|---|---|")
    base = None
    for k in args.envs:
        rate = measure(k, args.steps, args.repeats, args.dnn)
        base = base or (rate if k == 1 else None)
        rel = f"{rate / base:.2f}x" if base else "–"
        print(f"| {k} | {rate:,.0f} | {rel} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
