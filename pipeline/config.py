"""Validation of a composed run config, before anything is built or trained.

Hydra already rejects unknown keys (the composed config is in struct mode) and unknown
group options (``dnn=nope``). :func:`validate` checks the rest and raises a
:class:`ConfigError` naming the field and the allowed values:

* missing mandatory values (``???``) and broken interpolations;
* ``seed``, ``torch_threads`` and every ``train.*`` number (:data:`TRAIN_RULES`);
* the env / dnn / network combination (the scheduling env takes no DNN and no network);
* the agent: its keys and values (each runner's ``agent_rules``: for this repo's agents the
  rules of their config dataclass's fields, :func:`agents.common.rules.rules_of`, the same the
  dataclass applies when built), that it fits the env's action space (e.g. DQN needs
  ``Discrete``: scheduling only) and the env's settings (the runner's ``check_env_config``,
  e.g. ``agent=iorlo_plus_forecast`` needs ``env.observe=measured``);
* the env itself: it is constructed once, so every env argument is checked by the env's
  own constructor (e.g. ``env.epsilon=0.9 env.phi=0.5``: "need epsilon < phi").
"""

from __future__ import annotations

import hashlib
import inspect
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from agents.common.rules import (  # noqa: F401  (re-exported: their home before agents.common.rules)
    ConfigError,
    Rule,
    check_rules,
    non_negative,
    positive,
    unit_interval,
)
from pipeline.envs import (
    ACTION_MODES,
    ENV_NAMES,
    PARTITION_ENVS,
    build_env,
    custom_profile,
    env_kwargs,
    is_custom_dnn,
)

# ----------------------------------------------------------------------------- resolvers
#: characters kept in a run directory's name; anything else becomes "_"
_UNSAFE = re.compile(r"[^A-Za-z0-9._,=+-]")
#: a path component the pipeline puts in a run directory (env tag, agent, DNN label)
SAFE_NAME = re.compile(r"^[A-Za-z0-9_+-][A-Za-z0-9._,=+-]*$")
MAX_DIRNAME = 120


def safe_dirname(text: str, limit: int = MAX_DIRNAME) -> str:
    """``text`` as one filesystem-safe path component: characters outside
    ``[A-Za-z0-9._,=+-]`` become ``_`` (``network.path=/data/a b.csv`` ->
    ``network.path=_data_a_b.csv``), no leading ``.``; a longer name is cut to ``limit``
    characters ending in a hash of the whole text, so distinct overrides stay distinct."""
    safe = _UNSAFE.sub("_", text).lstrip(".") or "_"
    if len(safe) > limit:
        digest = hashlib.sha1(text.encode()).hexdigest()[:10]
        safe = f"{safe[: limit - 11]}-{digest}"
    return safe


def overrides_dir() -> str:
    """``/<override_dirname>`` of the current Hydra job (sanitised), or ``""`` without
    overrides (or outside Hydra): the resolver ``${edgerl.overrides_dir:}`` of ``run_dir``."""
    try:
        from hydra.core.hydra_config import HydraConfig

        name = str(HydraConfig.get().job.override_dirname or "")
    except Exception:  # no Hydra job (compose API, tests): no overrides level
        return ""
    return f"/{safe_dirname(name)}" if name else ""


def dnn_label(path: Any = None, factory: Any = None) -> str:
    """Default ``dnn.name`` of ``dnn=custom``: the profile file's stem or the factory's
    function name, filesystem-safe (``${edgerl.dnn_label:${dnn.path},${dnn.factory}}``)."""
    if path:
        stem = str(path).replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
        return safe_dirname(stem.removesuffix(".json"), 60)
    if factory:
        return safe_dirname(str(factory).rsplit(":", 1)[-1].rsplit(".", 1)[-1], 60)
    return "custom"


def register_resolvers() -> None:
    """Register the ``${edgerl.*}`` resolvers of ``configs/train.yaml`` (idempotent; done on
    import of this module)."""
    for name, fn in (("edgerl.overrides_dir", overrides_dir), ("edgerl.dnn_label", dnn_label)):
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, fn)


register_resolvers()


# ----------------------------------------------------------------------------- rules
TOP_RULES: dict[str, Rule] = {
    "seed": non_negative("int"),
    "runs_root": Rule("str"),
    "run_dir": Rule("str"),
    "data_dir": Rule("str"),
    "torch_threads": positive("int", none_ok=True),
}
TRAIN_RULES: dict[str, Rule] = {
    "total_steps": positive("int"),
    "eval_every": non_negative("int"),
    "eval_episodes": positive("int"),
    "final_eval_episodes": non_negative("int"),
    "eval_seed": non_negative("int"),
    "checkpoint_every": non_negative("int"),
    "log_every": positive("int"),
    "resume": Rule("bool"),
    "overwrite": Rule("bool"),
    "progress": Rule("bool"),
    "progress_every": positive("int"),
}


