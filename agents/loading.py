"""Loading trained policies for fast decisions.

``load_actor(path)`` reads any EdgeRL agent checkpoint that carries a fast-actor spec
(IoRLO's sigmoid actor; DRLoS's categorical policy) and returns a :class:`NumpyActor`:
``act(obs)``, ``act_batch(obs_batch)`` (the interface of :func:`agents.make_policy`),
``decide``/``decide_batch`` (platforms by the intent thresholds), ``signature`` and
``export(path, format="torchscript" | "onnx")``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from agents.common.checkpoint import (
    CheckpointError,
    MissingCheckpointError,
    check_signature,
    load_checkpoint,
    payload_error,
)
from agents.common.fast_actor import NumpyActor

#: the file :func:`load_actor` looks for when given a run directory
CHECKPOINT_FILE = "checkpoint.pt"


def find_checkpoint(path: str | os.PathLike[str]) -> Path:
    """``path`` itself, or ``<path>/checkpoint.pt`` for a run directory."""
    p = Path(path)
    if p.is_dir():
        if (p / CHECKPOINT_FILE).is_file():
            return p / CHECKPOINT_FILE
        others = sorted(x.name for x in p.iterdir() if x.name.endswith(("_checkpoint", ".zip")))
        hint = (
            f" (it holds {others}: an SB3/RLlib run, load it with evaluate.py or the runner's "
            "load_policy)"
            if others
            else ""
        )
        raise MissingCheckpointError(p, f"directory without {CHECKPOINT_FILE}{hint}")
    return p


def load_actor(path: str | os.PathLike[str], env: Any = None) -> NumpyActor:
    """The deterministic policy stored in checkpoint ``path`` (a ``checkpoint.pt`` or a run
    directory holding one) as a :class:`NumpyActor`.

    Loading is ``torch.load(weights_only=True)`` with the checksum verified and non-finite
    weights rejected. With ``env``, the checkpoint's env signature and the actor's input and
    output sizes are checked against it. Every problem raises :class:`CheckpointError`
    (a ValueError) naming the file.
    """
    file = find_checkpoint(path)
    payload = load_checkpoint(file)
    try:
        actor = NumpyActor.from_checkpoint(payload)
        if env is not None:
            check_signature(payload.get("signature") or {}, env)
            actor.check_fits(env)
    except (KeyError, TypeError, ValueError) as exc:
        raise payload_error(file, exc, "actor") from exc
    return actor


__all__ = ["CheckpointError", "find_checkpoint", "load_actor"]
