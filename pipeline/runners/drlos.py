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

from typing import ClassVar

from pipeline.runners.base import TrainContext
from pipeline.runners.native import TorchAgentRunner


class DRLoSRunner(TorchAgentRunner):
    """``agent=drlos`` on ``env=scheduling`` (share actions)."""

    envs: ClassVar[tuple[str, ...]] = ("scheduling",)
    action_spaces: ClassVar[tuple[str, ...]] = ("discrete",)
    description = "DRLoS, REINFORCE over the 2^m share actions"
    config_path = "agents.drlos.DRLoSConfig"
    agent_path = "agents.drlos.DRLoS"
    step_attr = "num_timesteps"
    logs_hparams_itself = True  # DRLoS.learn logs its hyperparameters
    # the metric shown as "cost" on the progress line: per iteration and per evaluation
    cost_key: ClassVar[str] = "cost"
    eval_cost_key: ClassVar[str] = "eval/cost"

    def run_eval(self, ctx: TrainContext, step: int) -> dict[str, float]:
        """The agent's own greedy evaluation on task sets ``ctx.eval_seeds`` (``eval/*``)."""
        out = self.agent.evaluate(ctx.eval_seeds)
        ctx.progress.update(step, eval_cost=out.get(self.eval_cost_key))
        return out

    def train(self, ctx: TrainContext) -> None:
        if self.steps >= ctx.total_steps:
            return
        callback = self.iteration_callback(ctx, lambda m: {
            "ret": m.get("episodic_return"), "cost": m.get(self.cost_key),
            "latency": m.get("latency_ms")})  # fmt: skip
        # An iteration takes >= n_rollouts steps, so this bound is never the binding one.
        bound = (ctx.total_steps - self.steps) // self.agent.config.n_rollouts + 1
        self.agent.learn(bound, callback=callback)
        self.stop_if_requested(ctx)
