"""Loading trained policies for fast decisions.

``load_actor(path)`` reads any EdgeRL agent checkpoint that carries a fast-actor spec
(IoRLO's sigmoid actor; DRLoS's categorical policy) and returns a :class:`NumpyActor`:
``act(obs)``, ``act_batch(obs_batch)`` (the interface of :func:`agents.make_policy`),
``decide``/``decide_batch`` (platforms by the intent thresholds), ``signature`` and
``export(path, format="torchscript" | "onnx")``.
"""

from __future__ import annotations

import os
from typing import Any

from agents.common.checkpoint import check_signature, load_checkpoint
from agents.common.fast_actor import NumpyActor


def load_actor(path: str | os.PathLike[str], env: Any = None) -> NumpyActor:
    """The deterministic policy stored in checkpoint ``path`` as a :class:`NumpyActor`.

    Loading is ``torch.load(weights_only=True)``. With ``env``, the checkpoint's env
    signature is checked against it (ValueError naming each mismatching field).
    """
    payload = load_checkpoint(path)
    if env is not None:
        check_signature(payload.get("signature") or {}, env)
    return NumpyActor.from_checkpoint(payload)
