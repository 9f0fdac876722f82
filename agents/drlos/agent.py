"""DRLoS: REINFORCE with a per-timestep baseline over repeated task sets (Huang et al. Sec. 3.3.2).

The policy (:class:`~agents.drlos.networks.PolicyNetwork`, one hidden layer of 20) maps a
scheduling observation to a softmax over the ``2^m`` share actions of
``EdgeRL/EdgeScheduling-v0`` (docs/model.md §8). Training follows DeepRM (Mao et al., 2016), which
the paper cites for it::

    for each iteration:
        k = a fresh task set
        roll out N episodes of task set k with the stochastic policy     (rollout.py)
        G[j, t] = Σ_{t' >= t} γ^{t'-t} r[j, t']                           (discounted_returns)
        b[t]    = mean of G[j, t] over the episodes j still running at t  (time_baseline)
        loss    = -mean over all taken steps (j, t) of log π(a[j,t] | s[j,t]) · (G[j,t] - b[t])
                  - entropy_coef · mean entropy
        one Adam step on loss

Episodes of one task set differ only through the sampled actions, so they end at different
steps. They are padded to the longest one, T, as ``(N, T)`` arrays with a mask; the returns
and the baseline are computed for all (j, t) at once, without a loop over time steps.
An episode that has ended has return 0 from then on (the terminal state is absorbing).
``baseline="running"`` (default) averages G[·, t] over the episodes still running at t, so
ended episodes do not pull the baseline towards 0; ``baseline="zeros"`` is DeepRM's code
(returns padded with zeros, averaged over all N). Both are per-timestep baselines; they differ
only at the steps after the shortest episode has ended. The advantage of padded entries is
masked out either way.

Defaults are the paper's: hidden 20, lr 0.001, N = 20, γ = 1, no entropy bonus.
Readings and additions (all configurable, documented in :class:`DRLoSConfig`):

- ``features="pooled"`` (default) shares the first layer's weights across the M buffer slots
  (see :mod:`agents.drlos.networks`); ``"raw"`` is the literal flat observation. With the
  raw input REINFORCE learns a state-independent action mix within our budget (its greedy
  action is then one fixed share vector, worse than Closest); the pooled input learns a
  state-dependent balancing rule.
- The paper does not say how DRLoS acts at test time; :meth:`DRLoS.predict` defaults to the
  greedy (argmax) action, the fast actor is greedy, and ``deterministic=False`` samples.
- Reward: the env's. With the paper's ``lambda_wait=0`` a policy can lower the variance by
  holding tasks back (all-low shares); train with ``lambda_wait=0.01`` for a scheduler that
  also keeps latency low (``benchmarks/bench_drlos.py`` reports both).

Determinism: the initial weights and the action sampling use one ``torch.Generator`` seeded
with ``seed``; the training task sets come from ``np.random.default_rng(seed)``. The same
seed, env configuration and torch build give the same run, and a checkpoint (weights,
optimizer, iteration, both RNG states) resumes it exactly (:meth:`DRLoS.load`).
"""

from __future__ import annotations

import math
import os
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, ClassVar, Self

import numpy as np
import torch

from agents.common import rules
from agents.common.checkpoint import (
    CheckpointMixin,
    env_signature,
    history_columns,
    history_rows,
    numpy_rng_state,
    set_numpy_rng_state,
)
from agents.common.envcheck import scheduling_base
from agents.common.evaluation import DEFAULT_EVAL_SEEDS
from agents.common.fast_actor import NumpyActor, mlp_actor_spec
from agents.common.logger import RunLogger
from agents.common.threads import torch_threads
from agents.drlos.networks import ACTIVATIONS, FEATURES, PolicyNetwork, pooling_matrix
from agents.drlos.rollout import (
    RolloutBatch,
    collect_rollouts,
    make_rollout_envs,
    max_episode_steps,
)
from envs.scheduling.env import EdgeSchedulingEnv
from envs.scheduling.vector import EdgeSchedulingVectorEnv

ALGO = "drlos"
BASELINES: tuple[str, ...] = ("running", "zeros")
# Env settings that keep the spaces but change what a share action or an observation means.
SEMANTIC_FIELDS: tuple[str, ...] = ("capacities", "eta", "queue_limit")


