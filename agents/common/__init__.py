"""Machinery shared by the learned agents (IoRLO, DRLoS): logging, checkpoints, fast actors.

| module | contents |
|---|---|
| :mod:`~agents.common.logger` | :class:`RunLogger` (TensorBoard tag scheme ``charts/``, ``losses/``, ``eval/``) |
| :mod:`~agents.common.checkpoint` | atomic :func:`save_checkpoint`, safe :func:`load_checkpoint`, :func:`env_signature`, :func:`check_signature` |
| :mod:`~agents.common.fast_actor` | :class:`NumpyActor` (numpy decisions), :func:`mlp_actor_spec` |
| :mod:`~agents.common.evaluation` | :func:`evaluate_policy` on fixed seeds |
| :mod:`~agents.common.threads` | :func:`torch_threads` (torch thread count for a block) |
"""

from agents.common.checkpoint import (
    check_signature,
    env_signature,
    load_checkpoint,
    save_checkpoint,
)
from agents.common.evaluation import evaluate_policy
from agents.common.fast_actor import NumpyActor, mlp_actor_spec
from agents.common.logger import RunLogger

__all__ = [
    "NumpyActor",
    "RunLogger",
    "check_signature",
    "env_signature",
    "evaluate_policy",
    "load_checkpoint",
    "mlp_actor_spec",
    "save_checkpoint",
]
