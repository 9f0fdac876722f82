"""Native numpy-batched vector versions of the partitioning envs (no Python loop over envs).

``gymnasium.make_vec("EdgeRL/MECPartition-v0", num_envs=4096)`` returns a
:class:`MECPartitionVectorEnv` (the ids register it as ``vector_entry_point``).

* All ``num_envs`` copies share one simulator (:mod:`envs.partition.sim`) with batched link,
  load and candidate processes, one batched cost evaluation
  (:meth:`ChainCostModel.evaluate`) and one batched oracle (:meth:`Oracle.solve_batch`)
  per step.
* Autoreset is ``NEXT_STEP`` (Gymnasium's default): the step after an episode ends resets
  that copy, ignores its action and returns reward 0 and its reset observation.
* The time limit lives here (``max_episode_steps``, default 100; ``None`` disables it):
  a copy is truncated when it has taken that many steps. There is no termination.
* Infos are a dict of arrays with ``_key`` masks (the Gymnasium vector convention); the
  keys are those of the single env, batched; ``network`` is a dict of arrays.
* Randomness comes from one generator (``np_random``) shared by all copies: with
  ``num_envs=1`` the vector env reproduces the single env draw for draw (same seed, same
  actions -> same observations and decisions; costs agree to float rounding since the
  single env evaluates with the scalar path). With ``num_envs > 1`` each copy is an
  independent episode of the same distribution, but copy ``i`` is not the single env
  seeded ``seed + i``. ``reset(seed=[...])`` seeds the shared generator from the list.
* Speed: at thousands of envs a step is a few dozen numpy calls on ``(num_envs, n)``
  arrays. The simulator draws each distribution with one RNG call into preallocated
  buffers and keeps its scratch arrays between steps (fresh multi-MB temporaries make
  glibc trim its heap after a step and the next step page-fault it back in); what
  trimming is left (cost evaluation, the returned arrays) :func:`tune_malloc` (opt-in,
  process-wide) removes: see ``benchmarks/bench_envs.py``.
"""

from __future__ import annotations

import ctypes
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv

from envs.batching import adopt, check_vector_args
from envs.limits import check_alloc
from envs.model.chain import CostBreakdown
from envs.partition.common import DEFAULT_MAX_EPISODE_STEPS, check_options, check_seed
from envs.partition.env import (
    D2DPartitionEnv,
    D2DPartitionEnvV1,
    MECPartitionEnv,
    MECPartitionEnvV1,
    PartitionEnv,
)
from envs.problem import PartitionProblem


