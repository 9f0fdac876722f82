"""Network and platform dynamics: link states and background load, evolving per frame.

The MEC scenario (docs/model.md §4) needs, each frame, the state of the terminal–edge (TE) and
edge–cloud (EC) links, in the field order :data:`MEC_LINK_FIELDS`::

    b_te_up, b_te_down, b_ec_up, b_ec_down  (Mbps)   l_te, l_ec  (ms)

The D2D scenario (docs/model.md §5) needs one symmetric link, :data:`D2D_LINK_FIELDS` = ``(b, l)``.

Every process here is **batched**: it holds ``num`` independent copies (one per env of a
numpy-batched vector env; ``num=1`` for a single env) and advances them all with a few numpy
calls, no Python loop over copies. All randomness comes from the ``numpy.random.Generator``
passed to :meth:`LinkProcess.reset`, :meth:`LinkProcess.reset_where` and
:meth:`LinkProcess.step`. API, shared by every class (including :class:`PlatformLoad`)::

    values = proc.reset(rng, num=1, offset=None)   # (num, len(proc.fields)) float64
    values = proc.reset_where(rng, mask)           # re-initialise rows where mask is True
    values = proc.step(rng)                        # advance every copy by one frame
    proc.values                                    # current (num, F); a new array per call

Processes:

* :class:`FiveGTrialMEC`, :class:`FiveGTrialD2D` — a stochastic generator calibrated to the
  5G trial network of Ren et al., Table 2 (min / max / avg per quantity, latency spikes).
* :class:`TraceReplay` — replays real traces (:mod:`envs.traces`) per field; fields without
  a trace come from a fallback process.
* :class:`ConstantLink` — fixed values (e.g. the Table 2 averages), for tests and oracles.
* :class:`PlatformLoad` — background utilisation of edge / cloud / collaborator, returned as
  multiplicative slowdown factors ``1 / (1 - util)`` on ``d_X`` (docs/model.md §3); off by default.
* :func:`make_link_process` — builds a link process from a config spec.

The 5g_trial generator (:class:`FieldModel`)
--------------------------------------------
Table 2 gives, for each quantity, min / max / avg over the trial, and a latency "jitter" that
equals max − min: latencies sit near their minimum and occasionally spike toward the maximum.
Each field is modelled as an *anchor* plus or minus a non-negative *excess* ``X``:

* latency (``heavy="up"``): ``value = minimum + X`` — spikes go up;
* bandwidth (``heavy="down"``): ``value = maximum - X`` — dips go down (throughput is
  typically close to its peak with occasional drops).

The excess follows a log-AR(1) baseline with occasional Markov excursions::

    z_t = mu + rho * (z_{t-1} - mu) + sigma * sqrt(1 - rho^2) * eps_t,   eps_t ~ N(0, 1)
    s_t = Markov chain: normal -> excursion w.p. spike_prob, excursion -> normal w.p. 1/spike_len
    X_t = P_t ~ truncated Pareto(spike_alpha) on [|spike_from - anchor|, maximum - minimum]  if s_t
    X_t = min(exp(z_t), maximum - minimum)                                                 otherwise

so every value lies in ``[minimum, maximum]`` by construction. ``z`` has stationary law
``N(mu, sigma^2)`` and ``s`` is a Bernoulli(pi), ``pi = spike_prob / (spike_prob + 1/spike_len)``;
``mu`` is solved (closed form for the clipped lognormal mean, then bisection) so that the
stationary mean equals ``mean`` exactly::

    (1 - pi) * E[min(exp(z), max - min)] + pi * E[P] = |mean - anchor|

Defaults reproduce Table 2 (see :data:`TABLE2`); bandwidths have no excursions by default
(Table 2 lists narrow bandwidth ranges and 0–0.045 % loss), latencies spike with probability
1 % per frame (0.5 % for EC) for 2 frames on average, with Pareto(1.2) magnitudes above
30 ms (TE), 100 ms (EC) or 60 ms (D2D). Copies start in the stationary distribution, so no
burn-in is needed and ``offset`` is ignored. A frame is one environment decision step.

Randomness consumed per call, for ``k`` copies (reset: ``k = num``; reset_where:
``k = mask.sum()``, nothing when no row is masked; step: ``k = num``):
``standard_normal((k, F))`` then ``random((2, k, F))`` (excursion switches, then excursion
magnitudes).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from dataclasses import fields as dc_fields
from pathlib import Path
from typing import Any, Literal

import numpy as np

from envs.limits import MAX_BANDWIDTH_MBPS, MAX_LATENCY_MS, MIN_BANDWIDTH_MBPS, check_alloc
from envs.traces import (
    Trace,
    TraceFormatError,
    read_csv_trace,
    read_lumos5g,
    read_mmwave_list,
)

MEC_LINK_FIELDS: tuple[str, ...] = ("b_te_up", "b_te_down", "b_ec_up", "b_ec_down", "l_te", "l_ec")
D2D_LINK_FIELDS: tuple[str, ...] = ("b", "l")

#: Ren et al., Table 2 ("Specification of 5G Trial Network"): (min, max, avg) per quantity.
#: Bandwidth in Mbps, end-to-end latency in ms.
TABLE2: dict[str, tuple[float, float, float]] = {
    "b_te_up": (74.4, 77.9, 76.1),
    "b_te_down": (332.5, 440.3, 382.4),
    "b_ec_up": (72.2, 73.9, 73.3),
    "b_ec_down": (466.3, 600.7, 542.3),
    "l_te": (1.61, 104.25, 8.76),
    "l_ec": (15.37, 905.16, 27.04),
    "b_d2d": (71.1, 97.3, 87.6),
    "l_d2d": (2.72, 304.16, 23.14),
}

SCENARIOS: tuple[str, ...] = ("mec", "d2d")
INTERP_MODES: tuple[str, ...] = ("hold", "linear")

__all__ = [
    "D2D_LINK_FIELDS",
    "DEFAULT_D2D_MODELS",
    "DEFAULT_MEC_MODELS",
    "MEC_LINK_FIELDS",
    "SCENARIOS",
    "TABLE2",
    "ConstantLink",
    "FieldModel",
    "FiveGTrialD2D",
    "FiveGTrialMEC",
    "FiveGTrialProcess",
    "LinkProcess",
    "PlatformLoad",
    "TraceReplay",
    "field_unit",
    "make_link_process",
    "table2_means",
]


def field_unit(name: str) -> str:
    """Unit of a link field by its name: ``b``/``b_*`` -> ``"Mbps"``, ``l``/``l_*`` -> ``"ms"``."""
    if name == "b" or name.startswith("b_"):
        return "Mbps"
    if name == "l" or name.startswith("l_"):
        return "ms"
    raise ValueError(f"link field {name!r}: names must start with 'b' (Mbps) or 'l' (ms)")


def _fields_for(scenario: str) -> tuple[str, ...]:
    if scenario == "mec":
        return MEC_LINK_FIELDS
    if scenario == "d2d":
        return D2D_LINK_FIELDS
    raise ValueError(f"scenario must be one of {SCENARIOS}, got {scenario!r}")


def table2_means(scenario: str = "mec") -> np.ndarray:
    """Table 2 averages in the field order of ``scenario`` (``"mec"`` or ``"d2d"``)."""
    keys = MEC_LINK_FIELDS if _fields_for(scenario) is MEC_LINK_FIELDS else ("b_d2d", "l_d2d")
    return np.array([TABLE2[k][2] for k in keys])


# --------------------------------------------------------------------------------------------
# base class


def _check_mask(mask: np.ndarray, num: int) -> np.ndarray:
    mask = np.asarray(mask)
    if mask.dtype != np.bool_ or mask.shape != (num,):
        raise ValueError(
            f"mask must be a boolean array of shape ({num},), got {mask.dtype} {mask.shape}"
        )
    return mask


class LinkProcess(ABC):
    """A batched per-frame process with ``num`` independent copies (see module docstring).

    Attributes:
        fields: Names of the columns of :attr:`values`.
        values: Current values, shape ``(num, len(fields))``, float64. Each call stores a new
            array (:class:`ConstantLink`: one read-only array), so arrays returned earlier are
            never modified in place.
    """

    fields: tuple[str, ...]
    values: np.ndarray

    def __init__(self, fields: Sequence[str]) -> None:
        self.fields = tuple(fields)
        if len(set(self.fields)) != len(self.fields) or not self.fields:
            raise ValueError(f"fields must be non-empty and unique, got {self.fields}")
        self.values = np.zeros((0, len(self.fields)))

    @property
    def num(self) -> int:
        """Number of copies (0 before the first :meth:`reset`)."""
        return int(self.values.shape[0])

    def index(self, name: str) -> int:
        """Column of field ``name`` in :attr:`values`."""
        try:
            return self.fields.index(name)
        except ValueError:
            raise ValueError(f"field must be one of {self.fields}, got {name!r}") from None

    @abstractmethod
    def reset(
        self, rng: np.random.Generator, num: int = 1, offset: int | np.ndarray | None = None
    ) -> np.ndarray:
        """Start ``num`` copies; return (and store) their values, shape ``(num, F)``.

        Args:
            rng: Source of all randomness.
            num: Number of independent copies.
            offset: Start position in frames (trace replay); ``None`` = random start.
        """

    @abstractmethod
    def reset_where(
        self, rng: np.random.Generator, mask: np.ndarray, offset: int | np.ndarray | None = None
    ) -> np.ndarray:
        """Re-initialise the rows where ``mask`` is True; other rows keep their state.

        Args:
            rng: Source of all randomness.
            mask: Boolean array, shape ``(num,)``.
            offset: As in :meth:`reset`; an array may have shape ``(num,)`` (its masked
                entries are used) or ``(mask.sum(),)``.
        """

    @abstractmethod
    def step(self, rng: np.random.Generator) -> np.ndarray:
        """Advance every copy by one frame; return (and store) the new values ``(num, F)``."""

    def _require_reset(self) -> None:
        if self.values.shape[0] == 0:
            raise RuntimeError(f"{type(self).__name__}: call reset() before step()/reset_where()")

    def _masked_rows(self, mask: np.ndarray) -> np.ndarray | None:
        """The rows :meth:`reset_where` re-initialises (checked), or ``None`` for none."""
        self._require_reset()
        idx = np.flatnonzero(_check_mask(mask, self.num))
        return idx if idx.size else None


def _check_num(num: int) -> int:
    if not isinstance(num, int | np.integer) or num < 1:
        raise ValueError(f"num must be a positive integer, got {num!r}")
    return int(num)


# --------------------------------------------------------------------------------------------
# 5g_trial generator


def _norm_cdf(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def _clipped_lognormal_mean(mu: float, sigma: float, cap: float) -> float:
    """E[min(exp(Z), cap)] for Z ~ N(mu, sigma^2)."""
    if sigma == 0.0:
        return min(math.exp(mu), cap)
    lc = math.log(cap)
    return math.exp(mu + sigma**2 / 2) * _norm_cdf((lc - mu - sigma**2) / sigma) + cap * (
        1.0 - _norm_cdf((lc - mu) / sigma)
    )


def _pareto_mean(lo: float, hi: float, alpha: float) -> float:
    """Mean of a Pareto(alpha) with scale ``lo`` truncated to ``[lo, hi]``."""
    r = (lo / hi) ** alpha
    if abs(alpha - 1.0) < 1e-12:
        return lo / (1.0 - r) * math.log(hi / lo)
    return alpha * lo**alpha / (1.0 - r) * (hi ** (1 - alpha) - lo ** (1 - alpha)) / (1 - alpha)


@dataclass(frozen=True)
class FieldModel:
    """Parameters of one field of the 5g_trial generator (see module docstring).

    Attributes:
        minimum: Lowest value ever produced (Table 2 "Min.").
        maximum: Highest value ever produced (Table 2 "Max.").
        mean: Long-run mean (Table 2 "Avg."); strictly between minimum and maximum.
        heavy: ``"up"`` — value = minimum + excess, excursions are upward spikes (latency);
            ``"down"`` — value = maximum − excess, excursions are downward dips (bandwidth).
        rho: Per-frame AR(1) coefficient of the log-excess baseline, in [0, 1).
        sigma: Stationary standard deviation of the log-excess baseline (>= 0).
        spike_prob: Per-frame probability to enter an excursion, in [0, 1).
        spike_len: Mean excursion length in frames (>= 1); leave probability 1/spike_len.
        spike_from: Excursion values lie between this and the far bound (``maximum`` for
            ``"up"``, ``minimum`` for ``"down"``); required when ``spike_prob > 0``.
        spike_alpha: Pareto shape of the excursion excess (> 0; smaller = heavier tail).
    """

    minimum: float
    maximum: float
    mean: float
    heavy: Literal["up", "down"]
    rho: float = 0.9
    sigma: float = 0.2
    spike_prob: float = 0.0
    spike_len: float = 2.0
    spike_from: float | None = None
    spike_alpha: float = 1.2

    def __post_init__(self) -> None:
        if self.heavy not in ("up", "down"):
            raise ValueError(f"heavy must be 'up' or 'down', got {self.heavy!r}")
        if not self.minimum < self.mean < self.maximum:
            raise ValueError(
                f"need minimum < mean < maximum, got {self.minimum}, {self.mean}, {self.maximum}"
            )
        if not 0.0 <= self.rho < 1.0:
            raise ValueError(f"rho must be in [0, 1), got {self.rho}")
        if not self.sigma >= 0.0:
            raise ValueError(f"sigma must be >= 0, got {self.sigma}")
        if not 0.0 <= self.spike_prob < 1.0:
            raise ValueError(f"spike_prob must be in [0, 1), got {self.spike_prob}")
        if not self.spike_len >= 1.0:
            raise ValueError(f"spike_len must be >= 1 frame, got {self.spike_len}")
        if not self.spike_alpha > 0.0:
            raise ValueError(f"spike_alpha must be > 0, got {self.spike_alpha}")
        if self.spike_prob > 0.0:
            if self.spike_from is None or not self.minimum < self.spike_from < self.maximum:
                raise ValueError(
                    f"spike_from must lie strictly between minimum {self.minimum} and maximum "
                    f"{self.maximum} when spike_prob > 0, got {self.spike_from}"
                )
            if self.spike_excess_mean * self.spike_share >= self.excess_mean:
                raise ValueError(
                    "excursions alone exceed the mean: lower spike_prob/spike_len, move "
                    f"spike_from toward the anchor, or raise mean (field mean {self.mean})"
                )
        self.mu  # noqa: B018 - fail early if the baseline cannot be calibrated

    @property
    def anchor(self) -> float:
        """Bound the excess is measured from (minimum for ``"up"``, maximum for ``"down"``)."""
        return self.minimum if self.heavy == "up" else self.maximum

    @property
    def span(self) -> float:
        return self.maximum - self.minimum

    @property
    def excess_mean(self) -> float:
        return abs(self.mean - self.anchor)

    @property
    def spike_share(self) -> float:
        """Stationary probability of being in an excursion, ``pi``."""
        if self.spike_prob == 0.0:
            return 0.0
        return self.spike_prob / (self.spike_prob + 1.0 / self.spike_len)

    @property
    def spike_lo(self) -> float:
        """Lower bound of the excursion excess."""
        if self.spike_from is None:
            return 0.5 * self.span  # unused: no excursions
        return abs(self.spike_from - self.anchor)

    @property
    def spike_excess_mean(self) -> float:
        return _pareto_mean(self.spike_lo, self.span, self.spike_alpha)

    @property
    def baseline_mean(self) -> float:
        """Required mean of the clipped baseline excess ``E[min(exp(z), span)]``."""
        pi = self.spike_share
        return (self.excess_mean - pi * self.spike_excess_mean) / (1.0 - pi)

    @property
    def mu(self) -> float:
        """Stationary mean of the log-excess ``z``, solved so the field's mean is exact."""
        target, cap, s = self.baseline_mean, self.span, self.sigma
        if not 0.0 < target < cap:
            raise ValueError(f"cannot calibrate: baseline mean excess {target} not in (0, {cap})")
        lo, hi = math.log(target) - s * s / 2 - 1.0, math.log(cap) + 10.0 * s + 1.0
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            if _clipped_lognormal_mean(mid, s, cap) < target:
                lo = mid
            else:
                hi = mid
        return 0.5 * (lo + hi)

    def stationary_mean(self) -> float:
        """Analytical long-run mean of the field (equals ``mean`` up to float error)."""
        pi = self.spike_share
        base = _clipped_lognormal_mean(self.mu, self.sigma, self.span)
        excess = (1 - pi) * base + pi * self.spike_excess_mean
        return self.anchor + excess if self.heavy == "up" else self.anchor - excess


