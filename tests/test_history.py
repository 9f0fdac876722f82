"""The v1 observation history (``history=(λ, ...)``, envs/partition/history.py)."""

from __future__ import annotations

import copy
import pickle
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from hypothesis import given, settings
from hypothesis import strategies as st

from envs.partition.common import log_ratio
from envs.partition.history import (
    HISTORY_MAX,
    ObservationHistory,
    check_history,
    history_features,
    history_start,
    history_update,
)

V1 = ["EdgeRL/MECPartition-v1", "EdgeRL/D2DPartition-v1"]
SYN = {"network": "mixture_synthetic", "dnn": "alexnet"}
DECAYS = (0.7, 0.95)


def _x(v: np.ndarray) -> np.ndarray:
    """The log ratios the history averages (float64, as the env computes them)."""
    return log_ratio(np.asarray(v, dtype=np.float64))


def _reference(xs: list[np.ndarray], decays=DECAYS) -> np.ndarray:
    """The appended entries after the log ratios ``xs`` (one episode of one copy), by the
    module docstring's recursion written out with scalars."""
    k = xs[0].shape[0]
    L = len(decays)
    out = np.empty(2 * L * k)
    for j, lam in enumerate(decays):
        for f in range(k):
            m, s = xs[0][f], 0.0
            for x in xs[1:]:
                s = lam * s + (1 - lam) * abs(x[f] - m)
                m = lam * m + (1 - lam) * x[f]
            out[j * k + f] = 0.5 + 0.5 * np.tanh((xs[-1][f] - m) / 2)
            out[(L + j) * k + f] = np.tanh(s)
    return out


@pytest.mark.parametrize("env_id", V1)
def test_history_env_passes_check_env_and_lies_in_its_space(env_id):
    env = gym.make(env_id, history=list(DECAYS), **SYN)
    base = gym.make(env_id, **SYN)
    k = len(env.unwrapped.ratio_features)
    assert env.observation_space.shape[0] == base.observation_space.shape[0] + 2 * len(DECAYS) * k
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env.unwrapped, skip_render_check=True)
    obs, _ = env.reset(seed=3)
    for _ in range(20):
        assert env.observation_space.contains(obs)
        obs, *_ = env.step(env.action_space.sample())
    assert env.unwrapped.params.named()["history"] == DECAYS
    assert "history" not in base.unwrapped.params.named()  # runs without it read as before


@pytest.mark.parametrize("env_id", V1)
def test_history_appends_to_the_same_episode(env_id):
    """The observation without history is unchanged (same seed, same actions), and the
    appended entries are the recursion over that episode's measured log ratios."""
    plain = gym.make(env_id, **SYN)
    hist = gym.make(env_id, history=list(DECAYS), **SYN)
    rf = plain.unwrapped.ratio_features
    a, _ = plain.reset(seed=7)
    b, _ = hist.reset(seed=7)
    xs = []
    plain.action_space.seed(0)
    for _ in range(12):
        d = plain.observation_space.shape[0]
        np.testing.assert_array_equal(b[:d], a)
        xs.append(_x(a[rf]))
        np.testing.assert_allclose(b[d:], _reference(xs), rtol=1e-6, atol=1e-6)
        act = plain.action_space.sample()
        a, ra, *_ = plain.step(act)
        b, rb, *_ = hist.step(act)
        assert ra == rb
    # a reset starts the averages again
    b, _ = hist.reset(seed=8)
    a, _ = plain.reset(seed=8)
    np.testing.assert_allclose(b[a.shape[0] :], _reference([_x(a[rf])]), atol=1e-6)


