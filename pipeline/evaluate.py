"""``python evaluate.py runs=<dir, glob or [list]>``: trained runs against every baseline.

* Discovers run directories (those with ``config.yaml`` and ``state.json``) under ``runs``
  (a run dir, a tree of runs, a glob, or a Hydra list of any of them: ``runs=[a,b]``), keeps
  finished ones (status ``done``/``trained``; interrupted runs are skipped with a note) and
  groups them by env config (env, dnn and network sections; the action mode may differ).
* ``network=<name>`` (a ``configs/network`` option, e.g. ``mixture_test``) evaluates every
  partitioning run on that network instead of the one it was trained on;
  ``networks=[mixture_train,mixture_test]`` on each of several, one group of rows per
  network. The ``train_network`` column says what a run trained on.
* ``observe=measured`` (or ``current``) evaluates every v1 partitioning run with that
  observation instead of the one it was trained with (e.g. a run trained with
  ``env.observe=current``, on the frame it decides, deployed on the last frame's
  measurement); the ``observe`` and ``train_observe`` columns say which. With
  ``observe=current`` an ``agent=iorlo_plus_forecast`` run decides by its policy alone
  (the frame is observed: nothing is left to forecast).
* ``forecast=<DP-forecast run dir>`` also evaluates every custom-agent run of the same
  partitioning env and DNN deciding on that run's forecast of the frame
  (:func:`agents.forecast.compose_forecast_frame`): rows ``<agent>+forecast_frame`` with
  the ``forecast`` column; on the measured state (``observe`` null or ``measured``).
* For each group evaluates, on the same fixed episodes (``seed``, ``episodes``): every
  heuristic that applies (``agents.make_policy`` names) and the oracle (partitioning), and
  every trained run (custom agents through their fast numpy actor, SB3 through the model,
  RLlib through its RLModule).
* Aggregates over training seeds with rliable (:mod:`pipeline.aggregate`): IQM and mean of
  the per-episode scores over runs x episodes with stratified-bootstrap 95% CIs, and
  performance profiles of the gap; prints those tables to stdout.
* Writes into a fresh directory ``<root>/eval/<YYYYmmdd-HHMMSS>`` (or ``out_dir``):
  ``aggregates.csv``, ``results.csv`` (one row per run; where ``dp_measured`` is evaluated
  beside it, ``cost_vs_dp_measured`` and its 95% CI ``_lo``/``_hi``, paired over the
  episodes: :func:`pipeline.aggregate.ratio_ci`), ``results.md``, ``evaluation.json``
  (config, runs, files) and PNG plots with the CIs: cost and gap per agent per DNN, gap
  performance profiles (partitioning) and, for scheduling, variance and latency against
  the load (``loads``, ``load_episodes`` episodes per point).
"""

from __future__ import annotations

import copy
import glob
import json
import logging
import os
import re
import sys
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig, OmegaConf

from agents.common.evaluation import (
    EvalResult,
    evaluate_partition,
    evaluate_scheduling,
    time_decisions,
)
from envs.partition.common import OBSERVE_MODES
from pipeline.aggregate import ratio_ci
from pipeline.config import ConfigError, Rule, check_rules, non_negative, positive
from pipeline.envs import HEURISTIC_ACTION_MODE, build_env, is_partition
from pipeline.utils import read_json, to_plain

log = logging.getLogger("edgerl")

FINISHED = ("done", "trained")
BEST_CONSTANT = "best_constant"
#: env keys that change what a policy observes, not the frames it is charged on: runs that
#: differ only in them are evaluated in one group, each policy on its own observation
OBSERVATION_KEYS: tuple[str, ...] = ("history", "dp_features")


