"""How far can a policy that sees the measured state go? Bounds for MEC v1 on unseen networks.

Issue #12 asks, with ``observe="measured"``, for a mean cost at least 5% below the best
constant decision of each test network. This script measures, on the frames that
``benchmarks/generalisation.py`` evaluates (each network of the test split, ``--episodes``
episodes × 100 frames, seed ``--seed``), the mean gap to the clairvoyant oracle of the exact
DP (docs/model.md §7) deciding on frames built with more information than the agent has:

* ``dp_measured``: the measurement, the previous frame's links and load (the baseline).
* ``links_known``: the frame's **true links** and the load's exact conditional mean given the
  measured load (:meth:`envs.dynamics.platform_load.PlatformLoad.expected_factor`). The load
  is a Markov AR(1) whose innovation is independent of everything else, and a fixed
  decision's cost is linear in the capability factors (docs/model.md §13), so this is the
  decision of least expected cost given the true links and the whole past: **no policy
  that observes the measured state has a lower expected cost** (a lower bound; it is what
  the load's unpredictability alone costs).
* ``load_known``: the true load, the measured links: what the links' staleness alone costs.
* ``episode_ar<k>``: the load's exact conditional mean and every link term (``1/B`` of the
  four bandwidths, the two latencies: the cost is linear in them) forecast by a
  least-squares AR(k) on the previous k frames with coefficients fitted on **that episode's
  own frames, its future included** (forecasts clamped to the episode's range; the first k
  frames use the measurement). It stands in, optimistically, for a learned forecast that
  knew each episode's own dynamics exactly; it is not a bound.
* ``online_ar1``: the same with an AR(1) fitted on the frames measured so far (a causal rule
  an agent could run: the measurement for the first 10 frames, then the fit, clamped to the
  range seen), and the load's exact conditional mean.
* ``best_constant``: the best fixed decision of the network in hindsight (agents.hardness).

Per DNN it prints the table of gaps per network, then each rule's mean gap, mean cost
against ``dp_measured`` and against the best constant (:func:`pipeline.aggregate.vs_best_constant`,
the column of generalisation.py's tables). MEC only: D2D's measured state also changes
which collaborator is selected.

    python benchmarks/measured_bounds.py                       # AlexNet, 300 episodes
    python benchmarks/measured_bounds.py --dnn alexnet vgg16 resnet32 mobilenet_v1 --lags 1 3
"""

from __future__ import annotations

import argparse
import dataclasses
import time
import warnings
from pathlib import Path

import gymnasium as gym
import numpy as np
from generalisation import DNNS, EVAL_DEFAULT  # the report's DNNs, its evaluation seed

import envs  # noqa: F401  (registers the env ids)
from agents.hardness import hardness_report
from envs.mixture import default_data_dir, split_networks
from envs.model.links import mec_links
from envs.problem import PartitionProblem
from pipeline.aggregate import vs_best_constant

warnings.filterwarnings("ignore", message=".*is out of date.*")
ENV_ID = "EdgeRL/MECPartition-v1"
#: MEC link fields (MECSim.values): four bandwidths (the cost is linear in 1/B), two RTTs
INVERSE = np.array([True] * 4 + [False] * 2)


def _vec(dnn: str, network: dict, episodes: int) -> gym.vector.VectorEnv:
    return gym.make_vec(ENV_ID, num_envs=episodes, vectorization_mode="vector_entry_point",
                        dnn=dnn, network=network, action_mode="discrete", oracle=False,
                        observe="measured")  # fmt: skip


