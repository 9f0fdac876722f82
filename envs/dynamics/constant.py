"""Constant links: fixed values (e.g. the Table 2 averages), for tests and oracles."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from envs.dynamics.base import LinkProcess, _check_num
from envs.dynamics.table2 import field_unit
from envs.limits import MAX_BANDWIDTH_MBPS, MAX_LATENCY_MS, MIN_BANDWIDTH_MBPS

__all__ = ["ConstantLink"]


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

    def _reset_rows(
        self, rng: np.random.Generator, mask: np.ndarray, offset: int | np.ndarray | None
    ) -> np.ndarray:
        return self.values

    def step(self, rng: np.random.Generator) -> np.ndarray:
        self._require_reset()
        return self.values
