"""Native numpy-batched vector version of ``EdgeRL/EdgeScheduling-v0``.

``gymnasium.make_vec("EdgeRL/EdgeScheduling-v0", num_envs=N)`` returns an
:class:`EdgeSchedulingVectorEnv` (the id registers it as ``vector_entry_point``; the
``vectorization_mode="sync"`` / ``"async"`` wrappers of the single env stay available).

* All ``num_envs`` copies share one batched simulator
  (:class:`~envs.scheduling.batch.SchedulingBatch`): a step is one set of numpy operations
  over all copies, not a Python loop over them. Each copy replays its own task set.
* It matches the single env exactly: copy i of ``reset(seed=[s_0, ..., s_{N-1}])`` (or
  ``reset(seed=s)``, which seeds copy i with ``s + i`` as Gymnasium's sync vector env does)
  produces, step by step and bit for bit, the observations, rewards, terminations, infos
  and task sets of ``gym.make(id, max_episode_steps=T)`` reset with ``seed=s_i`` and reset
  again (without a seed) after each episode (``tests/test_scheduling_vector.py``). Each copy
  owns a generator that draws its task-set seeds, as the single env's ``np_random`` does.
* Autoreset is ``NEXT_STEP`` (Gymnasium's default): the step after a copy's episode ended
  resets that copy, ignores its action, and returns reward 0, ``terminated = truncated =
  False``, its reset observation and its reset info (with ``task_set_seed`` and
  ``num_tasks``).
* The time limit lives here (``max_episode_steps``, default 1000 as the registered single
  env; ``None`` disables it): a copy is truncated when it has taken that many steps, as
  ``TimeLimit`` does (``truncated`` may then coincide with ``terminated``).
* Infos are a dict of arrays with ``_key`` masks (the Gymnasium vector convention): every
  key of the single env's step info for every copy, plus ``task_set_seed`` and
  ``num_tasks`` where a copy was (auto)reset.
* ``reset(options=...)`` takes ``task_set_seed`` (an int for every copy, or one per copy)
  and ``repeat_task_set`` (bool, default False): when True, the autoresets of those copies
  replay the same task set again instead of drawing a new one — N episodes of one task set
  at a time, as DRLoS trains (Huang et al. Sec. 3.3.2; ``agents.drlos.rollout``). Sampled
  task sets are cached by seed, so copies replaying one task set share one sample.
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv

from envs.batching import adopt, check_vector_args
from envs.limits import check_alloc
from envs.scheduling.batch import SchedulingBatch
from envs.scheduling.env import (
    _BYTES_PER_TASK,
    RECOMMENDED_MAX_EPISODE_STEPS,
    EdgeSchedulingEnv,
    EdgeSchedulingEnvV1,
    _int_arg,
)
from envs.scheduling.tasks import TaskSet

_RESET_OPTIONS = frozenset({"task_set_seed", "repeat_task_set"})


class EdgeSchedulingVectorEnv(VectorEnv):
    """``num_envs`` copies of :class:`~envs.scheduling.env.EdgeSchedulingEnv`, batched with
    numpy (see the module docstring).

    Args:
        num_envs: Number of copies (>= 1).
        max_episode_steps: Truncation horizon in steps (``None``: never truncate).
        **kwargs: The single env's constructor arguments (``render_mode`` must be None: the
            vector env does not render).
    """

    metadata: ClassVar[dict[str, Any]] = {
        "autoreset_mode": AutoresetMode.NEXT_STEP,
        "render_modes": [],
    }
    #: the single env whose copies this batches (its constructor defaults apply)
    env_class: ClassVar[type[EdgeSchedulingEnv]] = EdgeSchedulingEnv

    def __init__(
        self,
        num_envs: int = 1,
        max_episode_steps: int | None = RECOMMENDED_MAX_EPISODE_STEPS,
        **kwargs: Any,
    ) -> None:
        if kwargs.get("render_mode") is not None:
            raise ValueError(
                f"render_mode must be None for the vector env (it does not render), got "
                f"{kwargs['render_mode']!r}"
            )
        self._setup(self.env_class(**kwargs), num_envs, max_episode_steps)

    @classmethod
    def from_env(
        cls,
        env: Any,
        num_envs: int,
        max_episode_steps: int | None = RECOMMENDED_MAX_EPISODE_STEPS,
    ) -> EdgeSchedulingVectorEnv:
        """``num_envs`` copies of the configuration of ``env`` (a single scheduling env,
        possibly wrapped; its state is not touched)."""
        base = getattr(env, "unwrapped", env)
        if not isinstance(base, EdgeSchedulingEnv):
            raise ValueError(f"env must be an EdgeSchedulingEnv, got {type(base).__name__}")
        self = cls.__new__(cls)
        self._setup(copy.deepcopy(base), num_envs, max_episode_steps)
        return self

    def _setup(self, env: EdgeSchedulingEnv, num_envs: Any, max_episode_steps: Any) -> None:
        num_envs, self.max_episode_steps = check_vector_args(num_envs, max_episode_steps)
        # Per copy: several observation-sized float32 arrays, the visible-task temporaries
        # and a task set (the single env's per-task estimate).
        tasks = env.arrival_process.expected_tasks
        per_copy = 16.0 * env.obs_layout.size + 64.0 * env.buffer_size + _BYTES_PER_TASK * tasks
        check_alloc(
            "num_envs",
            float(num_envs) * per_copy,
            f"{num_envs} copies of about {per_copy:.3g} bytes of observations, step "
            "temporaries and task set each",
        )
        self.env = env
        adopt(self, env, num_envs, self.SHARED)
        self.render_mode = None
        self.batch = SchedulingBatch(env, self.num_envs)
        n = self.num_envs
        self._t = np.zeros(n, dtype=np.int64)
        self._autoreset = np.zeros(n, dtype=bool)
        self._rngs: list[np.random.Generator | None] = [None] * n
        self._task_set_seed = np.zeros(n, dtype=np.int64)
        self._repeat = np.zeros(n, dtype=bool)
        self._cache: OrderedDict[int, TaskSet] = OrderedDict()
        self._cache_size = 2 * n + 8
        self._started = False

    # -------------------------------------------------------------- configuration
    #: read-only configuration of the single env, exposed as the vector env's own attributes
    SHARED: ClassVar[tuple[str, ...]] = (
        "num_servers", "buffer_size", "action_mode", "capacities", "obs_layout",
    )  # fmt: skip

    def task_set(self, task_set_seed: int) -> TaskSet:
        """Task set number ``task_set_seed`` of this configuration (cached by seed)."""
        k = _int_arg("task_set_seed", task_set_seed, 0, None)
        tasks = self._cache.get(k)
        if tasks is None:
            tasks = self.env.task_set(k)
            self._cache[k] = tasks
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(k)
        return tasks

    def task_latency_ms(self, index: int) -> np.ndarray:
        """Latency of every task of copy ``index``'s current episode (NaN: not placed yet)."""
        self._require_reset()
        index = _int_arg("index", index, 0, self.num_envs - 1)
        return self.batch.latency_ms[index, : self.batch.timeline.size[index]].copy()

    # ------------------------------------------------------------------ vector API
    def reset(
        self,
        *,
        seed: int | Sequence[int | None] | None = None,
        options: dict[str, Any] | None = None,
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset every copy (see the module docstring for ``seed`` and ``options``)."""
        n = self.num_envs
        seeds = self._check_seeds(seed)
        task_sets, repeat = self._check_options(options)
        for j, s in enumerate(seeds):
            if s is not None or self._rngs[j] is None:
                self._rngs[j] = seeding.np_random(s)[0]
        self._repeat[:] = repeat
        rows = np.arange(n)
        self._reset_rows(rows, task_sets)
        self._t[:] = 0
        self._autoreset[:] = False
        self._started = True
        infos = self._infos(np.zeros(n), None)
        _add_reset_infos(infos, rows, self._task_set_seed, self.batch.timeline.size, n)
        return self.batch.observation(), infos

    def step(
        self, actions: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """One step of every copy; copies whose episode ended last step are reset instead."""
        self._require_reset()
        n = self.num_envs
        acts = self._check_actions(actions)
        resetting = self._autoreset
        active = ~resetting
        zeros = np.zeros(n, dtype=bool)
        if not resetting.any():
            res = self.batch.step(acts)
            rewards, terminated = res.reward, res.terminated
            latency, variance = res.mean_latency_ms, res.variance
        elif active.any():
            res = self.batch.step(acts, active)
            rewards = np.where(active, res.reward, 0.0)
            terminated = res.terminated & active
            latency = np.where(active, res.mean_latency_ms, 0.0)
            variance = res.variance
        else:
            rewards, terminated, latency, variance = np.zeros(n), zeros.copy(), np.zeros(n), None
        self._t += active
        truncated = (
            active & (self._t >= self.max_episode_steps)
            if self.max_episode_steps is not None
            else zeros.copy()
        )
        rows = np.flatnonzero(resetting)
        if rows.size:
            self._reset_rows(rows, None)
            self._t[rows] = 0
            variance = None  # the reset copies' utilisation changed
        infos = self._infos(latency, variance)
        if rows.size:
            _add_reset_infos(infos, rows, self._task_set_seed, self.batch.timeline.size, n)
        self._autoreset = terminated | truncated
        return self.batch.observation(), rewards, terminated, truncated, infos

    def close_extras(self, **kwargs: Any) -> None:
        env = self.__dict__.get("env")  # absent when the constructor failed
        if env is not None:
            env.close()

    # ------------------------------------------------------------------ internals
    def _require_reset(self) -> None:
        if not self.__dict__.get("_started", False):
            raise RuntimeError(f"{type(self).__name__}: call reset() before step()")

    def _reset_rows(self, rows: np.ndarray, task_sets: np.ndarray | None) -> None:
        """Draw (or keep) each copy's task-set seed and restart those copies on it."""
        for j in rows.tolist():
            if task_sets is not None:
                self._task_set_seed[j] = task_sets[j]
            elif not self._repeat[j]:  # as the single env's reset() without options
                rng = self._rngs[j]
                assert rng is not None
                self._task_set_seed[j] = int(rng.integers(2**63 - 1))
        sets = [self.task_set(int(self._task_set_seed[j])) for j in rows.tolist()]
        self.batch.reset_rows(rows.tolist(), sets)

    def _infos(self, mean_latency_ms: np.ndarray, variance: np.ndarray | None) -> dict[str, Any]:
        infos: dict[str, Any] = self.batch.info_arrays(mean_latency_ms, variance)
        valid = np.ones(self.num_envs, dtype=bool)
        valid.setflags(write=False)
        for key in list(infos):
            infos["_" + key] = valid
        return infos

    def _check_seeds(self, seed: Any) -> list[int | None]:
        n = self.num_envs
        if seed is None:
            return [None] * n
        if isinstance(seed, Sequence | np.ndarray) and not isinstance(seed, str | bytes):
            if len(seed) != n:
                raise ValueError(
                    f"seed must be None, an integer >= 0 or {n} such seeds (one per copy, "
                    f"None allowed), got {len(seed)}"
                )
            return [None if s is None else _int_arg("seed", s, 0, None) for s in seed]
        s = _int_arg("seed", seed, 0, None)
        return [s + i for i in range(n)]

    def _check_options(self, options: Any) -> tuple[np.ndarray | None, bool]:
        """(task-set seed per copy, -1 = draw; or None) and ``repeat_task_set``."""
        if options is None:
            return None, False
        if not isinstance(options, Mapping):
            raise ValueError(
                f"options must be a dict (or None) with keys among {sorted(_RESET_OPTIONS)}, "
                f"got {type(options).__name__}"
            )
        if unknown := set(options) - _RESET_OPTIONS:
            raise ValueError(
                f"reset options: unknown keys {sorted(unknown, key=repr)}; allowed "
                f"{sorted(_RESET_OPTIONS)}"
            )
        repeat = options.get("repeat_task_set", False)
        if not isinstance(repeat, bool | np.bool_):
            raise ValueError(f"options['repeat_task_set'] must be true or false, got {repeat!r}")
        k = options.get("task_set_seed")
        if k is None:
            return None, bool(repeat)
        n = self.num_envs
        if isinstance(k, Sequence | np.ndarray) and not isinstance(k, str | bytes):
            if len(k) != n:
                raise ValueError(
                    f"options['task_set_seed'] must be an integer >= 0 or {n} of them (one "
                    f"per copy), got {len(k)}"
                )
            ks = [_int_arg(f"options['task_set_seed'][{i}]", v, 0, None) for i, v in enumerate(k)]
        else:
            ks = [_int_arg("options['task_set_seed']", k, 0, None)] * n
        return np.array(ks, dtype=np.int64), bool(repeat)

    def _check_actions(self, actions: Any) -> np.ndarray:
        n, m, big_m = self.num_envs, self.num_servers, self.buffer_size
        try:
            a = np.asarray(actions)
        except (TypeError, ValueError):  # ragged sequences and other non-arrays
            a = np.zeros((0,), dtype=object)
        if self.action_mode == "shares":
            k = 2**m
            if (
                a.shape != (n,)
                or a.dtype.kind not in "iu"
                or (a.size and (a.min() < 0 or a.max() >= k))
            ):
                raise ValueError(
                    f"actions must be {n} integers in [0, {k}) (one Discrete({k}) action per "
                    f"copy, 'shares' mode), got shape {a.shape} dtype {a.dtype}"
                    + (f" min {a.min()} max {a.max()}" if a.size and a.dtype.kind in "iu" else "")
                )
        elif (
            a.shape != (n, big_m)
            or a.dtype.kind not in "iu"
            or (a.size and (a.min() < 0 or a.max() > m))
        ):
            raise ValueError(
                f"actions must have shape ({n}, {big_m}) with integers in [0, {m}] (one "
                f"MultiDiscrete([{m + 1}] * {big_m}) action per copy, 'assign' mode; {m} = keep "
                f"waiting), got shape {a.shape} dtype {a.dtype}"
            )
        return a.astype(np.int64, copy=False)


def _add_reset_infos(
    infos: dict[str, Any], rows: np.ndarray, seeds: np.ndarray, sizes: np.ndarray, n: int
) -> None:
    """``task_set_seed`` and ``num_tasks`` of the copies ``rows`` that were (auto)reset."""
    mask = np.zeros(n, dtype=bool)
    mask[rows] = True
    mask.setflags(write=False)
    infos["task_set_seed"] = np.where(mask, seeds, 0)
    infos["_task_set_seed"] = mask
    infos["num_tasks"] = np.where(mask, sizes, 0)
    infos["_num_tasks"] = mask


class EdgeSchedulingVectorEnvV1(EdgeSchedulingVectorEnv):
    """The native vector env of ``EdgeRL/EdgeScheduling-v1`` (copies of
    :class:`~envs.scheduling.env.EdgeSchedulingEnvV1`, v1's defaults)."""

    env_class: ClassVar[type[EdgeSchedulingEnv]] = EdgeSchedulingEnvV1
