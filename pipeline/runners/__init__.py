"""Agent runners of the pipeline (``agent._target_`` in ``configs/agent/*.yaml``).

| runner | agents |
|---|---|
| :class:`~pipeline.runners.iorlo.IoRLORunner` | ``iorlo``, ``iorlo_plus`` (partitioning) |
| :class:`~pipeline.runners.distill.DPDistillRunner` | ``dp_distill`` (partitioning) |
| :class:`~pipeline.runners.distill.DPForecastRunner` | ``dp_forecast`` (partitioning) |
| :class:`~pipeline.runners.forecast_frame.ForecastFrameRunner` | ``iorlo_plus_forecast`` (v1 partitioning: an IoRLO+ and a DP-forecast in one run) |
| :class:`~pipeline.runners.drlos.DRLoSRunner` | ``drlos`` (scheduling) |
| :class:`~pipeline.runners.qlearning.QLearningRunner` | ``qlearning`` (scheduling) |
| :class:`~pipeline.runners.sb3.SB3Runner` | ``sb3_td3``, ``sb3_sac``, ``sb3_ddpg``, ``sb3_ppo``, ``sb3_a2c``, ``sb3_dqn`` |
| :class:`~pipeline.runners.rllib.RLlibRunner` | ``rllib_ppo``, ``rllib_sac``, ``rllib_dqn`` |

The runners of this repo's own agents share :mod:`pipeline.runners.native` (config-dataclass
validation, ``checkpoint.pt``, and for the torch agents set-up, step count and fast actor).

Runner modules import their agent library lazily, so ``import pipeline.runners.sb3`` does not
start Ray and vice versa.

Importing this package registers the Hydra schema nodes of the agent and env configs
(:func:`pipeline.schemas.register_schemas`): ``configs/train.yaml`` names it in
``hydra.searchpath`` so that Hydra imports it before it composes.
"""

from __future__ import annotations

from pipeline.schemas import register_schemas

register_schemas()
