"""DRLoS+: per-task scheduling with a shared (task, server) scorer (docs/model.md §8.2).

The improved learned scheduler of ``EdgeRL/EdgeScheduling-v1`` (``action_mode="assign"``).
Where DRLoS picks one of 2^m share vectors per step, DRLoS+ decides per visible task: a small
MLP scores every (task, choice) pair from the features of :mod:`agents.drlos_plus.features`
(server load and free slots, home or not, the task's place among the tasks of each server,
its expected wait for home in RPC units, ...; the choices are the m servers and "keep
waiting"), a mask removes full servers, and each task's choice is drawn from the softmax of
its scores. One scorer serves every task and every server, so the policy has ~1,600 weights
whatever m and M.

Training is DRLoS's (DeepRM's) REINFORCE with the per-timestep baseline over N rollouts of
one task set (the N copies of the native vector env), where a step's log-probability is the
sum over the tasks decided in it::

    G[j, t] = Σ_{t' >= t} γ^{t'-t} r[j, t'];   b[t] = mean_j G[j, t] (episodes running at t)
    A = (G - b) / std(G - b)
    loss = -Σ_{(j,t) taken} A[j, t] · Σ_{tasks k of step t} log π(a_k | s[j, t]) / Σ tasks
           - entropy_coef · mean entropy per task

Readings and choices (all in :class:`DRLoSPlusConfig`): γ = 0.9 (a task's latency and its
share of the variance are felt within about one service time; γ = 1 works too, slower);
advantages normalised per iteration; the policy acts by sampling with its own seeded
generator (``deterministic=False``, default), since the argmax of identical tasks sends them
all to one server, where the sample spreads them in proportion, as the trained
probabilities say. Determinism: one ``torch.Generator`` (weights and training samples), the
task sets from ``np.random.default_rng(seed)``; the same seed gives the same run, and a
checkpoint resumes it exactly.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import numpy as np
import torch

from agents.common import rules
from agents.common.evaluation import DEFAULT_EVAL_SEEDS
from agents.common.logger import RunLogger
from agents.common.mlp import linear_modules, mlp
from agents.drlos.agent import (
    BASELINES,
    TaskSetReinforce,
    discounted_returns,
    time_baseline,
)
from agents.drlos.rollout import max_episode_steps
from agents.drlos_plus.features import NUM_FEATURES, FeatureSpec, task_server_features
from envs.scheduling.objective import episode_scores
from envs.scheduling.vector import EdgeSchedulingVectorEnv

ALGO = "drlos_plus"
ACTIVATIONS: tuple[str, ...] = ("tanh", "relu")
_NEG = -1e9  # logit of a masked choice


@dataclass(frozen=True)
class DRLoSPlusConfig:
    """DRLoS+ hyperparameters.

    | field | default | meaning |
    |---|---|---|
    | ``hidden`` | (32, 32) | hidden widths of the shared (task, choice) scorer |
    | ``activation`` | ``"tanh"`` | ``"tanh"`` or ``"relu"`` |
    | ``lr`` | 3e-3 | Adam learning rate |
    | ``n_rollouts`` | 16 | N, episodes per task set (>= 2, for the baseline) |
    | ``gamma`` | 0.9 | discount of the returns |
    | ``baseline`` | ``"running"`` | ``"running"`` or ``"zeros"`` (DeepRM), as DRLoS |
    | ``entropy_coef`` | 0.001 | entropy bonus per task decision |
    | ``max_grad_norm`` | 1.0 | gradient clipping (``None``: off) |
    | ``max_steps`` | ``None`` | cut rollouts after this many steps (``None``: the env's TimeLimit) |
    | ``deterministic`` | ``False`` | act greedily (argmax) instead of sampling |
    | ``seed`` | 0 | weights, action sampling, training task sets |
    | ``torch_threads`` | 1 | ``torch.set_num_threads`` during ``learn`` (``None``: as is) |
    """

    hidden: int | tuple[int, ...] = rules.param((32, 32), rules.Rule("ints", lo=1, hi=4096))
    activation: str = rules.param("tanh", rules.choice(*ACTIVATIONS))
    lr: float = rules.param(3e-3, rules.unit_interval(lo_open=True))
    n_rollouts: int = rules.param(
        16, rules.Rule("int", lo=2, hi=4096, note="the baseline averages over episodes")
    )
    gamma: float = rules.param(0.9, rules.unit_interval())
    baseline: str = rules.param("running", rules.choice(*BASELINES))
    entropy_coef: float = rules.param(0.001, rules.non_negative())
    max_grad_norm: float | None = rules.param(1.0, rules.positive(none_ok=True))
    max_steps: int | None = rules.param(None, rules.Rule("int", lo=1, none_ok=True))
    deterministic: bool = False
    seed: int = rules.param(0, rules.non_negative("int"))
    torch_threads: int | None = rules.param(1, rules.Rule("int", lo=1, none_ok=True))

    def __post_init__(self) -> None:
        rules.check_fields(self)
        hidden = self.hidden if isinstance(self.hidden, list | tuple) else (self.hidden,)
        object.__setattr__(self, "hidden", tuple(int(h) for h in hidden))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["hidden"] = list(d["hidden"])
        return d


def build_scorer(
    hidden: Sequence[int], activation: str, generator: torch.Generator
) -> torch.nn.Sequential:
    """MLP ``NUM_FEATURES -> hidden... -> 1``, initialised from ``generator`` (last layer
    small, so the first policy is near uniform)."""
    net = mlp(NUM_FEATURES, hidden, 1, activation)
    layers = linear_modules(net)
    with torch.no_grad():
        for layer in layers:
            bound = 1.0 / math.sqrt(layer.in_features)
            layer.weight.uniform_(-bound, bound, generator=generator)
            layer.bias.zero_()
        layers[-1].weight.mul_(0.01)
    return net


class PlusActor:
    """The DRLoS+ policy in numpy (no torch): ``act(obs) -> (M,)`` assignments, m = wait.

    Samples with ``np.random.default_rng(seed)`` (``reset()`` restarts it) unless
    ``deterministic``. Built from :meth:`DRLoSPlus.actor_state` (also in checkpoints).
    """

    def __init__(self, state: Mapping[str, Any]) -> None:
        self.spec = FeatureSpec(**state["spec"])
        self.weights = [np.asarray(w, dtype=np.float64) for w in state["weights"]]
        self.biases = [np.asarray(b, dtype=np.float64) for b in state["biases"]]
        self.activation = str(state["activation"])
        self.deterministic = bool(state["deterministic"])
        self.seed = int(state["seed"])
        self.rng = np.random.default_rng(self.seed)

    def reset(self) -> None:
        self.rng = np.random.default_rng(self.seed)

    def check_fits(self, env: Any) -> None:
        """ValueError unless ``env`` (single or vector) has this actor's observation size."""
        space = getattr(env, "single_observation_space", None) or env.observation_space
        if tuple(space.shape) != (self.spec.layout.size,):
            raise ValueError(
                f"observation_space: the actor takes {self.spec.layout.size} inputs "
                f"(m={self.spec.num_servers}, M={self.spec.buffer_size}), the env gives "
                f"{space.shape}"
            )

    def logits(self, feats: np.ndarray) -> np.ndarray:
        x = feats.astype(np.float64)
        act = np.tanh if self.activation == "tanh" else (lambda v: np.maximum(v, 0.0))
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            x = x @ w.T + b
            if i < len(self.weights) - 1:
                x = act(x)
        return x[..., 0]

    def act_batch(self, obs: np.ndarray) -> np.ndarray:
        obs = np.asarray(obs)
        if obs.ndim != 2 or obs.shape[1] != self.spec.layout.size:
            raise ValueError(f"obs must have shape (B, {self.spec.layout.size}), got {obs.shape}")
        m, big_m = self.spec.num_servers, self.spec.buffer_size
        feats, valid, allowed = task_server_features(obs, self.spec)
        out = np.full((obs.shape[0], big_m), m, dtype=np.int64)
        if feats.shape[1] == 0:
            return out
        z = np.where(allowed, self.logits(feats), _NEG)
        if not self.deterministic:  # Gumbel-max: a sample of softmax(z) per task
            z = z - np.log(-np.log(self.rng.random(z.shape)))
        choice = z.argmax(axis=-1)
        out[:, : choice.shape[1]] = np.where(valid, choice, m)
        return out

    def act(self, obs: np.ndarray) -> np.ndarray:
        return self.act_batch(np.asarray(obs)[None])[0]


class DRLoSPlus(TaskSetReinforce):
    """DRLoS+ for ``EdgeRL/EdgeScheduling-v1`` (any scheduling env in ``"assign"`` mode).

    Args:
        env: The scheduling env (possibly wrapped); rollouts run on a private vector env of
            ``n_rollouts`` copies of its configuration.
        logger: A :class:`RunLogger` (default: in-memory only).
        **kwargs: :class:`DRLoSPlusConfig` fields.

    Example::

        env = gym.make("EdgeRL/EdgeScheduling-v1")
        agent = DRLoSPlus(env, seed=0).learn(150)
        obs, _ = env.reset(seed=0)
        env.step(agent.act(obs))
    """

    algo: ClassVar[str] = ALGO
    label: ClassVar[str] = "DRLoS+"
    net_key: ClassVar[str] = "scorer"
    summary_tag: ClassVar[str] = "charts/objective"
    default_config: ClassVar[DRLoSPlusConfig] = DRLoSPlusConfig()

    def __init__(self, env: Any, *, logger: RunLogger | None = None, **kwargs: Any) -> None:
        self.base = self._setup(env, logger, kwargs, "assign", "DRLoS+ decides per task")
        cfg = self.config
        self.spec = FeatureSpec.from_env(self.base)
        self.scorer = build_scorer(cfg.hidden, cfg.activation, self.torch_gen)
        self.optimizer = torch.optim.Adam(self.scorer.parameters(), lr=cfg.lr)
        self._train_envs: EdgeSchedulingVectorEnv | None = None
        self._actor: PlusActor | None = None

    # ------------------------------------------------------------------ acting
    def actor_state(self) -> dict[str, Any]:
        """The policy as plain values (weights as lists): :class:`PlusActor`'s input."""
        lin = linear_modules(self.scorer)
        return {
            "spec": asdict(self.spec),
            "weights": [w.weight.detach().double().numpy().tolist() for w in lin],
            "biases": [w.bias.detach().double().numpy().tolist() for w in lin],
            "activation": self.config.activation,
            "deterministic": bool(self.config.deterministic),
            "seed": int(self.config.seed),
        }

    def fast_actor(self) -> PlusActor:
        """A :class:`PlusActor` of the current policy (rebuilt after each update)."""
        if self._actor is None:
            self._actor = PlusActor(self.actor_state())
        return self._actor

    def act(self, obs: Any) -> np.ndarray:
        return self.fast_actor().act(obs)

    def act_batch(self, obs: Any) -> np.ndarray:
        return self.fast_actor().act_batch(obs)

    # ------------------------------------------------------------------ rollouts
    def collect(self, task_set_seed: int) -> dict[str, Any]:
        """N sampled episodes of one task set: the step rewards (N, T) and mask, and per
        decided task its features, choice mask, choice and (episode, step)."""
        n, m = self.config.n_rollouts, self.spec.num_servers
        if self._train_envs is None:
            self._train_envs = EdgeSchedulingVectorEnv.from_env(self.base, n, None)
        envs = self._train_envs
        obs, _ = envs.reset(options={"task_set_seed": [int(task_set_seed)] * n,
                                     "repeat_task_set": True})  # fmt: skip
        alive = np.ones(n, dtype=bool)
        lengths = np.zeros(n, dtype=np.int64)
        rewards, var_cols = [], []
        feats_l, allowed_l, choice_l, where_l = [], [], [], []
        scores: list[dict[str, float] | None] = [None] * n
        totals, var_sums = np.zeros(n), np.zeros(n)
        t = 0
        while alive.any():
            feats, valid, allowed = task_server_features(obs, self.spec)
            actions = np.full((n, self.spec.buffer_size), m, dtype=np.int64)
            sel = valid & alive[:, None]
            if sel.any():
                f, a = torch.from_numpy(feats[sel]), torch.from_numpy(allowed[sel])
                with torch.no_grad():
                    z = self.scorer(f)[..., 0].masked_fill(~a, _NEG)
                    race = torch.empty_like(z).exponential_(1, generator=self.torch_gen)
                    ch = (torch.softmax(z, dim=-1) / race).argmax(dim=-1).numpy()
                actions[:, : sel.shape[1]][sel] = ch
                feats_l.append(feats[sel])
                allowed_l.append(allowed[sel])
                choice_l.append(ch)
                rows = np.nonzero(sel)[0]  # the episode of each decided task, at step t
                where_l.append(np.stack([rows, np.full(rows.size, t)], axis=1))
            obs, r, terminated, cut, info = envs.step(actions)
            rewards.append(np.where(alive, r, 0.0))
            totals += np.where(alive, r, 0.0)
            var_sums += np.where(alive, info["variance"], 0.0)
            var_cols.append(np.where(alive, info["variance"], 0.0))
            lengths += alive
            ended = alive & (terminated | cut | (lengths >= self.max_steps))
            for j in np.flatnonzero(ended).tolist():
                scores[j] = episode_scores(
                    totals[j], var_sums[j], int(lengths[j]), envs.task_latency_ms(j),
                    int(info["arrived"][j]), int(info["forwarded"][j]), int(info["dropped"][j]),
                    int(self._window()),
                )  # fmt: skip
            alive &= ~ended
            t += 1
        steps = np.arange(t)
        return {
            "rewards": np.stack(rewards, axis=1),
            "mask": steps[None, :] < lengths[:, None],
            "lengths": lengths,
            "feats": np.concatenate(feats_l) if feats_l else np.zeros((0, m + 1, NUM_FEATURES)),
            "allowed": np.concatenate(allowed_l) if allowed_l else np.zeros((0, m + 1), bool),
            "choice": np.concatenate(choice_l) if choice_l else np.zeros(0, np.int64),
            "where": np.concatenate(where_l) if where_l else np.zeros((0, 2), np.int64),
            "scores": scores,
        }

    def _window(self) -> int:
        return int(getattr(self.base.arrival_process, "window_slots", 0) or 1)

    # ------------------------------------------------------------------ update
    def update(self, batch: Mapping[str, Any]) -> dict[str, float]:
        """One REINFORCE step (module docstring)."""
        cfg = self.config
        mask = batch["mask"]
        returns = discounted_returns(batch["rewards"], mask, cfg.gamma)
        baseline = time_baseline(returns, mask, cfg.baseline)
        adv = np.where(mask, returns - baseline[None, :], 0.0)
        std = float(adv[mask].std())
        adv = adv / (std + 1e-8)
        where = batch["where"]
        task_adv = torch.from_numpy(adv[where[:, 0], where[:, 1]]).float()
        feats = torch.from_numpy(batch["feats"])
        allowed = torch.from_numpy(batch["allowed"])
        choice = torch.from_numpy(batch["choice"]).long()
        z = self.scorer(feats)[..., 0].masked_fill(~allowed, _NEG)
        logp_all = torch.log_softmax(z, dim=-1)
        logp = logp_all.gather(1, choice[:, None])[:, 0]
        n_tasks = max(int(choice.numel()), 1)
        policy_loss = -(logp * task_adv).sum() / n_tasks
        probs = logp_all.exp()
        entropy = -(probs * torch.where(allowed, logp_all, torch.zeros_like(logp_all))).sum(-1)
        entropy = entropy.mean() if choice.numel() else torch.zeros(())
        loss = policy_loss - cfg.entropy_coef * entropy
        return {**self._gradient_step(loss, policy_loss, entropy), "advantage_std": std}

    def rollout_stats(self, batch: Mapping[str, Any]) -> tuple[int, dict[str, float]]:
        """The batch's env steps and means: ``episodic_return``, ``episodic_length``,
        ``objective``, ``cost`` (mean utilisation variance), ``latency_ms``,
        ``latency_p95_ms``, ``forwarded_pct``, ``dropped``."""
        sc = [s for s in batch["scores"] if s is not None]
        charts = {
            "episodic_return": float(batch["rewards"].sum(axis=1).mean()),
            "episodic_length": float(batch["lengths"].mean()),
            "objective": float(np.mean([s["objective"] for s in sc])),
            "cost": float(np.mean([s["variance"] for s in sc])),
            "latency_ms": float(np.nanmean([s["latency_mean_ms"] for s in sc])),
            "latency_p95_ms": float(np.nanmean([s["latency_p95_ms"] for s in sc])),
            "forwarded_pct": float(np.mean([s["forwarded_pct"] for s in sc])),
            "dropped": float(np.mean([s["dropped_pct"] for s in sc])),
        }
        return int(batch["lengths"].sum()), charts

    def evaluate(
        self, task_sets: Sequence[int] = DEFAULT_EVAL_SEEDS, log: bool = True
    ) -> dict[str, float]:
        """The policy (as it acts: :class:`PlusActor`) once per task set on a copy of the
        env; ``eval/objective``, ``eval/cost`` (variance), ``eval/latency_ms``, ... means."""
        from agents.common.evaluation import scoreboard

        seeds = [int(k) for k in task_sets]
        if not seeds:
            raise ValueError("task_sets must hold at least one task-set seed")
        env = _eval_env(self.env)
        row = scoreboard(env, self.fast_actor(), seeds)
        out = {
            "eval/objective": row["objective"],
            "eval/cost": row["variance"],
            "eval/latency_ms": row["latency_mean_ms"],
            "eval/latency_p95_ms": row["latency_p95_ms"],
            "eval/forwarded_pct": row["forwarded_pct"],
            "eval/dropped": row["dropped_pct"],
        }
        if log:
            self.logger.scalars(out, self.num_timesteps)
        return out


def _eval_env(env: Any) -> Any:
    """A private copy of ``env``'s configuration with its time limit (evaluation never
    touches the training env's state)."""
    import copy

    from gymnasium.wrappers import TimeLimit

    base = copy.deepcopy(env.unwrapped)
    return TimeLimit(base, max_episode_steps=max_episode_steps(env))


def load_plus_actor(path: str | os.PathLike[str]) -> PlusActor:
    """The :class:`PlusActor` stored in a DRLoS+ checkpoint."""
    from agents.common.checkpoint import load_checkpoint

    payload = load_checkpoint(path)
    if payload.get("algo") != ALGO:
        raise ValueError(f"{path} holds a {payload.get('algo')!r} checkpoint, not {ALGO!r}")
    return PlusActor(payload["actor"])
