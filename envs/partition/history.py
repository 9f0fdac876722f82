"""Observation history of the v1 partitioning envs (``history=(λ_1, ..., λ_L)``, docs/model.md §13).

With ``observe="measured"`` one frame's measurement says where the links are, not where
they tend to be: an uplink read at 20 Mbps is a peak on one network and a trough on
another, and the best forecast of the next frame (what the decision is charged on) differs
between the two. ``history`` appends, for every squashed link and factor entry of the
observation (``env.ratio_features``), the state of exponential averages over the episode's
measurements, one pair per decay ``λ``:

* ``x = log(v / (1 - v)) = log(value / scale)``, the entry's log ratio in float64
  (:func:`envs.partition.common.log_ratio`; ``v``: the squashed entry);
* ``s ← λ s + (1 − λ) |x − m|`` (the mean absolute deviation, 0 at the first frame), then
  ``m ← λ m + (1 − λ) x`` (the mean, ``x`` at the first frame);
* appended: ``0.5 + 0.5 tanh((x − m) / 2)`` (the measurement against the episode's mean),
  for every decay, then ``tanh(s)`` for every decay; both in ``[0, 1]``.

Layout: ``L`` blocks of ``k`` deviations, then ``L`` blocks of ``k`` volatilities, ``k =
len(ratio_features)`` (MEC 9, D2D ``4 + 2m``). The pure formulas are :func:`history_start`,
:func:`history_update` and :func:`history_features`; :class:`ObservationHistory` is the
state a single env (one copy) or a vector env (one per copy) keeps between frames.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

#: the most decays ``history`` takes (each adds ``2k`` entries to the observation)
HISTORY_MAX = 4


def check_history(history: Any) -> tuple[float, ...]:
    """``history`` validated: a sequence of at most :data:`HISTORY_MAX` decays in ``(0, 1)``
    (empty or ``None``: off)."""
    if history is None:
        return ()
    if isinstance(history, str | bytes) or not isinstance(history, Sequence | np.ndarray):
        raise ValueError(
            f"history must be a list of decays in (0, 1) (at most {HISTORY_MAX}), got {history!r}"
        )
    out = []
    for lam in history:
        if isinstance(lam, bool | np.bool_) or not isinstance(lam, int | float | np.number):
            raise ValueError(f"history: every decay must be a number in (0, 1), got {lam!r}")
        if not 0.0 < float(lam) < 1.0:
            raise ValueError(f"history: every decay must lie in (0, 1), got {lam!r}")
        out.append(float(lam))
    if len(out) > HISTORY_MAX:
        raise ValueError(f"history takes at most {HISTORY_MAX} decays, got {len(out)}")
    return tuple(out)


def history_start(x: np.ndarray, num_decays: int) -> np.ndarray:
    """The state at an episode's first frame, ``(2, L, num, k)``: means ``x``, deviations 0."""
    state = np.zeros((2, num_decays, *x.shape))
    state[0] = x
    return state


def history_update(state: np.ndarray, x: np.ndarray, decays: Sequence[float]) -> None:
    """One frame, in place: ``s ← λ s + (1 − λ)|x − m|``, then ``m ← λ m + (1 − λ) x``."""
    for j, lam in enumerate(decays):
        m = state[0, j]
        state[1, j] = lam * state[1, j] + (1.0 - lam) * np.abs(x - m)
        state[0, j] = lam * m + (1.0 - lam) * x


def history_features(state: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The appended entries, ``(num, 2 L k)`` float32 (module docstring)."""
    dev = 0.5 + 0.5 * np.tanh((x[None] - state[0]) / 2.0)
    vol = np.tanh(state[1])
    return np.concatenate([*dev, *vol], axis=1).astype(np.float32)


class ObservationHistory:
    """The averages of every copy between frames.

    The env marks what the next observation is: :meth:`advance` (a step: every copy's next
    frame) or :meth:`restart` (a reset of all copies, or of the ``mask`` copies of a vector
    env's autoreset); :meth:`features` then folds that observation in, once. Called again
    without a new mark it returns the same entries."""

    def __init__(self, decays: Sequence[float]) -> None:
        self.decays = tuple(decays)
        self.state: np.ndarray | None = None
        self._pending = False
        self._fresh: np.ndarray | None = None  # copies that start an episode (None: all)
        self._last: np.ndarray | None = None

    def restart(self, mask: np.ndarray | None = None) -> None:
        """The next observation starts an episode for every copy (``mask=None``) or for the
        ``mask`` copies (the others step)."""
        if mask is None or self.state is None:
            self.state, self._fresh = None, None
        else:
            mask = np.asarray(mask, dtype=bool)
            if self._pending and self._fresh is not None and self._fresh.shape == mask.shape:
                mask = mask | self._fresh
            self._fresh = mask
        self._pending = True

    def advance(self) -> None:
        """The next observation is every copy's next frame."""
        if not self._pending:
            self._fresh = np.zeros(0, dtype=bool)
        self._pending = True

    def features(self, x: np.ndarray) -> np.ndarray:
        """The appended entries for the log ratios ``x`` ``(num, k)`` of this observation."""
        if not self._pending and self._last is not None:
            return self._last
        if self.state is None or self.state.shape[2] != x.shape[0]:
            self.state = history_start(x, len(self.decays))
        else:
            history_update(self.state, x, self.decays)
            fresh = self._fresh
            if fresh is not None and fresh.size and fresh.any():
                self.state[:, :, fresh] = history_start(x[fresh], len(self.decays))
        self._pending, self._fresh = False, None
        self._last = history_features(self.state, x)
        return self._last
