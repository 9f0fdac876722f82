"""DRLoS (:mod:`agents.drlos`): REINFORCE over the DRLoS share actions, N rollouts per task set.

The agent trains in iterations (one task set, ``n_rollouts`` episodes, one update); the
runner keeps the pipeline's budget and schedules in env steps: a callback after every
iteration stops training once ``train.total_steps`` env steps are reached (the last
iteration may overshoot by up to one iteration's steps), evaluates every
``train.eval_every`` steps (the agent's greedy evaluation on task sets ``eval_seed + k``,
logged as ``eval/*``), saves every ``train.checkpoint_every`` steps, drives the progress
display and stops on Ctrl-C. The agent logs ``charts/*`` per iteration (``charts/cost`` is
the mean per-step utilisation variance) and ``losses/*`` itself.
Checkpoint: ``checkpoint.pt`` (``DRLoS.save``); evaluation loads its fast numpy actor.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, ClassVar

from pipeline.runners.base import TrainContext, TrainingStopped
from pipeline.runners.native import TorchAgentRunner


class DRLoSRunner(TorchAgentRunner):
    """``agent=drlos`` on ``env=scheduling`` (share actions)."""

    envs: ClassVar[tuple[str, ...]] = ("scheduling",)
    action_spaces: ClassVar[tuple[str, ...]] = ("discrete",)
    description = "DRLoS, REINFORCE over the 2^m share actions"
    step_attr = "num_timesteps"
    logs_hparams_itself = True  # DRLoS.learn logs its hyperparameters
    # the metric shown as "cost" on the progress line: per iteration and per evaluation
    cost_key: ClassVar[str] = "cost"
    eval_cost_key: ClassVar[str] = "eval/cost"

    @classmethod
    def config_class(cls) -> type:
        from agents.drlos import DRLoSConfig

        return DRLoSConfig

    @classmethod
    def agent_class(cls) -> type:
        from agents.drlos import DRLoS

        return DRLoS

    def log_eval(self, ctx: TrainContext, step: int) -> dict[str, float]:
        """The agent's own greedy evaluation on task sets ``ctx.eval_seeds`` (``eval/*``)."""
        if self._last_eval is not None and self._last_eval[0] == step:
            return self._last_eval[1]
        out = self.agent.evaluate(ctx.eval_seeds)
        self._last_eval = (step, out)
        ctx.progress.update(step, eval_cost=out.get(self.eval_cost_key))
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
                                cost=metrics.get(self.cost_key),
                                latency=metrics.get("latency_ms"))  # fmt: skip
            if step >= sched["eval"]:
                sched["eval"] = (step // every + 1) * every
                self.log_eval(ctx, step)
            if step >= sched["ckpt"]:
                sched["ckpt"] = (step // ck + 1) * ck
                self.save()
            return step < ctx.total_steps and not ctx.stop_requested()

        # An iteration takes >= n_rollouts steps, so this bound is never the binding one.
        bound = (ctx.total_steps - self.steps) // self.agent.config.n_rollouts + 1
        self.agent.learn(bound, callback=callback)
        if ctx.stop_requested():
            raise TrainingStopped

    def save(self) -> Path:
        return self.agent.save(self.checkpoint_path(self.run_dir))