# ---------------------------------------------------------------------------- baselines
def heuristic_names(env_name: str) -> list[str]:
    """Every baseline of :func:`agents.make_policy` that applies to the env, oracle last.

    Second names of a rule (``co_l``, the same rule as ``co_h``:
    :data:`agents.partition_baselines.RULE_ALIASES`) are left out; the paper's strong/weak
    collaborator is an env setting (``env.availability``).
    """
    if is_partition(env_name):
        from agents.partition_baselines import D2D_ONLY, MEC_ONLY, RULE_ALIASES
        from agents.partition_policies import PARTITION_POLICY_NAMES

        skip = set(D2D_ONLY if env_name == "mec" else MEC_ONLY) | set(RULE_ALIASES) | {"oracle"}
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
    observations: dict[tuple[str, str], dict[str, Any]] | None = None,
) -> list[EvalResult]:
    """Heuristics (built per env) and trained policies ``(name, kind, policy, action_mode,
    run)`` on one env config; ``observations[(name, run)]``: that policy's
    :data:`OBSERVATION_KEYS` where they differ from ``cfg.env``'s (the same frames, another
    observation)."""
    observations = observations or {}
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
            own = observations.get((name, run or ""), {})
            venv = _env(cfg, mode, num_envs=episodes, **own)
            single = _env(cfg, mode, **own)
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
            "network": str(cfg.network.name), "observe": str(cfg.env.get("observe") or "")}  # fmt: skip
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


def eval_root(patterns: list[str]) -> Path:
    """``<runs>/eval`` for one directory; for a glob, the directory before the first
    wildcard; for several, their deepest common directory."""
    bases = []
    for pattern in patterns:
        if glob.has_magic(pattern):
            fixed = []
            for part in Path(pattern).parts:
                if glob.has_magic(part):
                    break
                fixed.append(part)
            bases.append(Path(*fixed) if fixed else Path("."))
        else:
            bases.append(Path(pattern))
    if len(bases) == 1:
        return bases[0] / "eval"
    try:
        common = Path(os.path.commonpath([str(b.resolve()) for b in bases]))
    except ValueError:  # different drives
        common = Path(".")
    return common / "eval"


def fresh_out_dir(root: Path, now: datetime | None = None) -> Path:
    """A new ``<root>/<YYYYmmdd-HHMMSS>`` (``-2``, ``-3``, ... when that exists): every call
    writes into its own directory, so no earlier result or plot is overwritten or mixed in."""
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    root.mkdir(parents=True, exist_ok=True)
    for i in range(1, 1000):
        path = root / (stamp if i == 1 else f"{stamp}-{i}")
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path
    raise FileExistsError(f"{root}: no free directory name for {stamp}")


def default_out_dir(pattern: str | list[str]) -> Path:
    """A fresh dated directory under :func:`eval_root` (created)."""
    return fresh_out_dir(eval_root([pattern] if isinstance(pattern, str) else list(pattern)))


def network_config(name: str) -> dict[str, Any]:
    """``configs/network/<name>.yaml`` composed (with its defaults and ``data_dir``) and
    resolved, as in a training run. ConfigError naming the available options."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import HydraException

    from pipeline.utils import CONFIG_DIR

    overrides = [f"network={name}"]
    try:
        if GlobalHydra.instance().is_initialized():  # inside evaluate.py's @hydra.main
            cfg = compose("train", overrides=overrides)
        else:
            with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
                cfg = compose("train", overrides=overrides)
        return to_plain(cfg.network)
    except (HydraException, ValueError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ConfigError(f"network={name!r} is invalid: {first}") from exc


def split_network_configs(split: str) -> dict[str, dict[str, Any]]:
    """Every network of the trace ``split`` on its own (:func:`envs.mixture.split_networks`:
    the randomised generator and each mmWave scenario), as network configs named
    ``<split>:<network>``: ``mixture_<split>`` restricted to that one component."""
    from envs.mixture import split_networks

    base = network_config(f"mixture_{split}")
    try:
        specs = split_networks(base["trace_dir"], split)
    except ValueError as exc:
        raise ConfigError(f"split_networks={split!r}: {exc}") from exc
    out = {}
    for name, spec in specs.items():
        label = f"{split}:{name}"
        cfg = {**copy.deepcopy(base), "name": label, "tag": f"-{label}"}
        for scenario in ("mec", "d2d"):
            cfg[scenario] = {**cfg[scenario], **spec}
        out[label] = cfg
    return out


def network_family(group: str) -> str:
    """A group's tag without its network (``mecv1-alexnet@test:generator+measured#2`` ->
    ``mecv1-alexnet+measured#2``): the groups of one env config on several networks."""
    return re.sub(r"@[^+#]*", "", group)