# ----------------------------------------------------------------- returns, baseline
def discounted_returns(rewards: np.ndarray, mask: np.ndarray, gamma: float) -> np.ndarray:
    """``G[j, t] = Σ_{t' >= t} γ^{t'-t} r[j, t']`` for padded ``(N, T)`` rewards.

    Entries where ``mask`` is False count as reward 0, so ``G`` is 0 after an episode's end.
    γ = 1 is a reversed cumulative sum; otherwise ``G = r Γᵀ`` with the upper-triangular
    ``Γ[t, t'] = γ^{t'-t}`` (T ≤ the episode limit, so Γ stays small).
    """
    r = np.where(mask, np.asarray(rewards, dtype=np.float64), 0.0)
    if gamma == 1.0:
        return np.cumsum(r[:, ::-1], axis=1)[:, ::-1]
    t = np.arange(r.shape[1])
    lag = t[None, :] - t[:, None]  # lag[t, t'] = t' - t
    discount = np.where(lag >= 0, float(gamma) ** np.maximum(lag, 0), 0.0)
    return r @ discount.T


def time_baseline(returns: np.ndarray, mask: np.ndarray, mode: str = "running") -> np.ndarray:
    """Per-timestep baseline ``b[t]`` (T,) from the returns of N episodes of one task set.

    ``"running"``: mean of ``returns[j, t]`` over the episodes with ``mask[j, t]`` (0 where
    none runs). ``"zeros"`` (DeepRM): mean over all N, ended episodes contributing 0.
    """
    if mode not in BASELINES:
        raise ValueError(f"baseline must be one of {BASELINES}, got {mode!r}")
    g = np.where(mask, returns, 0.0)
    if mode == "zeros":
        return g.mean(axis=0)
    return g.sum(axis=0) / np.maximum(mask.sum(axis=0), 1)


# ----------------------------------------------------------------------- config
@dataclass(frozen=True)
class DRLoSConfig:
    """DRLoS hyperparameters (paper values where it gives them).

    | field | default | meaning |
    |---|---|---|
    | ``hidden`` | 20 | hidden widths of the policy (paper: one layer of 20) |
    | ``activation`` | ``"relu"`` | hidden activation (``"relu"``/``"tanh"``) |
    | ``features`` | ``"pooled"`` | policy input, ``"pooled"`` or ``"raw"`` (see the module doc) |
    | ``lr`` | 1e-3 | Adam learning rate (paper: 0.001; 1e-2 learns ~5x faster, see the benchmark) |
    | ``n_rollouts`` | 20 | N, episodes per task set (paper: 20); >= 2 for a baseline |
    | ``gamma`` | 1.0 | discount (paper: 1) |
    | ``baseline`` | ``"running"`` | ``"running"`` or ``"zeros"`` (DeepRM), see :func:`time_baseline` |
    | ``entropy_coef`` | 0.0 | entropy bonus weight (paper: none) |
    | ``max_grad_norm`` | ``None`` | gradient clipping (``None``: off) |
    | ``max_steps`` | ``None`` | cut rollouts after this many steps (``None``: the env's TimeLimit, else 1000) |
    | ``seed`` | 0 | seeds the initial weights, action sampling and training task sets |
    | ``torch_threads`` | 1 | ``torch.set_num_threads`` during ``learn`` (``None``: leave as is) |
    """

    hidden: int | tuple[int, ...] = rules.param(20, rules.Rule("ints", lo=1))
    activation: str = rules.param("relu", rules.choice(*ACTIVATIONS))
    features: str = rules.param("pooled", rules.choice(*FEATURES))
    lr: float = rules.param(1e-3, rules.unit_interval(lo_open=True))
    n_rollouts: int = rules.param(
        20, rules.Rule("int", lo=2, note="the baseline averages over episodes")
    )
    gamma: float = rules.param(1.0, rules.unit_interval())
    baseline: str = rules.param("running", rules.choice(*BASELINES))
    entropy_coef: float = rules.param(0.0, rules.non_negative())
    max_grad_norm: float | None = rules.param(None, rules.positive(none_ok=True))
    max_steps: int | None = rules.param(None, rules.Rule("int", lo=1, none_ok=True))
    seed: int = rules.param(0, rules.non_negative("int"))
    torch_threads: int | None = rules.param(1, rules.Rule("int", lo=1, none_ok=True))

    def __post_init__(self) -> None:
        rules.check_fields(self)
        if isinstance(self.hidden, list):
            object.__setattr__(self, "hidden", tuple(self.hidden))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        if isinstance(d["hidden"], tuple):
            d["hidden"] = list(d["hidden"])
        return d


