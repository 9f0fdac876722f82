"""Where a trained partitioning policy loses to the oracle, placement by placement.

Usage: ``.venv/bin/python benchmarks/decision_errors.py RUN [--network mixture_test]
[--observe current|measured] [--episodes 30] [--seed 12345] [--top 8]``.

``RUN`` is anything :func:`agents.load_actor` reads (a run directory, a ``checkpoint.pt``;
custom agents, SB3 and RLlib). The policy is evaluated on its own env: every env setting of
its run's ``config.yaml`` (for a checkpoint outside a run directory, the env id, DNN,
parameters and action mode of its signature), with the network ``--network`` (a network
name of the env, one network of a trace split such as ``test:static/5g/away_p3``, or a JSON
spec; default the held-out mixture) and the observation
``--observe`` (default: the one it was trained on), on ``--episodes`` episodes of 100
frames (episode ``k`` seeded ``--seed + k``).

Each frame gives the oracle's placement (a platform per block, on the frame itself), the
policy's, and the policy's excess cost over the oracle's. The table groups the frames by the
oracle's placement, most frequent first: the share of frames, how often the policy chose
that placement exactly, its mean gap there, the placement's share of the policy's mean gap
and of its excess cost (the sum over frames of cost minus the oracle's: expensive frames
weigh more, as in a mean cost) and the policy's most frequent choice on those frames.
Placements are written as runs, e.g. ``cloud×16 edge×1``. The last line gives the mean gap,
the share of exact decisions, and in the measured state ``dp_measured``'s mean gap on the
same frames.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

import envs  # (registers the env ids)


def placement_label(decision: tuple[int, ...], platforms: tuple[str, ...]) -> str:
    """``(2, 2, 2, 1)`` -> ``"cloud×3 edge×1"`` (runs of one platform, in block order)."""
    runs: list[list[int]] = []
    for p in decision:
        if runs and runs[-1][0] == p:
            runs[-1][1] += 1
        else:
            runs.append([p, 1])
    return " ".join(f"{platforms[p]}×{k}" for p, k in runs)


def frame_decisions(
    policy: Any, env_id: str, env_kwargs: dict[str, Any], episodes: int, seed: int
) -> dict[str, Any]:
    """Per frame of ``episodes`` episodes of ``env_id`` built with ``env_kwargs`` (its
    constructor arguments; the per-step oracle is off, the oracle is solved here): the
    oracle's and the policy's placements ``(frames, n)``, their costs, ``dp_measured``'s
    cost, and the env's platform names. Frames of a D2D copy without a collaborator (every
    decision runs locally) are left out."""
    kw = {**env_kwargs, "oracle": False}
    vec = gym.make_vec(env_id, num_envs=episodes, vectorization_mode="vector_entry_point", **kw)
    base = vec.unwrapped
    out: dict[str, list[np.ndarray]] = defaultdict(list)
    obs, _ = vec.reset(seed=seed)
    for _ in range(base.max_episode_steps):
        true, seen = base.problem, base.measured_problem
        avail = base.sim.available
        keep = np.ones(episodes, bool) if avail is None else np.asarray(avail, bool)
        best, opt = true.optimum()
        mine = base.env.action_to_decision(np.asarray(policy.act_batch(obs)))
        out["oracle"].append(best[keep])
        out["policy"].append(mine[keep])
        out["optimal_cost"].append(np.asarray(opt)[keep])
        out["cost"].append(np.asarray(true.evaluate(mine).cost)[keep])
        out["dp_measured_cost"].append(np.asarray(true.evaluate(seen.optimum()[0]).cost)[keep])
        obs, *_ = vec.step(np.zeros(vec.action_space.shape, dtype=vec.action_space.dtype))
    platforms = tuple(base.env.platforms)
    vec.close()
    return {**{k: np.concatenate(v) for k, v in out.items()}, "platforms": platforms}


def ranked_placements(decisions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of ``decisions`` ``(frames, n)``, most frequent first (ties in order
    of first appearance), and each frame's rank in that order."""
    uniq, first, inverse, counts = np.unique(
        decisions, axis=0, return_index=True, return_inverse=True, return_counts=True
    )
    order = np.lexsort((first, -counts))
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    return uniq[order], rank[inverse.reshape(-1)]


def placement_table(frames: dict[str, Any], top: int) -> list[dict[str, Any]]:
    """One row per oracle placement (the ``top`` most frequent, then the rest as one row):
    ``placement``, ``share`` of frames, ``exact`` (policy chose it), ``gap`` (mean over its
    frames), ``gap_share`` and ``excess_share`` (of the sum of the policy's gaps and of its
    excess costs over the frames; NaN when there is none) and the policy's most frequent
    ``choice`` there."""
    oracle, policy, platforms = frames["oracle"], frames["policy"], frames["platforms"]
    excess = frames["cost"] - frames["optimal_cost"]
    gap = frames["cost"] / frames["optimal_cost"] - 1.0
    total, total_gap = excess.sum(), gap.sum()
    placements, rank = ranked_placements(oracle)
    groups: list[tuple[str, np.ndarray, str | None]] = [
        (placement_label(tuple(placements[r].tolist()), platforms), rank == r, None)
        for r in range(min(top, len(placements)))
    ]
    if len(placements) > top:
        rest = len(placements) - top
        groups.append((f"{rest} other placement{'s' * (rest > 1)}", rank >= top, "—"))
    rows = []
    for label, mask, choice in groups:
        exact = (policy[mask] == oracle[mask]).all(axis=1)
        if choice is None:
            choice = placement_label(tuple(ranked_placements(policy[mask])[0][0].tolist()),
                                     platforms)  # fmt: skip
        rows.append({
            "placement": label,
            "share": float(mask.mean()),
            "exact": float(exact.mean()),
            "gap": float(gap[mask].mean()),
            "gap_share": float(gap[mask].sum() / total_gap) if total_gap > 0 else float("nan"),
            "excess_share": float(excess[mask].sum() / total) if total > 0 else float("nan"),
            "choice": choice,
        })  # fmt: skip
    return rows


