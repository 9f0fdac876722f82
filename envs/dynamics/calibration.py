"""Calibration maths of the 5g_trial generator (:mod:`envs.dynamics.five_g_trial`).

A field's excess is ``min(exp(z), cap)`` with ``z ~ N(mu, sigma^2)`` outside excursions and a
truncated Pareto inside them; :class:`~envs.dynamics.five_g_trial.FieldModel` solves ``mu``
so that the stationary mean of the field equals its Table 2 average. The closed forms and the
solve are here, free of the process:

* :func:`clipped_lognormal_mean` — ``E[min(exp(Z), cap)]``, ``Z ~ N(mu, sigma^2)``;
* :func:`pareto_mean` — the mean of a Pareto(alpha) with scale ``lo`` truncated to ``[lo, hi]``;
* :func:`solve_mu` — the ``mu`` whose clipped lognormal mean is a target (bisection).
"""

from __future__ import annotations

import math

__all__ = ["clipped_lognormal_mean", "norm_cdf", "pareto_mean", "solve_mu"]


def norm_cdf(x: float) -> float:
    """Standard normal CDF."""
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def clipped_lognormal_mean(mu: float, sigma: float, cap: float) -> float:
    """E[min(exp(Z), cap)] for Z ~ N(mu, sigma^2)."""
    if sigma == 0.0:
        return min(math.exp(mu), cap)
    lc = math.log(cap)
    return math.exp(mu + sigma**2 / 2) * norm_cdf((lc - mu - sigma**2) / sigma) + cap * (
        1.0 - norm_cdf((lc - mu) / sigma)
    )


def pareto_mean(lo: float, hi: float, alpha: float) -> float:
    """Mean of a Pareto(alpha) with scale ``lo`` truncated to ``[lo, hi]``."""
    r = (lo / hi) ** alpha
    if abs(alpha - 1.0) < 1e-12:
        return lo / (1.0 - r) * math.log(hi / lo)
    return alpha * lo**alpha / (1.0 - r) * (hi ** (1 - alpha) - lo ** (1 - alpha)) / (1 - alpha)


def solve_mu(target: float, cap: float, sigma: float) -> float:
    """The ``mu`` with ``clipped_lognormal_mean(mu, sigma, cap) == target`` (200 bisections).

    Raises:
        ValueError: ``target`` is not in ``(0, cap)``.
    """
    if not 0.0 < target < cap:
        raise ValueError(f"cannot calibrate: baseline mean excess {target} not in (0, {cap})")
    lo, hi = math.log(target) - sigma * sigma / 2 - 1.0, math.log(cap) + 10.0 * sigma + 1.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if clipped_lognormal_mean(mid, sigma, cap) < target:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)
