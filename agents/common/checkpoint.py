"""Checkpoints of EdgeRL agents: atomic writes, safe loads, checksums and env signatures.

A checkpoint is a ``torch.save`` of a dict that holds only tensors and plain Python values
(dict, list, tuple, str, int, float, bool, None), so :func:`load_checkpoint` reads it with
``torch.load(weights_only=True)``: loading never runs arbitrary pickled code.

The file is written in one piece (serialised in memory, temp file, fsync, ``os.replace``,
directory fsync: :func:`agents.common.fileio.atomic_write`) and carries its own manifest: the
SHA-256 of its content (:func:`content_digest`: every key, value and tensor byte, in a
canonical order), verified on load, so a flipped or truncated byte is an error rather than
a silently different policy. Floating-point tensors must be finite (replay buffers
excepted).

Every problem with a checkpoint file (missing, unreadable, foreign, corrupted, non-finite,
not fitting the env) raises :class:`CheckpointError`, a ValueError naming the file.

Every checkpoint records the :func:`env_signature` of the env it was trained on; loading
it against an env with a different interface (env id, DNN profile, spaces, intent
thresholds, action mode) raises a ValueError naming each mismatching field
(:func:`check_signature`).

Common top-level keys (agents add their own)::

    format      "edgerl-checkpoint"
    version     CHECKPOINT_VERSION (1: no manifest, still loadable with a warning)
    manifest    {"sha256": content_digest(everything else), "digest": "edgerl-content-v1"}
    algo        agent name, e.g. "iorlo"
    signature   env_signature(env)
    actor       fast-actor spec (agents.common.fast_actor.mlp_actor_spec), read by
                agents.loading.load_actor
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import warnings
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import torch
from gymnasium import spaces

from agents.common.fileio import atomic_write_bytes, atomic_write_dir, sha256_file
from envs.partition.params import PartitionParams

CHECKPOINT_FORMAT = "edgerl-checkpoint"
CHECKPOINT_VERSION = 2
#: versions :func:`load_checkpoint` reads (1: written before checksums, loads with a warning)
READABLE_VERSIONS: tuple[int, ...] = (1, 2)
DIGEST_KIND = "edgerl-content-v1"
#: top-level keys whose float tensors may be non-finite (stored data, not weights)
NON_WEIGHT_KEYS: tuple[str, ...] = ("buffer", "rng")

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


class CheckpointError(ValueError):
    """A checkpoint file that cannot be used: ``"<file>: <problem>"``."""

    def __init__(self, path: str | os.PathLike[str], problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class MissingCheckpointError(CheckpointError, FileNotFoundError):
    """No checkpoint where one was expected (also a FileNotFoundError)."""

    def __str__(self) -> str:  # FileNotFoundError's own str() wants (errno, strerror)
        return f"{self.path}: {self.problem}"


# --------------------------------------------------------------------------- checksums
def _feed(h: Any, x: Any) -> None:
    """Hash ``x`` with its type, so 1, 1.0, "1" and [1] all differ; dict keys sorted."""
    if isinstance(x, torch.Tensor):
        t = x.detach().cpu().contiguous().reshape(-1)
        h.update(f"T{t.dtype}{tuple(x.shape)}:".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    elif isinstance(x, Mapping):
        h.update(f"D{len(x)}:".encode())
        for k in sorted(x, key=lambda k: (type(k).__name__, repr(k))):
            _feed(h, k)
            _feed(h, x[k])
    elif isinstance(x, list | tuple):
        h.update(f"L{len(x)}:".encode())
        for v in x:
            _feed(h, v)
    elif isinstance(x, bool) or x is None:
        h.update(f"B{x!r};".encode())
    elif isinstance(x, int):
        h.update(f"I{x};".encode())
    elif isinstance(x, float):
        h.update(f"F{x.hex()};".encode())
    elif isinstance(x, str):
        b = x.encode("utf-8", "surrogatepass")
        h.update(f"S{len(b)}:".encode() + b)
    else:
        h.update(f"O{type(x).__name__}:{x!r};".encode())


def content_digest(payload: Mapping[str, Any]) -> str:
    """SHA-256 over the content of a checkpoint dict, without its ``manifest``."""
    h = hashlib.sha256()
    _feed(h, {k: v for k, v in payload.items() if k != "manifest"})
    return h.hexdigest()


def _float_tensors(x: Any, where: str) -> Iterable[tuple[str, torch.Tensor]]:
    if isinstance(x, torch.Tensor):
        if x.is_floating_point() or x.is_complex():
            yield where, x
    elif isinstance(x, Mapping):
        for k, v in x.items():
            yield from _float_tensors(v, f"{where}.{k}" if where else str(k))
    elif isinstance(x, list | tuple):
        for i, v in enumerate(x):
            yield from _float_tensors(v, f"{where}[{i}]")


def non_finite(payload: Mapping[str, Any], skip: Iterable[str] = NON_WEIGHT_KEYS) -> list[str]:
    """Names of the float tensors holding NaN or inf (top-level keys in ``skip`` excepted)."""
    skip = set(skip)
    bad = []
    for k, v in payload.items():
        if k in skip:
            continue
        for name, t in _float_tensors(v, str(k)):
            if not bool(torch.isfinite(t).all()):
                bad.append(name)
    return bad


def check_finite(path: str | os.PathLike[str], payload: Mapping[str, Any]) -> None:
    """CheckpointError if a weight tensor of ``payload`` holds NaN or inf."""
    if bad := non_finite(payload):
        more = f" and {len(bad) - 3} more" if len(bad) > 3 else ""
        raise CheckpointError(path, f"non-finite (NaN/inf) weights in {', '.join(bad[:3])}{more}")


# --------------------------------------------------------------------------- files
def save_checkpoint(path: str | os.PathLike[str], payload: Mapping[str, Any]) -> Path:
    """Write ``payload`` to ``path`` atomically, with its checksum in ``manifest``.

    ``format`` and ``version`` are added when missing. Returns the path. A crash mid-write
    leaves the previous file (if any) intact; a full disk raises an OSError naming the path.
    """
    data = {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, **payload}
    data.pop("manifest", None)
    data["manifest"] = {"sha256": content_digest(data), "digest": DIGEST_KIND}
    buf = io.BytesIO()  # serialise first: a pickling error never touches the disk
    torch.save(data, buf)
    return atomic_write_bytes(path, buf.getvalue())


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"


def load_checkpoint(
    path: str | os.PathLike[str],
    formats: tuple[str, ...] = (CHECKPOINT_FORMAT,),
    versions: tuple[int, ...] = READABLE_VERSIONS,
    kind: str = "an EdgeRL",
) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint` with ``weights_only=True``.

    Verifies the format, version, checksum (``manifest.sha256``) and that the weights are
    finite. Raises :class:`MissingCheckpointError` for a missing file and
    :class:`CheckpointError` for anything else wrong with it.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingCheckpointError(path, "no checkpoint file here")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # UnpicklingError for arbitrary objects, RuntimeError for junk
        raise CheckpointError(
            path,
            "not a loadable EdgeRL checkpoint (torch.load(weights_only=True) failed: "
            f"{_first_line(exc)}); truncated, corrupted or not written by EdgeRL",
        ) from exc
    if not isinstance(data, dict) or data.get("format") not in formats:
        fmt = data.get("format") if isinstance(data, dict) else type(data).__name__
        want = formats[0] if len(formats) == 1 else list(formats)
        raise CheckpointError(path, f"not {kind} checkpoint: format must be {want!r}, got {fmt!r}")
    version = data.get("version")
    if version not in versions:
        raise CheckpointError(
            path, f"checkpoint version must be one of {list(versions)}, got {version!r}"
        )
    manifest = data.get("manifest")
    if isinstance(manifest, Mapping) and "sha256" in manifest:
        actual = content_digest(data)
        if actual != manifest["sha256"]:
            raise CheckpointError(
                path,
                f"checksum mismatch (manifest sha256 {str(manifest['sha256'])[:12]}..., content "
                f"{actual[:12]}...): the file was modified or corrupted",
            )
    elif version == min(versions):
        warnings.warn(f"{path}: version {version} checkpoint has no checksum", stacklevel=2)
    else:
        raise CheckpointError(path, "no checksum (manifest.sha256) in a checkpoint that needs one")
    check_finite(path, data)
    return data


# ------------------------------------------------------------- directory checkpoints
MANIFEST = "manifest.json"


def save_checkpoint_dir(
    path: str | os.PathLike[str], fill: Callable[[Path], None], meta: Mapping[str, Any]
) -> Path:
    """A checkpoint directory as one atomic unit: ``fill(tmp)`` writes the files, then
    ``manifest.json`` gets ``meta`` plus the SHA-256 of every file, and the directory
    replaces ``path`` (:func:`agents.common.fileio.atomic_write_dir`: fsync, rename)."""

    def fill_all(tmp: Path) -> None:
        fill(tmp)
        files = {
            p.relative_to(tmp).as_posix(): sha256_file(p)
            for p in sorted(tmp.rglob("*"))
            if p.is_file()
        }
        manifest = {**meta, "files": files}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str) + "\n")

    return atomic_write_dir(path, fill_all)


def read_manifest(
    path: str | os.PathLike[str], fmt: str, required: Iterable[str] = ()
) -> dict[str, Any]:
    """``manifest.json`` of checkpoint directory ``path``, after checking its format, that it
    lists the ``required`` files, and the SHA-256 of every file it lists (before any of them
    is deserialised)."""
    path = Path(path)
    if not path.is_dir():
        raise MissingCheckpointError(path, "no checkpoint directory here")
    mf = path / MANIFEST
    try:
        meta = json.loads(mf.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(path, f"no {MANIFEST}: incomplete checkpoint") from None
    except (OSError, ValueError) as exc:
        raise CheckpointError(mf, f"unreadable manifest ({_first_line(exc)})") from exc
    if not isinstance(meta, dict) or meta.get("format") != fmt:
        got = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
        raise CheckpointError(mf, f"format must be {fmt!r}, got {got!r}")
    files = meta.get("files")
    if not isinstance(files, dict) or not files:
        raise CheckpointError(mf, "lists no files")
    if missing := [name for name in required if name not in files]:
        raise CheckpointError(mf, f"does not list {missing}: incomplete checkpoint")
    for name, digest in files.items():
        f = (path / name).resolve()
        if path.resolve() not in f.parents:
            raise CheckpointError(mf, f"lists a file outside the checkpoint: {name!r}")
        if not f.is_file():
            raise CheckpointError(f, "missing (listed in the manifest)")
        if sha256_file(f) != digest:
            raise CheckpointError(f, "checksum mismatch with the manifest: modified or corrupted")
    return meta


def save_tensors(obj: Any, path: str | os.PathLike[str]) -> Path:
    """``torch.save`` into a file of a checkpoint directory, serialised in memory first: a
    failed write (full disk) is then a plain OSError with its errno, not torch's
    RuntimeError from deep inside its zip writer."""
    buf = io.BytesIO()
    torch.save(obj, buf)
    path = Path(path)
    with open(path, "wb") as f:
        f.write(buf.getbuffer())
    return path


def load_tensors(path: str | os.PathLike[str]) -> Any:
    """``torch.load(weights_only=True)`` of one file of a checkpoint directory."""
    path = Path(path)
    if not path.is_file():
        raise MissingCheckpointError(path, "missing")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(
            path, f"not loadable with torch.load(weights_only=True): {_first_line(exc)}"
        ) from exc


def payload_error(path: str | os.PathLike[str], exc: BaseException, what: str) -> CheckpointError:
    """A :class:`CheckpointError` for a payload that loaded but does not fit (missing key,
    wrong tensor size, bad value) while doing ``what``."""
    if isinstance(exc, CheckpointError):
        return exc
    if isinstance(exc, KeyError):
        return CheckpointError(
            path, f"{what}: missing entry {exc.args[0]!r} (incomplete checkpoint)"
        )
    if isinstance(exc, ValueError | TypeError):  # ours: already readable, maybe multi-line
        return CheckpointError(path, f"{what}: {exc}")
    return CheckpointError(path, f"{what}: {_first_line(exc)}")


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
    """Intent thresholds that turn a [0,1] action into platforms, by their constructor names.

    An :class:`envs.wrappers.IntentThresholds` wrapper in the chain wins (it converts);
    otherwise the partitioning env's ``params.named_thresholds``: ``epsilon``/``phi`` (MEC)
    or ``zeta`` (D2D).
    """
    obj = env
    while obj is not None:
        th = getattr(obj, "thresholds", None)
        if th is not None and type(obj).__name__ == "IntentThresholds":
            return {f"thresholds[{j}]": float(v) for j, v in enumerate(np.ravel(th))}
        obj = getattr(obj, "env", None)
    params = getattr(env.unwrapped, "params", None)
    if isinstance(params, PartitionParams):
        return params.named_thresholds
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
    | ``env_params`` | the env's ``params`` by name (:meth:`PartitionParams.named`;
    informational: a mismatch only warns) |
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
    params = getattr(base, "params", None)  # a partitioning env's (shared by its vector env)
    if not isinstance(params, PartitionParams):
        params = None
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
        "action_mode": (
            getattr(base, "action_mode", getattr(inner, "action_mode", None))
            if params is None
            else params.action_mode
        ),
        "env_params": None if params is None else _plain(params.named()),
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


# ------------------------------------------------------------ training history
def history_columns(history: Iterable[Mapping[str, float]]) -> dict[str, list[float]]:
    """Per-iteration metric dicts as ``{key: [value per iteration]}`` (weights_only-safe);
    NaN where an iteration lacks the key (eval keys exist only on evaluation iterations)."""
    rows = list(history)
    keys = sorted({k for h in rows for k in h})
    return {k: [float(h.get(k, math.nan)) for h in rows] for k in keys}


def history_rows(columns: Mapping[str, list[float]]) -> list[dict[str, float]]:
    """The inverse of :func:`history_columns` (NaN entries dropped)."""
    n = len(next(iter(columns.values()))) if columns else 0
    return [{k: v[i] for k, v in columns.items() if not math.isnan(v[i])} for i in range(n)]


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


def restore_agent(
    cls: type,
    path: str | os.PathLike[str],
    env: Any,
    algo: str,
    *,
    logger: Any = None,
    check: Callable[[Mapping[str, Any]], None] | None = None,
    **overrides: Any,
) -> Any:
    """An agent ``cls(env, logger=, **config)`` rebuilt from the checkpoint at ``path`` (its
    ``algo`` must be ``algo``; ``env`` must match its signature; ``check(payload)`` may add
    checks). ``overrides`` replace config fields. One :class:`CheckpointError` for a bad
    file or a payload that does not fit (missing entries, wrong sizes)."""
    payload = load_checkpoint(path)
    if payload.get("algo") != algo:
        raise CheckpointError(path, f"holds a {payload.get('algo')!r} checkpoint, not {algo!r}")
    try:
        check_signature(payload["signature"], env)
        if check is not None:
            check(payload)
        # config fields newer than the file take the values that reproduce its behaviour
        older = getattr(cls, "config_fields_before", {})
        agent = cls(env, logger=logger, **{**older, **payload["config"], **overrides})
        agent.load_state_dict(payload["state"])
    except (KeyError, TypeError, ValueError, RuntimeError, IndexError) as exc:
        raise payload_error(path, exc, f"restoring the {algo} agent") from exc
    return agent


class CheckpointMixin:
    """``save`` and ``load`` of an agent whose checkpoint is one :func:`save_checkpoint` file.

    The agent sets ``algo`` (the checkpoint's ``algo``), builds the file's content in
    :meth:`checkpoint_payload` (``state``: its ``state_dict()``) and restores it in
    ``load_state_dict``; :meth:`load` rebuilds it with :func:`restore_agent` (the constructor
    ``cls(env, logger=, **config)``), after the checks of :meth:`restore_check`.
    """

    algo: ClassVar[str]
    #: values of config fields added after some checkpoints were written: what a file
    #: without the field did when it was saved (its own values win when it has them)
    config_fields_before: ClassVar[Mapping[str, Any]] = {}

    def checkpoint_payload(self) -> dict[str, Any]:
        """The checkpoint's content (without ``format``, ``version`` and ``manifest``)."""
        raise NotImplementedError

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write :meth:`checkpoint_payload` to ``path`` atomically (:func:`save_checkpoint`)."""
        return save_checkpoint(path, self.checkpoint_payload())

    @classmethod
    def restore_check(
        cls, path: str | os.PathLike[str], env: Any
    ) -> Callable[[Mapping[str, Any]], None] | None:
        """A check of the payload beyond the env signature (``None``: none)."""
        return None

    @classmethod
    def load(
        cls, path: str | os.PathLike[str], env: Any, *, logger: Any = None, **overrides: Any
    ) -> Self:
        """Rebuild an agent saved by :meth:`save` on ``env``, which must match the checkpoint's
        signature (a ValueError names the mismatching fields). ``overrides`` replace config
        fields (e.g. ``torch_threads``). Every problem with the file is one
        :class:`CheckpointError` naming it."""
        check = cls.restore_check(path, env)
        return restore_agent(cls, path, env, cls.algo, logger=logger, check=check, **overrides)
