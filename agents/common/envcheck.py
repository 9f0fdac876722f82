"""The check every scheduling agent makes of its env: the right class and action mode."""

from __future__ import annotations

from typing import Any

from envs.scheduling.env import EdgeSchedulingEnv


def scheduling_base(base: Any, who: str, action_mode: str, why: str) -> EdgeSchedulingEnv:
    """``base`` (an unwrapped env) if it is an :class:`EdgeSchedulingEnv` in ``action_mode``;
    else a ValueError: ``"<who> needs an EdgeSchedulingEnv, got <class>"`` or
    ``"<why>: create the env with action_mode='<action_mode>' (got <mode>)"``."""
    if not isinstance(base, EdgeSchedulingEnv):
        raise ValueError(f"{who} needs an EdgeSchedulingEnv, got {type(base).__name__}")
    if base.action_mode != action_mode:
        raise ValueError(
            f"{why}: create the env with action_mode={action_mode!r} (got {base.action_mode!r})"
        )
    return base
