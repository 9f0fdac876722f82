"""Tabular Q-learning (:mod:`agents.qlearning`, the DRLoS paper's value-based baseline).

Training goes one episode at a time through :meth:`QLearningAgent.train` (episode ``k`` of
the run uses seed ``SeedSequence([seed, k])``), so the pipeline can log, evaluate,
checkpoint and stop between episodes. The exploration rate decays linearly over the first
``epsilon_decay`` fraction of ``train.total_steps`` *env steps* of the run (the agent's own
``train`` decays per episode of one call; :class:`_StepScheduledQLearning` overrides only
that schedule).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from omegaconf import DictConfig

from pipeline.runners.base import EpisodeTracker, TrainContext, TrainingStopped
from pipeline.runners.native import ConfigAgentRunner
from pipeline.utils import read_json


def _episode_seed(seed: int, episode: int) -> int:
    return int(np.random.SeedSequence([int(seed), int(episode)]).generate_state(1)[0])


class _Monitor:
    """Wraps the env's ``step`` to feed the tracker (the agent steps the env itself)."""

    def __init__(self, env: Any, on_step: Any) -> None:
        self.env, self.on_step = env, on_step

    def __getattr__(self, name: str) -> Any:
        return getattr(self.env, name)

    def reset(self, **kw: Any) -> Any:
        return self.env.reset(**kw)

    def step(self, action: Any) -> Any:
        out = self.env.step(action)
        self.on_step(out)
        return out


class QLearningRunner(ConfigAgentRunner):
    """``agent=qlearning`` on ``env=scheduling`` (share actions)."""

    envs: ClassVar[tuple[str, ...]] = ("scheduling",)
    action_spaces: ClassVar[tuple[str, ...]] = ("discrete",)
    description = "tabular Q-learning over the DRLoS share actions"
    config_path = "agents.qlearning.QLearningConfig"
    state_file = "runner_state.json"  # legacy: env steps of runs saved before checkpoint "extra"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.env = None
        self._steps = 0

    @property
    def steps(self) -> int:
        return self._steps

    @classmethod
    def saved_steps(cls, run_dir: Path) -> int | None:
        from agents.common.checkpoint import load_checkpoint
        from agents.qlearning import CHECKPOINT_FORMAT

        path = cls.checkpoint_path(run_dir)
        if not path.is_file():
            return None
        steps = load_checkpoint(path, formats=(CHECKPOINT_FORMAT,)).get("extra", {}).get("steps")
        return None if steps is None else int(steps)

    def _agent_class(self, total_steps: int) -> type:
        from agents.qlearning import QLearningAgent

        runner = self

        class _StepScheduledQLearning(QLearningAgent):
            def epsilon(self, episode: int, episodes: int) -> float:
                c = self.config
                horizon = max(1.0, c.epsilon_decay * total_steps)
                frac = min(1.0, runner._steps / horizon)
                return c.epsilon_start + frac * (c.epsilon_end - c.epsilon_start)

        return _StepScheduledQLearning

    def setup(self, resume: bool) -> None:
        self.env = self.make_env()
        cls = self._agent_class(int(self.cfg.train.total_steps))
        hp = self.hyperparameters(self.agent_cfg)
        if resume:
            self.agent = cls.load(self.checkpoint_path(self.run_dir), self.env)
            extra = getattr(self.agent, "extra", {})
            if "steps" in extra:
                self._steps = int(extra["steps"])
            else:  # a run saved before the step counter moved into checkpoint.pt
                self._steps = int(read_json(self.run_dir / self.state_file)["steps"])
        else:
            self.agent = cls(self.env, **{**hp, "queue_edges": tuple(hp["queue_edges"])})
            self._steps = 0

    def train(self, ctx: TrainContext) -> None:
        tracker = EpisodeTracker(self, ctx, self._steps)
        max_steps = int(self.cfg.env.max_episode_steps)

        def on_step(out: tuple) -> None:
            _, reward, terminated, truncated, info = out
            self._steps += 1
            tracker.step(self._steps, reward, info, terminated or truncated)

        monitored = _Monitor(self.env, on_step)
        while self._steps < ctx.total_steps:
            episode = self.agent.episodes_trained
            self.agent.train(
                monitored, 1, seed=_episode_seed(self.seed, episode), max_steps=max_steps
            )
            tracker.periodic(self._steps)
            if ctx.stop_requested():
                raise TrainingStopped

    def save(self) -> Path:
        # the step counter goes into the same file: one atomic write, never torn
        return self.agent.save(self.checkpoint_path(self.run_dir), extra={"steps": self._steps})

    def policy(self) -> Any:
        return self.agent

    @classmethod
    def load_policy(cls, run_dir: Path, cfg: DictConfig, env: Any) -> Any:
        from agents.qlearning import QLearningAgent

        return QLearningAgent.load(cls.checkpoint_path(run_dir), env)

    def close(self) -> None:
        super().close()
        if self.env is not None:
            self.env.close()
