"""Checkpoints of EdgeRL agents: atomic writes, safe loads and env signatures.

A checkpoint is a ``torch.save`` of a dict that holds only tensors and plain Python values
(dict, list, tuple, str, int, float, bool, None), so :func:`load_checkpoint` reads it with
``torch.load(weights_only=True)``: loading never runs arbitrary pickled code.

Every checkpoint records the :func:`env_signature` of the env it was trained on; loading
it against an env with a different interface (env id, DNN profile, spaces, intent
thresholds, action mode) raises a ValueError naming each mismatching field
(:func:`check_signature`).

Common top-level keys (agents add their own)::

    format      "edgerl-checkpoint"
    version     CHECKPOINT_VERSION
    algo        agent name, e.g. "iorlo"
    signature   env_signature(env)
    actor       fast-actor spec (agents.common.fast_actor.mlp_actor_spec), read by
                agents.loading.load_actor
"""

from __future__ import annotations

import math
import os
import tempfile
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from gymnasium import spaces

CHECKPOINT_FORMAT = "edgerl-checkpoint"
CHECKPOINT_VERSION = 1

# Fields of env_signature() that must match for a policy to be usable on an env.
STRICT_FIELDS: tuple[str, ...] = (
    "env_id",
    "scenario",
    "profile_name",
    "profile_fingerprint",
    "n_blocks",
    "num_platforms",
    "observation_space",
    "action_space",
    "thresholds",
    "action_mode",
)
# Recorded for provenance; a mismatch (e.g. another η1) only warns: the policy still fits the
# env's interface but was trained for another objective.
INFO_FIELDS: tuple[str, ...] = ("env_params",)


