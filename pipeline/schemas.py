"""Hydra schema nodes: the one source of the defaults of ``configs/agent/*.yaml`` and
``configs/env/*.yaml``.

* ``schema/agent/<name>``: every field of the agent's config dataclass with its default (the
  dataclasses of :data:`AGENT_SCHEMAS`, which also carry each field's validation rule:
  :mod:`agents.common.rules`), without :data:`PIPELINE_FIELDS`, plus ``_target_``, ``name``
  and ``action_space`` as mandatory values.
* ``schema/agent_fields/<name>``: the same fields without those three, for an agent config
  that nests another agent's keys (``- /schema/agent_fields/iorlo_plus@policy``).
* ``schema/env/<Id>`` (``MECPartition-v1``, ``EdgeScheduling-v0``, ... for every registered
  ``EdgeRL/<Id>``): every argument of the env's constructor with its default, except
  :data:`ENV_ARGS_FROM_OTHER_GROUPS`; the env's own constructor validates them when the
  pipeline builds it.

Each YAML lists its node first in its ``defaults`` (``- /schema/agent/drlos@_here_``) and sets
only the pipeline's keys and the values that deliberately differ. :func:`register_schemas`
stores the nodes in Hydra's ConfigStore; importing :mod:`pipeline.runners` calls it, and
``configs/train.yaml`` names that package in ``hydra.searchpath`` so Hydra imports it before
it composes. ``python train.py --cfg job`` prints the composed values.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

#: config fields that come from the top-level config (``seed``, ``torch_threads``), not
#: from ``agent.*``
PIPELINE_FIELDS: tuple[str, ...] = ("seed", "torch_threads")

#: ``configs/agent/<name>.yaml`` -> the config dataclass (or instance) whose defaults are the
#: schema node ``schema/agent/<name>``
AGENT_SCHEMAS: dict[str, str] = {
    "iorlo": "agents.iorlo.IoRLOConfig",
    "iorlo_plus": "agents.iorlo.IoRLOPlus.default_config",  # IoRLO+'s own defaults
    # the composite's own keys; its parts (agent.policy, agent.forecast) are the
    # schema/agent_fields nodes of iorlo_plus and dp_forecast (configs/agent/iorlo_plus_forecast.yaml)
    "iorlo_plus_forecast": "agents.forecast.ForecastFrameConfig",
    "dp_distill": "agents.distill.DistillConfig",
    "dp_forecast": "agents.forecast.ForecastConfig",
    "drlos": "agents.drlos.DRLoSConfig",
    "drlos_plus": "agents.drlos_plus.DRLoSPlusConfig",
    "qlearning": "agents.qlearning.QLearningConfig",
}

#: env constructor arguments that the pipeline fills from the dnn and network groups, or
#: never sets (rendering)
ENV_ARGS_FROM_OTHER_GROUPS: tuple[str, ...] = (
    "dnn", "input_shape", "network", "trace_dir", "render_mode",
)  # fmt: skip


def agent_fields(path: str) -> dict[str, Any]:
    """The fields and defaults of the config dataclass (or instance) at the dotted ``path``,
    without :data:`PIPELINE_FIELDS`."""
    from hydra.utils import get_object

    from agents.common.rules import field_defaults

    return field_defaults(get_object(path), skip=PIPELINE_FIELDS)


def agent_schema(path: str) -> dict[str, Any]:
    """The schema node of the config dataclass (or instance) at the dotted ``path``."""
    meta = dict.fromkeys(("_target_", "name", "action_space"), "???")
    return {**meta, **agent_fields(path)}


def _plain(value: Any) -> Any:
    """A constructor default as a config value: tuples as lists, mappings as dicts."""
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


def env_schema(env_id: str) -> dict[str, Any]:
    """The schema node of the registered env ``env_id``: its constructor's arguments and
    defaults (``action_mode`` null: the pipeline picks the agent's)."""
    import gymnasium as gym
    from gymnasium.envs.registration import load_env_creator

    import envs  # noqa: F401  (registers the ids)

    cls = load_env_creator(gym.spec(env_id).entry_point)
    node = {
        name: _plain(p.default)
        for name, p in inspect.signature(cls).parameters.items()
        if name not in ENV_ARGS_FROM_OTHER_GROUPS and p.default is not inspect.Parameter.empty
    }
    node["action_mode"] = None
    return node


def register_schemas() -> None:
    """Store every agent and env schema node in Hydra's ConfigStore (idempotent)."""
    from gymnasium.envs.registration import registry
    from hydra.core.config_store import ConfigStore

    import envs  # noqa: F401

    store = ConfigStore.instance()
    for name, path in AGENT_SCHEMAS.items():
        store.store(name=name, group="schema/agent", node=agent_schema(path))
        store.store(name=name, group="schema/agent_fields", node=agent_fields(path))
    for env_id in registry:
        if env_id.startswith("EdgeRL/"):
            name = env_id.removeprefix("EdgeRL/")
            store.store(name=name, group="schema/env", node=env_schema(env_id))
