"""Environment factory of the pipeline: Hydra config groups -> Gymnasium envs.

``configs/env/*.yaml`` name :func:`make_env` as their ``_target_``; the pipeline calls it
through ``hydra.utils.instantiate(cfg.env, dnn=cfg.dnn, network=cfg.network, ...)``, so a
user can point ``env._target_`` at their own factory with the same signature.

The partitioning envs take their DNN from the ``dnn`` group and their link process from the
``network`` group (``network.mec`` for MEC, ``network.d2d`` for D2D). The scheduling env has
neither (``dnn=none``, ``network=none``).

Your own DNN (``dnn=custom``, :func:`custom_profile`): ``dnn.path=<profile.json>`` (the JSON
of :meth:`envs.dnn.DNNProfile.to_dict`) or ``dnn.factory=<module:function>`` (a callable
returning an ``nn.Module`` and its input shape, profiled by :func:`envs.dnn.profile_module`).
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from omegaconf import DictConfig

from pipeline.utils import resolve_repo_path, to_plain

PARTITION_ENVS: tuple[str, ...] = ("mec", "d2d")
SCHEDULING_ENVS: tuple[str, ...] = ("scheduling",)
ENV_NAMES: tuple[str, ...] = (*PARTITION_ENVS, *SCHEDULING_ENVS)
#: Keys of an env config that are not constructor arguments of the env class
#: (``train_steps``: the env group's default training budget, see ``configs/train.yaml``).
META_KEYS: tuple[str, ...] = (
    "_target_", "name", "id", "tag", "train_steps", "max_episode_steps", "action_mode",
)  # fmt: skip
#: Action modes per env family: the agent's action kind ("continuous" / "discrete") -> mode.
ACTION_MODES: dict[str, dict[str, str]] = {
    "mec": {"continuous": "continuous", "discrete": "discrete"},
    "d2d": {"continuous": "continuous", "discrete": "discrete"},
    "scheduling": {"discrete": "shares", "assign": "assign"},  # assign: per-task agents
}
#: The action mode heuristics act in (partitioning policies convert to any mode).
HEURISTIC_ACTION_MODE: dict[str, str] = {"mec": "continuous", "d2d": "continuous",
                                         "scheduling": "assign"}  # fmt: skip


def is_partition(env_name: str) -> bool:
    return env_name in PARTITION_ENVS


# ----------------------------------------------------------------------------- custom DNNs
#: keys of ``configs/dnn/custom.yaml`` that make a dnn config a custom one
CUSTOM_DNN_KEYS: tuple[str, ...] = ("path", "factory")


def is_custom_dnn(dnn: Mapping[str, Any] | None) -> bool:
    """Whether ``dnn`` is a ``dnn=custom`` config (it has ``path`` / ``factory`` keys)."""
    return dnn is not None and any(k in dnn for k in CUSTOM_DNN_KEYS)


@lru_cache(maxsize=16)
def _profile_from_json(path: str, _mtime_ns: int, _size: int) -> dict[str, Any]:
    from envs.dnn import DNNProfile

    try:
        data = json.loads(Path(path).read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"dnn.path={path!r} is not valid JSON: {exc}") from None
    except OSError as exc:
        raise ValueError(f"dnn.path={path!r} cannot be read: {exc.strerror or exc}") from None
    if not isinstance(data, Mapping):
        raise ValueError(
            f"dnn.path={path!r} must hold one JSON object (DNNProfile.to_dict()), got "
            f"{type(data).__name__}"
        )
    try:
        return DNNProfile.from_dict(data).to_dict()
    except ValueError as exc:
        raise ValueError(f"dnn.path={path!r} is not a DNN profile: {exc}") from None


def _import_factory(factory: str) -> Any:
    mod_name, sep, attr = factory.partition(":")
    if not sep or not mod_name or not attr:
        raise ValueError(
            f"dnn.factory={factory!r} is invalid: must be 'module:function' (e.g. "
            "mypkg.models:build, a callable returning (nn.Module, input_shape))"
        )
    # ``python train.py`` puts the repository on sys.path, not the working directory: a
    # module next to where the user runs the command should import as well
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.append(cwd)
    try:
        module = importlib.import_module(mod_name)
    except Exception as exc:
        raise ValueError(
            f"dnn.factory={factory!r}: module {mod_name!r} cannot be imported "
            f"({type(exc).__name__}: {exc})"
        ) from None
    fn = module
    for part in attr.split("."):
        if not hasattr(fn, part):
            raise ValueError(f"dnn.factory={factory!r}: {mod_name!r} has no attribute {attr!r}")
        fn = getattr(fn, part)
    if not callable(fn):
        raise ValueError(f"dnn.factory={factory!r}: {attr!r} is not callable")
    return fn


@lru_cache(maxsize=16)
def _profile_from_factory(
    factory: str, label: str, input_shape: tuple[int, ...] | None, boundaries: tuple | None
) -> dict[str, Any]:
    from torch import nn

    from envs.dnn import DNNProfile, profile_module

    fn = _import_factory(factory)
    try:
        out = fn()
    except Exception as exc:
        raise ValueError(
            f"dnn.factory={factory!r} failed when called: {type(exc).__name__}: {exc}"
        ) from None
    if isinstance(out, DNNProfile):
        return out.to_dict()
    shape = input_shape
    if isinstance(out, tuple) and len(out) == 2 and isinstance(out[0], nn.Module):
        out, returned = out
        if shape is None:
            shape = tuple(returned)
    if not isinstance(out, nn.Module):
        raise ValueError(
            f"dnn.factory={factory!r} must return an nn.Module, (nn.Module, input_shape) or a "
            f"DNNProfile, got {type(out).__name__}"
        )
    if shape is None:
        raise ValueError(
            f"dnn.factory={factory!r} returned a module without its input shape: return "
            "(module, (C, H, W)) or set dnn.input_shape='[3,32,32]'"
        )
    try:
        profile = profile_module(
            out, shape, None if boundaries is None else list(boundaries), name=label
        )
    except ValueError as exc:
        raise ValueError(f"dnn.factory={factory!r}: profiling failed: {exc}") from None
    return profile.to_dict()


def custom_profile(dnn: Mapping[str, Any]) -> dict[str, Any]:
    """The profile (``DNNProfile.to_dict()`` form) of a ``dnn=custom`` config.

    Exactly one of ``dnn.path`` (a JSON file written from ``DNNProfile.to_dict()``; a relative
    path is resolved against the working directory) and ``dnn.factory`` (``module:function``;
    the function takes no argument and returns ``(nn.Module, input_shape)``, an ``nn.Module``
    with ``dnn.input_shape`` set, or a ``DNNProfile``; ``dnn.block_boundaries`` groups its
    layers as in :func:`envs.dnn.profile_module`, default one block per direct child).
    Results are cached (a JSON file by path, size and mtime).

    Raises:
        ValueError: naming the field (``dnn.path``, ``dnn.factory``, ``dnn.input_shape``, ...).
    """
    dnn = to_plain(dnn)
    path, factory = dnn.get("path"), dnn.get("factory")
    if (path is None) == (factory is None):
        raise ValueError(
            "dnn=custom needs exactly one of dnn.path=<profile.json> (written by "
            "DNNProfile.to_dict()) and dnn.factory=<module:function>, got "
            f"dnn.path={path!r}, dnn.factory={factory!r}"
        )
    shape, bounds = dnn.get("input_shape"), dnn.get("block_boundaries")
    if path is not None:
        for key, value in (("input_shape", shape), ("block_boundaries", bounds)):
            if value is not None:
                raise ValueError(
                    f"dnn.{key}={value!r} applies to dnn.factory only: a profile JSON "
                    "(dnn.path) has its own blocks and input shape"
                )
        if not isinstance(path, str):
            raise ValueError(f"dnn.path={path!r} is invalid: must be a file path")
        file = Path(path).expanduser().resolve()
        if not file.is_file():
            raise ValueError(f"dnn.path={path!r}: no such file ({file})")
        st = file.stat()
        return _profile_from_json(str(file), st.st_mtime_ns, st.st_size)
    if not isinstance(factory, str):
        raise ValueError(f"dnn.factory={factory!r} is invalid: must be 'module:function'")
    if shape is not None:
        from envs.dnn import check_input_shape

        try:
            shape = check_input_shape(shape)
        except ValueError as exc:
            raise ValueError(f"dnn.{exc}") from None
    if bounds is not None:
        ok = isinstance(bounds, list | tuple) and (
            all(isinstance(b, str) for b in bounds)
            or all(isinstance(b, int) and not isinstance(b, bool) for b in bounds)
        )
        if not ok:
            raise ValueError(
                f"dnn.block_boundaries={bounds!r} is invalid: must be null, a list of "
                "submodule names or a list of increasing leaf-layer indices"
            )
        bounds = tuple(bounds)
    return _profile_from_factory(factory, str(dnn.get("name") or "custom"), shape, bounds)


def dnn_argument(dnn: Mapping[str, Any]) -> tuple[Any, tuple[int, ...] | None]:
    """The env's ``dnn`` and ``input_shape`` arguments from the ``dnn`` config group."""
    if is_custom_dnn(dnn):
        return custom_profile(dnn), None
    shape = dnn.get("input_shape")
    return dnn["name"], None if shape is None else tuple(shape)


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
        kw["dnn"], kw["input_shape"] = dnn_argument(dnn)
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
    train_steps: int | None = None,
    *,
    dnn: Mapping[str, Any] | None = None,
    network: Mapping[str, Any] | None = None,
    num_envs: int | None = None,
    **kwargs: Any,
) -> Any:
    """Build the env of a config: ``gym.make`` (``num_envs=None``) or the env's native numpy
    vector env with ``num_envs`` copies (partitioning and scheduling envs).

    Args:
        id: Registered Gymnasium id.
        name: ``mec`` / ``d2d`` / ``scheduling``.
        tag: Run-directory tag (unused here).
        train_steps: The env group's default training budget (unused here; it is the
            default of ``train.total_steps``).
        max_episode_steps: Time limit.
        action_mode: Env action mode (``None``: the env's default).
        dnn, network: The ``dnn`` / ``network`` config groups (partitioning envs).
        num_envs: Copies of a vector env.
        **kwargs: The env class's constructor arguments.
    """
    import envs  # noqa: F401  (registers the ids)

    env_cfg = {"name": name, "action_mode": action_mode, **kwargs}
    kw = env_kwargs(env_cfg, dnn, network)
    if num_envs is not None:
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
