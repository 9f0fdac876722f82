"""``python evaluate.py runs=<dir or glob>``: trained runs against every baseline.

* Discovers run directories (those with ``config.yaml`` and ``state.json``) under ``runs``
  (a run dir, a tree of runs, or a glob), keeps finished ones (status ``done``/``trained``;
  interrupted runs are skipped with a note) and groups them by env config (env, dnn and
  network sections; the action mode may differ).
* For each group evaluates, on the same fixed episodes (``seed``, ``episodes``): every
  heuristic that applies (``agents.make_policy`` names) and the oracle (partitioning), and
  every trained run (custom agents through their fast numpy actor, SB3 through the model,
  RLlib through its RLModule).
* Writes ``results.csv``, ``results.md`` and PNG plots into ``out_dir``: cost per agent per
  DNN (partitioning) and, for scheduling, variance and latency against the load
  (``loads``, ``load_episodes`` episodes per point).
"""

from __future__ import annotations

import glob
import json
import logging
import sys
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from pipeline.config import ConfigError, Rule, check_rules, non_negative, positive
from pipeline.envs import HEURISTIC_ACTION_MODE, build_env, is_partition
from pipeline.evaluation import (
    EvalResult,
    evaluate_partition,
    evaluate_scheduling,
    time_decisions,
)
from pipeline.utils import read_json, to_plain

log = logging.getLogger("edgerl")

FINISHED = ("done", "trained")
BEST_CONSTANT = "best_constant"


# ---------------------------------------------------------------------------- baselines
def heuristic_names(env_name: str) -> list[str]:
    """Every baseline of :func:`agents.make_policy` that applies to the env, oracle last.

    ``co_l`` is left out: it is the same rule as ``co_h`` (every block on the collaborator);
    the paper's strong/weak collaborator is an env setting (``env.availability``).
    """
    if is_partition(env_name):
        from agents.partition_baselines import D2D_ONLY, MEC_ONLY
        from agents.partition_policies import PARTITION_POLICY_NAMES

        skip = set(D2D_ONLY if env_name == "mec" else MEC_ONLY) | {"co_l", "oracle"}
        names = [n for n in PARTITION_POLICY_NAMES if n not in skip]
        # best_constant: the best fixed placement in hindsight on the evaluation frames
        return [*names, BEST_CONSTANT, "oracle"]
    from agents.scheduling_baselines import SCHEDULING_POLICIES

    return list(SCHEDULING_POLICIES)


def make_heuristic(name: str, env: Any, seed: int, constant: Any = None) -> Any:
    from agents import make_policy

    if name == BEST_CONSTANT:
        return make_policy("constant", env, decision=constant)
    return make_policy(name, env, seed=seed) if name == "random" else make_policy(name, env)


def _kind(name: str) -> str:
    return "oracle" if name == "oracle" else "heuristic"


# ------------------------------------------------------------------------- evaluation
@dataclass
class TrainedRun:
    run_dir: Path
    cfg: DictConfig
    runner_cls: type
    action_mode: str


def _env(cfg: DictConfig, mode: str, num_envs: int | None = None, **env_overrides: Any) -> Any:
    if env_overrides:
        cfg = OmegaConf.merge(cfg, {"env": env_overrides})
    return build_env(cfg, action_mode=mode, num_envs=num_envs)


