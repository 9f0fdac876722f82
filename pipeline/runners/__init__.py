"""Agent runners of the pipeline (``agent._target_`` in ``configs/agent/*.yaml``).

| runner | agents |
|---|---|
| :class:`~pipeline.runners.iorlo.IoRLORunner` | ``iorlo``, ``iorlo_plus`` (partitioning) |
| :class:`~pipeline.runners.distill.DPDistillRunner` | ``dp_distill`` (partitioning) |
| :class:`~pipeline.runners.distill.DPForecastRunner` | ``dp_forecast`` (partitioning) |
| :class:`~pipeline.runners.drlos.DRLoSRunner` | ``drlos`` (scheduling) |
| :class:`~pipeline.runners.qlearning.QLearningRunner` | ``qlearning`` (scheduling) |
| :class:`~pipeline.runners.sb3.SB3Runner` | ``sb3_td3``, ``sb3_sac``, ``sb3_ddpg``, ``sb3_ppo``, ``sb3_a2c``, ``sb3_dqn`` |
| :class:`~pipeline.runners.rllib.RLlibRunner` | ``rllib_ppo``, ``rllib_sac``, ``rllib_dqn`` |

The runners of this repo's own agents share :mod:`pipeline.runners.native` (config-dataclass
validation, ``checkpoint.pt``, and for the torch agents set-up, step count and fast actor).

Runner modules import their agent library lazily, so ``import pipeline.runners.sb3`` does not
start Ray and vice versa.

**Agent config schemas.** The config dataclasses of this repo's agents are the one source of
their hyperparameters' keys, defaults and allowed values. Importing this package registers,
in Hydra's ConfigStore, the node ``schema/agent/<name>`` for each entry of
:data:`AGENT_SCHEMAS`: ``_target_``, ``name`` and ``action_space`` (mandatory) and every
field of the dataclass with its default (without :data:`PIPELINE_FIELDS`). Each
``configs/agent/<name>.yaml`` lists it first in its ``defaults`` and sets only ``_target_``,
``name``, ``action_space`` and the values that deliberately differ (``configs/train.yaml``
names this package in ``hydra.searchpath``, so Hydra imports it before it composes).
"""

from __future__ import annotations

#: config fields that come from the top-level config (``seed``, ``torch_threads``), not
#: from ``agent.*``
PIPELINE_FIELDS: tuple[str, ...] = ("seed", "torch_threads")

#: ``configs/agent/<name>.yaml`` -> the config dataclass (or instance) whose defaults are the
#: schema node ``schema/agent/<name>``
AGENT_SCHEMAS: dict[str, str] = {
    "iorlo": "agents.iorlo.IoRLOConfig",
    "iorlo_plus": "agents.iorlo.IoRLOPlus.default_config",  # IoRLO+'s own defaults
    "dp_distill": "agents.distill.DistillConfig",
    "dp_forecast": "agents.forecast.ForecastConfig",
    "drlos": "agents.drlos.DRLoSConfig",
    "drlos_plus": "agents.drlos_plus.DRLoSPlusConfig",
    "qlearning": "agents.qlearning.QLearningConfig",
}


def schema_node(path: str) -> dict:
    """The schema node of the config dataclass (or instance) at the dotted ``path``."""
    from hydra.utils import get_object

    from agents.common.rules import field_defaults

    meta = dict.fromkeys(("_target_", "name", "action_space"), "???")
    return {**meta, **field_defaults(get_object(path), skip=PIPELINE_FIELDS)}


def register_agent_schemas() -> None:
    """Store every node of :data:`AGENT_SCHEMAS` in Hydra's ConfigStore (idempotent)."""
    from hydra.core.config_store import ConfigStore

    store = ConfigStore.instance()
    for name, path in AGENT_SCHEMAS.items():
        store.store(name=name, group="schema/agent", node=schema_node(path))


register_agent_schemas()