def _bandwidth_model(key: str) -> FieldModel:
    lo, hi, avg = TABLE2[key]
    return FieldModel(lo, hi, avg, heavy="down", rho=0.9, sigma=0.2)


def _latency_model(key: str, spike_from: float, spike_prob: float) -> FieldModel:
    lo, hi, avg = TABLE2[key]
    return FieldModel(
        lo,
        hi,
        avg,
        heavy="up",
        rho=0.8,
        sigma=0.4,
        spike_prob=spike_prob,
        spike_len=2.0,
        spike_from=spike_from,
        spike_alpha=1.2,
    )


#: Default models, Ren et al. Table 2.
DEFAULT_MEC_MODELS: dict[str, FieldModel] = {
    "b_te_up": _bandwidth_model("b_te_up"),
    "b_te_down": _bandwidth_model("b_te_down"),
    "b_ec_up": _bandwidth_model("b_ec_up"),
    "b_ec_down": _bandwidth_model("b_ec_down"),
    "l_te": _latency_model("l_te", spike_from=30.0, spike_prob=0.01),
    "l_ec": _latency_model("l_ec", spike_from=100.0, spike_prob=0.005),
}
DEFAULT_D2D_MODELS: dict[str, FieldModel] = {
    "b": _bandwidth_model("b_d2d"),
    "l": _latency_model("l_d2d", spike_from=60.0, spike_prob=0.01),
}