def evaluate_policies(
    cfg: DictConfig,
    heuristics: list[str],
    trained: list[tuple[str, str, Any, str, str | None]],
    episodes: int,
    seed: int,
    decision_steps: int,
) -> list[EvalResult]:
    """Heuristics (built per env) and trained policies ``(name, kind, policy, action_mode,
    run)`` on one env config."""
    env_name = cfg.env.name
    results: list[EvalResult] = []
    h_mode = HEURISTIC_ACTION_MODE[env_name]
    if is_partition(env_name):
        from agents.hardness import best_constant

        venv = _env(cfg, h_mode, num_envs=episodes)
        single = _env(cfg, h_mode)
        const = None
        if BEST_CONSTANT in heuristics:  # on exactly the frames evaluate_partition runs
            const = best_constant(venv, seed, venv.unwrapped.max_episode_steps)[0]
        for name in heuristics:
            res = evaluate_partition(
                make_heuristic(name, venv, seed, const), venv, seed, name=name, kind=_kind(name)
            )
            res.decision_us = time_decisions(
                make_heuristic(name, single, seed, const), single, decision_steps, seed
            )
            results.append(res)
        venv.close()
        single.close()
        for name, kind, policy, mode, run in trained:
            venv = _env(cfg, mode, num_envs=episodes)
            single = _env(cfg, mode)
            res = evaluate_partition(policy, venv, seed, name=name, kind=kind, run=run)
            res.decision_us = time_decisions(policy, single, decision_steps, seed)
            results.append(res)
            venv.close()
            single.close()
        return results
    env = _env(cfg, h_mode)
    for name in heuristics:
        policy = make_heuristic(name, env, seed)
        res = evaluate_scheduling(policy, env, episodes, seed, name=name, kind=_kind(name))
        res.decision_us = time_decisions(policy, env, decision_steps, seed)
        results.append(res)
    env.close()
    for name, kind, policy, mode, run in trained:
        env = _env(cfg, mode)
        res = evaluate_scheduling(policy, env, episodes, seed, name=name, kind=kind, run=run)
        res.decision_us = time_decisions(policy, env, decision_steps, seed)
        results.append(res)
        env.close()
    return results


def load_sweep(
    cfg: DictConfig,
    heuristics: list[str],
    trained: list[tuple[str, str, Any, str, str | None]],
    loads: list[float],
    episodes: int,
    seed: int,
) -> list[dict[str, Any]]:
    """Scheduling: mean variance and latency of every policy at every load level."""
    rows = []
    for load in loads:
        h_env = _env(cfg, HEURISTIC_ACTION_MODE["scheduling"], load=float(load))
        entries = [(n, _kind(n), make_heuristic(n, h_env, seed), None, None) for n in heuristics]
        for name, kind, policy, mode, run in [*entries, *trained]:
            env = h_env if mode is None else _env(cfg, mode, load=float(load))
            res = evaluate_scheduling(policy, env, episodes, seed, name=name, kind=kind, run=run)
            s = res.summary()
            rows.append({"load": float(load), "agent": name, "kind": kind, "run": run or "",
                         "variance": s["variance_mean"], "variance_std": s["variance_std"],
                         "latency_ms": s["latency_ms_mean"], "latency_ms_std": s["latency_ms_std"],
                         "dropped": s["dropped_mean"]})  # fmt: skip
            if env is not h_env:
                env.close()
        h_env.close()
    return rows