def mean_over_networks(rows: list[dict[str, Any]], networks: list[str]) -> list[dict[str, Any]]:
    """Per env config (:func:`network_family` of the group: another observation or env key
    is another family, with its own baselines) and agent or run: the mean over ``networks``
    of each policy's mean cost and gap, on how many of them its mean cost is at most
    ``dp_measured``'s, and on how many the CI of its cost ratio to ``dp_measured`` lies above
    1 (``cost_above_dp_measured``, counted where the rows have one; ``–`` where none has, as
    ``dp_measured`` itself)."""
    by: dict[tuple[str, str, str], dict[str, dict[str, Any]]] = OrderedDict()
    ref: dict[tuple[str, str], float] = {}
    for r in rows:
        if r.get("network") not in networks or "gap_mean" not in r:
            continue
        family = network_family(str(r.get("group") or f"{r['env']}-{r['dnn']}"))
        by.setdefault((family, agent_label(r), str(r.get("run") or "")), OrderedDict())[
            str(r["network"])] = r  # fmt: skip
        if r["agent"] == "dp_measured":
            ref[(family, str(r["network"]))] = float(r["cost_mean"])
    out = []
    for (family, agent, run), per in by.items():
        first = next(iter(per.values()))
        costs = {n: float(x["cost_mean"]) for n, x in per.items()}
        wins = [costs[n] <= ref[(family, n)] for n in costs if (family, n) in ref]
        lows = [x["cost_vs_dp_measured_lo"] for x in per.values() if "cost_vs_dp_measured_lo" in x]
        above = f"{sum(x > 1 for x in lows)}/{len(lows)}" if lows else "–"
        out.append({"group": family, "env": str(first["env"]), "dnn": str(first["dnn"]),
                    "observe": str(first.get("observe") or ""), "agent": agent, "run": run,
                    "networks": len(per),
                    "gap_mean": float(np.mean([x["gap_mean"] for x in per.values()])),
                    "cost_mean": float(np.mean(list(costs.values()))),
                    "cost_le_dp_measured": f"{sum(wins)}/{len(wins)}",
                    "cost_above_dp_measured": above})  # fmt: skip
    return out


def with_network(cfg: DictConfig, name: str | None, networks: dict[str, Any]) -> DictConfig:
    """The run's config evaluated on network ``name`` (``None``: its own); the env tag gets
    ``@<name>`` so tables say which network a row is on."""
    if name is None:
        return cfg
    out = copy.deepcopy(cfg)
    OmegaConf.set_struct(out, False)
    out.network = OmegaConf.create(networks[name])
    tag, own = str(cfg.env.tag), str(cfg.network.get("tag") or "")
    base = tag[: -len(own)] if own and tag.endswith(own) else tag  # drop the training network
    out.env.tag = f"{base}@{name}"
    return out


def with_observe(cfg: DictConfig, mode: str | None) -> DictConfig:
    """The run's config evaluated with observation ``mode`` (``None``: as trained; only
    envs with an ``observe`` key, the v1 partitioning envs); the env tag gets ``+<mode>``
    so tables say which observation a row is on."""
    if mode is None or "observe" not in cfg.env:
        return cfg
    out = copy.deepcopy(cfg)
    OmegaConf.set_struct(out, False)
    out.env.observe = mode
    out.env.tag = f"{cfg.env.tag}+{mode}"
    return out


def own_observation(env: DictConfig, group_env: DictConfig) -> dict[str, Any]:
    """``env``'s :data:`OBSERVATION_KEYS` where they differ from ``group_env``'s."""
    own = {k: to_plain(env[k]) for k in OBSERVATION_KEYS if k in env}
    return {k: v for k, v in own.items() if v != to_plain(group_env.get(k))}


def group_key(run_cfg: dict[str, Any]) -> str:
    """Runs evaluated together: same env (action mode, tag, budget and the
    :data:`OBSERVATION_KEYS` aside), DNN and network."""
    skip = ("action_mode", "tag", "train_steps", *OBSERVATION_KEYS)
    env = {k: v for k, v in run_cfg["env"].items() if k not in skip}
    return json.dumps(
        {"env": env, "dnn": run_cfg["dnn"], "network": run_cfg["network"]}, sort_keys=True
    )


