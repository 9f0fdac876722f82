"""MEC and D2D DNN-partitioning environments (Ren et al. Sec. 4; docs/model.md §3-§7).

| id | single env | vector env |
|---|---|---|
| ``EdgeRL/MECPartition-v0`` | :class:`MECPartitionEnv` | :class:`MECPartitionVectorEnv` |
| ``EdgeRL/D2DPartition-v0`` | :class:`D2DPartitionEnv` | :class:`D2DPartitionVectorEnv` |
| ``EdgeRL/MECPartition-v1`` | :class:`MECPartitionEnvV1` | :class:`MECPartitionVectorEnvV1` |
| ``EdgeRL/D2DPartition-v1`` | :class:`D2DPartitionEnvV1` | :class:`D2DPartitionVectorEnvV1` |

Parts: :mod:`~envs.partition.common` (argument checks, intent thresholds),
:mod:`~envs.dynamics.collaborators` (D2D candidates: churn and selection),
:mod:`~envs.partition.sim` (batched per-frame state and observations),
:mod:`~envs.partition.env` (Gymnasium envs), :mod:`~envs.partition.vector` (vector envs).
"""

from envs.dynamics.collaborators import CollaboratorPool
from envs.model.thresholds import discretise, midpoints
from envs.partition.env import (
    D2DPartitionEnv,
    D2DPartitionEnvV1,
    MECPartitionEnv,
    MECPartitionEnvV1,
    PartitionEnv,
)
from envs.partition.vector import (
    D2DPartitionVectorEnv,
    D2DPartitionVectorEnvV1,
    MECPartitionVectorEnv,
    MECPartitionVectorEnvV1,
    PartitionVectorEnv,
    tune_malloc,
)

__all__ = [
    "CollaboratorPool",
    "D2DPartitionEnv",
    "D2DPartitionEnvV1",
    "D2DPartitionVectorEnv",
    "D2DPartitionVectorEnvV1",
    "MECPartitionEnv",
    "MECPartitionEnvV1",
    "MECPartitionVectorEnv",
    "MECPartitionVectorEnvV1",
    "PartitionEnv",
    "PartitionVectorEnv",
    "discretise",
    "midpoints",
    "tune_malloc",
]
