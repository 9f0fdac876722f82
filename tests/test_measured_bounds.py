"""benchmarks/measured_bounds.py: what rules with more information than the agent reach."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import measured_bounds as mb  # noqa: E402
from conftest import DATA_DIR, needs_traces  # noqa: E402


def test_episode_ar_recovers_each_episodes_own_dynamics():
    # Two episodes of noise-free AR processes with their own coefficients and levels (an
    # AR(1) and an AR(2)), and one constant term: every forecast after the lags is the
    # next value itself; before them it is the measurement (frame 0: the frame itself).
    T = 40
    terms = np.zeros((2, T, 2))
    terms[0, 0, 0], terms[1, :2, 0] = 5.0, (3.0, 4.0)
    for t in range(1, T):
        terms[0, t, 0] = 1.0 + 0.8 * terms[0, t - 1, 0]
        if t >= 2:
            terms[1, t, 0] = 2.0 + 0.5 * terms[1, t - 1, 0] - 0.3 * terms[1, t - 2, 0]
    terms[:, :, 1] = 7.0
    measured = np.concatenate([terms[:, :1], terms[:, :-1]], axis=1)
    for lags in (2, 3):
        fc = mb.episode_ar(terms, lags)
        np.testing.assert_allclose(fc[:, lags:], terms[:, lags:], rtol=1e-7)
        np.testing.assert_array_equal(fc[:, :lags], measured[:, :lags])
    fc1 = mb.episode_ar(terms, 1)
    np.testing.assert_allclose(fc1[0, 1:], terms[0, 1:], rtol=1e-7)  # episode 0 is AR(1)
    lo, hi = terms[1].min(0), terms[1].max(0)
    assert np.all(fc1[1] >= lo - 1e-12) and np.all(fc1[1] <= hi + 1e-12)  # clamped


@needs_traces
def test_main_prints_every_rule_against_the_references(capsys):
    assert mb.main(["--episodes", "3", "--lags", "1", "--data-dir", str(DATA_DIR)]) == 0
    out = capsys.readouterr().out
    rows = {
        line.split(" | ")[0][2:]: line.strip("| \n").split(" | ")[1:]
        for line in out.splitlines()
        if line.startswith("| ") and line.count("|") == 5 and not line.startswith("| rule")
    }
    assert set(rows) == {"dp_measured", "links_known", "load_known", "episode_ar1",
                         "online_ar1", "best_constant"}  # fmt: skip
    assert rows["dp_measured"][1] == "1.0000" and rows["best_constant"][2] == "1.0000"
    # the true links with the load's conditional mean: below the measurement's cost
    assert float(rows["links_known"][0]) < float(rows["dp_measured"][0])


def test_online_ar1_is_causal_and_learns_the_episodes_dynamics():
    rng = np.random.default_rng(0)
    T = 30
    terms = np.empty((3, T, 1))
    terms[:, 0, 0] = (5.0, 1.0, 2.0)
    # noise-free AR(1)s with each episode's own coefficients, oscillating towards their
    # levels: every value lies in the range seen before it (the forecast's clamp)
    for t in range(1, T):
        terms[:, t, 0] = np.array([1.0, 0.2, 3.0]) - np.array([0.8, 0.6, 0.9]) * terms[:, t - 1, 0]
    fc = mb.online_ar1(terms, warmup=10)
    measured = np.concatenate([terms[:, :1], terms[:, :-1]], axis=1)
    np.testing.assert_array_equal(fc[:, :10], measured[:, :10])
    np.testing.assert_allclose(fc[:, 10:], terms[:, 10:], rtol=1e-6)
    # the forecast of frame t reads frames before t only
    noisy = terms + rng.normal(0, 0.1, terms.shape)
    later = noisy.copy()
    later[:, 20:] += 100.0
    np.testing.assert_array_equal(mb.online_ar1(noisy)[:, :21], mb.online_ar1(later)[:, :21])
