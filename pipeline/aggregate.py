"""Aggregation over training seeds with rliable (Agarwal et al., NeurIPS 2021).

For one env config (a group of ``evaluate.py``) every agent has a score matrix
``(runs, episodes)``: one row per trained run (training seed; a heuristic is one run), one
column per fixed evaluation episode, each entry the episode's mean of a metric (gap to the
oracle in %, cost, ...). The episodes play the part of rliable's tasks: every run sees the
same ones, so the stratified bootstrap resamples runs within each episode and the 95%
confidence intervals measure how much the result depends on the training seed.

* :func:`aggregate_scores`: IQM (interquartile mean over runs x episodes) and mean, each
  with a stratified-bootstrap 95% CI (``rliable.library.get_interval_estimates``).
* :func:`performance_profile`: the fraction of (run, episode) scores at or below each
  threshold tau (lower is better for gaps), with bootstrap CIs
  (``rliable.library.create_performance_profile``).
* :func:`ratio_ci`: one policy's mean cost relative to another's on the same episodes
  (``dp_measured``'s, per network), with a paired-bootstrap CI over the episodes
  (``scipy.stats.bootstrap``): whether "at or below" on a network is more than noise.
* :func:`vs_best_constant`: a policy's cost against each network's best constant decision,
  averaged over the networks.
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

#: metrics aggregated per env family; lower is better for all of them
AGGREGATE_METRICS: dict[str, tuple[str, ...]] = {
    "partition": ("gap", "cost"),
    "scheduling": ("variance", "latency_ms"),
}
#: the aggregate statistics, in the order of the columns (rliable.metrics names)
STATISTICS: tuple[str, ...] = ("iqm", "mean")
CONFIDENCE = 0.95


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """rliable logs a line per algorithm (absl -> the "absl" logger, which Hydra's handler
    prints) and arch warns about RandomState: keep stdout for the tables."""
    absl = logging.getLogger("absl")
    level = absl.level
    absl.setLevel(logging.WARNING)
    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            yield
    finally:
        absl.setLevel(level)


@contextlib.contextmanager
def _seeded(seed: int) -> Iterator[None]:
    """rliable's ``StratifiedBootstrap`` draws its resamples from numpy's global state (its
    ``random_state`` argument reaches arch only, which never uses it here): seed that state
    for the call and put the caller's back, so the CIs are a function of ``seed`` alone."""
    state = np.random.get_state()  # noqa: NPY002
    np.random.seed(seed)  # noqa: NPY002
    try:
        yield
    finally:
        np.random.set_state(state)  # noqa: NPY002


def _stats(x: np.ndarray) -> np.ndarray:
    """``[IQM, mean]`` of a ``(runs, episodes)`` matrix, bit for bit rliable's
    ``metrics.aggregate_iqm`` (scipy's ``trim_mean(x, 0.25, axis=None)``) and
    ``metrics.aggregate_mean``. The bootstrap calls this once per resample and label: scipy's
    argument-checking wrapper made it 0.6 ms a call, 90% of an evaluation's aggregation;
    tests/test_aggregate.py holds it equal to rliable's."""
    flat = x.ravel()
    lo = int(0.25 * flat.size)
    hi = flat.size - lo
    part = np.partition(flat, (lo, hi - 1))
    return np.array([np.mean(part[lo:hi]), np.mean(np.mean(x, axis=0))])


def _fraction_above(scores: np.ndarray, taus: np.ndarray) -> np.ndarray:
    """rliable's score distribution (the fraction of all scores ``> tau``, per tau) in one
    comparison, not one ``np.vectorize`` call per tau: equal counts over the same size, so
    the same floats."""
    return np.count_nonzero(scores.reshape(-1, 1) > taus, axis=0) / scores.size


def aggregate_scores(
    scores: Mapping[str, np.ndarray], reps: int = 2000, seed: int = 0
) -> dict[str, dict[str, float]]:
    """``{label: (runs, episodes)}`` -> ``{label: {"iqm", "iqm_lo", "iqm_hi", "mean",
    "mean_lo", "mean_hi", "runs"}}`` (95% stratified-bootstrap CIs, ``reps`` resamples).

    A matrix with non-finite entries (e.g. the latency of a scheduling episode in which no
    task finished) gets NaN statistics instead of a bootstrap over partial data.
    """
    from rliable import library as rly

    finite = {k: np.asarray(v, np.float64) for k, v in scores.items()}
    finite = {k: v for k, v in finite.items() if v.size and np.isfinite(v).all()}
    out: dict[str, dict[str, float]] = {}
    for label, v in scores.items():
        out[label] = {f"{s}{suf}": float("nan") for s in STATISTICS for suf in ("", "_lo", "_hi")}
        out[label]["runs"] = int(np.shape(v)[0])
    if not finite:
        return out
    with _seeded(seed), _quiet():
        points, intervals = rly.get_interval_estimates(
            finite, _stats, reps=int(reps), confidence_interval_size=CONFIDENCE
        )
    for label in finite:
        for i, s in enumerate(STATISTICS):
            out[label][s] = float(points[label][i])
            out[label][f"{s}_lo"] = float(intervals[label][0, i])
            out[label][f"{s}_hi"] = float(intervals[label][1, i])
    return out


