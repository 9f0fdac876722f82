"""Shared pieces of the partitioning environments: argument checks, observation scales
(docs/model.md §4-§6); the intent thresholds' formulas are in :mod:`envs.model.thresholds`.

Everything here is scenario-agnostic; :mod:`envs.partition.sim` holds the per-scenario
simulators and :mod:`envs.partition.env` / :mod:`envs.partition.vector` the Gymnasium classes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from numbers import Real
from typing import Any

import numpy as np

from envs.limits import MAX_WEIGHT
from envs.model.chain import EarlyExits

ACTION_MODES: tuple[str, ...] = ("continuous", "discrete")
#: v1: what the agent observes ("measured": the previous frame's links and load; docs/model.md §10)
OBSERVE_MODES: tuple[str, ...] = ("measured", "current")
#: v1: how a link's latency value is charged per transfer (one way = RTT / 2; docs/model.md §10)
LATENCY_READINGS: tuple[str, ...] = ("one_way", "round_trip")
RESET_OPTIONS: tuple[str, ...] = ("offset",)
DEFAULT_DNN = "resnet32"
DEFAULT_MAX_EPISODE_STEPS = 100

# Defaults of the weights (docs/model.md §4/§5 leave them to configuration). η1 = 10 ms/J puts a typical
# device block's energy (≈0.3-5 J, Table 1) on the scale of its device latency (a few to tens
# of ms at d_T = 4); η2 = 10 ms per overhead unit makes full offloading (D = 2 edge, 3 cloud)
# cost 20-30 ms, the scale of an average TE+EC round trip (Table 2: 8.76 + 27.04 ms), i.e. a
# provider charge comparable to the network latency it buys. D2D uses η = 10 ms/J likewise.
DEFAULT_ETA1 = 10.0
DEFAULT_ETA2 = 10.0
DEFAULT_ETA_D2D = 10.0
DEFAULT_EPSILON = 1.0 / 3.0
DEFAULT_PHI = 2.0 / 3.0
DEFAULT_ZETA = 0.5


#: Upper bounds of the numeric arguments: far beyond any real platform, and small enough that
#: every cost and observation stays finite (a factor of 1e308 would give an infinite latency).
MAX_FACTOR = 1e6  # capability / energy factors (the benchmark edge server is 1)
MIN_FACTOR = 1e-6  # a platform a million times faster than the benchmark server


def check_number(
    name: str,
    value: Any,
    *,
    lo: float = 0.0,
    hi: float = MAX_WEIGHT,
    allow_lo: bool = False,
) -> float:
    """``value`` as a float in ``(lo, hi]`` (``[lo, hi]`` with ``allow_lo``), else a
    ValueError naming ``name`` and the range. Bools, strings and complex numbers are
    refused: a config typo must not turn into a number."""
    bound = f"{'[' if allow_lo else '('}{lo:g}, {hi:g}]"
    if isinstance(value, bool | str | bytes) or not isinstance(value, Real):
        raise ValueError(f"{name} must be a number in {bound}, got {value!r}")
    v = float(value)
    if not (math.isfinite(v) and (v >= lo if allow_lo else v > lo) and v <= hi):
        raise ValueError(f"{name} must be a finite number in {bound}, got {value!r}")
    return v


def check_positive(
    name: str, value: Any, *, allow_zero: bool = False, hi: float = MAX_WEIGHT
) -> float:
    """``value`` as a finite float > 0 (>= 0 with ``allow_zero``) and <= ``hi``, else a
    ValueError naming it."""
    return check_number(name, value, lo=0.0, hi=hi, allow_lo=allow_zero)


def check_factor(name: str, value: Any) -> float:
    """A capability or energy factor in ``[MIN_FACTOR, MAX_FACTOR]`` (docs/model.md §3)."""
    return check_number(name, value, lo=MIN_FACTOR, hi=MAX_FACTOR, allow_lo=True)


def check_seed(seed: Any) -> int | None:
    """``reset(seed=...)``: ``None`` or an integer >= 0 (Gymnasium's own error is not a
    ValueError)."""
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be None or an integer >= 0, got {seed!r}")
    return int(seed)


def check_bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool | np.bool_):
        raise ValueError(f"{name} must be true or false, got {value!r}")
    return bool(value)


MAX_CLASSES = 100_000  # classes of an exit branch (its FC layer's outputs)


def _exit_probs(spec: Any) -> tuple[float, ...]:
    if isinstance(spec, str | bytes | Mapping) or not isinstance(spec, Sequence | np.ndarray):
        raise ValueError(f"early_exit probs must be a list of probabilities, got {spec!r}")
    return tuple(
        check_number(f"early_exit probs[{i}]", p, lo=0.0, hi=1.0, allow_lo=True)
        for i, p in enumerate(spec)
    )


def parse_early_exit(spec: Any) -> EarlyExits | None:
    """``None`` | per-block probabilities | ``{"probs": [...], "num_classes": 10}`` | EarlyExits."""
    if spec is None or isinstance(spec, EarlyExits):
        return spec
    if isinstance(spec, Mapping):
        bad = set(spec) - {"probs", "num_classes"}
        if bad or "probs" not in spec:
            raise ValueError(
                f"early_exit dict needs 'probs' and optionally 'num_classes', got keys {sorted(spec)}"
            )
        nc = spec.get("num_classes", 10)
        if (
            isinstance(nc, bool)
            or not isinstance(nc, int | np.integer)
            or not 1 <= nc <= MAX_CLASSES
        ):
            raise ValueError(
                f"early_exit num_classes must be an integer in [1, {MAX_CLASSES}], got {nc!r}"
            )
        return EarlyExits(_exit_probs(spec["probs"]), int(nc))
    if isinstance(spec, Sequence | np.ndarray) and not isinstance(spec, str | bytes):
        return EarlyExits(_exit_probs(spec))
    raise ValueError(
        f"early_exit must be None, a list of per-block probabilities or a dict, got {spec!r}"
    )


def parse_platform_load(spec: Any) -> dict[str, Any]:
    """``False``/``None`` (off), ``True`` (defaults) or a dict of :class:`PlatformLoad` kwargs."""
    if spec is None or spec is False:
        return {"enabled": False}
    if spec is True:
        return {"enabled": True}
    if isinstance(spec, Mapping):
        kw = dict(spec)
        bad = {k for k in kw if not isinstance(k, str)} | (
            set(kw) - {"enabled", "mean_util", "max_util", "rho", "std_util"}
        )
        if bad:
            raise ValueError(
                "platform_load dict keys must be among enabled, mean_util, max_util, rho, "
                f"std_util; got {sorted(map(repr, bad))}"
            )
        kw.setdefault("enabled", True)
        if not isinstance(kw["enabled"], bool | np.bool_):  # 'false' is a truthy string
            raise ValueError(
                f"platform_load['enabled'] must be true or false, got {kw['enabled']!r}"
            )
        return kw
    raise ValueError(
        f"platform_load must be a bool or a dict of PlatformLoad options, got {spec!r}"
    )


def squash(x: np.ndarray, scale: np.ndarray | float) -> np.ndarray:
    """``x / (x + scale)``: maps ``[0, inf)`` monotonically onto ``[0, 1)``, 0.5 at ``scale``."""
    return x / (x + scale)


#: :func:`log_ratio`'s default clip: ``v`` in ``[LOG_RATIO_EPS, 1 - LOG_RATIO_EPS]`` (±13.8)
LOG_RATIO_EPS = 1e-6


def log_ratio(
    v: np.ndarray, lo: float = LOG_RATIO_EPS, hi: float = 1.0 - LOG_RATIO_EPS
) -> np.ndarray:
    """``log(v / (1 - v))`` of squashed entries ``v = x / (x + scale)``, i.e. ``log(x / scale)``:
    :func:`squash` undone, so values far outside the usual range (a 0.5 Mbps uplink, an RTT
    spike of seconds) stay apart where ``v`` saturates at 0 or 1. ``v`` is clipped to ``[lo,
    hi]`` first; the result has ``v``'s dtype (IoRLO+'s inputs are float32, with float32
    bounds)."""
    v = np.clip(v, lo, hi)
    return np.log(v) - np.log1p(-v)


def check_options(options: Mapping[str, Any] | None) -> Any:
    """The ``offset`` of ``reset(options=...)`` (or ``None``); unknown keys are an error."""
    if options is None:
        return None
    if not isinstance(options, Mapping):
        raise ValueError(f"options must be a dict, got {type(options).__name__}")
    bad = set(options) - set(RESET_OPTIONS)
    if bad:
        raise ValueError(f"unknown reset options {sorted(bad)}; allowed: {list(RESET_OPTIONS)}")
    offset = options.get("offset")
    if offset is None:
        return None
    arr = np.asarray(offset)
    if not np.issubdtype(arr.dtype, np.integer) or np.any(arr < 0):
        raise ValueError(f"options['offset'] must be a non-negative integer frame, got {offset!r}")
    return offset
