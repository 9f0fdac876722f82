"""Environment factory of the pipeline: Hydra config groups -> Gymnasium envs.

``configs/env/*.yaml`` name :func:`make_env` as their ``_target_``; the pipeline calls it
through ``hydra.utils.instantiate(cfg.env, dnn=cfg.dnn, network=cfg.network, ...)``, so a
user can point ``env._target_`` at their own factory with the same signature.

The partitioning envs take their DNN from the ``dnn`` group and their link process from the
``network`` group (``network.mec`` for MEC, ``network.d2d`` for D2D). The scheduling env has
neither (``dnn=none``, ``network=none``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from omegaconf import DictConfig

from pipeline.utils import resolve_repo_path, to_plain

PARTITION_ENVS: tuple[str, ...] = ("mec", "d2d")
SCHEDULING_ENVS: tuple[str, ...] = ("scheduling",)
ENV_NAMES: tuple[str, ...] = (*PARTITION_ENVS, *SCHEDULING_ENVS)
#: Keys of an env config that are not constructor arguments of the env class.
META_KEYS: tuple[str, ...] = ("_target_", "name", "id", "tag", "max_episode_steps", "action_mode")
#: Action modes per env family: the agent's action kind ("continuous" / "discrete") -> mode.
ACTION_MODES: dict[str, dict[str, str]] = {
    "mec": {"continuous": "continuous", "discrete": "discrete"},
    "d2d": {"continuous": "continuous", "discrete": "discrete"},
    "scheduling": {"discrete": "shares"},
}
#: The action mode heuristics act in (partitioning policies convert to any mode).
HEURISTIC_ACTION_MODE: dict[str, str] = {"mec": "continuous", "d2d": "continuous",
                                         "scheduling": "assign"}  # fmt: skip


def is_partition(env_name: str) -> bool:
    return env_name in PARTITION_ENVS


def env_kwargs(
    env: Mapping[str, Any],
    dnn: Mapping[str, Any] | None,
    network: Mapping[str, Any] | None,
    action_mode: str | None = None,
) -> dict[str, Any]:
    """Constructor keyword arguments of the env class from the three config groups.

    ``action_mode`` overrides ``env.action_mode`` (which may be null = "the agent's").
    """
    env, dnn, network = to_plain(env), to_plain(dnn), to_plain(network)
    kw = {k: v for k, v in env.items() if k not in META_KEYS}
    mode = action_mode if action_mode is not None else env.get("action_mode")
    if mode is not None:
        kw["action_mode"] = mode
    name = env["name"]
    if name in PARTITION_ENVS:
        kw["dnn"] = dnn["name"]
        kw["input_shape"] = None if dnn.get("input_shape") is None else tuple(dnn["input_shape"])
        kw["network"] = network[name]
        trace_dir = network.get("trace_dir")
        kw["trace_dir"] = None if trace_dir is None else str(resolve_repo_path(trace_dir))
        if isinstance(kw.get("availability"), list):
            kw["availability"] = tuple(kw["availability"])
        if isinstance(kw.get("overhead_weights"), list):
            kw["overhead_weights"] = tuple(kw["overhead_weights"])
    if name == "scheduling" and isinstance(kw.get("capacities"), list):
        kw["capacities"] = list(kw["capacities"])
    return kw


def make_env(
    id: str,
    name: str,
    tag: str | None = None,
    max_episode_steps: int | None = None,
    action_mode: str | None = None,
    *,
    dnn: Mapping[str, Any] | None = None,
    network: Mapping[str, Any] | None = None,
    num_envs: int | None = None,
    **kwargs: Any,
) -> Any:
    """Build the env of a config: ``gym.make`` (``num_envs=None``) or, for the partitioning
    envs, their native numpy vector env with ``num_envs`` copies.

    Args:
        id: Registered Gymnasium id.
        name: ``mec`` / ``d2d`` / ``scheduling``.
        tag: Run-directory tag (unused here).
        max_episode_steps: Time limit.
        action_mode: Env action mode (``None``: the env's default).
        dnn, network: The ``dnn`` / ``network`` config groups (partitioning envs).
        num_envs: Copies of a vector env (partitioning envs only).
        **kwargs: The env class's constructor arguments.
    """
    import envs  # noqa: F401  (registers the ids)

    env_cfg = {"name": name, "action_mode": action_mode, **kwargs}
    kw = env_kwargs(env_cfg, dnn, network)
    if num_envs is not None:
        if name not in PARTITION_ENVS:
            raise ValueError(f"vector envs exist for {PARTITION_ENVS}, not {name!r}")
        return gym.make_vec(
            id,
            num_envs=int(num_envs),
            vectorization_mode="vector_entry_point",
            max_episode_steps=max_episode_steps,
            **kw,
        )
    return gym.make(id, max_episode_steps=max_episode_steps, **kw)


def build_env(cfg: DictConfig, action_mode: str | None = None, num_envs: int | None = None) -> Any:
    """:func:`make_env` through ``cfg.env._target_`` with the run config's groups."""
    from hydra.utils import instantiate

    extra: dict[str, Any] = {"dnn": to_plain(cfg.dnn), "network": to_plain(cfg.network)}
    if action_mode is not None:
        extra["action_mode"] = action_mode
    if num_envs is not None:
        extra["num_envs"] = num_envs
    return instantiate(cfg.env, _convert_="all", **extra)


# ----------------------------------------------------------------------------- actions
class UnitToSymmetric:
    """Maps actions between a ``Box(0, 1)`` env and agents that act in ``[-1, 1]``.

    SB3 and RLlib expect symmetric continuous action spaces; the pipeline trains them on
    ``gymnasium.wrappers.RescaleAction(env, -1, 1)`` and their trained policies map back
    with :meth:`to_env` (clipped, float32) before the env or the evaluation sees them.
    """

    @staticmethod
    def to_env(action: np.ndarray) -> np.ndarray:
        a = np.asarray(action, dtype=np.float32)
        return np.clip((a + 1.0) * 0.5, 0.0, 1.0).astype(np.float32)

    @staticmethod
    def wrap(env: gym.Env) -> gym.Env:
        space = env.action_space
        if not (
            isinstance(space, spaces.Box) and np.all(space.low == 0) and np.all(space.high == 1)
        ):
            raise ValueError(f"UnitToSymmetric needs a Box(0, 1) action space, got {space}")
        low = np.full(space.shape, -1.0, dtype=np.float32)
        return gym.wrappers.RescaleAction(env, low, -low)
