"""pipeline.aggregate: the fast statistics it hands rliable's bootstrap give rliable's own
numbers bit for bit (IQM, mean, score distribution), and so do the intervals built on them;
the intervals depend on the seed argument only, not on numpy's global state."""

from __future__ import annotations

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rliable import library as rly  # a core dependency (evaluate.py), never skipped
from rliable import metrics

from pipeline import aggregate

MATRICES = hnp.arrays(
    np.float64,
    hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=12),
    elements=st.floats(-1e6, 1e6, allow_nan=False),
)


@settings(max_examples=200, deadline=None)
@given(MATRICES)
def test_stats_equal_rliables_metrics(x):
    got = aggregate._stats(x)
    assert got[0] == metrics.aggregate_iqm(x)
    assert got[1] == metrics.aggregate_mean(x)


@settings(max_examples=100, deadline=None)
@given(MATRICES, hnp.arrays(np.float64, st.integers(1, 20), elements=st.floats(-1e6, 1e6)))
def test_score_distribution_equals_rliables(x, taus):
    np.testing.assert_array_equal(
        aggregate._fraction_above(x, taus), rly.score_distributions(x, taus)
    )


def _scores(seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"a": rng.gamma(2.0, 1.5, (3, 7)), "b": rng.normal(4.0, 2.0, (1, 7)).round(1)}


def test_aggregate_scores_equal_rliables_own_bootstrap():
    scores = _scores(0)
    before = np.random.get_state()[1].copy()  # noqa: NPY002
    got = aggregate.aggregate_scores(scores, reps=300, seed=5)
    np.testing.assert_array_equal(np.random.get_state()[1], before)  # noqa: NPY002
    assert aggregate.aggregate_scores(scores, reps=300, seed=5) == got  # a function of the seed
    assert aggregate.aggregate_scores(scores, reps=300, seed=6)["a"] != got["a"]

    def reference(x: np.ndarray) -> np.ndarray:
        return np.array([metrics.aggregate_iqm(x), metrics.aggregate_mean(x)])

    np.random.seed(5)  # noqa: NPY002 (rliable resamples from the global state)
    points, ci = rly.get_interval_estimates(
        scores, reference, reps=300, confidence_interval_size=aggregate.CONFIDENCE
    )
    for k in scores:
        assert got[k]["runs"] == scores[k].shape[0]
        for i, s in enumerate(aggregate.STATISTICS):
            assert (got[k][s], got[k][f"{s}_lo"], got[k][f"{s}_hi"]) == (
                points[k][i], ci[k][0, i], ci[k][1, i],
            )  # fmt: skip


def test_performance_profile_equals_rliables_own_and_keeps_the_global_state():
    scores = _scores(1)
    taus = aggregate.tau_grid(scores, n=21)
    before = np.random.get_state()[1].copy()  # noqa: NPY002
    prof, ci = aggregate.performance_profile(scores, taus, reps=200, seed=3)
    np.testing.assert_array_equal(np.random.get_state()[1], before)  # noqa: NPY002
    np.random.seed(3)  # noqa: NPY002
    above, above_ci = rly.create_performance_profile(scores, taus, reps=200)
    for k in scores:
        np.testing.assert_array_equal(prof[k], 1.0 - above[k])
        np.testing.assert_array_equal(ci[k], 1.0 - np.asarray(above_ci[k])[::-1])
        assert np.all(np.diff(prof[k]) >= 0)  # a fraction at or below tau grows with tau


def test_non_finite_matrices_get_nan_not_a_partial_bootstrap():
    out = aggregate.aggregate_scores({"ok": np.ones((2, 3)), "bad": np.array([[1.0, np.inf]])})
    assert out["ok"]["iqm"] == 1.0 and np.isnan(out["bad"]["iqm"]) and out["bad"]["runs"] == 1


def test_ratio_ci_is_paired_over_episodes_and_deterministic():
    rng = np.random.default_rng(3)
    ref = rng.uniform(100, 200, 300)  # per-episode mean costs: episodes differ a lot
    assert aggregate.ratio_ci(ref, ref) == (1.0, 1.0)  # the same decisions
    worse = ref * 1.002  # 0.2% worse on every episode: certain despite the spread
    lo, hi = aggregate.ratio_ci(worse, ref)
    assert 1 < lo <= 1.002 <= hi < 1.0021
    # 0.1% worse on average with per-episode noise of 3%: the interval holds 1
    noisy = ref * (1.001 + rng.normal(0, 0.03, ref.size))
    lo, hi = aggregate.ratio_ci(noisy, ref)
    assert lo < 1 < hi and lo < noisy.mean() / ref.mean() < hi
    assert aggregate.ratio_ci(noisy, ref) == (lo, hi)  # a fixed seed
    # paired: the episodes' own spread (costs 100-200) cancels; each mean bootstrapped on
    # its own, the interval would be about 0.06 wide
    assert hi - lo < 0.01


def test_ratio_ci_refuses_vectors_of_other_shapes():
    with pytest.raises(ValueError, match="per-episode vectors of one shape"):
        aggregate.ratio_ci(np.ones(3), np.ones(4))
