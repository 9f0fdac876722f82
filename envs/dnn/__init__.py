"""DNN profiles (docs/model.md §2): built-in models and the profiler for users' own modules."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from envs.dnn.models import MODELS
from envs.dnn.profile import (
    LAYER_KINDS,
    Block,
    DNNProfile,
    Layer,
    check_input_shape,
    profile_module,
)

DEFAULT_INPUT_SHAPE: tuple[int, int, int] = (3, 32, 32)
BUILTIN_PROFILES: tuple[str, ...] = tuple(MODELS)

__all__ = [
    "BUILTIN_PROFILES",
    "DEFAULT_INPUT_SHAPE",
    "LAYER_KINDS",
    "Block",
    "DNNProfile",
    "Layer",
    "get_profile",
    "profile_module",
    "resolve_profile",
]


@lru_cache(maxsize=64)
def _builtin(name: str, input_shape: tuple[int, ...]) -> DNNProfile:
    model = MODELS[name](in_channels=input_shape[0])
    return profile_module(model, input_shape, name=name)


def get_profile(name: str, input_shape: Sequence[int] | None = None) -> DNNProfile:
    """The profile of a built-in DNN (``BUILTIN_PROFILES``) at ``input_shape`` (C, H, W).

    Profiles are immutable and cached, so repeated calls are cheap.
    """
    if not isinstance(name, str) or name not in MODELS:
        raise ValueError(f"unknown dnn {name!r}; known: {', '.join(BUILTIN_PROFILES)}")
    if input_shape is None or (isinstance(input_shape, Sequence) and len(input_shape) == 0):
        input_shape = DEFAULT_INPUT_SHAPE  # () meant the default before validation existed
    shape = check_input_shape(input_shape, 3)
    return _builtin(name, shape)


def resolve_profile(
    dnn: str | DNNProfile | Mapping[str, Any], input_shape: Sequence[int] | None = None
) -> DNNProfile:
    """Accept a built-in name, a :class:`DNNProfile` or its ``to_dict()`` form."""
    if isinstance(dnn, DNNProfile):
        return dnn
    if isinstance(dnn, Mapping):
        try:
            return DNNProfile.from_dict(dnn)
        except ValueError as exc:  # name the argument the caller knows
            raise ValueError(f"dnn (a profile dict): {exc}") from None
    if isinstance(dnn, str):
        return get_profile(dnn, input_shape)
    raise ValueError(f"dnn must be a name, a DNNProfile or a dict, got {type(dnn).__name__}")
