"""Platform load: background utilisation of edge / cloud / collaborator as multiplicative
slowdown factors ``1 / (1 - util)`` on ``d_X`` (docs/model.md §3); off by default.

A :class:`~envs.dynamics.base.BatchedProcess` whose fields are platforms, not link quantities.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from envs.dynamics.base import BatchedProcess, _check_num
from envs.model import kernels

__all__ = ["PlatformLoad"]


class PlatformLoad(BatchedProcess):
    """Background utilisation of platforms as slowdown factors on ``d_X`` (docs/model.md §3).

    Per platform ``j``, utilisation is a bounded AR(1)::

        u_t = clip(m + rho (u_{t-1} - m) + std sqrt(1 - rho^2) eps_t, 0, max_util)

    and :attr:`values` holds the factor ``1 / (1 - u_t)``, so ``d_eff = d * factor``.
    ``mean_util`` is the mean of the unclipped process; clipping at 0 / ``max_util`` shifts
    the realised mean slightly when ``std`` is large relative to ``m``. Copies start from
    ``clip(N(m, std^2))`` (stationary up to clipping); ``offset`` is ignored.

    Disabled (the default), every factor is 1 and **no randomness is consumed**, so turning
    it off leaves the rest of an env's random stream unchanged. Enabled, each reset/step
    consumes ``standard_normal((k, num_platforms))`` (also for platforms with ``std = 0``).

    Args:
        num_platforms: Number of platforms (e.g. 3 for terminal, edge, cloud).
        enabled: Whether load fluctuates.
        mean_util: Mean utilisation per platform (scalar or one per platform), in [0, max_util].
            Use 0 with ``std_util=0`` for a platform without background load.
        max_util: Upper bound of utilisation, < 1 (factor at most ``1 / (1 - max_util)``).
        rho: Per-frame AR(1) coefficient, in [0, 1).
        std_util: Stationary standard deviation of the unclipped utilisation (>= 0).
        names: Column names; default ``("platform_0", ...)``.
    """

    def __init__(
        self,
        num_platforms: int,
        enabled: bool = False,
        mean_util: float | Sequence[float] = 0.3,
        max_util: float | Sequence[float] = 0.9,
        rho: float | Sequence[float] = 0.9,
        std_util: float | Sequence[float] = 0.1,
        names: Sequence[str] | None = None,
    ) -> None:
        num_platforms = _check_num(num_platforms)
        super().__init__(
            tuple(names)
            if names is not None
            else tuple(f"platform_{i}" for i in range(num_platforms))
        )
        if len(self.fields) != num_platforms:
            raise ValueError(f"names must have {num_platforms} entries, got {self.fields}")

        def vec(name: str, x: float | Sequence[float]) -> np.ndarray:
            try:
                a = np.broadcast_to(np.asarray(x, dtype=np.float64), (num_platforms,)).copy()
            except ValueError:
                raise ValueError(
                    f"{name} must be a number or {num_platforms} numbers, got {x!r}"
                ) from None
            if not np.all(np.isfinite(a)):
                raise ValueError(f"{name} must be finite, got {x!r}")
            return a

        self.enabled = bool(enabled)
        self.mean_util = vec("mean_util", mean_util)
        self.max_util = vec("max_util", max_util)
        self.rho = vec("rho", rho)
        self.std_util = vec("std_util", std_util)
        if np.any(self.max_util < 0) or np.any(self.max_util >= 1):
            raise ValueError(f"max_util must be in [0, 1), got {max_util!r}")
        if np.any(self.mean_util < 0) or np.any(self.mean_util > self.max_util):
            raise ValueError(f"mean_util must be in [0, max_util], got {mean_util!r}")
        if np.any(self.rho < 0) or np.any(self.rho >= 1):
            raise ValueError(f"rho must be in [0, 1), got {rho!r}")
        if np.any(self.std_util < 0):
            raise ValueError(f"std_util must be >= 0, got {std_util!r}")
        self._c = self.mean_util * (1 - self.rho)
        self._innov = self.std_util * np.sqrt(1 - self.rho**2)
        self.util = np.zeros((0, num_platforms))

    def _factor(self) -> np.ndarray:
        return 1.0 / (1.0 - self.util)

    def _fresh(self, rng: np.random.Generator, k: int) -> np.ndarray:
        u = rng.standard_normal((k, len(self.fields)))
        u *= self.std_util
        u += self.mean_util
        return np.clip(u, 0.0, self.max_util, out=u)

    def reset(
        self, rng: np.random.Generator, num: int = 1, offset: int | np.ndarray | None = None
    ) -> np.ndarray:
        num = _check_num(num)
        self.util = self._fresh(rng, num) if self.enabled else np.zeros((num, len(self.fields)))
        self.values = self._factor()
        return self.values

    def _reset_rows(
        self, rng: np.random.Generator, mask: np.ndarray, offset: int | np.ndarray | None
    ) -> np.ndarray:
        if not self.enabled:
            return self.values
        self.util[mask] = self._fresh(rng, int(mask.sum()))
        self.values = self._factor()
        return self.values

    def step(self, rng: np.random.Generator) -> np.ndarray:
        self._require_reset()
        if not self.enabled:
            return self.values
        if kernels.AVAILABLE:  # one compiled pass: the same draw and operations
            self.values = np.empty_like(self.util)
            consts = self._innov, self._c, self.rho, self.max_util
            if self.util.size >= kernels.RNG_IN_KERNEL_MIN:  # drawn in the kernel
                util = np.empty_like(self.util)
                kernels.load_step_draw(rng, self.util, *consts, util, self.values)
            else:  # the draws become the new utilisation in place
                util = rng.standard_normal(self.util.shape)
                kernels.load_step(self.util, *consts, util, self.values)
            self.util = util
            return self.values
        if self.util.shape[0] == 1:
            return self._step_one(rng)
        u = rng.standard_normal(self.util.shape)
        u *= self._innov
        u += self._c
        u += self.util * self.rho
        np.maximum(u, 0.0, out=u)  # np.clip's Python wrapper costs more than two ufuncs
        np.minimum(u, self.max_util, out=u)
        self.util = u
        self.values = self._factor()
        return self.values

    def expected_factor(self, factor: np.ndarray, nodes: int = 64) -> np.ndarray:
        """The conditional mean of the next frame's factor, ``E[1 / (1 - u_t) | u_{t-1}]``,
        given this frame's ``factor = 1 / (1 - u_{t-1})`` (any shape ending in the platforms).

        The innovation is independent of everything else and the process is Markov, so this
        is the factor's expectation given the whole past. The clipped mass sits at the two
        bounds (normal tail probabilities); the interior is integrated by ``nodes``-point
        Gauss-Legendre over ``|eps| <= 8`` (the integrand is smooth there: ``u <= max_util``).
        Disabled, every factor is 1.
        """
        from scipy.special import ndtr

        factor = np.asarray(factor, dtype=np.float64)
        if not self.enabled:
            return np.ones_like(factor)
        mu = self._c + self.rho * (1.0 - 1.0 / factor)  # the unclipped mean of u_t
        top = np.broadcast_to(self.max_util, mu.shape)
        s = np.broadcast_to(self._innov, mu.shape)
        fixed = s == 0  # no innovation: u_t is the clipped mean
        s = np.where(fixed, 1.0, s)
        lo, hi = (0.0 - mu) / s, (top - mu) / s
        out = ndtr(lo) + ndtr(-hi) / (1.0 - top)  # u_t clipped to 0 (factor 1), to max_util
        a, b = np.clip(lo, -8.0, 8.0), np.clip(hi, -8.0, 8.0)
        x, w = np.polynomial.legendre.leggauss(nodes)
        half, mid = (b - a) / 2, (b + a) / 2
        eps = mid[..., None] + half[..., None] * x
        u = mu[..., None] + s[..., None] * eps
        dens = np.exp(-0.5 * eps**2) / np.sqrt(2 * np.pi)
        out = out + half * np.sum(w * dens / (1.0 - u), axis=-1)
        return np.where(fixed, 1.0 / (1.0 - np.clip(mu, 0.0, top)), out)

    def _step_one(self, rng: np.random.Generator) -> np.ndarray:
        """One copy in Python floats: the same draw and the same operations in the same
        order as the numpy path, so the same values bit for bit."""
        if not hasattr(self, "_lists"):
            self._lists = [a.tolist() for a in (self._innov, self._c, self.rho, self.max_util)]
        innov, c, rho, top = self._lists
        eps = rng.standard_normal(len(innov)).tolist()
        util = []
        for e, i, cc, r, t, u0 in zip(eps, innov, c, rho, top, self.util[0].tolist(), strict=True):
            u = e * i + cc + u0 * r
            util.append(min(max(u, 0.0), t))
        self.util = np.array([util])
        self.values = np.array([[1.0 / (1.0 - u) for u in util]])
        return self.values