def final_evaluation(
    cfg: DictConfig, spec: Any, runner: Any, episodes: int
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The end-of-training table: the trained policy and every baseline on ``episodes``
    episodes from ``train.eval_seed``. Returns (rows, the trained agent's row)."""
    seed = int(cfg.train.eval_seed)
    trained = [
        (str(cfg.agent.name), "trained", runner.policy(), spec.action_mode, str(runner.run_dir))
    ]
    results = evaluate_policies(
        cfg, heuristic_names(cfg.env.name), trained, episodes, seed, decision_steps=100
    )
    rows = [_row(cfg, r) for r in results]
    return rows, next(r for r in rows if r["kind"] == "trained")


def _row(cfg: DictConfig, res: EvalResult) -> dict[str, Any]:
    head = {"group": str(cfg.env.tag), "env": str(cfg.env.name), "dnn": str(cfg.dnn.name),
            "network": str(cfg.network.name)}  # fmt: skip
    return {**head, **res.summary()}


# ----------------------------------------------------------------------------- runs
def _is_run_dir(p: Path) -> bool:
    return (p / "config.yaml").is_file() and (p / "state.json").is_file()


def discover_runs(pattern: str) -> list[Path]:
    """Run dirs named by ``pattern``: a run dir, a directory tree, or a glob of either."""
    paths = (
        [Path(p) for p in sorted(glob.glob(pattern, recursive=True))]
        if glob.has_magic(pattern)
        else [Path(pattern)]
    )
    found: list[Path] = []
    for p in paths:
        if not p.is_dir():
            continue
        if _is_run_dir(p):
            found.append(p)
            continue
        for cfg_file in sorted(p.rglob("config.yaml")):
            if _is_run_dir(cfg_file.parent) and ".hydra" not in cfg_file.parts:
                found.append(cfg_file.parent)
    return list(OrderedDict.fromkeys(x.resolve() for x in found))


def default_out_dir(pattern: str) -> Path:
    """``<runs>/eval`` for a directory; for a glob, the directory before the first wildcard."""
    if glob.has_magic(pattern):
        parts = Path(pattern).parts
        fixed = []
        for part in parts:
            if glob.has_magic(part):
                break
            fixed.append(part)
        base = Path(*fixed) if fixed else Path(".")
    else:
        base = Path(pattern)
    return base / "eval"


def group_key(run_cfg: dict[str, Any]) -> str:
    env = {k: v for k, v in run_cfg["env"].items() if k != "action_mode"}
    return json.dumps(
        {"env": env, "dnn": run_cfg["dnn"], "network": run_cfg["network"]}, sort_keys=True
    )


def load_trained(run_dir: Path) -> TrainedRun:
    from pipeline.config import runner_class, validate

    cfg = OmegaConf.load(run_dir / "config.yaml")
    spec = validate(cfg, build_env_check=False)
    return TrainedRun(run_dir, cfg, runner_class(cfg.agent._target_), spec.action_mode)


EVAL_RULES: dict[str, Rule] = {
    "runs": Rule("str"),
    "episodes": positive("int"),
    "seed": non_negative("int"),
    "out_dir": Rule("str", none_ok=True),
    "baselines": Rule("any"),
    "decision_steps": non_negative("int"),
    "loads": Rule("any"),
    "load_episodes": positive("int"),
    "plots": Rule("bool"),
    "torch_threads": positive("int", none_ok=True),
}


def check_config(cfg: DictConfig) -> None:
    """ConfigError for a missing ``runs`` or a bad value of ``configs/evaluate.yaml``."""
    if OmegaConf.is_missing(cfg, "runs"):
        raise ConfigError("runs=<run dir, directory of runs, or a quoted glob> is required")
    plain = {k: v for k, v in to_plain(cfg).items() if k != "hydra"}
    check_rules("evaluate", plain, EVAL_RULES)
    loads = plain["loads"] or []
    if not isinstance(loads, list) or not all(
        isinstance(x, int | float) and not isinstance(x, bool) and x > 0 for x in loads
    ):
        raise ConfigError(f"loads={loads!r} is invalid: must be a list of numbers > 0")
    if plain["baselines"] is not None and not isinstance(plain["baselines"], list):
        raise ConfigError(f"baselines={plain['baselines']!r} is invalid: must be null or a list")


def report_bad_run(run_dir: Path, exc: BaseException) -> None:
    """One line on stderr for a run that cannot be evaluated (the others go on)."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if not isinstance(exc, OSError | ValueError) or not first:  # e.g. a YAML parser error
        first = f"{type(exc).__name__}: {first}"
    print(f"error: skipping run {run_dir}: {first}", file=sys.stderr, flush=True)


def run(cfg: DictConfig) -> int:
    """Evaluate the runs named by ``cfg.runs``; returns the exit status (0 when every run
    was evaluated, 1 when some could not be loaded, 2 when none)."""
    from pipeline.report import write_outputs

    try:
        check_config(cfg)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if cfg.torch_threads is not None:
        import torch

        torch.set_num_threads(int(cfg.torch_threads))
    pattern = str(cfg.runs)
    runs = discover_runs(pattern)
    if not runs:
        print(f"error: no run directories (with config.yaml and state.json) match {pattern!r}",
              file=sys.stderr)  # fmt: skip
        return 2
    groups: dict[str, list[TrainedRun]] = OrderedDict()
    skipped = []
    n_bad = 0
    for rd in runs:
        try:  # one broken run dir is reported and skipped, not fatal for the others
            state = read_json(rd / "state.json")
            if state.get("status") not in FINISHED:
                skipped.append(f"{rd} ({state.get('status')} at step {state.get('steps')})")
                continue
            tr = load_trained(rd)
        except Exception as exc:  # unreadable state.json/config.yaml (JSON, YAML, config errors)
            n_bad += 1
            report_bad_run(rd, exc)
            continue
        groups.setdefault(group_key(to_plain(tr.cfg)), []).append(tr)
    for s in skipped:
        log.warning("skipping unfinished run %s", s)
    if not groups:
        print("error: no finished runs to evaluate", file=sys.stderr)
        return 2
    if cfg.baselines is not None:  # each group gets the wanted baselines that apply to it
        wanted = [str(n) for n in cfg.baselines]
        known = {n for m in groups.values() for n in heuristic_names(str(m[0].cfg.env.name))}
        if bad := sorted(set(wanted) - known):
            print(f"error: baselines {bad} apply to none of the runs' envs; choose from "
                  f"{sorted(known)}", file=sys.stderr)  # fmt: skip
            return 2
    episodes, seed = int(cfg.episodes), int(cfg.seed)
    all_rows: list[dict[str, Any]] = []
    sweeps: dict[str, list[dict[str, Any]]] = {}
    labels: dict[str, int] = {}
    for members in groups.values():
        base_cfg = members[0].cfg
        # two env configs with the same tag (e.g. another env.eta1) get distinct labels
        tag = str(base_cfg.env.tag)
        labels[tag] = labels.get(tag, 0) + 1
        if labels[tag] > 1:
            base_cfg = OmegaConf.merge(base_cfg, {"env": {"tag": f"{tag}#{labels[tag]}"}})
        env_name = str(base_cfg.env.name)
        names = heuristic_names(env_name)
        if cfg.baselines is not None:
            names = [n for n in names if n in wanted]
        trained = []
        loaded = []
        for tr in members:
            probe = _env(tr.cfg, tr.action_mode)
            try:  # CheckpointError (a ValueError) names the file and the problem
                policy = tr.runner_cls.load_policy(tr.run_dir, tr.cfg, probe)
            except Exception as exc:  # CheckpointError; anything else must not stop the rest
                n_bad += 1
                report_bad_run(tr.run_dir, exc)
                continue
            finally:
                probe.close()
            loaded.append(tr)
            trained.append(
                (str(tr.cfg.agent.name), "trained", policy, tr.action_mode, str(tr.run_dir))
            )
        members = loaded
        log.info("evaluating %s: %d runs + %d baselines on %d episodes",
                 base_cfg.env.tag, len(trained), len(names), episodes)  # fmt: skip
        results = evaluate_policies(
            base_cfg, names, trained, episodes, seed, int(cfg.decision_steps)
        )
        for res, tr_seed in zip(
            results, [None] * len(names) + [t.cfg.seed for t in members], strict=True
        ):
            row = _row(base_cfg, res)
            row["train_seed"] = "" if tr_seed is None else int(tr_seed)
            row["episodes"] = episodes
            row["eval_seed"] = seed
            all_rows.append(row)
        if env_name == "scheduling" and cfg.plots and cfg.loads:
            sweeps[str(base_cfg.env.tag)] = load_sweep(
                base_cfg, names, trained, list(cfg.loads), int(cfg.load_episodes), seed
            )
    out_dir = Path(cfg.out_dir) if cfg.out_dir is not None else default_out_dir(pattern)
    files = write_outputs(
        all_rows, sweeps, out_dir, plots=bool(cfg.plots), episodes=episodes, seed=seed
    )
    for f in files:
        print(f"wrote {f}")
    return 1 if n_bad else 0