def policy_env(policy: Any, run: str) -> tuple[str, dict[str, Any]]:
    """The env id and constructor arguments a loaded policy acts in: from its run's config
    (an SB3 / RLlib :class:`agents.loading.TrainedPolicy` carries it; a custom agent's run
    directory holds ``config.yaml``), else from a custom agent's signature."""
    from omegaconf import OmegaConf

    from pipeline.envs import env_kwargs

    sig = getattr(policy, "signature", None) or {}
    cfg = getattr(policy, "cfg", None)
    if cfg is None:
        path = Path(run)
        for d in (path, path.parent):
            if d.is_dir() and (d / "config.yaml").is_file():
                cfg = OmegaConf.load(d / "config.yaml")
                break
    mode = getattr(policy, "action_mode", None) or sig.get("action_mode")
    trained = (sig.get("env_params") or {}).get("observe")
    if cfg is not None:
        kw = env_kwargs(cfg.env, cfg.dnn, cfg.network, mode)
        if trained is not None and "observe" in kw:  # a part of a composite run trained
            kw["observe"] = trained  # on another observation than the run's env
        return str(cfg.env.id), kw
    if not sig:
        raise ValueError(f"{type(policy).__name__} records no env (no signature, no run config)")
    params = {k: tuple(v) if isinstance(v, list) else v
              for k, v in (sig.get("env_params") or {}).items()}  # fmt: skip
    return str(sig["env_id"]), {**params, "dnn": sig.get("profile_name"), "action_mode": mode}


def network_arg(value: str, trace_dir: str | None = None) -> Any:
    """``--network``: a JSON spec (``{...}``), ``<split>:<name>`` (one network of the
    ``train`` or ``test`` trace split under ``trace_dir``, default ``$EDGERL_DATA`` or
    ``../shared/data``, named as ``evaluate.py split_networks=<split>`` names its groups,
    e.g. ``test:static/5g/away_p3``), or a network name of the env (``mixture_test``)."""
    from envs.mixture import default_data_dir, split_networks

    if value.lstrip().startswith("{"):
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"--network: not a JSON spec ({exc}): {value}") from None
    split, sep, name = value.partition(":")
    if sep and split in ("train", "test"):
        nets = split_networks(trace_dir or default_data_dir(), split)
        if name not in nets:
            raise ValueError(f"--network {value}: the {split} split has {', '.join(nets)}")
        return nets[name]
    return value


def main() -> None:
    from agents.common.checkpoint import CheckpointError
    from agents.loading import load_actor

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("run", help="a run directory or checkpoint (anything load_actor reads)")
    p.add_argument("--network", default="mixture_test",
                   help="a network name of the env, <split>:<name> (one network of the train "
                        "or test split, e.g. test:static/5g/away_p3), or a JSON spec "
                        "(default: mixture_test)")  # fmt: skip
    p.add_argument("--observe", choices=("current", "measured"), default=None,
                   help="the observation (default: the policy's own)")  # fmt: skip
    p.add_argument("--episodes", type=int, default=30)
    p.add_argument("--seed", type=int, default=12345)
    p.add_argument("--top", type=int, default=8, help="oracle placements listed one by one")
    args = p.parse_args()
    if args.episodes < 1 or args.top < 1:
        p.error("--episodes and --top must be >= 1")
    try:
        policy = load_actor(args.run)
        env_id, kw = policy_env(policy, args.run)
    except CheckpointError as exc:  # its message names the file
        p.error(str(exc))
    except (OSError, ValueError) as exc:
        p.error(f"{args.run}: {exc}")
    if env_id not in envs.PARTITION_ENV_IDS:
        p.error(f"{args.run} holds no partitioning policy (env {env_id})")
    if args.observe is not None:
        if "observe" not in kw:
            p.error(f"{env_id} has one observation: leave --observe out")
        kw["observe"] = args.observe
    try:
        kw["network"] = network_arg(args.network, kw.get("trace_dir"))
    except ValueError as exc:
        p.error(str(exc))
    frames = frame_decisions(policy, env_id, kw, args.episodes, args.seed)
    rows = placement_table(frames, args.top)
    observe = kw.get("observe")
    print(f"{args.run} on {env_id} ({kw.get('dnn')}), network {args.network}, "
          f"observe={observe}, {len(frames['cost'])} frames\n")  # fmt: skip
    print("| oracle's placement | frames | policy exact | policy gap | share of gap | "
          "share of excess cost | policy's most frequent choice |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['placement']} | {100 * r['share']:.1f}% | {100 * r['exact']:.0f}% | "
              f"{100 * r['gap']:.3f}% | {100 * r['gap_share']:.0f}% | "
              f"{100 * r['excess_share']:.0f}% | {r['choice']} |")  # fmt: skip
    gap = frames["cost"] / frames["optimal_cost"] - 1.0
    exact = (frames["policy"] == frames["oracle"]).all(axis=1).mean()
    line = f"\nmean gap {100 * gap.mean():.3f}%, exact on {100 * exact:.1f}% of frames"
    if observe == "measured":
        dpm = frames["dp_measured_cost"] / frames["optimal_cost"] - 1.0
        line += f"; dp_measured mean gap {100 * dpm.mean():.3f}%"
    print(line)


if __name__ == "__main__":
    main()
