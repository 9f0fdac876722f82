"""Running observation statistics (shared by the agents that normalise observations)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch


def normalize(x: Any, mean: np.ndarray, std: np.ndarray, clip: float | None) -> np.ndarray:
    """``clip((x - mean) / std, -clip, clip)`` in float64, returned as float32 (``clip``
    ``None``: no clipping): :meth:`RunningMeanStd.normalize` with given statistics."""
    out = (np.asarray(x, dtype=np.float64) - mean) / std
    if clip is not None:
        out = np.clip(out, -clip, clip)
    return out.astype(np.float32)


class RunningMeanStd:
    """Mean and variance of a stream of vectors (Chan et al.'s parallel update, float64).

    ``normalize(x) = clip((x - mean) / sqrt(var + eps), -clip, clip)``. ``eps`` is a floor
    on the variance: an (almost) constant entry, e.g. a DNN block's cost in the partitioning
    observations, maps to ~0 instead of amplifying rounding noise.

    Args:
        shape: Shape of one vector.
        eps: Variance floor (default 1e-4: a standard deviation floor of 0.01 for the
            [0, 1]-scaled EdgeRL observations).
        clip: Bound on the normalised values (``None``: no clipping).
    """

    def __init__(self, shape: tuple[int, ...], eps: float = 1e-4, clip: float | None = 10.0):
        if eps <= 0:
            raise ValueError(f"eps must be > 0, got {eps}")
        if clip is not None and clip <= 0:
            raise ValueError(f"clip must be > 0 or None, got {clip}")
        self.shape = tuple(shape)
        self.eps = float(eps)
        self.clip = None if clip is None else float(clip)
        self.mean = np.zeros(self.shape, np.float64)
        self.var = np.ones(self.shape, np.float64)
        self.count = 0.0

    def update(self, x: np.ndarray) -> None:
        """Add one vector ``shape`` or a batch ``(B, *shape)``."""
        x = np.asarray(x, dtype=np.float64)
        if x.shape == self.shape and self.count > 0:  # Welford's one-sample update
            self.count += 1.0
            delta = x - self.mean
            self.mean = self.mean + delta / self.count
            self.var = (self.var * (self.count - 1.0) + delta * (x - self.mean)) / self.count
            return
        batch = x.reshape(-1, *self.shape)
        n = batch.shape[0]
        if n == 0:
            return
        b_mean = batch.mean(axis=0)
        b_var = batch.var(axis=0)
        if self.count == 0:
            self.mean, self.var, self.count = b_mean, b_var, float(n)
            return
        total = self.count + n
        delta = b_mean - self.mean
        self.mean = self.mean + delta * (n / total)
        m2 = self.var * self.count + b_var * n + delta**2 * (self.count * n / total)
        self.var = m2 / total
        self.count = total

    @property
    def std(self) -> np.ndarray:
        return np.sqrt(self.var + self.eps)

    def normalize(self, x: np.ndarray) -> np.ndarray:
        return normalize(x, self.mean, self.std, self.clip)

    def torch_stats(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mean, std)`` as float32 tensors."""
        return (
            torch.as_tensor(self.mean, dtype=torch.float32),
            torch.as_tensor(self.std, dtype=torch.float32),
        )

    def normalize_torch(self, x: torch.Tensor) -> torch.Tensor:
        mean, std = self.torch_stats()
        out = (x - mean) / std
        return out if self.clip is None else out.clamp(-self.clip, self.clip)

    def normalize_f32(self, x: np.ndarray) -> np.ndarray:
        """:meth:`normalize_torch` on a float32 numpy array: the same float32 operations
        (statistics rounded to float32, then subtract, divide, clip), the same values bit
        for bit, without the tensor conversions."""
        out = (x - self.mean.astype(np.float32)) / self.std.astype(np.float32)
        return out if self.clip is None else np.clip(out, -self.clip, self.clip, out=out)

    def state_dict(self) -> dict[str, Any]:
        return {
            "mean": torch.as_tensor(self.mean),
            "var": torch.as_tensor(self.var),
            "count": float(self.count),
            "eps": self.eps,
            "clip": self.clip,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        mean = np.asarray(state["mean"], dtype=np.float64)
        if mean.shape != self.shape:
            raise ValueError(f"obs statistics have shape {mean.shape}, expected {self.shape}")
        self.mean = mean
        self.var = np.asarray(state["var"], dtype=np.float64)
        self.count = float(state["count"])
        self.eps = float(state["eps"])
        self.clip = None if state["clip"] is None else float(state["clip"])
