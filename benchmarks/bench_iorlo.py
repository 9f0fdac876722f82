"""Training speed of IoRLO / IoRLO+ (agents.iorlo): env frames/s of ``learn`` and the cost of
one ``update``, in thread CPU time (the machine's other load does not count) and wall time.

The env and agent are those of ``python train.py`` (Hydra's ``train`` config with the given
overrides; default: IoRLO+ on ``env=mec_v1``, AlexNet, the training network mixture). After
``--warmup`` frames (past ``learning_starts``, so every later frame runs an update) it times
``--frames`` more frames of ``learn`` (no evaluation, no checkpoints) and then ``--updates``
calls of ``update`` on one fixed minibatch. Prints a checksum of the actor's weights:
equal checksums for the same arguments mean the same training result.

    .venv/bin/python benchmarks/bench_iorlo.py                       # IoRLO+, 3000 frames
    .venv/bin/python benchmarks/bench_iorlo.py agent=iorlo env=mec   # the paper's IoRLO
    .venv/bin/python benchmarks/bench_iorlo.py --frames 10000 seed=1

Compare code versions by running this alternately in each version's tree (the 2-core
machines are shared, so single runs scatter by 10-20%).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import time

import numpy as np
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import get_class

from agents.common.threads import torch_threads
from pipeline.envs import build_env
from pipeline.utils import CONFIG_DIR, to_plain


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("overrides", nargs="*", help="train.py config overrides, e.g. agent=iorlo")
    ap.add_argument("--warmup", type=int, default=1500, help="frames before timing")
    ap.add_argument("--frames", type=int, default=3000, help="timed frames of learn()")
    ap.add_argument("--updates", type=int, default=1000, help="timed update() calls")
    args = ap.parse_args()
    overrides = list(args.overrides)
    if "EDGERL_DATA" in os.environ and not any(o.startswith("data_dir=") for o in overrides):
        overrides.append(f"data_dir={os.environ['EDGERL_DATA']}")
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose("train", overrides=overrides)
    runner = get_class(cfg.agent._target_)  # pipeline.runners.iorlo.IoRLORunner
    env = build_env(cfg, action_mode="continuous")
    hp = runner.hyperparameters(to_plain(cfg.agent))  # as the runner builds the agent
    threads = None if cfg.torch_threads is None else int(cfg.torch_threads)
    t0 = time.process_time()
    agent = runner.agent_class()(env, seed=int(cfg.seed), torch_threads=threads, **hp)
    build_s = time.process_time() - t0
    agent.learn(args.warmup)
    with torch_threads(agent.config.torch_threads):
        t_cpu, t_wall = time.thread_time(), time.perf_counter()
        agent.learn(args.frames)
        cpu, wall = time.thread_time() - t_cpu, time.perf_counter() - t_wall
        digest = hashlib.sha256()  # the training result, before the timed updates change it
        for p in agent.actor.parameters():
            digest.update(p.detach().cpu().numpy().tobytes())
        batch = agent.buffer.sample(agent.config.batch_size, np.random.default_rng(0))
        t_upd = time.thread_time()
        for _ in range(args.updates):
            agent.update(batch)
        upd_ms = (time.thread_time() - t_upd) / max(args.updates, 1) * 1e3
    print(
        f"{cfg.agent.name} on {cfg.env.tag}: {args.frames} frames after {args.warmup}; "
        f"agent built in {build_s:.2f} s CPU\n"
        f"  learn: {args.frames / cpu:.0f} frames/s CPU ({cpu:.2f} s), "
        f"{args.frames / wall:.0f} frames/s wall\n"
        f"  update: {upd_ms:.3f} ms CPU per call (batch {agent.config.batch_size})\n"
        f"  actor checksum (after learn): {digest.hexdigest()[:16]}  "
        f"(torch {torch.__version__})"
    )


if __name__ == "__main__":
    main()