def _is_int(v: Any) -> bool:
    return isinstance(v, int | np.integer) and not isinstance(v, bool)


def scheduling_config(env: Any) -> dict[str, Any]:
    """The scheduling env's settings, recorded in checkpoints for provenance."""
    base = env.unwrapped
    return {
        "num_servers": int(base.num_servers),
        "capacities": [int(c) for c in base.capacities],
        "buffer_size": int(base.buffer_size),
        "load": float(base.load),
        "eta": float(base.eta),
        "lambda_wait": float(base.lambda_wait),
        "lambda_drop": float(base.lambda_drop),
        "queue_limit": base.queue_limit,
        "rpc_latency_ms": float(base.rpc_latency_ms),
        "slot_ms": float(base.slot_ms),
    }


# ------------------------------------------------------------------- shared base
class TaskSetReinforce(CheckpointMixin):
    """What DRLoS and DRLoS+ share: the set-up, the training loop (per iteration: N rollouts
    of one fresh task set, one REINFORCE update) and the checkpoints.

    A subclass sets ``algo``, ``label`` (its name in error messages), ``default_config``,
    ``net_key`` (the attribute holding the network, also its key in :meth:`state_dict`) and
    ``summary_tag`` (the hparams metric of a run without evaluation), and implements
    ``collect``, ``update``, :meth:`rollout_stats`, ``evaluate`` and ``actor_state``.
    """

    label: ClassVar[str]
    net_key: ClassVar[str]
    summary_tag: ClassVar[str]
    default_config: ClassVar[Any]

    def _setup(
        self, env: Any, logger: RunLogger | None, kwargs: Mapping[str, Any], action_mode: str,
        why: str,
    ) -> EdgeSchedulingEnv:  # fmt: skip
        """Config, env checks, generators and counters; returns the unwrapped env."""
        known = {f.name for f in fields(self.default_config)}
        if bad := sorted(set(kwargs) - known):
            raise ValueError(f"unknown {self.label} argument(s) {bad}; known: {sorted(known)}")
        self.config = cfg = replace(self.default_config, **kwargs)
        base = scheduling_base(env.unwrapped, self.label, action_mode, why)
        self.env = env
        self.signature = env_signature(env)
        self.scheduling = scheduling_config(env)
        self.max_steps = cfg.max_steps or max_episode_steps(env)
        self.logger = logger if logger is not None else RunLogger()
        self.torch_gen = torch.Generator().manual_seed(cfg.seed)  # init + training samples
        self.rng = np.random.default_rng(cfg.seed)  # training task sets
        self.iteration = 0
        self.num_timesteps = 0
        self.history: list[dict[str, float]] = []
        return base

    @property
    def network(self) -> torch.nn.Module:
        """The trained network (the attribute named ``net_key``)."""
        return getattr(self, self.net_key)

    def rollout_stats(self, batch: Any) -> tuple[int, dict[str, float]]:
        """The env steps of a ``collect`` batch and its means (``charts/*``)."""
        raise NotImplementedError

    def _gradient_step(
        self, loss: torch.Tensor, policy_loss: torch.Tensor, entropy: torch.Tensor
    ) -> dict[str, float]:
        """One Adam step on ``loss``, the gradient clipped to ``max_grad_norm`` (``inf`` only
        measures its norm, for the logs); returns ``policy_loss``, ``entropy``, ``grad_norm``."""
        self.optimizer.zero_grad()
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(
            self.network.parameters(), self.config.max_grad_norm or math.inf
        )
        self.optimizer.step()
        self._actor = None
        return {
            "policy_loss": float(policy_loss.item()),
            "entropy": float(entropy.item()),
            "grad_norm": float(grad_norm),
        }

    def learn(
        self,
        iterations: int,
        callback: Callable[[Self, dict[str, float]], bool | None] | None = None,
        eval_every: int | None = None,
        eval_task_sets: Sequence[int] = DEFAULT_EVAL_SEEDS,
        checkpoint_path: str | os.PathLike[str] | None = None,
        checkpoint_every: int | None = None,
    ) -> Self:
        """Train for ``iterations`` more iterations (one task set and one update each).

        Args:
            iterations: Iterations in this call (continues ``self.iteration``).
            callback: ``callback(agent, metrics)`` after every iteration; ``metrics`` holds
                ``iteration``, ``timesteps``, the iteration's rollout statistics
                (:meth:`rollout_stats`), the losses and, on evaluation iterations, the
                ``eval/...`` keys of ``evaluate``. Returning ``False`` stops training.
            eval_every: Evaluate the policy on ``eval_task_sets`` every this many iterations
                and at the end (``None``: never).
            checkpoint_path, checkpoint_every: Save every ``checkpoint_every`` iterations and
                at the end.
        """
        if not (_is_int(iterations) and iterations >= 0):
            raise ValueError(f"iterations must be an integer >= 0, got {iterations!r}")
        if eval_every is not None and not (_is_int(eval_every) and eval_every >= 1):
            raise ValueError(f"eval_every must be an integer >= 1 or None, got {eval_every!r}")
        if checkpoint_every is not None and (
            checkpoint_path is None or not (_is_int(checkpoint_every) and checkpoint_every >= 1)
        ):
            raise ValueError("checkpoint_every must be an integer >= 1 and needs checkpoint_path")
        cfg, log = self.config, self.logger
        with torch_threads(cfg.torch_threads):
            start_steps, t0 = self.num_timesteps, time.perf_counter()
            final: dict[str, float] = {}
            for i in range(int(iterations)):
                batch = self.collect(int(self.rng.integers(2**62)))
                losses = self.update(batch)
                self.iteration += 1
                steps, charts = self.rollout_stats(batch)
                self.num_timesteps += steps
                step = self.num_timesteps
                sps = (step - start_steps) / max(time.perf_counter() - t0, 1e-9)
                log.scalars({**charts, "SPS": sps}, step, prefix="charts")
                log.scalars(losses, step, prefix="losses")
                metrics = {"iteration": float(self.iteration), "timesteps": float(step)}
                metrics |= charts | losses
                last = i == iterations - 1
                if eval_every is not None and (self.iteration % eval_every == 0 or last):
                    final = self.evaluate(eval_task_sets)
                    metrics |= final
                self.history.append(metrics)
                if checkpoint_every is not None and self.iteration % checkpoint_every == 0:
                    self.save(checkpoint_path)
                if callback is not None and callback(self, metrics) is False:
                    break
            if checkpoint_path is not None:
                self.save(checkpoint_path)
            log.log_hparams(
                {
                    "algo": self.algo,
                    **cfg.to_dict(),
                    **self.scheduling,
                    "env_id": self.signature["env_id"],
                },
                final or {self.summary_tag: log.last(self.summary_tag, math.nan)},
                step=self.num_timesteps,
            )
            log.flush()
        return self

    # ------------------------------------------------------------- checkpoints
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume (tensors and plain values, weights_only-safe)."""
        return {
            self.net_key: self.network.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "iteration": self.iteration,
            "num_timesteps": self.num_timesteps,
            "rng": {"numpy": numpy_rng_state(self.rng), "torch": self.torch_gen.get_state()},
            "history": history_columns(self.history),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.network.load_state_dict(state[self.net_key])
        self.optimizer.load_state_dict(state["optimizer"])
        self.iteration = int(state["iteration"])
        self.num_timesteps = int(state["num_timesteps"])
        set_numpy_rng_state(self.rng, state["rng"]["numpy"])
        self.torch_gen.set_state(state["rng"]["torch"])
        self.history = history_rows(state["history"])
        self._actor = None

    def checkpoint_payload(self) -> dict[str, Any]:
        """A resumable checkpoint's keys (besides ``format``, ``version``, ``manifest``):
        ``algo``, ``signature`` (:func:`env_signature`), ``scheduling`` (env settings, for
        provenance), ``config`` (the config as a dict), ``actor`` (``actor_state()``, what
        :func:`agents.loading.load_actor` reads), ``state`` (:meth:`state_dict`)."""
        return {
            "algo": self.algo,
            "signature": self.signature,
            "scheduling": self.scheduling,
            "config": self.config.to_dict(),
            "actor": self.actor_state(),
            "state": self.state_dict(),
        }


# ------------------------------------------------------------------------ agent
class DRLoS(TaskSetReinforce):
    """The DRLoS scheduler for ``EdgeRL/EdgeScheduling-v0`` (``action_mode="shares"``).

    Args:
        env: The scheduling env (possibly wrapped, e.g. by the registered ``TimeLimit``);
            rollouts run on a private vector env of ``n_rollouts`` copies of its configuration.
        logger: A :class:`RunLogger` (default: in-memory only).
        **kwargs: :class:`DRLoSConfig` fields.

    Example::

        env = gym.make("EdgeRL/EdgeScheduling-v0", load=0.8, lambda_wait=0.01)
        agent = DRLoS(env, lr=1e-2, seed=0).learn(150, eval_every=25)
        agent.save("runs/drlos.pt")
        actor = agents.loading.load_actor("runs/drlos.pt")   # NumpyActor, int share action
    """

    algo: ClassVar[str] = ALGO
    label: ClassVar[str] = "DRLoS"
    net_key: ClassVar[str] = "policy"
    summary_tag: ClassVar[str] = "charts/cost"
    default_config: ClassVar[DRLoSConfig] = DRLoSConfig()

    def __init__(self, env: Any, *, logger: RunLogger | None = None, **kwargs: Any) -> None:
        base = self._setup(env, logger, kwargs, "shares", "DRLoS chooses share actions")
        cfg = self.config
        self.num_actions = int(env.action_space.n)
        self.predict_generator = torch.Generator().manual_seed(cfg.seed)  # predict() only
        projection = pooling_matrix(base.obs_layout) if cfg.features == "pooled" else None
        self.policy = PolicyNetwork(
            base.obs_layout.size,
            self.num_actions,
            cfg.hidden,
            cfg.activation,
            projection=projection,
            generator=self.torch_gen,
        )
        self.optimizer = torch.optim.Adam(self.policy.parameters(), lr=cfg.lr)
        # Vector envs of the rollouts (one copy per episode), built on first use.
        self._train_envs: EdgeSchedulingVectorEnv | None = None
        self._eval_envs: dict[int, EdgeSchedulingVectorEnv] = {}
        self._actor: NumpyActor | None = None

    # ------------------------------------------------------------------ policy
    def predict(
        self, obs: Any, deterministic: bool = True, generator: torch.Generator | None = None
    ) -> int | np.ndarray:
        """Share action(s): an int for one observation, an int64 ``(B,)`` array for a batch.

        ``deterministic=True``: argmax of the logits. Otherwise sampled from the policy with
        ``generator`` (default: :attr:`predict_generator`, seeded with ``seed`` at
        construction and separate from the training generator, so prediction never changes
        a training run).
        """
        x = np.asarray(obs, dtype=np.float32)
        single = x.ndim == 1
        with torch.no_grad():
            logits = self.policy(torch.from_numpy(np.atleast_2d(x)))
            if deterministic:
                actions = logits.argmax(dim=-1)
            else:
                gen = generator if generator is not None else self.predict_generator
                probs = torch.softmax(logits, dim=-1)
                actions = torch.multinomial(probs, 1, generator=gen)[:, 0]
        out = actions.numpy().astype(np.int64)
        return int(out[0]) if single else out

    def act(self, obs: Any) -> int:
        """Greedy share action for one observation (fast numpy forward pass)."""
        return int(self.fast_actor().act(obs))

    def act_batch(self, obs_batch: Any) -> np.ndarray:
        """Greedy share actions ``(B,)`` for a batch of observations."""
        return self.fast_actor().act_batch(obs_batch)

    def actor_state(self) -> dict[str, Any]:
        """The greedy policy as a fast-actor spec (projection folded into the first layer)."""
        return mlp_actor_spec(
            self.policy.linear_layers(), activation=self.config.activation, output="argmax"
        )

    def fast_actor(self) -> NumpyActor:
        """A :class:`NumpyActor` of the current greedy policy (rebuilt after each update)."""
        if self._actor is None:
            self._actor = NumpyActor(self.actor_state(), signature=self.signature)
        return self._actor

    # ------------------------------------------------------------------ update
    def update(self, batch: RolloutBatch) -> dict[str, float]:
        """One REINFORCE step on N episodes of one task set (per-timestep baseline)."""
        cfg = self.config
        mask = batch.mask
        returns = discounted_returns(batch.rewards, mask, cfg.gamma)  # (N, T)
        baseline = time_baseline(returns, mask, cfg.baseline)  # (T,)
        advantages = returns - baseline[None, :]

        # Only the steps actually taken enter the loss: flatten the (N, T) grid by the mask.
        features = torch.from_numpy(batch.features[mask])
        actions = torch.from_numpy(batch.actions[mask])
        adv = torch.from_numpy(advantages[mask]).float()
        dist = torch.distributions.Categorical(logits=self.policy.head(features))
        policy_loss = -(dist.log_prob(actions) * adv).mean()
        entropy = dist.entropy().mean()
        loss = policy_loss - cfg.entropy_coef * entropy
        return {
            **self._gradient_step(loss, policy_loss, entropy),
            "baseline_0": float(baseline[0]),
            "advantage_abs": float(np.abs(advantages[mask]).mean()),
        }

    # ---------------------------------------------------------------- training
    def collect(self, task_set_seed: int) -> RolloutBatch:
        """N stochastic episodes of task set ``task_set_seed`` (advances the torch generator)."""
        if self._train_envs is None:
            self._train_envs = make_rollout_envs(self.env, self.config.n_rollouts)
        return collect_rollouts(
            self._train_envs,
            self.policy,
            [int(task_set_seed)] * self.config.n_rollouts,
            max_steps=self.max_steps,
            generator=self.torch_gen,
        )

    def rollout_stats(self, batch: RolloutBatch) -> tuple[int, dict[str, float]]:
        """The batch's env steps and means: ``episodic_return``, ``episodic_length``,
        ``cost`` (mean per-step utilisation variance), ``latency_ms``, ``dropped``."""
        charts = {
            "episodic_return": float(batch.returns.mean()),
            "episodic_length": float(batch.lengths.mean()),
            "cost": float(batch.mean_variance.mean()),
            "latency_ms": float(np.nanmean(batch.latency_ms)),
            "dropped": float(batch.dropped.mean()),
        }
        return int(batch.lengths.sum()), charts

    def evaluate(
        self,
        task_sets: Sequence[int] = DEFAULT_EVAL_SEEDS,
        deterministic: bool = True,
        log: bool = True,
    ) -> dict[str, float]:
        """Run the policy once on each task set (lockstep, one env copy per task set).

        Returns ``eval/episodic_return``, ``eval/cost`` (mean per-step utilisation variance,
        averaged over episodes), ``eval/latency_ms``, ``eval/dropped``, ``eval/episodic_length``
        (means over the task sets); logs them when ``log``. ``deterministic=False`` samples
        with a generator seeded by ``seed`` (the training generator is not touched).
        """
        batch = self.rollout_task_sets(task_sets, deterministic)
        out = {
            "eval/episodic_return": float(batch.returns.mean()),
            "eval/cost": float(batch.mean_variance.mean()),
            "eval/latency_ms": float(np.nanmean(batch.latency_ms)),
            "eval/dropped": float(batch.dropped.mean()),
            "eval/episodic_length": float(batch.lengths.mean()),
        }
        if log:
            self.logger.scalars(out, self.num_timesteps)
        return out

    def rollout_task_sets(
        self, task_sets: Sequence[int], deterministic: bool = True
    ) -> RolloutBatch:
        """One episode per task set with the greedy (or sampled) policy; no features kept."""
        seeds = [int(k) for k in task_sets]
        if not seeds:
            raise ValueError("task_sets must hold at least one task-set seed")
        envs = self._eval_envs.get(len(seeds))
        if envs is None:
            envs = self._eval_envs[len(seeds)] = make_rollout_envs(self.env, len(seeds))
        return collect_rollouts(
            envs,
            self.policy,
            seeds,
            max_steps=self.max_steps,
            generator=None if deterministic else torch.Generator().manual_seed(self.config.seed),
            deterministic=deterministic,
            store_features=False,
        )

    # ------------------------------------------------------------- checkpoints
    @classmethod
    def restore_check(
        cls, path: str | os.PathLike[str], env: Any
    ) -> Callable[[Mapping[str, Any]], None]:
        """:meth:`load` rebuilds the agent on any env of the checkpoint's signature (the
        spaces: m and M). Other settings (load, λ_wait) may differ: evaluating a policy at
        another load is allowed. Settings that keep the spaces but change what observations
        or actions mean (``SEMANTIC_FIELDS``: capacities, η, queue_limit) warn."""

        def warn_semantics(payload: Mapping[str, Any]) -> None:
            saved, actual = payload.get("scheduling") or {}, scheduling_config(env)
            if diff := [f for f in SEMANTIC_FIELDS if f in saved and saved[f] != actual[f]]:
                warnings.warn(
                    f"{path} was trained with "
                    + ", ".join(f"{f}={saved[f]!r} (env: {actual[f]!r})" for f in diff)
                    + "; the spaces match, but the share actions / observations mean other "
                    "things",
                    stacklevel=3,
                )

        return warn_semantics