@pytest.mark.parametrize("env_id", V1)
def test_history_vector_env_matches_single_envs_across_autoresets(env_id):
    """Each copy of the vector env carries its own averages: copies out of phase (one
    autoresets while the others step) equal single envs reset by hand."""
    kw = {"history": list(DECAYS), "max_episode_steps": 4, **SYN}
    vec = gym.make_vec(env_id, num_envs=1, vectorization_mode="vector_entry_point", **kw)
    single = gym.make(env_id, **kw)
    obs_v, _ = vec.reset(seed=5)
    obs_s, _ = single.reset(seed=5)
    single.action_space.seed(1)
    for _ in range(11):
        np.testing.assert_allclose(obs_v[0], obs_s, rtol=1e-6, atol=1e-7)
        act = single.action_space.sample()
        obs_v, *_ = vec.step(act[None])
        obs_s, _, term, trunc, _ = single.step(act)
        if term or trunc:
            obs_s, _ = single.reset()
            obs_v, *_ = vec.step(act[None])  # the vector env's autoreset step

    # three copies, one reset out of phase (white box, as tests/test_vector_env.py)
    v3 = gym.make_vec(env_id, num_envs=3, vectorization_mode="vector_entry_point", **kw)
    plain = gym.make_vec(env_id, num_envs=3, vectorization_mode="vector_entry_point",
                         **{**kw, "history": []})  # fmt: skip
    o3, _ = v3.reset(seed=9)
    op, _ = plain.reset(seed=9)
    rf, d = plain.unwrapped.env.ratio_features, op.shape[1]
    seen: list[list[np.ndarray]] = [[_x(op[i, rf])] for i in range(3)]
    acts = [v3.action_space.sample() for _ in range(7)]
    for t, act in enumerate(acts):
        if t == 2:
            v3.unwrapped._autoreset[:] = [False, True, False]
            plain.unwrapped._autoreset[:] = [False, True, False]
        o3, *_ = v3.step(act)
        op, *_ = plain.step(act)
        np.testing.assert_array_equal(o3[:, :d], op)
        for i in range(3):
            x = _x(op[i, rf])
            seen[i] = [x] if (t == 2 and i == 1) or v3.unwrapped._t[i] == 0 else [*seen[i], x]
            np.testing.assert_allclose(o3[i, d:], _reference(seen[i]), rtol=1e-6, atol=1e-6)


def test_observe_batch_folds_a_frame_in_once():
    env = gym.make("EdgeRL/MECPartition-v1", history=[0.9], **SYN).unwrapped
    env.reset(seed=0)
    env.step(env.action_space.sample())
    first = env.observe_batch()
    np.testing.assert_array_equal(env.observe_batch(), first)


@pytest.mark.parametrize("env_id", V1)
def test_history_env_pickles_and_copies_mid_episode(env_id):
    env = gym.make(env_id, history=list(DECAYS), **SYN).unwrapped
    env.reset(seed=2)
    for _ in range(3):
        env.step(env.action_space.sample())
    twins = [pickle.loads(pickle.dumps(env)), copy.deepcopy(env)]
    act = env.action_space.sample()
    want = env.step(act)[0]
    for twin in twins:
        np.testing.assert_array_equal(twin.step(act)[0], want)


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        ([1.0], r"history: every decay must lie in \(0, 1\)"),
        ([0.0], r"history: every decay must lie in \(0, 1\)"),
        ([0.5, -0.1], r"history: every decay must lie in \(0, 1\)"),
        (["a"], "history: every decay must be a number"),
        ([True], "history: every decay must be a number"),
        ("0.5", "history must be a list of decays"),
        (0.5, "history must be a list of decays"),
        ([0.5] * (HISTORY_MAX + 1), f"history takes at most {HISTORY_MAX} decays"),
    ],
)
@pytest.mark.parametrize("env_id", V1)
def test_bad_history_names_the_field(env_id, bad, match):
    with pytest.raises(ValueError, match=match):
        gym.make(env_id, history=bad, **SYN)


@settings(max_examples=40, deadline=None)
@given(
    xs=st.lists(
        st.lists(st.floats(-20, 20, allow_nan=False), min_size=3, max_size=3),
        min_size=1,
        max_size=8,
    ),
    decays=st.lists(st.floats(0.01, 0.99), min_size=1, max_size=HISTORY_MAX),
)
def test_history_formulas_match_the_recursion(xs, decays):
    arrs = [np.array(x) for x in xs]
    state = history_start(arrs[0][None], len(decays))
    for x in arrs[1:]:
        history_update(state, x[None], decays)
    got = history_features(state, arrs[-1][None])[0]
    assert got.shape == (2 * len(decays) * 3,) and np.all((got >= 0) & (got <= 1))
    np.testing.assert_allclose(got, _reference(arrs, decays), rtol=1e-5, atol=1e-6)
    # the stateful holder gives the same entries
    h = ObservationHistory(decays)
    h.restart()
    for i, x in enumerate(arrs):
        if i:
            h.advance()
        feats = h.features(x[None])
    np.testing.assert_array_equal(feats, history_features(state, arrs[-1][None]))


def test_check_history_accepts_none_and_empty():
    assert check_history(None) == () == check_history([])
    assert check_history(np.array([0.5, 0.9])) == (0.5, 0.9)