ENV_META_RULES: dict[str, Rule] = {
    "train_steps": positive("int", none_ok=True),  # the env's default train.total_steps
    "max_episode_steps": positive("int"),
    "action_mode": Rule(
        "choice", choices=("continuous", "discrete", "shares", "assign"), none_ok=True
    ),
    "tag": Rule("str"),
    "id": Rule("str"),
}


# ------------------------------------------------------------------------- validation
@dataclass(frozen=True)
class RunSpec:
    """What validation found out: the runner class and the env action mode it trains on."""

    runner_cls: type
    action_kind: str  # "continuous" | "discrete"
    action_mode: str  # the env's action_mode


def runner_class(target: str) -> type:
    """The runner class named by ``agent._target_`` (a :class:`pipeline.runners.base.Runner`)."""
    from hydra.utils import get_class

    from pipeline.runners.base import Runner

    try:
        cls = get_class(target)
    except Exception as exc:
        raise ConfigError(
            f"agent._target_={target!r} cannot be imported ({exc}); use a class from "
            "pipeline.runners (e.g. pipeline.runners.sb3.SB3Runner)"
        ) from None
    if not (isinstance(cls, type) and issubclass(cls, Runner)):
        raise ConfigError(f"agent._target_={target!r} is not a pipeline.runners.base.Runner")
    return cls


def missing_keys(cfg: Any, prefix: str = "") -> list[str]:
    """Dotted keys holding ``???`` (without resolving interpolations, unlike
    ``OmegaConf.missing_keys``, which fails on an interpolation to a missing value)."""
    out = []
    items = cfg.keys() if isinstance(cfg, DictConfig) else range(len(cfg))
    for key in items:
        name = f"{prefix}{key}"
        if OmegaConf.is_missing(cfg, key):
            out.append(name)
            continue
        node = cfg._get_node(key)
        if OmegaConf.is_interpolation(cfg, key):
            continue
        if isinstance(node, DictConfig) or OmegaConf.is_list(node):
            out += missing_keys(node, f"{name}.")
    return out


def _resolved(cfg: DictConfig) -> dict[str, Any]:
    missing = [m for m in missing_keys(cfg) if not m.startswith("hydra")]
    if missing:
        hint = ""
        if "network.path" in missing:
            hint = " (network=csv needs network.path=<file with time_s,uplink_mbps,downlink_mbps,rtt_ms>)"
        raise ConfigError(f"missing mandatory value(s) {missing}{hint}")
    try:
        plain = OmegaConf.to_container(cfg, resolve=True)
    except OmegaConfBaseException as exc:
        raise ConfigError(f"cannot resolve the config: {exc}") from None
    plain.pop("hydra", None)
    return plain


def check_env_combination(plain: Mapping[str, Any]) -> None:
    env, dnn, net = plain["env"], plain["dnn"], plain["network"]
    name = env.get("name")
    if name not in ENV_NAMES:
        raise ConfigError(f"env.name={name!r} is invalid: must be one of {list(ENV_NAMES)}")
    for key, rule in ENV_META_RULES.items():
        if not rule.ok(env.get(key)):
            raise ConfigError(f"env.{key}={env.get(key)!r} is invalid: must be {rule.describe()}")
    if name in PARTITION_ENVS:
        from envs.dnn import BUILTIN_PROFILES

        if is_custom_dnn(dnn):
            label = dnn.get("name")
            if not isinstance(label, str) or not SAFE_NAME.match(label):
                raise ConfigError(
                    f"dnn.name={label!r} is invalid: the label of a custom DNN is part of the "
                    "run directory, so use letters, digits, . _ + - (e.g. dnn.name=mynet)"
                )
            try:
                custom_profile(dnn)
            except ValueError as exc:
                raise ConfigError(str(exc)) from None
        elif dnn.get("name") not in BUILTIN_PROFILES:
            label = str(dnn.get("name"))
            hint = ""
            if label.endswith(".json") or "/" in label or ":" in label:
                hint = (
                    "; for your own DNN use dnn=custom dnn.path=<profile.json> (a "
                    "DNNProfile.to_dict file) or dnn=custom dnn.factory=<module:function>"
                )
            raise ConfigError(
                f"dnn={dnn.get('name')!r} does not apply to env={name}: choose one of "
                f"{list(BUILTIN_PROFILES)} or custom{hint}"
            )
        if net.get("name") == "none" or net.get(name) is None:
            raise ConfigError(
                f"network={net.get('name')!r} does not apply to env={name}: choose one of "
                "5g_trial, lumos5g, mmwave, csv"
            )
    else:
        if dnn.get("name") != "none" or is_custom_dnn(dnn):
            raise ConfigError(
                f"dnn={dnn.get('name')!r} does not apply to env={name}: the scheduling env has "
                "no DNN (leave dnn unset; it is 'none' with env=scheduling)"
            )
        if net.get("name") != "none":
            raise ConfigError(
                f"network={net.get('name')!r} does not apply to env={name}: the scheduling env "
                "has no network model (leave network unset; it is 'none' with env=scheduling)"
            )
    tag = env.get("tag")
    if not SAFE_NAME.match(str(tag)) or ".." in str(tag):
        raise ConfigError(
            f"env.tag={tag!r} is invalid: it names the run directory, so it must be one "
            "filesystem-safe name (letters, digits, . _ , = + -); check dnn.name / network.tag"
        )