class PartitionVectorEnv(VectorEnv):
    """``num_envs`` copies of a partitioning env, batched with numpy (see module docstring).

    Args:
        num_envs: Number of copies (>= 1).
        max_episode_steps: Truncation horizon in frames (``None``: never truncate).
        **kwargs: The single env's constructor arguments.
    """

    env_class: ClassVar[type[PartitionEnv]]
    metadata: ClassVar[dict[str, Any]] = {
        "autoreset_mode": AutoresetMode.NEXT_STEP,
        "render_modes": [],
    }

    def __init__(
        self,
        num_envs: int = 1,
        max_episode_steps: int | None = DEFAULT_MAX_EPISODE_STEPS,
        **kwargs: Any,
    ) -> None:
        num_envs, self.max_episode_steps = check_vector_args(num_envs, max_episode_steps)
        # The single env holds the configuration, cost model, oracle and the simulator.
        self.env = self.env_class(**kwargs)
        self.sim = self.env.sim
        # per copy: the observation, the decision and cost temporaries, the (P, P) link
        # matrices and the oracle's (n, P, P) tables, D2D candidates; an estimate, in bytes
        n, P = self.env.n_blocks, self.env.num_platforms
        m = getattr(self.sim, "m", 0)
        per_copy = 8 * (self.sim.obs_dim + 8 * n * P * P + 16 * n + 32 * m)
        check_alloc(
            "num_envs",
            float(num_envs) * per_copy,
            f"{num_envs} copies of about {per_copy} bytes of state and step temporaries each",
        )
        adopt(self, self.env, num_envs, self.SHARED)
        self._t = np.zeros(self.num_envs, dtype=np.int64)
        self._autoreset = np.zeros(self.num_envs, dtype=bool)
        self._ones = np.ones(self.n_blocks)

    # ------------------------------------------------------------ shared parts
    #: read-only parts of the single env the vector env exposes as its own attributes (the
    #: same objects: one cost model, oracle and profile per configuration)
    SHARED: ClassVar[tuple[str, ...]] = (
        "scenario", "profile", "params", "cost_model", "oracle", "n_blocks", "num_platforms",
        "action_to_decision", "decision_to_action", "ratio_features",
    )  # fmt: skip

    @property
    def problem(self) -> PartitionProblem:
        """The batched frame (``B = num_envs``) the next actions are evaluated on."""
        self._require_reset()
        return PartitionProblem(
            self.cost_model, self.sim.links_batch(), self.sim.slowdown.copy(), **self.params.cost_kw
        )

    @property
    def measured_problem(self) -> PartitionProblem:
        """The batched frame as the agents observe it (see :attr:`PartitionEnv.measured_problem`)."""
        self._require_reset()
        return PartitionProblem(
            self.cost_model,
            self.sim.links_batch(measured=True),
            np.array(self.sim.obs_slowdown),
            **self.params.cost_kw,
        )

    def _require_reset(self) -> None:
        if self.sim.num != self.num_envs:
            raise RuntimeError(f"{type(self).__name__}: call reset() before step()/problem")

    # --------------------------------------------------------------- vector API
    def reset(
        self,
        *,
        seed: int | Sequence[int] | None = None,
        options: dict[str, Any] | None = None,
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset every copy; ``options={"offset": k}`` (int or one per copy) fixes trace offsets."""
        if seed is not None:
            if isinstance(seed, Sequence | np.ndarray):
                seq = np.random.SeedSequence([check_seed(s) for s in seed])
                self._np_random = np.random.Generator(np.random.PCG64(seq))
                self._np_random_seed = -1
            else:
                self._np_random, self._np_random_seed = seeding.np_random(check_seed(seed))
        offset = check_options(options)
        if offset is not None and np.ndim(offset) not in (0, 1):
            raise ValueError(f"options['offset'] must be an int or one int per env, got {offset!r}")
        if offset is not None and np.ndim(offset) == 1 and np.shape(offset) != (self.num_envs,):
            raise ValueError(
                f"options['offset'] array must have shape ({self.num_envs},), got {np.shape(offset)}"
            )
        self.sim.reset(self.np_random, self.num_envs, offset=offset)
        if self.env.history is not None:
            self.env.history.restart()
        self._t[:] = 0
        self._autoreset[:] = False
        return self.env.observe_batch(), {}

    def step(
        self, actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Evaluate one action per copy on its frame, advance, and autoreset finished copies."""
        self._require_reset()
        num, n = self.num_envs, self.n_blocks
        if self._autoreset.all():  # every copy ended last step: a plain reset, as the single env
            obs, _ = self.reset()
            zeros = np.zeros(num, dtype=bool)
            return obs, np.zeros(num), zeros, zeros.copy(), {}
        env, sim, rng = self.env, self.sim, self.np_random
        fused = env.fused_frame(actions)
        if fused is None:
            decision = env.action_to_decision(actions)
            if decision.shape != (num, n):
                raise ValueError(f"actions must have shape ({num}, {n}), got {np.shape(actions)}")
            decision, res, exp, opt = env.frame_outcome(decision, rng)
            dist = self._distribution(decision)
        else:  # the same numbers in one compiled pass (v1 without early exits)
            decision, out, dist = fused
            res = exp = CostBreakdown(*out[:4])
            opt = out[4] if self.params.oracle else None
        infos: dict[str, Any] = {
            "decision": decision,
            "network": sim.network_batch(),
            "latency_ms": res.latency_ms,
            "energy_j": res.energy_j,
        }
        if self.scenario == "mec":
            infos["overhead"] = res.overhead
        infos["cost"] = res.cost
        infos["expected_cost"] = exp.cost
        if opt is not None:
            infos["optimal_cost"] = opt
            with np.errstate(divide="ignore", invalid="ignore"):
                infos["gap"] = np.where(opt > 0, exp.cost / opt - 1.0, 0.0)
        infos["distribution"] = dist
        if self.scenario == "d2d":
            infos["collaborator"] = infos["network"]["collaborator"].copy()
            infos["no_collaborator"] = infos["collaborator"] < 0
        rewards = -self.params.reward_scale * res.cost

        sim.step(rng)
        if env.history is not None:
            env.history.advance()
        self._t += 1
        truncated = (
            self._t >= self.max_episode_steps
            if self.max_episode_steps is not None
            else np.zeros(num, dtype=bool)
        )
        valid = ~self._autoreset
        if self._autoreset.any():  # some copies ended last step: reset them, ignore their action
            mask = self._autoreset
            sim.reset_where(rng, mask)
            if env.history is not None:
                env.history.restart(mask)
            self._t[mask] = 0
            truncated[mask] = False
            rewards[mask] = 0.0
        self._autoreset = truncated.copy()
        _add_masks(infos, valid)
        terminated = np.zeros(num, dtype=bool)
        return env.observe_batch(), rewards, terminated, truncated, infos

    def _distribution(self, decision: np.ndarray) -> np.ndarray:
        """Share of blocks per platform, ``(num, P)``: counts by a matrix-vector product per
        platform (exact for 0/1 entries), far faster than a bincount over ``num * P`` bins."""
        num, n, P = self.num_envs, self.n_blocks, self.num_platforms
        counts = np.empty((num, P))
        for p in range(1, P):
            np.matmul(decision == p, self._ones, out=counts[:, p])
        counts[:, 0] = n
        counts[:, 0] -= counts[:, 1:].sum(1) if P > 2 else counts[:, 1]
        return np.divide(counts, n, out=counts)

    def close_extras(self, **kwargs: Any) -> None:
        env = self.__dict__.get("env")  # absent when the constructor failed
        if env is not None:
            env.close()


def tune_malloc(top_pad_bytes: int = 64 << 20) -> bool:
    """Keep ``top_pad_bytes`` of padding at the top of the glibc heap (``mallopt(M_TOP_PAD)``).

    A step at thousands of envs allocates and frees many ~0.5 MB numpy temporaries; glibc
    then trims the heap after each step and the next step page-faults it back in, which
    can cost as much as the arithmetic. Padding the heap avoids that (up to ~1.5x more
    env-steps/s at 4096 envs on a 2-core machine, depending on where trimming hits). Process-wide and opt-in: call it once
    before a large-batch run (equivalently, set ``MALLOC_TOP_PAD_=67108864``). Returns
    False where glibc's ``mallopt`` is unavailable.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    m_top_pad = -2  # glibc malloc.h
    return bool(libc.mallopt(m_top_pad, int(top_pad_bytes)))


def _add_masks(infos: dict[str, Any], valid: np.ndarray) -> None:
    """Gymnasium's ``_key`` masks, recursively (one shared read-only mask array)."""
    valid = valid.copy()
    valid.setflags(write=False)
    for key in list(infos):
        if isinstance(infos[key], dict):
            _add_masks(infos[key], valid)
        infos["_" + key] = valid


class MECPartitionVectorEnv(PartitionVectorEnv):
    """Batched :class:`~envs.partition.env.MECPartitionEnv`; same arguments plus ``num_envs``
    and ``max_episode_steps`` (see the module docstring)."""

    env_class = MECPartitionEnv


class D2DPartitionVectorEnv(PartitionVectorEnv):
    """Batched :class:`~envs.partition.env.D2DPartitionEnv`; same arguments plus ``num_envs``
    and ``max_episode_steps`` (see the module docstring)."""

    env_class = D2DPartitionEnv


class MECPartitionVectorEnvV1(MECPartitionVectorEnv):
    """Batched :class:`~envs.partition.env.MECPartitionEnvV1` (``EdgeRL/MECPartition-v1``)."""

    env_class = MECPartitionEnvV1


class D2DPartitionVectorEnvV1(D2DPartitionVectorEnv):
    """Batched :class:`~envs.partition.env.D2DPartitionEnvV1` (``EdgeRL/D2DPartition-v1``)."""

    env_class = D2DPartitionEnvV1
