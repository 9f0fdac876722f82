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
Targets (issues): single decision <= 5 µs median (Ren et al. report 0.49 ms), 4096
decisions <= 2 ms; the batch backend ("auto": numpy or onnxruntime) gives numpy's actions.
Without ``--checkpoint`` a briefly trained IoRLO actor is used.

``--refined`` times IoRLO+'s critic-refined decisions instead (:mod:`agents.iorlo.refine`:
the v1 default with ``observe="current"``; a briefly trained IoRLO+ on the v1 env with the
current state, loaded by ``load_actor``) beside its actor alone, on the same observations.
"""

from __future__ import annotations

import sys


def _threads_arg() -> str:
    """``--threads`` (default 1) read before numpy loads its BLAS."""
    for i, arg in enumerate(sys.argv):
        if arg == "--threads" and i + 1 < len(sys.argv):
            return sys.argv[i + 1]
        if arg.startswith("--threads="):
            return arg.split("=", 1)[1]
    return "1"


import blas_threads  # noqa: E402 (a sibling without numpy)

blas_threads.limit(_threads_arg())

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
from agents.common.fast_actor import NumpyActor  # noqa: E402
from agents.iorlo import IoRLO, IoRLOPlus  # noqa: E402
from agents.iorlo.refine import CriticRefinedActor  # noqa: E402
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


def decision_rows(
    actor: NumpyActor,
    env: gym.Env,
    observations: np.ndarray,
    *,
    single: int,
    batch: int,
    repeats: int,
    sb3: bool = True,
) -> list[dict[str, float | str]]:
    """Time every decision path on ``observations`` (see the module docstring).

    Returns one row per method: ``method``, ``single_median_us``, ``single_p90_us``,
    ``batch_ms`` (``batch`` observations per call) and ``batch_us_per_obs``. The torch and
    TorchScript paths are checked against the NumpyActor before timing.
    """
    module = actor.to_torch()  # the actor spec as nn.Module (incl. obs normalisation)
    batch_obs = observations[:batch]

    def torch_forward(x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return module(torch.from_numpy(x)).numpy()

    tmp = Path(tempfile.mkdtemp(prefix="bench_decisions_"))
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

    # decide: the compiled single path (numba) and the chosen batch backend; the same
    # actor with numpy only for both, and with onnxruntime batches where installed
    plain = NumpyActor(actor.spec, actor.signature, batch_backend="numpy", compiled=False)
    actor.decide_batch(batch_obs)  # "auto" picks its backend on the first large batch
    chosen = actor.batch_backend_used
    methods: list[tuple[str, Callable, Callable]] = [
        ("NumpyActor.act", actor.act, actor.act_batch),
        (
            f"NumpyActor.decide ({'numba' if actor.compiled else 'numpy'} / {chosen})",
            actor.decide,
            actor.decide_batch,
        ),
        ("NumpyActor.decide (numpy / numpy)", plain.decide, plain.decide_batch),
        ("torch forward (inference_mode)", torch_forward, torch_forward),
        ("TorchScript forward", ts_single, ts_batch),
    ]
    if sb3:
        try:
            from stable_baselines3 import DDPG, TD3

            for name, cls in (("SB3 TD3.predict", TD3), ("SB3 DDPG.predict", DDPG)):
                model = cls(
                    "MlpPolicy",
                    env,
                    policy_kwargs={"net_arch": [50]},
                    device="cpu",
                    seed=0,
                    verbose=0,
                )

                def predict(x: np.ndarray, m=model) -> np.ndarray:
                    return m.predict(x, deterministic=True)[0]

                methods.append((f"{name} (net_arch=[50])", predict, predict))
        except ImportError:  # pragma: no cover - SB3 is a declared dependency
            print("stable-baselines3 not installed: SB3 rows skipped")

    try:
        ort = NumpyActor(actor.spec, actor.signature, batch_backend="onnxruntime")
        methods.insert(
            3, ("NumpyActor.decide (numpy / onnxruntime)", plain.decide, ort.decide_batch)
        )
        np.testing.assert_array_equal(ort.decide_batch(batch_obs), plain.decide_batch(batch_obs))
    except ImportError:
        print("onnxruntime not installed: its row is skipped")
    # Cross-check before timing: every path gives the NumpyActor's actions (decisions:
    # exactly, single compiled vs batched numpy included).
    np.testing.assert_array_equal(actor.decide_batch(batch_obs), plain.decide_batch(batch_obs))
    one_by_one = np.array([actor.decide(x) for x in batch_obs[:512]])
    np.testing.assert_array_equal(one_by_one, plain.decide_batch(batch_obs[:512]))
    ref = actor.act_batch(batch_obs[:64])
    np.testing.assert_allclose(torch_forward(batch_obs[:64]), ref, atol=1e-5)
    np.testing.assert_allclose(ts_batch(batch_obs[:64]), ref, atol=1e-5)

    rows: list[dict[str, float | str]] = []
    for name, one, many in methods:
        med, p90 = time_single(one, observations, single)
        bms = time_batch(many, batch_obs, repeats)
        rows.append(
            {
                "method": name,
                "single_median_us": med,
                "single_p90_us": p90,
                "batch": len(batch_obs),
                "batch_ms": bms,
                "batch_us_per_obs": 1e3 * bms / len(batch_obs),
            }
        )
    return rows


def env_observations(env: gym.Env, actor: NumpyActor, count: int, seed: int = 0) -> np.ndarray:
    """``count`` consecutive observations of ``env`` under ``actor`` (realistic inputs)."""
    obs_list, (obs, _) = [], env.reset(seed=seed)
    for _ in range(count):
        obs_list.append(obs)
        obs, _, terminated, truncated, _ = env.step(actor.act(obs))
        if terminated or truncated:
            obs, _ = env.reset()
    return np.asarray(obs_list, dtype=np.float32)


def refined_rows(args: argparse.Namespace) -> None:
    """``--refined``: the CriticRefinedActor of a briefly trained v1 IoRLO+ (current state)
    and its actor alone, single and batched decisions (after checking that the batched and
    one-by-one refined decisions agree)."""
    env_id = ENV_IDS[args.scenario].replace("-v0", "-v1")
    env = gym.make(env_id, dnn=args.dnn, observe="current")
    path = args.checkpoint
    if path is None:
        agent = IoRLOPlus(env, seed=0, learning_starts=200)
        agent.learn(1000)
        path = agent.save(Path(tempfile.mkdtemp(prefix="bench_decisions_")) / "iorlo_plus.pt")
    refined = load_actor(path, env=env)
    if not isinstance(refined, CriticRefinedActor):
        raise SystemExit(f"{path}: not a critic-refined policy (IoRLO+ with refine)")
    observations = env_observations(env, refined, max(args.batch, 1000))
    batch_obs = observations[: args.batch]
    dec = refined.decide_batch(batch_obs)
    np.testing.assert_array_equal(np.array([refined.decide(x) for x in batch_obs[:256]]), dec[:256])
    print(
        f"# {refined!r}, {env_id} dnn={args.dnn}, observe=current; single: {args.single} "
        f"calls, batch: {args.batch} x {args.repeats}; refined decisions differ from the "
        f"actor's on {100 * (dec != refined.actor.decide_batch(batch_obs)).any(1).mean():.1f}% "
        "of these observations"
    )
    rows = []
    for name, pol in (
        ("CriticRefinedActor.decide", refined),
        ("its actor alone .decide", refined.actor),
    ):
        med, p90 = time_single(pol.decide, observations, args.single)
        rows.append(
            {
                "method": name,
                "single_median_us": med,
                "single_p90_us": p90,
                "batch_ms": time_batch(pol.decide_batch, batch_obs, args.repeats),
            }
        )
    print_rows(rows, args.batch)


def print_rows(rows: list[dict[str, float | str]], batch: int) -> None:
    """The timing table: method, single median and p90 (µs), batch time (ms)."""
    print(
        f"{'method':<40} {'single median µs':>17} {'single p90 µs':>14} {f'batch {batch} ms':>15}"
    )
    for r in rows:
        print(
            f"{r['method']:<40} {r['single_median_us']:>17.2f} {r['single_p90_us']:>14.2f} "
            f"{r['batch_ms']:>15.3f}"
        )


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
        "--refined",
        action="store_true",
        help="time IoRLO+'s critic-refined decisions (v1, observe=current) and its actor alone",
    )
    parser.add_argument(
        "--agent",
        choices=("iorlo", "iorlo_plus"),
        default="iorlo",
        help="actor to time without --checkpoint (iorlo_plus adds observation normalisation)",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.refined:
        refined_rows(args)
        return

    env = gym.make(ENV_IDS[args.scenario], dnn=args.dnn)
    if args.checkpoint is None:
        cls = IoRLOPlus if args.agent == "iorlo_plus" else IoRLO
        agent = cls(env, seed=0, learning_starts=200)
        agent.learn(400)
        path = agent.save(Path(tempfile.mkdtemp(prefix="bench_decisions_")) / "iorlo.pt")
        kind = type(agent).__name__
    else:
        path = args.checkpoint
        kind = str(path)
    actor = load_actor(path, env=env)
    observations = env_observations(env, actor, max(args.batch, 1000))
    rows = decision_rows(
        actor, env, observations, single=args.single, batch=args.batch, repeats=args.repeats
    )

    obs_dim, act_dim = observations.shape[1], env.action_space.shape[0]
    norm = "with" if actor.spec.get("obs_mean") is not None else "without"
    print(
        f"# {kind} actor ({norm} obs normalisation), "
        f"{ENV_IDS[args.scenario]} dnn={args.dnn}: obs {obs_dim}, actor {obs_dim}-50-{act_dim} "
        f"sigmoid; torch threads {args.threads}; single: {args.single} calls, batch: "
        f"{args.batch} x {args.repeats}"
    )
    print_rows(rows, args.batch)
    print("targets: decide single <= 5 µs median (paper: 490 µs), batch 4096 <= 2 ms")


if __name__ == "__main__":
    main()