def agents_for(env_name: str, env: Mapping[str, Any] | None = None) -> list[str]:
    """Names of the agent configs (``configs/agent/*.yaml``) that can train on ``env_name``;
    given the env's config ``env``, on that env (its version and settings) alone."""
    from pipeline.utils import CONFIG_DIR

    names = []
    for f in sorted((CONFIG_DIR / "agent").glob("*.yaml")):
        agent = OmegaConf.to_container(OmegaConf.load(f), resolve=False)
        try:
            cls = runner_class(agent["_target_"])
            cls.check_env(agent, env_name)
            if agent.get("action_space") not in ACTION_MODES[env_name]:
                continue
            if env is not None:
                cls.check_env_config(agent, env)
        except (ConfigError, KeyError):
            continue
        names.append(f.stem)
    return names


def resolve_action_mode(plain: Mapping[str, Any], runner_cls: type) -> tuple[str, str]:
    """The agent's action kind and the env action mode; ConfigError if they do not fit."""
    env, agent = plain["env"], plain["agent"]
    env_name = env["name"]
    kind = agent.get("action_space")
    try:
        runner_cls.check_env(agent, env_name)
    except ConfigError as exc:
        raise ConfigError(
            f"{exc}. Agents for env={env_name}: {', '.join(agents_for(env_name, env))}"
        ) from None
    modes = ACTION_MODES[env_name]
    if kind not in modes:
        raise ConfigError(
            f"agent {agent['name']} acts with {kind} actions, which env={env_name} does not "
            f"offer (it offers {sorted(modes)}). Agents for env={env_name}: "
            f"{', '.join(agents_for(env_name, env))}"
        )
    mode = modes[kind]
    wanted = env.get("action_mode")
    if wanted is not None and wanted != mode:
        raise ConfigError(
            f"env.action_mode={wanted!r} does not fit agent {agent['name']} ({kind} actions "
            f"need action_mode={mode!r}); leave env.action_mode=null"
        )
    return kind, mode


def check_env_builds(cfg: DictConfig, plain: Mapping[str, Any], action_mode: str) -> None:
    """Construct the env once: its constructor validates every argument."""
    env_cls = _env_class(plain["env"]["id"])
    from hydra.errors import InstantiationException

    try:
        try:
            env = build_env(cfg, action_mode=action_mode)
        except InstantiationException as wrapped:  # Hydra wraps the factory's exception
            raise (wrapped.__cause__ or wrapped) from None
        env.close()
    except TypeError as exc:
        allowed = sorted(p for p in inspect.signature(env_cls).parameters if p != "self")
        given = env_kwargs(plain["env"], plain["dnn"], plain["network"], action_mode)
        bad = sorted(set(given) - set(allowed))
        if bad:
            raise ConfigError(
                f"env: {bad} not argument(s) of {env_cls.__name__}; allowed: {allowed}"
            ) from None
        raise ConfigError(f"invalid env config: {exc}") from None
    except (ValueError, FileNotFoundError, OSError) as exc:
        raise ConfigError(
            f"invalid env/dnn/network config (env={plain['env']['name']}): {exc}"
        ) from None


def _env_class(env_id: str) -> type:
    import gymnasium as gym

    import envs  # noqa: F401

    try:
        spec = gym.spec(env_id)
    except Exception:
        raise ConfigError(f"env.id={env_id!r} is not a registered Gymnasium id") from None
    ep = spec.entry_point
    if callable(ep):
        return ep
    mod, _, attr = ep.partition(":")
    import importlib

    return getattr(importlib.import_module(mod), attr)


def validate(cfg: DictConfig, *, build_env_check: bool = True) -> RunSpec:
    """Check a composed ``train.yaml`` config; return the runner class and action mode.

    Raises:
        ConfigError: naming the offending field and its allowed values.
    """
    plain = _resolved(cfg)
    check_rules("config", {k: plain[k] for k in TOP_RULES if k in plain}, TOP_RULES)
    rule = ENV_META_RULES["train_steps"]  # the defaults of train.total_steps: named first
    for section in ("agent", "env"):
        node = plain.get(section)
        if isinstance(node, dict) and not rule.ok(node.get("train_steps")):
            steps = node["train_steps"]
            raise ConfigError(
                f"{section}.train_steps={steps!r} is invalid: must be {rule.describe()}"
            )
    check_rules("train", plain["train"], TRAIN_RULES)
    check_env_combination(plain)
    agent = plain["agent"]
    if "_target_" not in agent or "name" not in agent:
        raise ConfigError("agent config needs '_target_' (a runner class) and 'name'")
    runner_cls = runner_class(agent["_target_"])
    runner_cls.validate_agent(agent, plain["env"]["name"])
    kind, mode = resolve_action_mode(plain, runner_cls)
    runner_cls.check_env_config(agent, plain["env"])
    if build_env_check:
        check_env_builds(cfg, plain, mode)
    return RunSpec(runner_cls, kind, mode)