def episode_ar(terms: np.ndarray, lags: int) -> np.ndarray:
    """Each episode's own least-squares AR(``lags``) forecast of every term from the previous
    ``lags`` frames, fitted on all of the episode's frames (``terms``: ``(E, T, F)``); the
    first ``lags`` frames get the measurement (frame 0: the frame itself), every forecast is
    clamped to the episode's range of that term."""
    T = terms.shape[1]
    out = np.concatenate([terms[:, :1], terms[:, :-1]], axis=1)  # the measurement
    y = terms[:, lags:]  # (E, T - lags, F)
    cols = [terms[:, lags - j : T - j] for j in range(1, lags + 1)]
    X = np.stack([np.ones_like(y), *cols], axis=-1)  # (E, T - lags, F, lags + 1)
    Xf, yf = X.transpose(0, 2, 1, 3), y.transpose(0, 2, 1)  # per (episode, term) systems
    A = Xf.transpose(0, 1, 3, 2) @ Xf + 1e-12 * np.eye(lags + 1)
    b = (Xf.transpose(0, 1, 3, 2) @ yf[..., None])[..., 0]
    beta = np.linalg.solve(A, b[..., None])[..., 0]  # (E, F, lags + 1)
    fit = np.einsum("etfk,efk->etf", X, beta)
    lo, hi = terms.min(axis=1, keepdims=True), terms.max(axis=1, keepdims=True)
    out[:, lags:] = np.clip(fit, lo, hi)
    return out


def online_ar1(terms: np.ndarray, warmup: int = 10) -> np.ndarray:
    """A causal forecast: each episode's least-squares AR(1) of every term fitted on the
    frames measured so far (at frame ``t`` the pairs ``(x_{s-1}, x_s)``, ``s <= t - 1``),
    applied to the last measurement ``x_{t-1}`` and clamped to the range seen so far; the
    measurement itself before ``warmup`` frames (``terms``: ``(E, T, F)``)."""
    out = np.concatenate([terms[:, :1], terms[:, :-1]], axis=1)  # the measurement
    start = max(warmup, 3)
    x, y = terms[:, :-1], terms[:, 1:]  # pair s - 1 -> s sits at index s - 1
    # running sums over the pairs; frame t (>= start) reads the first n = t - 1 of them
    n = np.arange(start - 1, terms.shape[1] - 1, dtype=np.float64)[None, :, None]
    sums = [np.cumsum(v, axis=1)[:, start - 2 : -1] / n for v in (x, y, x * x, x * y)]
    mx, my, mxx, mxy = sums
    vxx, vxy = mxx - mx * mx, mxy - mx * my
    b = np.where(vxx > 1e-12 * mx * mx, vxy / np.where(vxx > 0, vxx, 1.0), 0.0)
    fc = my + b * (terms[:, start - 1 : -1] - mx)
    lo = np.minimum.accumulate(terms, axis=1)[:, start - 1 : -1]  # frames before t
    hi = np.maximum.accumulate(terms, axis=1)[:, start - 1 : -1]
    out[:, start:] = np.clip(fc, lo, hi)
    return out


