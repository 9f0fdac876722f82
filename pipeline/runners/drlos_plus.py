"""DRLoS+ (:mod:`agents.drlos_plus`): per-task scheduling, REINFORCE over N rollouts per task set.

:class:`~pipeline.runners.drlos.DRLoSRunner` with another agent: the agent trains in iterations (one task set,
``n_rollouts`` episodes, one update); a callback after each iteration stops training once
``train.total_steps`` env steps are reached, evaluates every ``train.eval_every`` steps (the
agent's own evaluation on task sets ``eval_seed + k``, logged as ``eval/*`` with
``eval/objective`` the combined objective), saves every ``train.checkpoint_every`` steps and
stops on Ctrl-C. The agent logs ``charts/*`` (``charts/objective``, ``charts/cost`` = mean
utilisation variance, latencies, forwarded %) and ``losses/*`` itself.
Checkpoint: ``checkpoint.pt`` (``DRLoSPlus.save``); evaluation loads its numpy actor.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from omegaconf import DictConfig

from pipeline.runners.drlos import DRLoSRunner


class DRLoSPlusRunner(DRLoSRunner):
    """``agent=drlos_plus`` on ``env=scheduling_v1`` / ``env=scheduling`` (per-task actions)."""

    envs: ClassVar[tuple[str, ...]] = ("scheduling",)
    action_spaces: ClassVar[tuple[str, ...]] = ("assign",)
    description = "DRLoS+, per-task (task, server) scorer trained by REINFORCE"
    cost_key: ClassVar[str] = "objective"  # the combined objective J, not the variance
    eval_cost_key: ClassVar[str] = "eval/objective"
    config_path = "agents.drlos_plus.DRLoSPlusConfig"
    agent_path = "agents.drlos_plus.DRLoSPlus"

    @classmethod
    def load_policy(cls, run_dir: Path, cfg: DictConfig, env: Any) -> Any:
        from agents.drlos_plus import load_plus_actor

        return load_plus_actor(cls.checkpoint_path(run_dir))
