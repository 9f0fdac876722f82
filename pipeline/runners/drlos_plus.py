"""DRLoS+ (:mod:`agents.drlos_plus`): per-task scheduling, REINFORCE over N rollouts per task set.

Like :mod:`pipeline.runners.drlos`: the agent trains in iterations (one task set,
``n_rollouts`` episodes, one update); a callback after each iteration stops training once
``train.total_steps`` env steps are reached, evaluates every ``train.eval_every`` steps (the
agent's own evaluation on task sets ``eval_seed + k``, logged as ``eval/*`` with
``eval/objective`` the combined objective), saves every ``train.checkpoint_every`` steps and
stops on Ctrl-C. The agent logs ``charts/*`` (``charts/objective``, ``charts/cost`` = mean
utilisation variance, latencies, forwarded %) and ``losses/*`` itself.
Checkpoint: ``checkpoint.pt`` (``DRLoSPlus.save``); evaluation loads its numpy actor.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, ClassVar

from omegaconf import DictConfig

from pipeline.runners.base import TrainContext, TrainingStopped
from pipeline.runners.native import TorchAgentRunner


class DRLoSPlusRunner(TorchAgentRunner):
    """``agent=drlos_plus`` on ``env=scheduling_v1`` / ``env=scheduling`` (per-task actions)."""

    envs: ClassVar[tuple[str, ...]] = ("scheduling",)
    action_spaces: ClassVar[tuple[str, ...]] = ("assign",)
    description = "DRLoS+, per-task (task, server) scorer trained by REINFORCE"
    step_attr = "num_timesteps"
    logs_hparams_itself = True

    @classmethod
    def config_class(cls) -> type:
        from agents.drlos_plus import DRLoSPlusConfig

        return DRLoSPlusConfig

    @classmethod
    def agent_class(cls) -> type:
        from agents.drlos_plus import DRLoSPlus

        return DRLoSPlus

    def policy(self) -> Any:
        return self.agent.fast_actor()

    @classmethod
    def load_policy(cls, run_dir: Path, cfg: DictConfig, env: Any) -> Any:
        from agents.drlos_plus import load_plus_actor

        return load_plus_actor(cls.checkpoint_path(run_dir))

    def log_eval(self, ctx: TrainContext, step: int) -> dict[str, float]:
        """The agent's own evaluation on task sets ``ctx.eval_seeds`` (``eval/*``)."""
        if self._last_eval is not None and self._last_eval[0] == step:
            return self._last_eval[1]
        out = self.agent.evaluate(ctx.eval_seeds)
        self._last_eval = (step, out)
        ctx.progress.update(step, eval_cost=out.get("eval/objective"))
        return out

    def train(self, ctx: TrainContext) -> None:
        if self.steps >= ctx.total_steps:
            return
        every, ck = ctx.eval_every, ctx.checkpoint_every
        sched = {
            "eval": (self.steps // every + 1) * every if every else math.inf,
            "ckpt": (self.steps // ck + 1) * ck if ck else math.inf,
        }

        def callback(agent: Any, metrics: dict[str, float]) -> bool:
            step = agent.num_timesteps
            ctx.progress.update(step, ret=metrics.get("episodic_return"),
                                cost=metrics.get("objective"),
                                latency=metrics.get("latency_ms"))  # fmt: skip
            if step >= sched["eval"]:
                sched["eval"] = (step // every + 1) * every
                self.log_eval(ctx, step)
            if step >= sched["ckpt"]:
                sched["ckpt"] = (step // ck + 1) * ck
                self.save()
            return step < ctx.total_steps and not ctx.stop_requested()

        bound = (ctx.total_steps - self.steps) // self.agent.config.n_rollouts + 1
        self.agent.learn(bound, callback=callback)
        if ctx.stop_requested():
            raise TrainingStopped

    def save(self) -> Path:
        return self.agent.save(self.checkpoint_path(self.run_dir))
