"""EdgeRL environments. Importing :mod:`envs` registers the Gymnasium ids (entry points are
strings, so nothing heavy is imported until an env is made).

| id | entry point | vector entry point |
|---|---|---|
| ``EdgeRL/MECPartition-v0`` | ``envs.partition:MECPartitionEnv`` | ``envs.partition:MECPartitionVectorEnv`` |
| ``EdgeRL/D2DPartition-v0`` | ``envs.partition:D2DPartitionEnv`` | ``envs.partition:D2DPartitionVectorEnv`` |
| ``EdgeRL/MECPartition-v1`` | ``envs.partition:MECPartitionEnvV1`` | ``envs.partition:MECPartitionVectorEnvV1`` |
| ``EdgeRL/D2DPartition-v1`` | ``envs.partition:D2DPartitionEnvV1`` | ``envs.partition:D2DPartitionVectorEnvV1`` |
| ``EdgeRL/EdgeScheduling-v0`` | ``envs.scheduling.env:EdgeSchedulingEnv`` | ``envs.scheduling.vector:EdgeSchedulingVectorEnv`` |
| ``EdgeRL/EdgeScheduling-v1`` | ``envs.scheduling.env:EdgeSchedulingEnvV1`` | ``envs.scheduling.vector:EdgeSchedulingVectorEnvV1`` |
"""

from __future__ import annotations

from gymnasium.envs.registration import register, registry

PARTITION_MAX_EPISODE_STEPS = 100
PARTITION_ENV_IDS: tuple[str, ...] = (
    "EdgeRL/MECPartition-v0",
    "EdgeRL/D2DPartition-v0",
    "EdgeRL/MECPartition-v1",
    "EdgeRL/D2DPartition-v1",
)


def _register(id: str, **kwargs) -> None:
    if id not in registry:
        register(id=id, **kwargs)


_register(
    "EdgeRL/MECPartition-v0",
    entry_point="envs.partition:MECPartitionEnv",
    vector_entry_point="envs.partition:MECPartitionVectorEnv",
    max_episode_steps=PARTITION_MAX_EPISODE_STEPS,
)
_register(
    "EdgeRL/D2DPartition-v0",
    entry_point="envs.partition:D2DPartitionEnv",
    vector_entry_point="envs.partition:D2DPartitionVectorEnv",
    max_episode_steps=PARTITION_MAX_EPISODE_STEPS,
)
# v1 (docs/model.md §10): measured state, one-way latency, platform load, network mixtures,
# collaborators of their own speed; v0 stays the paper's MDP, unchanged.
_register(
    "EdgeRL/MECPartition-v1",
    entry_point="envs.partition:MECPartitionEnvV1",
    vector_entry_point="envs.partition:MECPartitionVectorEnvV1",
    max_episode_steps=PARTITION_MAX_EPISODE_STEPS,
)
_register(
    "EdgeRL/D2DPartition-v1",
    entry_point="envs.partition:D2DPartitionEnvV1",
    vector_entry_point="envs.partition:D2DPartitionVectorEnvV1",
    max_episode_steps=PARTITION_MAX_EPISODE_STEPS,
)

# --- scheduling env (envs/scheduling/env.py) -------------------------------------------------
SCHEDULING_ENV_ID = "EdgeRL/EdgeScheduling-v0"
# 1000 = envs.scheduling.env.RECOMMENDED_MAX_EPISODE_STEPS (not imported here to keep
# `import envs` light).
_register(
    SCHEDULING_ENV_ID,
    entry_point="envs.scheduling.env:EdgeSchedulingEnv",
    vector_entry_point="envs.scheduling.vector:EdgeSchedulingVectorEnv",
    max_episode_steps=1000,
)

# v1 (docs/model.md §8.1): heterogeneous capacities, 30 ms RPC, bursty arrivals, per-task
# "assign" actions and the combined balance + latency objective; v0 stays the paper's MDP.
SCHEDULING_V1_ENV_ID = "EdgeRL/EdgeScheduling-v1"
_register(
    SCHEDULING_V1_ENV_ID,
    entry_point="envs.scheduling.env:EdgeSchedulingEnvV1",
    vector_entry_point="envs.scheduling.vector:EdgeSchedulingVectorEnvV1",
    max_episode_steps=1000,
)

ENV_IDS: tuple[str, ...] = (*PARTITION_ENV_IDS, SCHEDULING_ENV_ID, SCHEDULING_V1_ENV_ID)