def load_trained(run_dir: Path) -> TrainedRun:
    from pipeline.config import runner_class, validate

    cfg = OmegaConf.load(run_dir / "config.yaml")
    spec = validate(cfg, build_env_check=False)
    return TrainedRun(run_dir, cfg, runner_class(cfg.agent._target_), spec.action_mode)


EVAL_RULES: dict[str, Rule] = {
    "runs": Rule("any"),
    "network": Rule("any"),
    "networks": Rule("any"),
    "split_networks": Rule("str", none_ok=True),
    "observe": Rule("str", none_ok=True),
    "forecast": Rule("str", none_ok=True),
    "data_dir": Rule("str", none_ok=True),
    "episodes": positive("int"),
    "seed": non_negative("int"),
    "out_dir": Rule("str", none_ok=True),
    "baselines": Rule("any"),
    "decision_steps": non_negative("int"),
    "loads": Rule("any"),
    "load_episodes": positive("int"),
    "bootstrap_reps": positive("int"),
    "plots": Rule("bool"),
    "torch_threads": positive("int", none_ok=True),
}


def _names(value: Any, key: str, what: str) -> list[str] | None:
    """``None``, a non-empty string or a non-empty list of them -> a list (``None`` kept)."""
    if value is None:
        return None
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(x, str) and x for x in items):
        raise ConfigError(f"{key}={value!r} is invalid: must be {what} or a list of them")
    return list(items)


def check_config(cfg: DictConfig) -> None:
    """ConfigError for a missing ``runs`` or a bad value of ``configs/evaluate.yaml``."""
    if OmegaConf.is_missing(cfg, "runs"):
        raise ConfigError(
            "runs=<run dir, directory of runs, quoted glob, or a list [a,b] of them> is required"
        )
    plain = {k: v for k, v in to_plain(cfg).items() if k != "hydra"}
    check_rules("evaluate", plain, EVAL_RULES)
    _names(plain["runs"], "runs", "a run dir, a directory of runs or a glob")
    _names(plain["networks"], "networks", "a configs/network option (e.g. mixture_test)")
    if plain.get("split_networks") not in (None, "train", "test"):
        raise ConfigError(
            f"split_networks={plain['split_networks']!r} is invalid: must be null, train or test"
        )
    if plain.get("observe") not in (None, *OBSERVE_MODES):
        raise ConfigError(
            f"observe={plain['observe']!r} is invalid: must be null or one of {list(OBSERVE_MODES)}"
        )
    if plain.get("forecast") is not None and plain.get("observe") == "current":
        raise ConfigError(
            "forecast= decides on a forecast of the frame from its measurement: observe must "
            "be null or measured, got 'current'"
        )
    loads = plain["loads"] or []
    if not isinstance(loads, list) or not all(
        isinstance(x, int | float) and not isinstance(x, bool) and x > 0 for x in loads
    ):
        raise ConfigError(f"loads={loads!r} is invalid: must be a list of numbers > 0")
    if plain["baselines"] is not None and not isinstance(plain["baselines"], list):
        raise ConfigError(f"baselines={plain['baselines']!r} is invalid: must be null or a list")


def forecast_run(run_dir: Path) -> TrainedRun:
    """The finished DP-forecast run named by ``forecast=``; ConfigError otherwise."""
    from agents.forecast import ALGO

    if not _is_run_dir(run_dir):
        raise ConfigError(f"forecast={str(run_dir)!r} is invalid: not a run directory")
    try:  # unreadable state.json / config.yaml: one line, as for the runs
        state = read_json(run_dir / "state.json")
        tr = load_trained(run_dir)
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ConfigError(f"forecast={str(run_dir)!r} is invalid: {first}") from exc
    if state.get("status") not in FINISHED:
        raise ConfigError(f"forecast={str(run_dir)!r} is invalid: run {state.get('status')}")
    if str(tr.cfg.agent.name) != ALGO:
        raise ConfigError(
            f"forecast={str(run_dir)!r} is invalid: an agent=dp_forecast run is needed, got "
            f"agent={tr.cfg.agent.name}"
        )
    return tr


