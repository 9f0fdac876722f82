"""Intent thresholds (IoRLO Sec. 4.2.2; docs/model.md §4, §5): a continuous action
``a in [0, 1]`` runs its block on platform ``#{t_k <= a}`` for thresholds
``0 < t_1 < ... < t_{P-1} < 1`` (MEC: ``ε, φ``; D2D: ``ζ``).

:func:`discretise` is the numpy reference, batched over leading dimensions. Beside it the
forms that must agree with it (``tests/test_model_equivalence.py`` checks every one):
:func:`discretise_one` (one action as a Python list, by bisection: the single env's path),
:func:`discretise_array` (any array type with broadcasting comparisons, e.g. torch tensors:
IoRLO's critic input) and :func:`logit_thresholds` (the thresholds on the actor's
pre-sigmoid outputs: the fast actor's ``decide``).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence
from numbers import Real
from typing import Any

import numpy as np


def check_thresholds(names: Sequence[str], values: Sequence[Any]) -> np.ndarray:
    """Intent thresholds must satisfy ``0 < t_1 < t_2 < ... < 1`` (IoRLO Sec. 4.2.2)."""
    out = []
    for name, value in zip(names, values, strict=True):
        if isinstance(value, bool | str | bytes) or not isinstance(value, Real):
            raise ValueError(f"{name} must be a number in (0, 1), got {value!r}")
        v = float(value)
        if not (math.isfinite(v) and 0.0 < v < 1.0):
            raise ValueError(f"{name} must be in (0, 1), got {value!r}")
        out.append(v)
    for (n1, v1), (n2, v2) in zip(
        zip(names, out, strict=True), zip(names[1:], out[1:], strict=True), strict=False
    ):
        if not v1 < v2:
            raise ValueError(f"need {n1} < {n2} (0 < {' < '.join(names)} < 1), got {v1} >= {v2}")
    return np.asarray(out, dtype=np.float64)


def discretise(actions: np.ndarray, thresholds: Sequence[Any] | np.ndarray) -> np.ndarray:
    """Platform index per entry: the number of thresholds ``<= a`` (docs/model.md §4, §5).

    With thresholds ``(ε, φ)``: ``a < ε -> 0``, ``ε <= a < φ -> 1``, ``a >= φ -> 2``.
    """
    a = np.asarray(actions)
    out = (a >= thresholds[0]).astype(np.int64)
    for t in thresholds[1:]:  # one comparison per threshold beats searchsorted on big batches
        out += a >= t
    return out


def discretise_one(values: list[float], thresholds: list[float]) -> np.ndarray:
    """:func:`discretise` of one action given as a Python list (with the thresholds as one):
    bisection per entry, faster than numpy for ``n ~ 20``."""
    return np.array([bisect_right(thresholds, x) for x in values], dtype=np.int64)


def discretise_array(actions: Any, thresholds: Any) -> Any:
    """:func:`discretise` for any array type with broadcasting comparisons and ``sum``
    (torch tensors: ``thresholds`` a tensor on the actions' device); int64 platforms."""
    return (actions[..., None] >= thresholds).sum(-1)


def logit_thresholds(thresholds: Sequence[float]) -> list[np.float32]:
    """``log(t / (1 - t))`` as float32 per threshold: a sigmoid actor's output reaches ``t``
    where its pre-activation reaches this (up to float32 rounding exactly at a threshold)."""
    return [np.float32(math.log(t / (1.0 - t))) for t in thresholds]


def midpoints(thresholds: np.ndarray) -> np.ndarray:
    """Centre of each platform's action interval, e.g. ``(ε/2, (ε+φ)/2, (φ+1)/2)``."""
    edges = np.concatenate([[0.0], thresholds, [1.0]])
    return 0.5 * (edges[:-1] + edges[1:])