# --------------------------------------------------------------------------- files
def save_checkpoint(path: str | os.PathLike[str], payload: Mapping[str, Any]) -> Path:
    """Write ``payload`` to ``path`` atomically (temp file in the same directory + os.replace).

    ``format`` and ``version`` are added when missing. Returns the path. A crash mid-write
    leaves the previous file (if any) intact.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, **payload}
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(data, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint` with ``weights_only=True``.

    Raises FileNotFoundError for a missing file and ValueError for a file that is not an
    EdgeRL checkpoint (or holds objects other than tensors and plain values).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # UnpicklingError for arbitrary objects, RuntimeError for junk
        raise ValueError(
            f"{path} is not a loadable EdgeRL checkpoint (torch.load(weights_only=True) "
            f"failed: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"
        ) from exc
    if not isinstance(data, dict) or data.get("format") != CHECKPOINT_FORMAT:
        fmt = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise ValueError(f"{path}: format must be {CHECKPOINT_FORMAT!r}, got {fmt!r}")
    if data.get("version") != CHECKPOINT_VERSION:
        raise ValueError(
            f"{path}: checkpoint version must be {CHECKPOINT_VERSION}, got {data.get('version')!r}"
        )
    return data


# ----------------------------------------------------------------------- signatures
def _floats(x: np.ndarray) -> list[float]:
    return [float(v) for v in np.asarray(x, dtype=np.float64).ravel()]


def space_to_dict(space: spaces.Space) -> dict[str, Any]:
    """A plain-value description of a space (type, shape, bounds, dtype) for comparisons."""
    if isinstance(space, spaces.Box):
        return {
            "type": "Box",
            "shape": list(space.shape),
            "low": _floats(space.low),
            "high": _floats(space.high),
            "dtype": str(space.dtype),
        }
    if isinstance(space, spaces.Discrete):
        return {"type": "Discrete", "n": int(space.n), "start": int(space.start)}
    if isinstance(space, spaces.MultiDiscrete):
        return {
            "type": "MultiDiscrete",
            "shape": list(space.shape),
            "nvec": [int(v) for v in np.asarray(space.nvec).ravel()],
            "start": [int(v) for v in np.asarray(space.start).ravel()],
        }
    if isinstance(space, spaces.MultiBinary):
        return {"type": "MultiBinary", "shape": list(space.shape)}
    raise ValueError(
        f"unsupported space {space!r}; signatures support Box, Discrete, MultiDiscrete, MultiBinary"
    )


def space_from_dict(d: Mapping[str, Any]) -> spaces.Space:
    """Inverse of :func:`space_to_dict`."""
    kind = d.get("type")
    if kind == "Box":
        shape = tuple(d["shape"])
        low = np.asarray(d["low"], dtype=np.float64).reshape(shape)
        high = np.asarray(d["high"], dtype=np.float64).reshape(shape)
        return spaces.Box(low.astype(d["dtype"]), high.astype(d["dtype"]), shape, d["dtype"])
    if kind == "Discrete":
        return spaces.Discrete(d["n"], start=d.get("start", 0))
    if kind == "MultiDiscrete":
        nvec = np.asarray(d["nvec"], dtype=np.int64).reshape(d["shape"])
        start = np.asarray(d["start"], dtype=np.int64).reshape(d["shape"])
        return spaces.MultiDiscrete(nvec, start=start)
    if kind == "MultiBinary":
        return spaces.MultiBinary(list(d["shape"]))
    raise ValueError(
        f"space type must be one of Box, Discrete, MultiDiscrete, MultiBinary, got {kind!r}"
    )


def _plain(x: Any) -> Any:
    """Numpy scalars/arrays and tuples -> plain Python values (weights_only-safe)."""
    if isinstance(x, Mapping):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_plain(v) for v in x]
    if isinstance(x, np.ndarray):
        return _plain(x.tolist())
    if isinstance(x, np.bool_ | bool):
        return bool(x)
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.floating):
        return float(x)
    if x is None or isinstance(x, str | int | float):
        return x
    return repr(x)


def _find_thresholds(env: Any) -> dict[str, float] | None:
    """Intent thresholds that turn a [0,1] action into platforms, named as in env.params.

    An :class:`envs.wrappers.IntentThresholds` wrapper in the chain wins (it converts);
    otherwise the base env's ``params`` keys ``epsilon``/``phi`` (MEC) or ``zeta`` (D2D).
    """
    obj = env
    while obj is not None:
        th = getattr(obj, "thresholds", None)
        if th is not None and type(obj).__name__ == "IntentThresholds":
            return {f"thresholds[{j}]": float(v) for j, v in enumerate(np.ravel(th))}
        obj = getattr(obj, "env", None)
    params = getattr(env.unwrapped, "params", None)
    if isinstance(params, Mapping):
        out = {k: float(params[k]) for k in ("epsilon", "phi", "zeta") if k in params}
        return out or None
    return None


def env_signature(env: Any) -> dict[str, Any]:
    """What a trained policy assumes about its env, as plain values.

    Works for single envs (possibly wrapped) and vector envs (``single_*_space``).

    | field | meaning |
    |---|---|
    | ``env_id`` | ``env.spec.id`` (else the unwrapped class name) |
    | ``scenario`` | ``"mec"`` / ``"d2d"`` for the partitioning envs, else ``None`` |
    | ``profile_name``, ``profile_fingerprint`` | the DNN profile (``DNNProfile.fingerprint()``) |
    | ``n_blocks``, ``num_platforms`` | decision size |
    | ``observation_space``, ``action_space`` | :func:`space_to_dict` of the (single) spaces |
    | ``thresholds`` | intent thresholds by name (``epsilon``, ``phi`` / ``zeta``), or ``None`` |
    | ``action_mode`` | ``"continuous"`` / ``"discrete"`` (partitioning envs), else ``None`` |
    | ``env_params`` | the env's ``params`` dict (informational: a mismatch only warns) |
    """
    base = env.unwrapped
    spec = getattr(env, "spec", None) or getattr(base, "spec", None)
    env_id = spec.id if spec is not None and getattr(spec, "id", None) else type(base).__name__
    obs_space = getattr(env, "single_observation_space", None) or env.observation_space
    act_space = getattr(env, "single_action_space", None) or env.action_space
    profile = getattr(base, "profile", None)
    if profile is None and hasattr(base, "env"):  # vector partition env holds a single env
        profile = getattr(base.env, "profile", None)
    inner = getattr(base, "env", base)
    n_blocks = getattr(base, "n_blocks", getattr(inner, "n_blocks", None))
    num_platforms = getattr(base, "num_platforms", getattr(inner, "num_platforms", None))
    params = getattr(base, "params", getattr(inner, "params", None))
    return {
        "env_id": str(env_id),
        "scenario": getattr(base, "scenario", getattr(inner, "scenario", None)) or None,
        "profile_name": None if profile is None else str(profile.name),
        "profile_fingerprint": None if profile is None else str(profile.fingerprint()),
        "n_blocks": None if n_blocks is None else int(n_blocks),
        "num_platforms": None if num_platforms is None else int(num_platforms),
        "observation_space": space_to_dict(obs_space),
        "action_space": space_to_dict(act_space),
        "thresholds": _find_thresholds(env),
        "action_mode": getattr(base, "action_mode", getattr(inner, "action_mode", None)),
        "env_params": None if params is None else _plain(params),
    }


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return set(a) == set(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def _short(v: Any, limit: int = 160) -> str:
    s = repr(v)
    return s if len(s) <= limit else s[: limit - 3] + "..."


def _space_diff(a: Mapping[str, Any], b: Mapping[str, Any]) -> str:
    """A readable difference between two space dicts (shape/type first, bounds summarised)."""
    for key in ("type", "shape", "dtype", "n", "nvec", "start"):
        if key in a or key in b:
            if not _same(a.get(key), b.get(key)):
                return f"{key}: saved {_short(a.get(key))}, env {_short(b.get(key))}"
    for key in ("low", "high"):
        if not _same(a.get(key), b.get(key)):
            return f"{key} bounds differ"
    return "differs"


def signature_mismatches(saved: Mapping[str, Any], actual: Mapping[str, Any]) -> list[str]:
    """One line per strict field that differs: ``"field: saved X, env Y"``."""
    lines = []
    for field in STRICT_FIELDS:
        a, b = saved.get(field), actual.get(field)
        if _same(a, b):
            continue
        if field.endswith("_space") and isinstance(a, Mapping) and isinstance(b, Mapping):
            lines.append(f"{field}: {_space_diff(a, b)}")
        else:
            lines.append(f"{field}: saved {_short(a)}, env {_short(b)}")
    return lines


def check_signature(saved: Mapping[str, Any], env: Any) -> dict[str, Any]:
    """Raise a ValueError naming every mismatching field between a saved signature and ``env``.

    ``env`` may be an env (single, wrapped or vector) or a signature dict. Differences in
    ``env_params`` (cost weights, capability factors) only warn. Returns the env's signature.
    """
    if not isinstance(saved, Mapping):
        raise ValueError(f"saved signature must be a dict, got {type(saved).__name__}")
    actual = dict(env) if isinstance(env, Mapping) else env_signature(env)
    lines = signature_mismatches(saved, actual)
    if lines:
        raise ValueError(
            "checkpoint does not match the env (trained on "
            f"{saved.get('env_id')!r} / {saved.get('profile_name')!r}):\n  " + "\n  ".join(lines)
        )
    for field in INFO_FIELDS:
        if not _same(saved.get(field), actual.get(field)):
            warnings.warn(
                f"checkpoint was trained with {field} {_short(saved.get(field))}, the env has "
                f"{_short(actual.get(field))} (interface matches; objective may differ)",
                stacklevel=2,
            )
    return actual


# ---------------------------------------------------------------------- RNG states
def numpy_rng_state(rng: np.random.Generator) -> dict[str, Any]:
    """The bit generator state as plain values (Python ints may exceed 64 bits; pickle is fine)."""
    return _plain(rng.bit_generator.state)


def set_numpy_rng_state(rng: np.random.Generator, state: Mapping[str, Any]) -> None:
    """Restore a state from :func:`numpy_rng_state` (same bit generator type)."""
    kind = type(rng.bit_generator).__name__
    if state.get("bit_generator") != kind:
        raise ValueError(
            f"numpy RNG state is for {state.get('bit_generator')!r}, the generator is {kind!r}"
        )
    rng.bit_generator.state = dict(state)