def _as_model(default: FieldModel, override: FieldModel | Mapping[str, Any] | None) -> FieldModel:
    if override is None:
        return default
    if isinstance(override, FieldModel):
        return override
    if isinstance(override, Mapping):
        allowed = {f.name for f in dc_fields(FieldModel)}
        bad = set(override) - allowed
        if bad:
            raise ValueError(f"unknown FieldModel keys {sorted(bad)}; allowed: {sorted(allowed)}")
        return replace(default, **dict(override))
    raise ValueError(f"a field model must be a FieldModel or a mapping, got {type(override)}")


class FiveGTrialProcess(LinkProcess):
    """Batched 5g_trial generator for an arbitrary set of fields (one :class:`FieldModel` each).

    See the module docstring for the model, its calibration and the randomness it consumes.

    Args:
        models: Field name -> :class:`FieldModel`, in column order.
    """

    def __init__(self, models: Mapping[str, FieldModel]) -> None:
        super().__init__(tuple(models))
        for name in self.fields:
            lo = models[name].minimum  # every value lies in [minimum, maximum]
            if field_unit(name) == "Mbps" and not lo > 0:
                raise ValueError(f"{name} (bandwidth, Mbps): minimum must be > 0, got {lo}")
            if not lo >= 0:
                raise ValueError(f"{name} (latency, ms): minimum must be >= 0, got {lo}")
        self.models = dict(models)
        m = [self.models[f] for f in self.fields]
        rho = np.array([x.rho for x in m])
        sigma = np.array([x.sigma for x in m])
        self._mu = np.array([x.mu for x in m])
        self._sigma = sigma
        self._rho = rho
        self._c = self._mu * (1.0 - rho)
        self._innov = sigma * np.sqrt(1.0 - rho**2)
        p_off = np.array([1.0 / x.spike_len for x in m])
        self._p_on = np.array([x.spike_prob for x in m])
        self._stay = 1.0 - p_off
        self._pi = np.array([x.spike_share for x in m])
        span = np.array([x.span for x in m])
        lo = np.array([x.spike_lo for x in m])
        alpha = np.array([x.spike_alpha for x in m])
        self._span = span
        self._p_lo = lo
        self._p_k = 1.0 - (lo / span) ** alpha
        self._p_exp = -1.0 / alpha
        self._anchor = np.array([x.anchor for x in m])
        self._sign = np.array([1.0 if x.heavy == "up" else -1.0 for x in m])
        self._z = np.zeros((0, len(m)))
        self._spike = np.zeros((0, len(m)), dtype=bool)
        self._eps = np.zeros((0, len(m)))
        self._scalar_params: list[tuple[float, ...]] | None = None

    @property
    def means(self) -> np.ndarray:
        """Configured long-run means, in field order."""
        return np.array([self.models[f].mean for f in self.fields])

    def _emit(
        self, z: np.ndarray, spike: np.ndarray, u2: np.ndarray, tiles: np.ndarray | None = None
    ) -> np.ndarray:
        """Values from log-excess ``z``, excursion flags and the excursion uniforms ``u2``
        (all C-contiguous ``(k, F)``); ``tiles``: the per-field parameters tiled to ``(k, F)``
        (see :meth:`_tile_params`), else they are broadcast."""
        x = np.exp(z)
        idx = np.flatnonzero(spike)  # excursions are rare: work on that subset only
        if idx.size:
            # Inverse CDF of the truncated Pareto: lo * (1 - u k)^(-1/alpha).
            cols = idx % z.shape[1]
            p = u2.ravel()[idx] * self._p_k[cols]
            p = (1.0 - p) ** self._p_exp[cols]
            x.ravel()[idx] = p * self._p_lo[cols]
        if tiles is None:
            span, sign, anchor = self._span, self._sign, self._anchor
        else:
            span, sign, anchor = tiles[5], tiles[6], tiles[7]
        np.minimum(x, span, out=x)
        x *= sign
        x += anchor
        return x

    def _tile_params(self, num: int) -> np.ndarray:
        """Per-field parameters as full ``(8, num, F)`` arrays: numpy is several times slower
        broadcasting a short ``(F,)`` row over ``(num, F)`` than on equal-shaped operands."""
        rows = (self._rho, self._c, self._innov, self._stay, self._p_on, self._span, self._sign,
                self._anchor)  # fmt: skip
        return np.ascontiguousarray(
            np.broadcast_to(np.stack(rows)[:, None], (8, num, len(rows[0])))
        )

    def _fresh(self, rng: np.random.Generator, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Stationary start for k copies: z ~ N(mu, sigma^2), spike ~ Bernoulli(pi)."""
        f = len(self.fields)
        z = rng.standard_normal((k, f))
        z *= self._sigma
        z += self._mu
        u = rng.random((2, k, f))
        spike = u[0] < self._pi
        return z, spike, self._emit(z, spike, u[1])

    def _sync_scalar(self) -> None:
        # num == 1 runs on Python floats (see _step_scalar); keep list copies of the state.
        self._zl = self._z[0].tolist()
        self._sl = self._spike[0].tolist()

    def reset(
        self, rng: np.random.Generator, num: int = 1, offset: int | np.ndarray | None = None
    ) -> np.ndarray:
        """Start ``num`` copies in the stationary distribution. ``offset`` is ignored."""
        num = _check_num(num)
        f = len(self.fields)
        self._z, self._spike, self.values = self._fresh(rng, num)
        if self._eps.shape != (num, f):  # step buffers, kept while num is unchanged
            self._eps = np.empty((num, f))
            self._u = np.empty((2, num, f))
            self._thr = np.empty((num, f))
            self._tiles = self._tile_params(num)
        if num == 1:
            self._sync_scalar()
        return self.values

    def reset_where(
        self, rng: np.random.Generator, mask: np.ndarray, offset: int | np.ndarray | None = None
    ) -> np.ndarray:
        """Restart the masked copies in the stationary distribution. ``offset`` is ignored."""
        self._require_reset()
        mask = _check_mask(mask, self.num)
        idx = np.flatnonzero(mask)
        k = idx.size
        if k == 0:
            return self.values
        if self.num == 1:
            return self.reset(rng, 1)
        z, spike, v = self._fresh(rng, k)
        self._z[idx] = z
        self._spike[idx] = spike
        values = self.values.copy()
        values[idx] = v
        self.values = values
        return values

    def step(self, rng: np.random.Generator) -> np.ndarray:
        """Advance every copy by one frame (AR(1) baseline, Markov excursions).

        ``num == 1`` takes a pure-Python path (~2x faster at that size) that draws the same
        numbers and gives the same values as the numpy path.
        """
        self._require_reset()
        if self._z.shape[0] == 1:
            return self._step_scalar(rng)
        return self._step_batched(rng)

    def _step_batched(self, rng: np.random.Generator) -> np.ndarray:
        # Two RNG calls into preallocated buffers; every operand is a full (num, F) array.
        z, eps, spike, thr = self._z, self._eps, self._spike, self._thr
        u, tiles = self._u, self._tiles
        rng.standard_normal(out=eps)
        z *= tiles[0]
        z += tiles[1]
        eps *= tiles[2]
        z += eps
        rng.random(out=u)
        np.copyto(thr, tiles[4])  # P(excursion next frame): p_on, or stay while in one
        np.copyto(thr, tiles[3], where=spike)
        np.less(u[0], thr, out=spike)
        self.values = self._emit(z, spike, u[1], tiles)
        return self.values

    def _step_scalar(self, rng: np.random.Generator) -> np.ndarray:
        """num == 1: the same draws and the same arithmetic, in Python floats.

        About 2x faster than the numpy path for one copy (numpy's per-call overhead dominates
        at this size); results agree with :meth:`_step_batched` to float rounding.
        """
        if self._scalar_params is None:
            self._scalar_params = [
                tuple(a.tolist())
                for a in (
                    self._rho,
                    self._c,
                    self._innov,
                    self._stay,
                    self._p_on,
                    self._p_k,
                    self._p_exp,
                    self._p_lo,
                    self._span,
                    self._sign,
                    self._anchor,
                )
            ]
        phi, c, innov, stay, p_on, p_k, p_exp, p_lo, span, sign, anchor = self._scalar_params
        f = len(phi)
        eps = rng.standard_normal(f).tolist()
        u = rng.random(2 * f).tolist()
        zl, sl = self._zl, self._sl
        out = [0.0] * f
        exp = math.exp
        for j in range(f):
            z = zl[j] * phi[j] + c[j] + eps[j] * innov[j]
            zl[j] = z
            s = u[j] < (stay[j] if sl[j] else p_on[j])
            sl[j] = s
            x = p_lo[j] * (1.0 - u[f + j] * p_k[j]) ** p_exp[j] if s else exp(z)
            out[j] = (x if x < span[j] else span[j]) * sign[j] + anchor[j]
        self._z[0] = zl
        self._spike[0] = sl
        self.values = np.array([out])
        return self.values


class FiveGTrialMEC(FiveGTrialProcess):
    """5g_trial generator of the MEC links (Ren et al., Table 2; docs/model.md §4).

    Columns :data:`MEC_LINK_FIELDS`. Each argument overrides one field's model, either by a
    full :class:`FieldModel` or by a mapping of the attributes to change (config-friendly,
    e.g. ``FiveGTrialMEC(l_te={"spike_prob": 0.02})``). Defaults: :data:`DEFAULT_MEC_MODELS`.

    Args:
        b_te_up: Terminal–edge uplink, Mbps (Table 2: 74.4 / 77.9 / 76.1).
        b_te_down: Terminal–edge downlink, Mbps (332.5 / 440.3 / 382.4).
        b_ec_up: Edge–cloud uplink, Mbps (72.2 / 73.9 / 73.3).
        b_ec_down: Edge–cloud downlink, Mbps (466.3 / 600.7 / 542.3).
        l_te: Terminal–edge latency, ms (1.61 / 104.25 / 8.76).
        l_ec: Edge–cloud latency, ms (15.37 / 905.16 / 27.04).
    """

    def __init__(
        self,
        b_te_up: FieldModel | Mapping[str, Any] | None = None,
        b_te_down: FieldModel | Mapping[str, Any] | None = None,
        b_ec_up: FieldModel | Mapping[str, Any] | None = None,
        b_ec_down: FieldModel | Mapping[str, Any] | None = None,
        l_te: FieldModel | Mapping[str, Any] | None = None,
        l_ec: FieldModel | Mapping[str, Any] | None = None,
    ) -> None:
        given = dict(
            zip(MEC_LINK_FIELDS, (b_te_up, b_te_down, b_ec_up, b_ec_down, l_te, l_ec), strict=True)
        )
        super().__init__({f: _as_model(DEFAULT_MEC_MODELS[f], given[f]) for f in MEC_LINK_FIELDS})


class FiveGTrialD2D(FiveGTrialProcess):
    """5g_trial generator of a D2D link (Ren et al., Table 2 "Device–to–Device"; docs/model.md §5).

    Columns :data:`D2D_LINK_FIELDS`. Overrides as for :class:`FiveGTrialMEC`.

    Args:
        b: Symmetric D2D bandwidth, Mbps (Table 2: 71.1 / 97.3 / 87.6).
        l: D2D latency, ms (2.72 / 304.16 / 23.14).
    """

    def __init__(
        self,
        b: FieldModel | Mapping[str, Any] | None = None,
        l: FieldModel | Mapping[str, Any] | None = None,  # noqa: E741 - the name in docs/model.md
    ) -> None:
        super().__init__(
            {"b": _as_model(DEFAULT_D2D_MODELS["b"], b), "l": _as_model(DEFAULT_D2D_MODELS["l"], l)}
        )


# --------------------------------------------------------------------------------------------
# constant links


class ConstantLink(LinkProcess):
    """Fixed link values for every copy and frame; consumes no randomness.

    Args:
        fields: Column names.
        values: One value per field (e.g. :func:`table2_means`).
    """

    def __init__(self, fields: Sequence[str], values: Sequence[float] | np.ndarray) -> None:
        super().__init__(fields)
        v = np.asarray(values, dtype=np.float64)
        if v.shape != (len(self.fields),) or not np.all(np.isfinite(v)):
            raise ValueError(f"values must be {len(self.fields)} finite numbers, got {values!r}")
        for name, x in zip(self.fields, v, strict=True):
            if field_unit(name) == "Mbps":
                if not MIN_BANDWIDTH_MBPS <= x <= MAX_BANDWIDTH_MBPS:
                    raise ValueError(
                        f"value of {name!r} (Mbps) must be in [{MIN_BANDWIDTH_MBPS}, "
                        f"{MAX_BANDWIDTH_MBPS}], got {x}"
                    )
            elif not 0 <= x <= MAX_LATENCY_MS:
                raise ValueError(
                    f"value of {name!r} (ms) must be in [0, {MAX_LATENCY_MS}], got {x}"
                )
        self._row = v

    def _tile(self, num: int) -> np.ndarray:
        out = np.tile(self._row, (num, 1))
        out.setflags(write=False)
        return out

    def reset(
        self, rng: np.random.Generator, num: int = 1, offset: int | np.ndarray | None = None
    ) -> np.ndarray:
        self.values = self._tile(_check_num(num))
        return self.values

    def reset_where(
        self, rng: np.random.Generator, mask: np.ndarray, offset: int | np.ndarray | None = None
    ) -> np.ndarray:
        self._require_reset()
        _check_mask(mask, self.num)
        return self.values

    def step(self, rng: np.random.Generator) -> np.ndarray:
        self._require_reset()
        return self.values


# --------------------------------------------------------------------------------------------
# trace replay


def _offsets(offset: int | np.ndarray, n: int, mask: np.ndarray | None = None) -> np.ndarray:
    arr = np.asarray(offset)
    if not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(
            f"offset must be an integer frame index or an integer array, got {offset!r}"
        )
    if arr.ndim == 0:
        return np.full(n if mask is None else int(mask.sum()), int(arr), dtype=np.int64)
    if mask is not None and arr.shape == mask.shape:
        return arr[mask].astype(np.int64)
    want = n if mask is None else int(mask.sum())
    if arr.shape != (want,):
        raise ValueError(f"offset array must have shape ({want},), got {arr.shape}")
    return arr.astype(np.int64)


def _resample(trace: Trace, frame_s: float, interp: str) -> np.ndarray:
    """Values of ``trace`` on the frame grid ``k * frame_s`` over one loop of its duration."""
    t = trace.times_s - trace.times_s[0]
    dur = trace.duration_s
    frames = dur / frame_s
    check_alloc(
        "frame_s",
        8.0 * frames,
        f"{trace.source} lasts {dur:g} s, {frames:.3g} frames of {frame_s:g} s in its table",
    )
    n = max(1, math.ceil(frames - 1e-9))
    grid = np.arange(n) * frame_s
    if interp == "hold":
        # Tolerance: sample times like 30 * 0.1 = 3.0000000000000004 must count as reached.
        idx = np.searchsorted(t, grid + 1e-6 * trace.period_s, side="right") - 1
        return trace.values[idx].copy()
    # Linear, wrapping from the last sample back to the first at t = duration.
    return np.interp(grid, np.append(t, dur), np.append(trace.values, trace.values[0]))


class TraceReplay(LinkProcess):
    """Replay real traces per field; fields without a trace come from a fallback process.

    Each trace is resampled once onto the frame grid ``t_k = k * frame_s`` (``k = 0..L-1``,
    ``L = ceil(duration / frame_s)``, the trace's last sample held for one sample period)
    by sample-and-hold or linear interpolation, then replayed in a loop: copy ``i`` shows,
    ``k`` frames after reset, entry ``(offset_i + k) mod L`` of every trace.

    * ``offset=None`` in :meth:`reset`: each copy starts each trace at an independent random
      frame, ``rng.integers(0, L_field)`` (one ``integers`` call of shape ``(num, n_traces)``),
      then the fallback is reset with the same ``rng``.
    * ``offset`` given (int or per-copy array): every trace of a copy starts at that frame
      (mod its length), no randomness for the traces; repeatable evaluations.

    Bandwidth samples below ``min_bandwidth_mbps`` (outages, 0 Mbps in the real traces) are
    raised to it, so transfer times ``8 G / B`` (docs/model.md §1) stay finite. Latency traces are used
    as they are: a ping RTT is taken as the link latency ``L`` (docs/model.md §1 charges ``L`` once
    per transfer). The v1 envs read it as a round trip and charge half of it
    (``latency_reading="one_way"``); do not also scale it here.

    Args:
        fields: Column names, e.g. :data:`MEC_LINK_FIELDS`.
        series: Field -> :class:`~envs.traces.Trace` (unit must match: ``b*`` Mbps, ``l*`` ms).
        fallback: Process providing the fields without a trace (its ``fields`` must contain
            them); stepped with the same ``rng`` after the traces. Unused (never reset or
            stepped, no randomness) when every field has a trace.
        frame_s: Seconds of trace per frame (> 0).
        interp: ``"hold"`` (sample-and-hold) or ``"linear"``.
        min_bandwidth_mbps: Floor for bandwidth samples (> 0).
        scales: Optional field -> multiplier applied to the trace before the floor.
    """

    def __init__(
        self,
        fields: Sequence[str],
        series: Mapping[str, Trace],
        fallback: LinkProcess | None = None,
        frame_s: float = 1.0,
        interp: str = "hold",
        min_bandwidth_mbps: float = 0.1,
        scales: Mapping[str, float] | None = None,
    ) -> None:
        super().__init__(fields)
        if not frame_s > 0:
            raise ValueError(f"frame_s must be > 0 seconds, got {frame_s}")
        if interp not in INTERP_MODES:
            raise ValueError(f"interp must be one of {INTERP_MODES}, got {interp!r}")
        if not min_bandwidth_mbps > 0:
            raise ValueError(f"min_bandwidth_mbps must be > 0, got {min_bandwidth_mbps}")
        scales = dict(scales or {})
        for name in list(series) + list(scales):
            if name not in self.fields:
                raise ValueError(f"trace field must be one of {self.fields}, got {name!r}")
        self.frame_s = float(frame_s)
        self.interp = interp
        self.min_bandwidth_mbps = float(min_bandwidth_mbps)
        self.series = dict(series)
        self.trace_fields = tuple(f for f in self.fields if f in self.series)
        self.fallback_fields = tuple(f for f in self.fields if f not in self.series)
        tables = []
        for name in self.trace_fields:
            tr = self.series[name]
            if tr.unit != field_unit(name):
                raise ValueError(
                    f"field {name!r} needs a trace in {field_unit(name)}, got {tr.unit} "
                    f"({tr.source})"
                )
            scale = float(scales.get(name, 1.0))
            if not scale > 0:
                raise ValueError(f"scales[{name!r}] must be > 0, got {scale}")
            tab = _resample(tr, self.frame_s, interp) * scale
            if tr.unit == "Mbps":
                np.maximum(tab, self.min_bandwidth_mbps, out=tab)
            tables.append(tab)
        self._len = np.array([t.size for t in tables], dtype=np.int64)
        self._base = np.concatenate([[0], np.cumsum(self._len)[:-1]]).astype(np.int64)
        self._flat = np.concatenate(tables) if tables else np.zeros(0)
        self._tcols = np.array([self.fields.index(f) for f in self.trace_fields], dtype=np.intp)
        self._fcols = np.array([self.fields.index(f) for f in self.fallback_fields], dtype=np.intp)
        if self.fallback_fields:
            if fallback is None:
                raise ValueError(
                    f"fields {list(self.fallback_fields)} have no trace; give a fallback process"
                )
            missing = [f for f in self.fallback_fields if f not in fallback.fields]
            if missing:
                raise ValueError(
                    f"fallback provides {fallback.fields}, missing {missing} (no trace given)"
                )
            self._fsrc = np.array([fallback.fields.index(f) for f in self.fallback_fields])
        self.fallback = fallback if self.fallback_fields else None
        # Replay state: absolute indices into the concatenated tables; _next maps an index to
        # the following frame of the same trace (wrapping), so a step is one gather.
        nxt = np.arange(1, self._flat.size + 1, dtype=np.intp)
        nxt[self._base + self._len - 1] = self._base
        self._next = nxt
        self._idx = np.zeros((0, len(self.trace_fields)), dtype=np.intp)

    @property
    def lengths(self) -> dict[str, int]:
        """Loop length in frames of each replayed field."""
        return dict(zip(self.trace_fields, self._len.tolist(), strict=True))

    def _assemble(self) -> np.ndarray:
        out = np.empty((self._idx.shape[0], len(self.fields)))
        if self.trace_fields:
            out[:, self._tcols] = self._flat[self._idx]
        if self.fallback is not None:
            out[:, self._fcols] = self.fallback.values[:, self._fsrc]
        return out

    def _start(self, rng: np.random.Generator, k: int, offset: np.ndarray | None) -> np.ndarray:
        if offset is None:
            return rng.integers(0, self._len, size=(k, self._len.size))
        return np.remainder(offset[:, None], self._len)

    def reset(
        self, rng: np.random.Generator, num: int = 1, offset: int | np.ndarray | None = None
    ) -> np.ndarray:
        num = _check_num(num)
        off = None if offset is None else _offsets(offset, num)
        self._idx = self._base + self._start(rng, num, off)
        if self.fallback is not None:
            self.fallback.reset(rng, num, offset)
        self.values = self._assemble()
        return self.values

    def reset_where(
        self, rng: np.random.Generator, mask: np.ndarray, offset: int | np.ndarray | None = None
    ) -> np.ndarray:
        self._require_reset()
        mask = _check_mask(mask, self.num)
        if not mask.any():
            return self.values
        off = None if offset is None else _offsets(offset, self.num, mask)
        self._idx[mask] = self._base + self._start(rng, int(mask.sum()), off)
        if self.fallback is not None:
            self.fallback.reset_where(rng, mask, offset)
        self.values = self._assemble()
        return self.values

    def step(self, rng: np.random.Generator) -> np.ndarray:
        self._require_reset()
        self._idx = self._next[self._idx]
        if self.fallback is not None:
            self.fallback.step(rng)
        self.values = self._assemble()
        return self.values


# --------------------------------------------------------------------------------------------
# platform load


class PlatformLoad(LinkProcess):
    """Background utilisation of platforms as slowdown factors on ``d_X`` (docs/model.md §3).

    Per platform ``j``, utilisation is a bounded AR(1)::

        u_t = clip(m + rho (u_{t-1} - m) + std sqrt(1 - rho^2) eps_t, 0, max_util)

    and :attr:`values` holds the factor ``1 / (1 - u_t)``, so ``d_eff = d * factor``.
    ``mean_util`` is the mean of the unclipped process; clipping at 0 / ``max_util`` shifts
    the realised mean slightly when ``std`` is large relative to ``m``. Copies start from
    ``clip(N(m, std^2))`` (stationary up to clipping); ``offset`` is ignored.

    Disabled (the default), every factor is 1 and **no randomness is consumed**, so turning
    it off leaves the rest of an env's random stream unchanged. Enabled, each reset/step
    consumes ``standard_normal((k, num_platforms))`` (also for platforms with ``std = 0``).

    Args:
        num_platforms: Number of platforms (e.g. 3 for terminal, edge, cloud).
        enabled: Whether load fluctuates.
        mean_util: Mean utilisation per platform (scalar or one per platform), in [0, max_util].
            Use 0 with ``std_util=0`` for a platform without background load.
        max_util: Upper bound of utilisation, < 1 (factor at most ``1 / (1 - max_util)``).
        rho: Per-frame AR(1) coefficient, in [0, 1).
        std_util: Stationary standard deviation of the unclipped utilisation (>= 0).
        names: Column names; default ``("platform_0", ...)``.
    """

    def __init__(
        self,
        num_platforms: int,
        enabled: bool = False,
        mean_util: float | Sequence[float] = 0.3,
        max_util: float | Sequence[float] = 0.9,
        rho: float | Sequence[float] = 0.9,
        std_util: float | Sequence[float] = 0.1,
        names: Sequence[str] | None = None,
    ) -> None:
        num_platforms = _check_num(num_platforms)
        super().__init__(
            tuple(names)
            if names is not None
            else tuple(f"platform_{i}" for i in range(num_platforms))
        )
        if len(self.fields) != num_platforms:
            raise ValueError(f"names must have {num_platforms} entries, got {self.fields}")

        def vec(name: str, x: float | Sequence[float]) -> np.ndarray:
            try:
                a = np.broadcast_to(np.asarray(x, dtype=np.float64), (num_platforms,)).copy()
            except ValueError:
                raise ValueError(
                    f"{name} must be a number or {num_platforms} numbers, got {x!r}"
                ) from None
            if not np.all(np.isfinite(a)):
                raise ValueError(f"{name} must be finite, got {x!r}")
            return a

        self.enabled = bool(enabled)
        self.mean_util = vec("mean_util", mean_util)
        self.max_util = vec("max_util", max_util)
        self.rho = vec("rho", rho)
        self.std_util = vec("std_util", std_util)
        if np.any(self.max_util < 0) or np.any(self.max_util >= 1):
            raise ValueError(f"max_util must be in [0, 1), got {max_util!r}")
        if np.any(self.mean_util < 0) or np.any(self.mean_util > self.max_util):
            raise ValueError(f"mean_util must be in [0, max_util], got {mean_util!r}")
        if np.any(self.rho < 0) or np.any(self.rho >= 1):
            raise ValueError(f"rho must be in [0, 1), got {rho!r}")
        if np.any(self.std_util < 0):
            raise ValueError(f"std_util must be >= 0, got {std_util!r}")
        self._c = self.mean_util * (1 - self.rho)
        self._innov = self.std_util * np.sqrt(1 - self.rho**2)
        self.util = np.zeros((0, num_platforms))

    def _factor(self) -> np.ndarray:
        return 1.0 / (1.0 - self.util)

    def _fresh(self, rng: np.random.Generator, k: int) -> np.ndarray:
        u = rng.standard_normal((k, len(self.fields)))
        u *= self.std_util
        u += self.mean_util
        return np.clip(u, 0.0, self.max_util, out=u)

    def reset(
        self, rng: np.random.Generator, num: int = 1, offset: int | np.ndarray | None = None
    ) -> np.ndarray:
        num = _check_num(num)
        self.util = self._fresh(rng, num) if self.enabled else np.zeros((num, len(self.fields)))
        self.values = self._factor()
        return self.values

    def reset_where(
        self, rng: np.random.Generator, mask: np.ndarray, offset: int | np.ndarray | None = None
    ) -> np.ndarray:
        self._require_reset()
        mask = _check_mask(mask, self.num)
        if not self.enabled or not mask.any():
            return self.values
        self.util[mask] = self._fresh(rng, int(mask.sum()))
        self.values = self._factor()
        return self.values

    def step(self, rng: np.random.Generator) -> np.ndarray:
        self._require_reset()
        if not self.enabled:
            return self.values
        if self.util.shape[0] == 1:
            return self._step_one(rng)
        u = rng.standard_normal(self.util.shape)
        u *= self._innov
        u += self._c
        u += self.util * self.rho
        np.maximum(u, 0.0, out=u)  # np.clip's Python wrapper costs more than two ufuncs
        np.minimum(u, self.max_util, out=u)
        self.util = u
        self.values = self._factor()
        return self.values

    def _step_one(self, rng: np.random.Generator) -> np.ndarray:
        """One copy in Python floats: the same draw and the same operations in the same
        order as the numpy path, so the same values bit for bit."""
        if not hasattr(self, "_lists"):
            self._lists = [a.tolist() for a in (self._innov, self._c, self.rho, self.max_util)]
        innov, c, rho, top = self._lists
        eps = rng.standard_normal(len(innov)).tolist()
        util = []
        for e, i, cc, r, t, u0 in zip(eps, innov, c, rho, top, self.util[0].tolist(), strict=True):
            u = e * i + cc + u0 * r
            util.append(min(max(u, 0.0), t))
        self.util = np.array([util])
        self.values = np.array([[1.0 / (1.0 - u) for u in util]])
        return self.values


# --------------------------------------------------------------------------------------------
# factory

_TRACE_FORMATS: tuple[str, ...] = ("lumos5g", "mmwave", "csv")
_TRACE_KEYS = {"type", "frame_s", "interp", "run", "min_bandwidth_mbps", "fallback", "scales"}
_CSV_KEYS = {
    "type",
    "path",
    "frame_s",
    "interp",
    "min_bandwidth_mbps",
    "fallback",
    "link",
    "scales",
    "columns",
}
_FIELD_SPEC_KEYS = {"path", "format", "run", "series", "unit"}
_TYPES: tuple[str, ...] = ("5g_trial", "constant", "trace", "csv", "mixture")


def _resolve(path: str | Path, base_dir: str | Path | None) -> Path:
    p = Path(path).expanduser()
    return p if p.is_absolute() or base_dir is None else Path(base_dir) / p


def _csv_column(field: str) -> str:
    if field.startswith("l"):
        return "rtt_ms"
    if field.endswith("_up"):
        return "uplink_mbps"
    if field.endswith("_down"):
        return "downlink_mbps"
    return "mean"  # symmetric D2D bandwidth: mean of up- and downlink


def _csv_trace_for(traces: Mapping[str, Trace], column: str, source: str) -> Trace:
    if column != "mean":
        return traces[column]
    up, down = traces["uplink_mbps"], traces["downlink_mbps"]
    return Trace(up.times_s, 0.5 * (up.values + down.values), f"{source}#mean(up,down)", "Mbps")


def _load_field_trace(
    field: str, spec: Any, default_run: int | None, base_dir: str | Path | None
) -> Trace:
    if isinstance(spec, str | Path):
        spec = {"path": spec}
    if not isinstance(spec, Mapping) or "path" not in spec:
        raise ValueError(f"trace spec of {field!r} must be a path or a mapping with 'path'")
    bad = set(spec) - _FIELD_SPEC_KEYS
    if bad:
        raise ValueError(
            f"trace spec of {field!r}: unknown keys {sorted(bad)}; allowed {sorted(_FIELD_SPEC_KEYS)}"
        )
    path = _resolve(spec["path"], base_dir)
    fmt = spec.get("format")
    if fmt is None:
        fmt = {".list": "mmwave", ".csv": "csv"}.get(path.suffix.lower(), "lumos5g")
    # The unit comes from the field (b* Mbps, l* ms), never from the file's path; an explicit
    # ``unit`` must agree with it (TraceReplay checks).
    unit = spec.get("unit", field_unit(field))
    if fmt == "lumos5g":
        return read_lumos5g(path, unit=unit)
    if fmt == "mmwave":
        return read_mmwave_list(
            path, spec.get("run", default_run), series=spec.get("series", 0), unit=unit
        )
    if fmt == "csv":
        return _csv_trace_for(read_csv_trace(path), _csv_column(field), str(path))
    raise ValueError(
        f"trace spec of {field!r}: format must be one of {_TRACE_FORMATS}, got {fmt!r}"
    )


def _spec_number(spec: Mapping[str, Any], key: str, default: float) -> float:
    v = spec.get(key, default)
    if isinstance(v, bool | str | bytes) or not isinstance(v, int | float | np.number):
        raise ValueError(f"{spec.get('type')!r} link spec: {key} must be a number > 0, got {v!r}")
    return float(v)


def make_link_process(
    spec: str | Mapping[str, Any] | LinkProcess,
    scenario: str = "mec",
    *,
    base_dir: str | Path | None = None,
) -> LinkProcess:
    """Build a link process from a config spec.

    Accepted specs (``F`` = :data:`MEC_LINK_FIELDS` or :data:`D2D_LINK_FIELDS`):

    * a :class:`LinkProcess` — returned unchanged (its fields must be ``F``);
    * ``"mixture_train"`` / ``"mixture_test"`` / ``"mixture_synthetic"`` or
      ``{"type": "mixture", "split", "components", "data_dir", "frame_s", "ranges"}`` —
      a network drawn per episode (:mod:`envs.mixture`, the v1 default);
    * ``"5g_trial"`` — :class:`FiveGTrialMEC` / :class:`FiveGTrialD2D` with Table 2 defaults;
    * ``"constant"`` — :class:`ConstantLink` at the Table 2 averages;
    * ``{"type": "5g_trial", <field>: {<FieldModel attr>: value, ...}}`` — overrides;
    * ``{"type": "constant", <field>: value, ...}`` — missing fields at the Table 2 averages;
    * ``{"type": "trace", <field>: path | {"path", "format", "run", "series", "unit"}, ...,
      "frame_s": 1.0, "interp": "hold", "run": None, "min_bandwidth_mbps": 0.1,
      "scales": {<field>: x}, "fallback": "5g_trial"}`` — :class:`TraceReplay`. The format
      follows the suffix (``.list`` mmWave, ``.csv`` CSV, anything else Lumos5G) unless
      ``format`` says otherwise; ``run`` (global or per field) picks the ``.list`` run
      (``None`` = all runs concatenated). A CSV file gives ``*_up`` fields its uplink column,
      ``*_down`` its downlink, ``l*`` its ``rtt_ms`` and the D2D ``b`` the mean of up- and
      downlink. Fields without a trace come from ``fallback`` (any spec accepted here, or
      ``None`` to require a trace for every field);
    * ``{"type": "csv", "path": file, "link": "te", ...}`` — a plain CSV
      ``time_s,uplink_mbps,downlink_mbps,rtt_ms`` for one link: MEC ``b_<link>_up`` =
      uplink, ``b_<link>_down`` = downlink, ``l_<link>`` = ``rtt_ms`` (``link`` is ``"te"``
      or ``"ec"``, default ``"te"``); D2D ``b`` = (uplink + downlink) / 2 (the link is
      symmetric and carries traffic both ways) and ``l`` = ``rtt_ms``. Other fields from
      ``fallback`` (default ``"5g_trial"``). Same ``frame_s``/``interp``/``min_bandwidth_mbps``
      and ``scales`` as ``trace`` (keyed by the env fields, e.g. ``{"b_te_up": 0.5}``), plus
      ``columns``: which header names hold ``time_s``/``uplink_mbps``/``downlink_mbps``/
      ``rtt_ms`` (e.g. ``{"uplink_mbps": "ul", "rtt_ms": "ping"}``; other columns ignored).

    Args:
        spec: The spec.
        scenario: ``"mec"`` or ``"d2d"``.
        base_dir: Directory that relative trace paths are resolved against (default: cwd).

    Raises:
        ValueError: Unknown type, key, field or scenario (the allowed values are named).
        envs.traces.TraceFormatError: A trace file is malformed.
    """
    fields = _fields_for(scenario)
    if isinstance(spec, LinkProcess):
        if spec.fields != fields:
            raise ValueError(
                f"process fields {spec.fields} do not match scenario {scenario!r} {fields}"
            )
        return spec
    from envs.mixture import NAMED_MIXTURES, make_mixture  # mixture builds on this module

    if isinstance(spec, str):
        spec = (
            {"type": "mixture", **NAMED_MIXTURES[spec]}
            if spec in NAMED_MIXTURES
            else {"type": spec}
        )
    if not isinstance(spec, Mapping):
        raise ValueError(f"link spec must be a string, mapping or LinkProcess, got {type(spec)}")
    spec = dict(spec)
    kind = spec.get("type")
    if kind not in _TYPES:
        raise ValueError(
            f"link spec type must be one of {_TYPES} (or a name among "
            f"{sorted(NAMED_MIXTURES)}), got {kind!r}"
        )
    if kind == "mixture":
        return make_mixture(spec, scenario, base_dir)

    def check_keys(allowed: set[str]) -> None:
        bad = set(spec) - allowed
        if bad:
            raise ValueError(
                f"{kind!r} link spec: unknown keys {sorted(bad)}; allowed {sorted(allowed)}"
            )

    if kind == "5g_trial":
        check_keys({"type", *fields})
        overrides = {f: spec[f] for f in fields if f in spec}
        return FiveGTrialMEC(**overrides) if scenario == "mec" else FiveGTrialD2D(**overrides)
    if kind == "constant":
        check_keys({"type", *fields})
        means = dict(zip(fields, table2_means(scenario).tolist(), strict=True))
        return ConstantLink(fields, [float(spec.get(f, means[f])) for f in fields])

    fallback_spec = spec.get("fallback", "5g_trial")
    common = {
        "frame_s": _spec_number(spec, "frame_s", 1.0),
        "interp": spec.get("interp", "hold"),
        "min_bandwidth_mbps": _spec_number(spec, "min_bandwidth_mbps", 0.1),
    }
    if kind == "trace":
        check_keys(_TRACE_KEYS | set(fields))
        series = {
            f: _load_field_trace(f, spec[f], spec.get("run"), base_dir) for f in fields if f in spec
        }
        if not series:
            raise ValueError(f"'trace' link spec names no field; give at least one of {fields}")
        common["scales"] = spec.get("scales")
    else:  # csv
        check_keys(_CSV_KEYS)
        if "path" not in spec:
            raise ValueError("'csv' link spec needs 'path'")
        path = _resolve(spec["path"], base_dir)
        columns = spec.get("columns")
        if columns is not None and not isinstance(columns, Mapping):
            raise ValueError(
                f"'csv' link spec: columns must be a mapping like {{'uplink_mbps': 'ul'}}, "
                f"got {columns!r}"
            )
        try:
            traces = read_csv_trace(path, columns=columns)
        except ValueError as exc:
            if isinstance(exc, TraceFormatError):
                raise
            raise ValueError(f"'csv' link spec: {exc}") from None
        common["scales"] = spec.get("scales")
        if scenario == "mec":
            link = spec.get("link", "te")
            if link not in ("te", "ec"):
                raise ValueError(f"'csv' link spec: link must be 'te' or 'ec', got {link!r}")
            targets = (f"b_{link}_up", f"b_{link}_down", f"l_{link}")
        else:
            if "link" in spec:
                raise ValueError("'csv' link spec: 'link' applies to scenario 'mec' only")
            targets = D2D_LINK_FIELDS
        series = {f: _csv_trace_for(traces, _csv_column(f), str(path)) for f in targets}
    fallback = None
    if fallback_spec is not None and len(series) < len(fields):
        fallback = make_link_process(fallback_spec, scenario, base_dir=base_dir)
    return TraceReplay(fields, series, fallback=fallback, **common)
