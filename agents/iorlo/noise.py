"""Action-space exploration noise for IoRLO (Ren et al. Sec. 4.2.2: noise on the sigmoid output).

Both processes draw from a passed numpy Generator (the agent's), so runs are reproducible,
and both expose ``sigma`` (the agent may decay it) and ``reset()`` (called per episode).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np


class GaussianNoise:
    """Independent ``N(0, sigma^2)`` per entry and step."""

    def __init__(self, act_dim: int, sigma: float, rng: np.random.Generator) -> None:
        if sigma < 0:
            raise ValueError(f"noise_sigma must be >= 0, got {sigma}")
        self.act_dim, self.sigma, self.rng = int(act_dim), float(sigma), rng

    def __call__(self) -> np.ndarray:
        return self.rng.normal(0.0, self.sigma, self.act_dim).astype(np.float32)

    def reset(self) -> None:
        pass

    def state_dict(self) -> dict[str, Any]:
        return {"kind": "gaussian", "sigma": self.sigma}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.sigma = float(state["sigma"])


class OUNoise:
    """Ornstein-Uhlenbeck noise as in the DDPG paper: ``x += θ(μ - x)dt + σ√dt N(0, 1)``.

    Temporally correlated; the stationary standard deviation is ``σ / sqrt(2θ - θ²dt)``
    (≈ 1.9σ for θ = 0.15, dt = 1). Reset to ``μ`` at every episode start.
    """

    def __init__(
        self,
        act_dim: int,
        sigma: float,
        rng: np.random.Generator,
        theta: float = 0.15,
        dt: float = 1.0,
        mu: float = 0.0,
    ) -> None:
        if sigma < 0:
            raise ValueError(f"noise_sigma must be >= 0, got {sigma}")
        if not 0 < theta * dt <= 1:
            raise ValueError(f"ou_theta * ou_dt must be in (0, 1], got {theta * dt}")
        self.act_dim, self.sigma, self.rng = int(act_dim), float(sigma), rng
        self.theta, self.dt, self.mu = float(theta), float(dt), float(mu)
        self.x = np.full(self.act_dim, self.mu)

    def __call__(self) -> np.ndarray:
        self.x = (
            self.x
            + self.theta * (self.mu - self.x) * self.dt
            + self.sigma * np.sqrt(self.dt) * self.rng.standard_normal(self.act_dim)
        )
        return self.x.astype(np.float32)

    def reset(self) -> None:
        self.x = np.full(self.act_dim, self.mu)

    def state_dict(self) -> dict[str, Any]:
        return {"kind": "ou", "sigma": self.sigma, "x": self.x.tolist()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.sigma = float(state["sigma"])
        self.x = np.asarray(state["x"], dtype=np.float64)