def performance_profile(
    scores: Mapping[str, np.ndarray], taus: np.ndarray, reps: int = 2000, seed: int = 0
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Fraction of (run, episode) scores ``<= tau`` for each tau (lower is better), and its
    95% CI ``(2, len(taus))``, per label. rliable counts scores ``> tau``; this is one
    minus that (the CI flips accordingly)."""
    from rliable import library as rly

    finite = {k: np.asarray(v, np.float64) for k, v in scores.items()}
    finite = {k: v for k, v in finite.items() if v.size and np.isfinite(v).all()}
    if not finite:
        return {}, {}
    with _seeded(seed), _quiet():
        above, above_ci = rly.create_performance_profile(
            finite, np.asarray(taus, np.float64), custom_profile_func=_fraction_above,
            reps=int(reps), confidence_interval_size=CONFIDENCE,
        )  # fmt: skip
    prof = {k: 1.0 - above[k] for k in finite}
    ci = {k: 1.0 - np.asarray(above_ci[k])[::-1] for k in finite}
    return prof, ci


def tau_grid(scores: Mapping[str, np.ndarray], n: int = 101) -> np.ndarray:
    """Thresholds from 0 to the 95th percentile of every finite score (at least 1)."""
    vals = [np.asarray(v, np.float64).ravel() for v in scores.values()]
    allv = np.concatenate(vals) if vals else np.zeros(1)
    allv = allv[np.isfinite(allv)]
    hi = float(np.percentile(allv, 95)) if allv.size else 1.0
    return np.linspace(0.0, max(hi, 1.0), n)


def score_rows(
    head: Mapping[str, Any],
    scores: Mapping[str, Mapping[str, np.ndarray]],
    kinds: Mapping[str, str],
    metrics: tuple[str, ...],
    reps: int,
    seed: int,
) -> list[dict[str, Any]]:
    """One row per label: ``head`` plus ``<metric>_<stat>[_lo|_hi]`` for ``metrics``;
    ``scores[metric][label]`` is that label's ``(runs, episodes)`` matrix."""
    labels = list(kinds)
    rows: dict[str, dict[str, Any]] = {
        lab: {**head, "agent": lab, "kind": kinds[lab]} for lab in labels
    }
    for m in metrics:
        per = scores.get(m, {})
        if not per:
            continue
        agg = aggregate_scores(per, reps=reps, seed=seed)
        for lab, stats in agg.items():
            rows[lab]["runs"] = stats.pop("runs")
            rows[lab]["episodes"] = int(np.shape(per[lab])[1])
            rows[lab].update({f"{m}_{k}": v for k, v in stats.items()})
    return [rows[lab] for lab in labels]


def ratio_ci(cost: np.ndarray, reference: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Confidence interval of ``mean(cost) / mean(reference)``, two policies' per-episode
    mean costs on the same episodes: a paired percentile bootstrap over the episodes (the
    independent units; frames within an episode are not), 2,000 resamples, a fixed seed.

    Where it lies above 1, ``cost``'s policy is worse on these frames by more than the
    evaluation's sampling noise; a ratio above 1 whose interval holds 1 is within it
    (docs/results.md section 7: at 30 episodes per network, other evaluation seeds moved
    a forecaster's count of networks at or below ``dp_measured`` from 2 to 6 of 8)."""
    from scipy.stats import bootstrap

    a, b = np.asarray(cost, dtype=np.float64), np.asarray(reference, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"cost and reference must be per-episode vectors of one shape, got "
                         f"{a.shape} and {b.shape}")  # fmt: skip
    if np.array_equal(a, b) or a.size < 2:  # the same decisions (or one episode): no spread
        r = float(a.mean() / b.mean())
        return r, r
    res = bootstrap((a, b), lambda x, y, axis: x.mean(axis) / y.mean(axis), paired=True,
                    vectorized=True, n_resamples=2000, confidence_level=level,
                    method="percentile", rng=np.random.default_rng(0))  # fmt: skip
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def vs_best_constant(gap: np.ndarray, constant_gap: np.ndarray) -> float:
    """A policy's cost against the best constant decision of each network in hindsight,
    averaged over the networks: ``mean((1 + gap) / (1 + constant_gap))`` with the mean gaps
    to the oracle (``mean(cost / OPT) - 1``) of the policy and of that constant on each
    network's frames. Below 0.95: at least 5% below the best constant (issue #12)."""
    g, c = np.asarray(gap, dtype=np.float64), np.asarray(constant_gap, dtype=np.float64)
    return float(np.mean((1.0 + g) / (1.0 + c)))
