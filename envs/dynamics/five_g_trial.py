"""The 5g_trial generator: a stochastic link process calibrated to Ren et al., Table 2.

:class:`FiveGTrialMEC`, :class:`FiveGTrialD2D` — the MEC and D2D links; :class:`FiveGTrialProcess`
— the batched generator for any set of fields (one :class:`FieldModel` each).

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
``mu`` is solved (closed form for the clipped lognormal mean, then bisection; the maths is in
:mod:`envs.dynamics.calibration`) so that the stationary mean equals ``mean`` exactly::

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
from collections.abc import Mapping
from dataclasses import dataclass, replace
from dataclasses import fields as dc_fields
from typing import Any, Literal

import numpy as np

from envs.dynamics.base import LinkProcess, _check_num
from envs.dynamics.calibration import clipped_lognormal_mean, pareto_mean, solve_mu
from envs.dynamics.table2 import MEC_LINK_FIELDS, TABLE2, field_unit

__all__ = [
    "DEFAULT_D2D_MODELS",
    "DEFAULT_MEC_MODELS",
    "FieldModel",
    "FiveGTrialD2D",
    "FiveGTrialMEC",
    "FiveGTrialProcess",
]


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
        return pareto_mean(self.spike_lo, self.span, self.spike_alpha)

    @property
    def baseline_mean(self) -> float:
        """Required mean of the clipped baseline excess ``E[min(exp(z), span)]``."""
        pi = self.spike_share
        return (self.excess_mean - pi * self.spike_excess_mean) / (1.0 - pi)

    @property
    def mu(self) -> float:
        """Stationary mean of the log-excess ``z``, solved so the field's mean is exact."""
        return solve_mu(self.baseline_mean, self.span, self.sigma)

    def stationary_mean(self) -> float:
        """Analytical long-run mean of the field (equals ``mean`` up to float error)."""
        pi = self.spike_share
        base = clipped_lognormal_mean(self.mu, self.sigma, self.span)
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

    def _reset_rows(
        self, rng: np.random.Generator, mask: np.ndarray, offset: int | np.ndarray | None
    ) -> np.ndarray:
        """Restart the masked copies in the stationary distribution. ``offset`` is ignored."""
        if self.num == 1:
            return self.reset(rng, 1)
        idx = np.flatnonzero(mask)
        z, spike, v = self._fresh(rng, idx.size)
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
