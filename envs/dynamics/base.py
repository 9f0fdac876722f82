"""Process base: a batched per-frame process with ``num`` independent copies.

Every process of :mod:`envs.dynamics` (and of :mod:`envs.mixture`) is **batched**: it holds
``num`` independent copies (one per env of a numpy-batched vector env; ``num=1`` for a single
env) and advances them all with a few numpy calls, no Python loop over copies. All randomness
comes from the ``numpy.random.Generator`` passed to :meth:`BatchedProcess.reset`,
:meth:`BatchedProcess.reset_where` and :meth:`BatchedProcess.step`. API, shared by every
class (link processes and :class:`~envs.dynamics.platform_load.PlatformLoad`)::

    values = proc.reset(rng, num=1, offset=None)   # (num, len(proc.fields)) float64
    values = proc.reset_where(rng, mask)           # re-initialise rows where mask is True
    values = proc.step(rng)                        # advance every copy by one frame
    proc.values                                    # current (num, F); a new array per call

:class:`LinkProcess` is the base of the processes whose fields are link quantities
(:data:`~envs.dynamics.table2.MEC_LINK_FIELDS`, :data:`~envs.dynamics.table2.D2D_LINK_FIELDS`:
``b*`` in Mbps, ``l*`` in ms); :func:`~envs.dynamics.factory.make_link_process` builds and
accepts those.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np

__all__ = ["BatchedProcess", "LinkProcess"]


def _check_mask(mask: np.ndarray, num: int) -> np.ndarray:
    mask = np.asarray(mask)
    if mask.dtype != np.bool_ or mask.shape != (num,):
        raise ValueError(
            f"mask must be a boolean array of shape ({num},), got {mask.dtype} {mask.shape}"
        )
    return mask


class BatchedProcess(ABC):
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

    def reset_where(
        self, rng: np.random.Generator, mask: np.ndarray, offset: int | np.ndarray | None = None
    ) -> np.ndarray:
        """Re-initialise the rows where ``mask`` is True; other rows keep their state.

        Checks the call (after :meth:`reset`, a boolean mask of shape ``(num,)``), returns
        :attr:`values` unchanged when no row is masked and otherwise leaves the rows to
        :meth:`_reset_rows`, the part a process defines.

        Args:
            rng: Source of all randomness.
            mask: Boolean array, shape ``(num,)``.
            offset: As in :meth:`reset`; an array may have shape ``(num,)`` (its masked
                entries are used) or ``(mask.sum(),)``.
        """
        self._require_reset()
        mask = _check_mask(mask, self.num)
        if not mask.any():
            return self.values
        return self._reset_rows(rng, mask, offset)

    def _reset_rows(
        self, rng: np.random.Generator, mask: np.ndarray, offset: int | np.ndarray | None
    ) -> np.ndarray:
        """:meth:`reset_where` once checked: ``mask`` (boolean, ``(num,)``) has a True row.
        Return (and store) the new values ``(num, F)``."""
        raise NotImplementedError(f"{type(self).__name__} does not define _reset_rows")

    @abstractmethod
    def step(self, rng: np.random.Generator) -> np.ndarray:
        """Advance every copy by one frame; return (and store) the new values ``(num, F)``."""

    def _require_reset(self) -> None:
        if self.num == 0:
            raise RuntimeError(f"{type(self).__name__}: call reset() before step()/reset_where()")


class LinkProcess(BatchedProcess):
    """A :class:`BatchedProcess` whose fields are link quantities (``b*`` Mbps, ``l*`` ms):
    the 5g_trial generator, constant links, trace replay and the network mixtures."""


def _check_num(num: int) -> int:
    if not isinstance(num, int | np.integer) or num < 1:
        raise ValueError(f"num must be a positive integer, got {num!r}")
    return int(num)
