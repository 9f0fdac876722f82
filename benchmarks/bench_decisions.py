"""Decision latency of a trained partitioning actor: NumpyActor vs torch vs SB3 ``predict``.

Usage: ``.venv/bin/python benchmarks/bench_decisions.py [--dnn resnet32] [--scenario mec|d2d]
[--single 20000] [--batch 4096] [--repeats 50] [--threads 1] [--checkpoint PATH]``.

All rows use the same architecture (IoRLO's actor: one hidden layer of 50 ReLU units, a
sigmoid output per DNN block) on the same observations, in one process:

* ``NumpyActor.act`` / ``.decide``: :func:`agents.loading.load_actor` of an IoRLO checkpoint
  (``act`` returns the [0, 1] action, ``decide`` the platform per block);
* ``torch forward``: the same ``nn.Module`` under ``torch.inference_mode()``, numpy in and out;
* ``TorchScript``: the exported actor (``NumpyActor.export``), numpy in and out;
* ``SB3 TD3/DDPG predict``: ``model.predict(obs, deterministic=True)`` of Stable-Baselines3
  models built with ``policy_kwargs=dict(net_arch=[50])`` on the env (untrained: the
  weights do not change the cost).

Single decisions are timed one call at a time (``perf_counter_ns``; median and p90 of
``--single`` calls after a warm-up); batches of ``--batch`` observations report the median
of ``--repeats`` calls. ``--threads`` sets torch's threads and numpy's BLAS threads
(``OPENBLAS_NUM_THREADS`` etc., set before numpy is imported) alike, so every row computes
with the same number of cores; on a loaded machine multi-threaded OpenBLAS can be 20x
slower on the batch than one thread.
Targets (issue): single decision <= 20 µs median (Ren et al. report 0.49 ms), 4096
decisions <= 2 ms. Without ``--checkpoint`` a briefly trained IoRLO actor is used.
"""

from __future__ import annotations

import os
import sys


def _threads_arg() -> str:
    """``--threads`` (default 1) read before numpy loads its BLAS."""
    for i, arg in enumerate(sys.argv):
        if arg == "--threads" and i + 1 < len(sys.argv):
            return sys.argv[i + 1]
        if arg.startswith("--threads="):
            return arg.split("=", 1)[1]
    return "1"


for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, _threads_arg())

import argparse  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

import envs  # noqa: E402, F401  (registers the env ids)
from agents.iorlo import IoRLO, IoRLOPlus  # noqa: E402
from agents.loading import load_actor  # noqa: E402

ENV_IDS = {"mec": "EdgeRL/MECPartition-v0", "d2d": "EdgeRL/D2DPartition-v0"}


def time_single(fn: Callable[[np.ndarray], object], obs: np.ndarray, n: int) -> tuple[float, float]:
    """Median and p90 in µs of ``fn(obs[i])`` over ``n`` calls."""
    for i in range(min(n, 500)):  # warm-up
        fn(obs[i % len(obs)])
    out = np.empty(n, dtype=np.int64)
    clock = time.perf_counter_ns
    for i in range(n):
        x = obs[i % len(obs)]
        t0 = clock()
        fn(x)
        out[i] = clock() - t0
    return float(np.median(out)) / 1e3, float(np.percentile(out, 90)) / 1e3