def forecast_frame(tr: TrainedRun, forecast: TrainedRun) -> Any:
    """Run ``tr``'s policy deciding on ``forecast``'s forecast frame, or ``None`` (with a note
    why) where that does not apply: another env or DNN, a library agent, a DP-forecast, a
    run that already decides on its own forecast frame (``agent=iorlo_plus_forecast``)."""
    from agents.forecast import ALGO, compose_forecast_frame
    from agents.loading import library_run_dir
    from pipeline.runners.forecast_frame import ForecastFrameRunner

    same = all(str(tr.cfg[k].name) == str(forecast.cfg[k].name) for k in ("env", "dnn"))
    if (not same or tr.cfg.agent.name == ALGO or issubclass(tr.runner_cls, ForecastFrameRunner)
            or library_run_dir(tr.run_dir) is not None):  # fmt: skip
        return None
    try:
        return compose_forecast_frame(tr.run_dir, forecast.run_dir)
    except ValueError as exc:  # CheckpointError names the file and the problem
        log.warning("no forecast frame for %s: %s", tr.run_dir, exc)
        return None


def report_bad_run(run_dir: Path, exc: BaseException) -> None:
    """One line on stderr for a run that cannot be evaluated (the others go on)."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if not isinstance(exc, OSError | ValueError) or not first:  # e.g. a YAML parser error
        first = f"{type(exc).__name__}: {first}"
    print(f"error: skipping run {run_dir}: {first}", file=sys.stderr, flush=True)


def agent_label(row: dict[str, Any]) -> str:
    """The name a run is aggregated under: the agent, plus the network it trained on and the
    observation it trained with where they are not the ones it is evaluated on."""
    name = str(row["agent"])
    if row.get("kind") != "trained":
        return name
    parts = []
    train_net = row.get("train_network") or ""
    if train_net and train_net != row.get("network"):
        parts.append(f"on {train_net}")
    train_obs = row.get("train_observe") or ""
    if train_obs and train_obs != row.get("observe"):
        parts.append(f"with observe={train_obs}")
    return f"{name} (trained {', '.join(parts)})" if parts else name


def run(cfg: DictConfig) -> int:
    """Evaluate the runs named by ``cfg.runs``; returns the exit status (0 when every run
    was evaluated, 1 when some could not be loaded, 2 when none)."""
    from agents.forecast import FRAME_SUFFIX, ForecastFrameActor
    from pipeline.report import print_summary, write_outputs

    try:
        check_config(cfg)
        patterns = _names(to_plain(cfg.runs), "runs", "a run dir")
        net_names = _names(to_plain(cfg.networks), "networks", "a network")
        networks = {n: network_config(n) for n in net_names or []}
        if cfg.get("network") is not None:  # the group override network=<option>
            chosen = to_plain(cfg.network)
            networks = {str(chosen["name"]): chosen, **networks}
            net_names = list(networks)
        if cfg.get("split_networks") is not None:  # every network of a split on its own
            networks = {**networks, **split_network_configs(str(cfg.split_networks))}
            net_names = list(networks)
        observe = cfg.get("observe")
        forecast = None if cfg.get("forecast") is None else forecast_run(Path(cfg.forecast))
        if forecast is not None:
            observe = observe or "measured"
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if cfg.torch_threads is not None:
        import torch

        torch.set_num_threads(int(cfg.torch_threads))
    runs = list(OrderedDict.fromkeys(r for p in patterns for r in discover_runs(p)))
    if not runs:
        shown = patterns[0] if len(patterns) == 1 else patterns
        print(f"error: no run directories (with config.yaml and state.json) match {shown!r}",
              file=sys.stderr)  # fmt: skip
        return 2
    # group key -> [(run, its config on the evaluation network)]
    groups: dict[str, list[tuple[TrainedRun, DictConfig]]] = OrderedDict()
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
        own_only = net_names is None or not is_partition(str(tr.cfg.env.name))
        if net_names is not None and own_only:
            log.warning("network/networks do not apply to %s (env=%s): evaluated as trained",
                        rd, tr.cfg.env.name)  # fmt: skip
        if observe is not None and "observe" not in tr.cfg.env:
            log.warning("observe does not apply to %s (env=%s, no observe key): evaluated as "
                        "trained", rd, tr.cfg.env.name)  # fmt: skip
        for net in [None] if own_only else net_names:
            ecfg = with_observe(with_network(tr.cfg, net, networks), observe)
            groups.setdefault(group_key(to_plain(ecfg)), []).append((tr, ecfg))
    for s in skipped:
        log.warning("skipping unfinished run %s", s)
    if not groups:
        print("error: no finished runs to evaluate", file=sys.stderr)
        return 2
    if cfg.baselines is not None:  # each group gets the wanted baselines that apply to it
        wanted = [str(n) for n in cfg.baselines]
        known = {n for m in groups.values() for n in heuristic_names(str(m[0][0].cfg.env.name))}
        if bad := sorted(set(wanted) - known):
            print(f"error: baselines {bad} apply to none of the runs' envs; choose from "
                  f"{sorted(known)}", file=sys.stderr)  # fmt: skip
            return 2
    episodes, seed = int(cfg.episodes), int(cfg.seed)
    all_rows: list[dict[str, Any]] = []
    scores: dict[str, dict[str, dict[str, list[np.ndarray]]]] = OrderedDict()
    sweeps: dict[str, list[dict[str, Any]]] = {}
    labels: dict[str, int] = {}
    policies: dict[Path, Any] = {}  # one load per run, however many networks it is evaluated on
    composites: dict[Path, Any] = {}  # the same, deciding on the forecast frame (forecast=)
    for members in groups.values():
        base_cfg = members[0][1]
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
        # each policy's own observation keys, where they differ from the group's: a run's
        # own, a composite's (forecast=) its forecaster's
        observations: dict[tuple[str, str], dict[str, Any]] = {}
        for tr, ecfg in members:
            key = (str(tr.cfg.agent.name), str(tr.run_dir))
            observations[key] = own_observation(ecfg.env, base_cfg.env)
            if tr.run_dir not in policies:
                probe = _env(tr.cfg, tr.action_mode)  # the run's own env: its signature
                try:  # CheckpointError (a ValueError) names the file and the problem
                    policies[tr.run_dir] = tr.runner_cls.load_policy(tr.run_dir, tr.cfg, probe)
                except Exception as exc:  # CheckpointError; anything else must not stop the rest
                    n_bad += 1
                    policies[tr.run_dir] = None
                    report_bad_run(tr.run_dir, exc)
                finally:
                    probe.close()
            policy = policies[tr.run_dir]
            if policy is None:
                continue
            if isinstance(policy, ForecastFrameActor) and base_cfg.env.get("observe") == "current":
                policy = policy.policy  # the frame is observed: nothing left to forecast
            loaded.append(tr)
            trained.append(
                (str(tr.cfg.agent.name), "trained", policy, tr.action_mode, str(tr.run_dir))
            )
            if forecast is not None and tr.run_dir not in composites:
                composites[tr.run_dir] = forecast_frame(tr, forecast)
            if (composite := composites.get(tr.run_dir)) is not None:
                loaded.append(tr)
                name = f"{tr.cfg.agent.name}{FRAME_SUFFIX}"
                trained.append((name, "trained", composite, tr.action_mode, str(tr.run_dir)))
                observations[(name, str(tr.run_dir))] = own_observation(
                    forecast.cfg.env, base_cfg.env
                )
        log.info("evaluating %s: %d runs + %d baselines on %d episodes",
                 base_cfg.env.tag, len(trained), len(names), episodes)  # fmt: skip
        results = evaluate_policies(
            base_cfg, names, trained, episodes, seed, int(cfg.decision_steps), observations
        )
        group_scores = scores.setdefault(str(base_cfg.env.tag), OrderedDict())
        reference = next((r.episode_scores.get("cost") for r in results
                          if r.name == "dp_measured"), None)  # fmt: skip
        for res, tr in zip(results, [None] * len(names) + loaded, strict=True):
            row = _row(base_cfg, res)
            if reference is not None and res.name != "dp_measured" and "cost" in res.episode_scores:
                cost = res.episode_scores["cost"]
                lo, hi = ratio_ci(cost, reference)
                row["cost_vs_dp_measured"] = float(cost.mean() / reference.mean())
                row["cost_vs_dp_measured_lo"], row["cost_vs_dp_measured_hi"] = lo, hi
            row["train_seed"] = "" if tr is None else int(tr.cfg.seed)
            row["train_network"] = "" if tr is None else str(tr.cfg.network.name)
            row["train_observe"] = "" if tr is None else str(tr.cfg.env.get("observe") or "")
            composed = forecast is not None and row["agent"].endswith(FRAME_SUFFIX)
            row["forecast"] = str(forecast.run_dir) if composed else ""
            row["episodes"] = episodes
            row["eval_seed"] = seed
            all_rows.append(row)
            per = group_scores.setdefault(agent_label(row), {"kind": res.kind, "runs": []})
            per["runs"].append(res.episode_scores)
        if env_name == "scheduling" and cfg.plots and cfg.loads:
            sweeps[str(base_cfg.env.tag)] = load_sweep(
                base_cfg, names, trained, list(cfg.loads), int(cfg.load_episodes), seed
            )
    aggregates, profiles = aggregate_groups(all_rows, scores, int(cfg.bootstrap_reps), seed)
    out_dir = Path(cfg.out_dir) if cfg.out_dir is not None else default_out_dir(patterns)
    print_summary(aggregates, episodes=episodes, seed=seed)
    means = mean_over_networks(all_rows, net_names or []) if len(net_names or []) > 1 else []
    if means:
        print(f"\nMean over the {len(net_names)} networks (gap in %; cost <= dp_measured: on "
              "how many networks the mean cost is at most dp_measured's; CI above: on how many "
              "the 95% CI of its cost / dp_measured's, paired over the episodes, lies above "
              "1):")  # fmt: skip
        print("| group | observe | agent | run | gap | cost | cost <= dp_measured | CI above |")
        print("|---|---|---|---|---|---|---|---|")
        for m in means:
            print(
                f"| {m['group']} | {m['observe']} | {m['agent']} | {m['run']} | "
                f"{m['gap_mean']:.3f} | {m['cost_mean']:.2f} | {m['cost_le_dp_measured']} | "
                f"{m['cost_above_dp_measured']} |"
            )
    files = write_outputs(
        all_rows, sweeps, out_dir, plots=bool(cfg.plots), episodes=episodes, seed=seed,
        aggregates=aggregates, profiles=profiles,
        meta={"config": {k: v for k, v in to_plain(cfg).items() if k != "hydra"},
              "runs": [str(r) for r in runs], "mean_over_networks": means},
    )  # fmt: skip
    print(f"\nResults in {out_dir}:")
    for f in files:
        print(f"  {f.name}")
    return 1 if n_bad else 0


def aggregate_groups(
    rows: list[dict[str, Any]],
    scores: dict[str, dict[str, dict[str, Any]]],
    reps: int,
    seed: int,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """rliable aggregates per group and agent (IQM, mean, 95% CIs over training seeds) and
    the gap performance profiles of the partitioning groups."""
    from pipeline.aggregate import (
        AGGREGATE_METRICS,
        performance_profile,
        score_rows,
        tau_grid,
    )

    out: list[dict[str, Any]] = []
    profiles: dict[str, Any] = {}
    for tag, per_label in scores.items():
        first = next(r for r in rows if r["group"] == tag)
        family = "partition" if is_partition(first["env"]) else "scheduling"
        metrics = AGGREGATE_METRICS[family]
        matrices = {
            m: {lab: np.stack([r[m] for r in d["runs"]]) for lab, d in per_label.items()
                if all(m in r for r in d["runs"])}
            for m in metrics
        }  # fmt: skip
        head = {k: first[k] for k in ("group", "env", "dnn", "network")}
        kinds = {lab: d["kind"] for lab, d in per_label.items()}
        agg = score_rows(head, matrices, kinds, metrics, reps=reps, seed=seed)
        for a in agg:  # decision time: the median over the runs' medians
            times = [r["decision_ms"] for r in rows
                     if r["group"] == tag and agent_label(r) == a["agent"]]  # fmt: skip
            finite = [t for t in times if np.isfinite(t)]
            a["decision_ms"] = float(np.median(finite)) if finite else float("nan")
        out += agg
        if family == "partition" and matrices.get("gap"):
            taus = tau_grid(matrices["gap"])
            prof, ci = performance_profile(matrices["gap"], taus, reps=reps, seed=seed)
            profiles[tag] = {"taus": taus, "profiles": prof, "cis": ci, "kinds": kinds}
    return out, profiles


if __name__ == "__main__":  # python -m pipeline.evaluate
    from pipeline.cli import evaluate_main

    evaluate_main()