def measure(dnn: str, network: dict, episodes: int, seed: int,
            lags: list[int]) -> dict[str, tuple[float, float]]:  # fmt: skip
    """Mean cost and mean gap to the oracle (``mean(cost / OPT) - 1``) of every rule on one
    network."""
    rep = hardness_report(ENV_ID, episodes=episodes, seed=seed, dnn=dnn, network=network,
                          observe="measured")  # fmt: skip
    vec = _vec(dnn, network, episodes)  # first pass: the frames' true link values
    base = vec.unwrapped
    vec.reset(seed=seed)
    noop = np.zeros(vec.action_space.shape, dtype=vec.action_space.dtype)
    values = []
    for _ in range(base.max_episode_steps):
        values.append(base.sim.values.copy())
        vec.step(noop)
    vec.close()
    terms = np.stack(values, axis=1)
    terms = np.where(INVERSE, 1.0 / terms, terms)
    forecasts = {f"episode_ar{k}": episode_ar(terms, k) for k in lags}
    forecasts["online_ar1"] = online_ar1(terms)

    vec = _vec(dnn, network, episodes)  # second pass: the same frames (actions change none)
    base = vec.unwrapped
    vec.reset(seed=seed)
    sim, scale = base.sim, base.sim.latency_scale
    rules = ("dp_measured", "links_known", "load_known", *forecasts, "best_constant")
    costs: dict[str, list[np.ndarray]] = {k: [] for k in rules}
    ratios: dict[str, list[np.ndarray]] = {k: [] for k in rules}
    for t in range(base.max_episode_steps):
        true, seen = base.problem, base.measured_problem
        opt = true.optimum()[1]
        # frame 0 is measured on itself (the device probes on connecting)
        load = (
            true.slowdown
            if t == 0
            else sim.load.expected_factor(sim.obs_slowdown / sim.nominal) * sim.nominal
        )
        frames: dict[str, PartitionProblem] = {
            "dp_measured": seen,
            "links_known": dataclasses.replace(true, slowdown=load),
            "load_known": dataclasses.replace(true, links=seen.links),
        }
        for k, fc in forecasts.items():
            v = np.where(INVERSE, 1.0 / fc[:, t], fc[:, t])
            links = mec_links(v[:, 0], v[:, 1], v[:, 2], v[:, 3], v[:, 4] * scale,
                              v[:, 5] * scale, validate=False)  # fmt: skip
            frames[k] = dataclasses.replace(true, links=links, slowdown=load)
        picks = {k: frame.optimum()[0] for k, frame in frames.items()}
        picks["best_constant"] = np.broadcast_to(rep.best_constant, picks["dp_measured"].shape)
        for k, d in picks.items():
            c = true.evaluate(d).cost
            costs[k].append(c)
            ratios[k].append(c / opt)
        vec.step(noop)
    vec.close()
    return {k: (float(np.mean(costs[k])), float(np.mean(ratios[k]) - 1.0)) for k in rules}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dnn", nargs="+", default=["alexnet"], choices=DNNS)
    parser.add_argument("--episodes", type=int, default=300, help="per network (>= 1)")
    parser.add_argument("--seed", type=int, default=EVAL_DEFAULT["seed"],
                        help="the evaluation seed (generalisation.py's default)")  # fmt: skip
    parser.add_argument("--lags", type=int, nargs="+", default=[1, 3])
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args(argv)
    if args.episodes < 1:
        parser.error(f"--episodes must be at least 1, got {args.episodes}")
    if min(args.lags) < 1 or max(args.lags) > 50:
        parser.error(f"--lags must lie in 1..50, got {args.lags}")
    data = Path(args.data_dir) if args.data_dir else default_data_dir()
    networks = split_networks(data, "test")
    for dnn in args.dnn:
        t0 = time.perf_counter()
        gaps = {name: measure(dnn, spec, args.episodes, args.seed, args.lags)
                for name, spec in networks.items()}  # fmt: skip
        rules = list(next(iter(gaps.values())))
        print(f"\n#### mec/{dnn} ({args.episodes} episodes x 100 frames per network, seed "
              f"{args.seed}; gap to the oracle, %)\n")  # fmt: skip
        print("| network | " + " | ".join(rules) + " |")
        print("|---" * (len(rules) + 1) + "|")
        for name, g in gaps.items():
            print(f"| {name} | " + " | ".join(f"{100 * g[r][1]:.2f}" for r in rules) + " |")
        col = {r: np.array([[*g[r]] for g in gaps.values()]) for r in rules}  # (networks, 2)
        print("\n| rule | mean gap (%) | mean cost vs dp_measured | mean cost vs best constant |")
        print("|---|---|---|---|")
        for r in rules:
            cost, gap = col[r].T
            print(f"| {r} | {100 * gap.mean():.2f} | {np.mean(cost / col['dp_measured'][:, 0]):.4f}"
                  f" | {vs_best_constant(gap, col['best_constant'][:, 1]):.4f} |")  # fmt: skip
        print(f"\n({time.perf_counter() - t0:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