def time_batch(fn: Callable[[np.ndarray], object], batch: np.ndarray, repeats: int) -> float:
    """Median ms of ``fn(batch)``."""
    for _ in range(3):
        fn(batch)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(batch)
        times.append(time.perf_counter() - t0)
    return float(np.median(times)) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dnn", default="resnet32")
    parser.add_argument("--scenario", choices=tuple(ENV_IDS), default="mec")
    parser.add_argument("--single", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=4096)
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--checkpoint", type=Path, default=None)
    parser.add_argument(
        "--agent",
        choices=("iorlo", "iorlo_plus"),
        default="iorlo",
        help="actor to time without --checkpoint (iorlo_plus adds observation normalisation)",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    env = gym.make(ENV_IDS[args.scenario], dnn=args.dnn)
    tmp = Path(tempfile.mkdtemp(prefix="bench_decisions_"))
    if args.checkpoint is None:
        cls = IoRLOPlus if args.agent == "iorlo_plus" else IoRLO
        agent = cls(env, seed=0, learning_starts=200)
        agent.learn(400)
        path = agent.save(tmp / "iorlo.pt")
    else:
        path = args.checkpoint
        agent = IoRLO.load(path, env)
    actor = load_actor(path, env=env)
    module = actor.to_torch()  # the actor spec as nn.Module (incl. obs normalisation)

    # Realistic observations: frames of the env.
    obs_list, (obs, _) = [], env.reset(seed=0)
    for _ in range(max(args.batch, 1000)):
        obs_list.append(obs)
        obs, *_ = env.step(actor.act(obs))
    observations = np.asarray(obs_list, dtype=np.float32)
    batch = observations[: args.batch]

    def torch_single(x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return module(torch.from_numpy(x)).numpy()

    def torch_batch(x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return module(torch.from_numpy(x)).numpy()

    ts_path = actor.export(tmp / "actor.ts", format="torchscript")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        scripted = torch.jit.load(str(ts_path))

    def ts_single(x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return scripted(torch.from_numpy(x)[None])[0].numpy()

    def ts_batch(x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return scripted(torch.from_numpy(x)).numpy()

    rows: list[tuple[str, Callable, Callable]] = [
        ("NumpyActor.act", actor.act, actor.act_batch),
        ("NumpyActor.decide", actor.decide, actor.decide_batch),
        ("torch forward (inference_mode)", torch_single, torch_batch),
        ("TorchScript forward", ts_single, ts_batch),
    ]
    try:
        from stable_baselines3 import DDPG, TD3

        for name, cls in (("SB3 TD3.predict", TD3), ("SB3 DDPG.predict", DDPG)):
            model = cls(
                "MlpPolicy", env, policy_kwargs={"net_arch": [50]}, device="cpu", seed=0, verbose=0
            )
            rows.append(
                (
                    f"{name} (net_arch=[50])",
                    lambda x, m=model: m.predict(x, deterministic=True)[0],
                    lambda x, m=model: m.predict(x, deterministic=True)[0],
                )
            )
    except ImportError:  # pragma: no cover - SB3 is a declared dependency
        print("stable-baselines3 not installed: SB3 rows skipped")

    # Cross-check before timing: every path gives the NumpyActor's actions.
    ref = actor.act_batch(batch[:64])
    np.testing.assert_allclose(torch_batch(batch[:64]), ref, atol=1e-5)
    np.testing.assert_allclose(ts_batch(batch[:64]), ref, atol=1e-5)

    obs_dim, act_dim = observations.shape[1], ref.shape[1]
    norm = "with" if actor.spec.get("obs_mean") is not None else "without"
    print(
        f"# {type(agent).__name__} actor ({norm} obs normalisation), "
        f"{ENV_IDS[args.scenario]} dnn={args.dnn}: obs {obs_dim}, actor {obs_dim}-50-{act_dim} "
        f"sigmoid; torch threads {args.threads}; single: {args.single} calls, batch: "
        f"{args.batch} x {args.repeats}"
    )
    print(
        f"{'method':<40} {'single median µs':>17} {'single p90 µs':>14} "
        f"{f'batch {args.batch} ms':>15}"
    )
    for name, single, batched in rows:
        med, p90 = time_single(single, observations, args.single)
        bms = time_batch(batched, batch, args.repeats)
        print(f"{name:<40} {med:>17.2f} {p90:>14.2f} {bms:>15.3f}")
    print("targets: single <= 20 µs median (paper: 490 µs), batch 4096 <= 2 ms")


if __name__ == "__main__":
    main()
