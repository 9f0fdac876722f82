"""IoRLO: DDPG with a sigmoid actor and intent-threshold discretisation (Ren et al. Sec. 4.2).

**IoRLO** (:class:`IoRLO`, ``variant="ddpg"``; faithful): an actor ``μ(s) = sigmoid(z(s))``
with one hidden layer of 50 units, one output in ``[0, 1]`` per DNN block; a critic
``Q(s, a)`` with one hidden layer of 30 units; target networks with soft updates; uniform
experience replay; action-space noise (Gaussian or Ornstein-Uhlenbeck) clipped to
``[0, 1]``. The env applies the intent thresholds between actor and env (``a < ε`` ->
device, ``ε <= a < φ`` -> edge, ``a >= φ`` -> cloud; ``a < ζ`` -> user in D2D).

**IoRLO+** (:class:`IoRLOPlus`; improved, not in the paper). The env's cost depends on
the action only through the thresholded decision, so ``Q(s, a)`` is piecewise constant in
``a``: its true action-gradient is zero almost everywhere, and a DDPG critic on the raw
action must learn the steps from data. In practice (``benchmarks/iorlo_quality.py``) the
faithful actor follows the critic's spurious slopes into poor mixed placements. IoRLO+
keeps the actor, the thresholds and the replay/target machinery and changes the following:

1. *Decision critic* (``critic_input="decision"``): the critic sees the one-hot platform of
   every block after the thresholds, i.e. exactly what the cost depends on. The actor's
   gradient flows through a smooth surrogate: the probability that ``μ(s) + N(0,
   relax_sigma²)`` lands in each threshold interval.
2. *Critic-guided jumps* (``imitation_weight``): the best placements are often far apart
   (all-edge vs all-cloud) with every intermediate worse, which no local gradient crosses.
   Each actor update also scores the replayed action and the constant action of every
   platform (interval midpoints) with both critics; where both rate a candidate above the
   actor's own decision, the actor is pulled (squared error) to that candidate's interval
   midpoints, elsewhere to its own decision's midpoints (away from the thresholds). On the
   v1 envs (``jump_candidates="auto"``) the candidates also hold ``jump_samples`` placements
   with one change of platform (the first ``k`` blocks on one platform, the rest on
   another), drawn per state, and the placement exploration (3.) draws from the same set:
   the oracle's decision has at most one change on 94-100% of the v1 test frames, and many
   of those (AlexNet on MEC: the last two blocks on the edge, 43% of frames) are no
   whole-model placement, so no jump reached them.
3. *Joint exploration* (``noise_common``, ``explore_placements``): one Gaussian shift
   shared by all blocks on top of the per-block noise, so whole-model moves are tried and
   the critic learns them; and, on a fraction of the steps, a whole-model placement (every
   block on one random platform; on v1 one of the fixed placements of 2.) instead of the
   noisy actor. The optimum can switch to a
   distant placement in rare states (all-device during a terminal-edge latency spike on
   AlexNet, about 1% of 5g_trial frames): the critics must have seen those placements
   there before a jump can be rated, and the actor's noise alone rarely produces them.
4. TD3 machinery (``variant="td3"``: twin critics, clipped double-Q and smoothed targets
   when ``γ > 0``, delayed actor updates) and running observation normalisation.
5. *Scale-free reward* (``reward_transform="log"``): on a network mixture (v1) the cost of
   a frame varies by an order of magnitude between networks, and critics regressing ``-cost``
   fit the expensive frames and mis-rank the decisions of the cheap ones. The critics learn
   ``-log(cost)`` instead: within a frame the ranking of decisions is unchanged, and every
   frame's differences count on the same relative scale. IoRLO+'s default ``"auto"`` uses it
   on the v1 envs only, so its v0 results are those of earlier versions (measured on v1:
   ``docs/results.md`` section 7).
6. *Deeper critics on v1* (``hidden_critic="auto"``): two hidden layers of 64 on the v1
   envs, one of 128 on v0. Ranking the decisions of one state needs products of state and
   decision features, which one ReLU layer over their concatenation approximates poorly.
   With both v1 changes (2. and 6.), IoRLO+ with the current state on MEC AlexNet has a
   mean gap of 0.8-1.2% on the unseen networks against 6.1-7.7% before (seeds 0-2,
   ``docs/results.md`` section 7); with the one-cut candidates alone it was 4.6% (seed 0).
7. *Log link inputs on v1* (``log_inputs="auto"``): the envs squash every link value and
   effective factor as ``v = x / (x + a)``, which saturates exactly where the decision
   flips hardest (uplinks of 0.5 and 5 Mbps read 0.007 and 0.06, RTT spikes of 200 and
   900 ms 0.96 and 0.99). The networks get ``log(v / (1 - v)) = log(x / a)``
   of those entries (the env's ``ratio_features``) appended to the observation, which keeps
   them apart at any scale; the fast actor computes the same inputs
   (:func:`agents.common.fast_actor.log_ratios`). With the current state, MEC AlexNet's
   mean gap on the unseen networks fell to 0.46-0.55% (seeds 0-2) and with the measured
   state its cost went below ``dp_measured`` for every seed; some other pairs moved by
   less than a point either way (``docs/results.md`` section 7).
8. *A deeper actor on v1* (``hidden_actor="auto"``): two hidden layers of 64 on the v1
   envs, the paper's one layer of 50 on v0. With the current state, the one-layer actor
   stayed 1-2.6 points above the best heuristic on the randomised generator of MEC VGG-16
   and MobileNet-V1 (on VGG-16 also with twice the training frames). With two layers the
   mean gap on the unseen networks fell on 20 of 24 (pair, seed) runs (mean over the 8
   pairs 0.34-0.46% against 0.50-0.62%, seeds 0-2) at about the same cost per update
   (``docs/results.md`` section 7).

9. *Critic-refined decisions with the current state* (``refine="auto"``): the deterministic
   decision (evaluation, the fast actor, checkpoints) scores the actor's decision and every
   fixed placement of 2. with both critics and takes the best placement where both rate it
   above the actor's decision (the jump rule of 2., applied per state at decision time; as
   in the action selection of Dulac-Arnold et al. 2015, the actor's proposal is refined by
   the critic's argmax over candidates; :mod:`agents.iorlo.refine`). Training is unchanged.
   ``"auto"`` refines on the v1 envs with ``observe="current"`` only: there the cost is a
   function of the observation and the decision, which the critics fit; with the measured
   state (the v1 default) a frame's cost is random given the observation, the critics'
   values of rarely tried placements are noisy, and the maximum over ~60-100 candidates
   picks their overestimates (measured: worse than the actor alone on 5 of 6 runs, by
   0.15-1.21% of cost). With the current state it lowered the mean gap on the unseen
   networks on all 24 (pair, seed) runs, 0.14-0.16% against 0.34-0.46% over the 8 pairs
   (seeds 0-2), at about 0.1 ms per decision instead of 3 µs (``docs/results.md`` section 7).
10. *Compiled updates on v1* (``update_backend="auto"``): with the decision critic the
   critic and actor steps run on numpy views of the same parameters, with numpy's products,
   torch's batched product for the candidates and numba loops for the rest
   (:mod:`agents.iorlo.fast_update`); the minibatch is sampled as numpy arrays and its
   normalisation, reward scale and platforms are the torch path's float32 operations in
   numpy; exploration runs the actor in numpy: a few dozen numpy calls and compiled loops
   instead of about 500 torch operations (views included) per update, the same losses
   and gradients up to float32 rounding (tests compare them), so about 1.4x the frames per
   second. A run differs from the torch path's in the last
   bits and, through training, in its numbers, as runs on two machines do
   (``docs/results.md``, sections 1 and 7: the same quality with the current state; with
   the measured state within 0.0034 of the cost ratio on 23 of 24 runs, and one MEC
   AlexNet seed worse). ``"auto"`` keeps the torch path on v0, whose results stay as they
   were, and where numba is not installed.

With the default ``imitation_weight=10`` the jump/hold term dominates the actor loss; the
DDPG term through the surrogate is a minor, local refinement (weight 1 left the actor
drifting into mixed placements on some seeds).

Measured results (gap to the oracle of IoRLO, IoRLO+ and every heuristic, per DNN) are in
``docs/results.md``, sections 2.1 (MEC) and 2.2 (D2D). ``benchmarks/iorlo_quality.py`` scores
single runs on 10 x 100 fixed frames, which hold only a handful of the TE latency spikes where
the optimum leaves the edge on AlexNet, so single runs scatter more than the 100 x 100
frames of the report.

Common to both (configurable, :class:`IoRLOConfig`): rewards are rescaled inside the
agent (``reward_scale="auto"``: one over the mean absolute reward of the warm-up steps, so
costs are O(1)); ``gamma`` defaults to 0 because the partitioning MDP is a contextual
bandit (the links evolve independently of the decisions, docs/model.md §4): the optimal policy is
the same for every γ and bootstrapping only adds variance (γ = 0.9 learned no better).
Episodes end by truncation only, which is never treated as terminal.

Training loop (CleanRL style, :meth:`IoRLO.learn`)::

    a = clip(μ(s) + noise, 0, 1)            # warm-up: uniform random or the same
    s', r, terminated, truncated = env.step(a)
    buffer.add(s, a, r, s', terminated)     # truncation is not terminal
    every train_freq steps: gradient_steps x update(buffer.sample(batch_size))

Implementation (speed; issue #16): the critics are one :class:`~agents.iorlo.networks.CriticStack`
(TD3's twins as stacked weights: one forward and one backward serve both); the critic loss
and, with the decision critic, the actor loss are backpropagated by hand (no autograd graph;
IoRLO's actor on the action critic keeps autograd), the imitation candidates share the
observation's part of the critics' first layer and are scored critic by critic in one
member-major buffer (no transposes), and Adam is
:class:`~agents.iorlo.optim.FusedAdam` (torch's fused kernel without ``torch.optim``'s
per-step overhead and its ``torch._dynamo`` import). IoRLO (one critic) trains bit for bit
as before; IoRLO+'s rounding differs (its results changed within the seed spread).
Checkpoints keep their format (``critic``/``critic2`` as ``Critic`` state dicts, the critic
optimiser's state per member parameter), so files of either version load in the other.

Episode ``k`` of a run starts with ``env.reset(seed=episode_seed(seed, k))``, so a run saved
with its replay buffer resumes exactly (:meth:`IoRLO.load`); mid-episode, the episode is
replayed from its seed and the buffer's last actions.
"""

from __future__ import annotations

import copy
import math
import os
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from gymnasium import spaces

from agents.common import rules
from agents.common.checkpoint import (
    CheckpointMixin,
    env_signature,
    numpy_rng_state,
    save_checkpoint,
    set_numpy_rng_state,
)
from agents.common.evaluation import DEFAULT_EVAL_SEEDS, evaluate_policy
from agents.common.fast_actor import NumpyActor, log_ratios, mlp_actor_spec
from agents.common.logger import RunLogger
from agents.common.normalization import RunningMeanStd
from agents.common.threads import blas_threads, torch_threads
from agents.iorlo.buffer import ReplayBatch, ReplayBuffer
from agents.iorlo.fast_update import AVAILABLE as COMPILED_UPDATES
from agents.iorlo.fast_update import DecisionUpdate
from agents.iorlo.networks import Actor, Critic, CriticStack
from agents.iorlo.noise import GaussianNoise, OUNoise
from agents.iorlo.optim import FusedAdam, stack_state, unstack_state
from agents.iorlo.refine import CriticRefinedActor, refine_spec
from envs.model.thresholds import discretise, discretise_array

ALGO = "iorlo"
VARIANTS: tuple[str, ...] = ("ddpg", "td3")
NOISE_KINDS: tuple[str, ...] = ("gaussian", "ou")
CRITIC_INPUTS: tuple[str, ...] = ("action", "decision")
#: what the critics learn from the env reward -cost: "none" (-cost), "log" (-log(cost)) or
#: "auto" ("log" on the v1 partition envs, whose networks differ by episode; else "none")
REWARD_TRANSFORMS: tuple[str, ...] = ("none", "log", "auto")
#: the fixed placements the critic-guided jumps and the placement exploration draw from:
#: "whole" (every block on one platform), "two_segment" (also every placement with one
#: change of platform: blocks before a cut on one platform, the rest on another) or "auto"
#: ("two_segment" on the v1 partition envs, else "whole")
JUMP_CANDIDATES: tuple[str, ...] = ("whole", "two_segment", "auto")
#: IoRLO+'s critics (``hidden_critic="auto"``): on the v1 partition envs two hidden layers,
#: which rank the decisions of a state far better than one wide layer (module doc, 6.)
V1_HIDDEN_CRITIC: tuple[int, ...] = (64, 64)
V0_HIDDEN_CRITIC: int = 128
#: IoRLO+'s actor (``hidden_actor="auto"``): two hidden layers of 64 on the v1 partition envs,
#: the paper's one layer of 50 elsewhere (module doc, 8.)
V1_HIDDEN_ACTOR: tuple[int, ...] = (64, 64)
V0_HIDDEN_ACTOR: int = 50
WARMUPS: tuple[str, ...] = ("actor", "random")
#: the network inputs: the observation ("none") or also the log ratios of the env's squashed
#: link entries ("ratios"; module doc, 7.); "auto": "ratios" on the v1 partition envs
LOG_INPUTS: tuple[str, ...] = ("none", "ratios", "auto")
#: the deterministic decision: the actor's ("none") or refined by the critics over the fixed
#: placements ("critics", module doc 9.); "auto": "critics" on the v1 partition envs that
#: observe the frame they decide (``observe="current"``), "none" elsewhere
REFINES: tuple[str, ...] = ("none", "critics", "auto")
#: how the decision critic's updates run: "torch", or "compiled" (numpy products and numba
#: loops, agents.iorlo.fast_update: the same arithmetic up to rounding, fewer operations);
#: "auto": "compiled" on the v1 partition envs where numba is installed, else "torch"
UPDATE_BACKENDS: tuple[str, ...] = ("torch", "compiled", "auto")
#: checkpoint keys of the critics (state["critic"], state["critic2"]; "_target" appended)
CRITIC_KEYS: tuple[str, ...] = ("critic", "critic2")
SQRT_2PI = math.sqrt(2.0 * math.pi)


def _as_numpy(x: Any) -> np.ndarray:
    """A batch field as a numpy array (of a CPU tensor: a view of its memory)."""
    return x.numpy() if isinstance(x, torch.Tensor) else x


@dataclass(slots=True)
class EpisodeStats:
    """Running sums of the current training episode (checkpointed as a 5-number list,
    :meth:`as_list`, under ``state["ep_stats"]``)."""

    ret: float = 0.0  # sum of env rewards
    length: int = 0  # steps
    cost: float = 0.0  # sum of info["cost"]
    gap: float = 0.0  # sum of info["gap"] where given
    gap_count: int = 0  # steps with info["gap"]

    def as_list(self) -> list[float]:
        return [float(x) for x in (self.ret, self.length, self.cost, self.gap, self.gap_count)]


def episode_seed(seed: int, episode: int) -> int:
    """The reset seed of training episode ``episode`` (independent streams per episode)."""
    return int(np.random.SeedSequence([int(seed), int(episode)]).generate_state(1)[0])


def fixed_placements(n: int, choices: int, two_segment: bool) -> torch.Tensor:
    """The fixed placements of the critic-guided jumps and the placement exploration,
    ``(C, n)`` platform indices: the ``choices`` whole-model placements (row ``p``: every
    block on platform ``p``), then with ``two_segment`` every placement with one change of
    platform (blocks ``< k`` on ``p``, the rest on ``q != p``, for ``k = 1 .. n - 1``).

    With one change at most, these hold 94-100% of the oracle's decisions on the v1 test
    mixture for every DNN and scenario (docs/results.md section 7)."""
    rows = [[p] * n for p in range(choices)]
    if two_segment:
        rows += [
            [p] * k + [q] * (n - k)
            for k in range(1, n)
            for p in range(choices)
            for q in range(choices)
            if q != p
        ]
    return torch.tensor(rows, dtype=torch.long)


@dataclass(frozen=True)
class IoRLOConfig:
    """Every tunable number of IoRLO (the keyword arguments of :class:`IoRLO`).

    Defaults are the faithful IoRLO; :class:`IoRLOPlus` overrides the ones marked (+).

    | field | default (+ IoRLO+) | meaning |
    |---|---|---|
    | ``hidden_actor`` | 50 (+ ``"auto"``) | actor hidden units (int or tuple; paper: one layer of 50); ``"auto"``: two layers of 64 on the v1 partition envs, one of 50 elsewhere (module doc, 8.) |
    | ``hidden_critic`` | 30 (+ ``"auto"``) | critic hidden units (paper: one layer of 30); ``"auto"``: two layers of 64 on the v1 partition envs, one of 128 elsewhere (module doc, 6.) |
    | ``activation`` | ``"relu"`` | hidden activation (``"relu"``/``"tanh"``) |
    | ``actor_out_init`` | 3e-3 | uniform init range of the actor's output layer (DDPG paper; first actions ≈ 0.5); ``None``: PyTorch default |
    | ``lr_actor``, ``lr_critic`` | 1e-4 (+ 3e-4), 1e-3 | Adam learning rates (DDPG paper: 1e-4, 1e-3) |
    | ``gamma`` | 0.0 | discount (paper: γ ∈ [0, 1]; contextual bandit, see module doc) |
    | ``tau`` | 0.01 | Polyak rate of the target networks |
    | ``batch_size`` | 64 (+ 128) | minibatch size |
    | ``buffer_size`` | 100_000 | replay capacity (transitions) |
    | ``learning_starts`` | 1000 | env steps before the first update |
    | ``warmup`` | ``"actor"`` (+ ``"random"``) | actions before ``learning_starts``: actor + noise (DDPG) or uniform random |
    | ``train_freq``, ``gradient_steps`` | 1, 1 | ``gradient_steps`` updates every ``train_freq`` env steps |
    | ``noise`` | ``"gaussian"`` | ``"gaussian"`` or ``"ou"`` (Ornstein-Uhlenbeck, per episode) |
    | ``noise_sigma`` | 0.1 | per-block noise scale on the [0, 1] action |
    | ``noise_sigma_final``, ``noise_decay_steps`` | ``None``, 0 | optional linear decay of σ after ``learning_starts`` |
    | ``ou_theta``, ``ou_dt`` | 0.15, 1.0 | OU parameters |
    | ``noise_common`` | 0.0 (+ 0.2) | std of one Gaussian shift shared by all blocks (joint moves) |
    | ``explore_placements`` | 0.0 (+ 0.1) | probability per step (after ``learning_starts``) of acting with one of the ``jump_candidates`` placements drawn uniformly, every block at its platform's interval midpoint (needs intent thresholds) |
    | ``jump_candidates`` | ``"whole"`` (+ ``"auto"``) | the fixed placements of the jumps and of ``explore_placements``: ``"whole"`` (every block on one platform), ``"two_segment"`` (also one change of platform at any cut), ``"auto"``: ``"two_segment"`` on the v1 partition envs, ``"whole"`` on v0 (module doc, 2.) |
    | ``log_inputs`` | ``"none"`` (+ ``"auto"``) | ``"ratios"``: append ``log(v / (1 - v))`` of the env's ``ratio_features`` (its squashed links and factors) to the networks' input; ``"auto"``: ``"ratios"`` on the v1 partition envs, ``"none"`` elsewhere (module doc, 7.) |
    | ``refine`` | ``"none"`` (+ ``"auto"``) | the deterministic decision (evaluation, :meth:`fast_actor`, checkpoints): the actor's, or ``"critics"``: refined by the critics over the fixed placements (module doc, 9.; needs the decision critic); ``"auto"``: ``"critics"`` on the v1 partition envs with ``observe="current"``, the actor's elsewhere |
    | ``update_backend`` | ``"torch"`` (+ ``"auto"``) | how the decision critic's updates run: ``"torch"``, or ``"compiled"`` (numpy and numba, :mod:`agents.iorlo.fast_update`; the same arithmetic up to rounding, about 1.4x the frames per second); ``"auto"``: ``"compiled"`` on the v1 partition envs where numba is installed, ``"torch"`` elsewhere (module doc, 10.) |
    | ``jump_samples`` | 16 | two-segment candidates scored per state and update, drawn uniformly (all of them when there are no more) |
    | ``reward_transform`` | ``"none"`` (+ ``"auto"``) | ``"log"``: the critics learn ``-log(cost)`` instead of ``-cost`` (module doc, 5.); ``"auto"``: ``"log"`` on the v1 partition envs, ``"none"`` on v0 |
    | ``reward_scale`` | ``"auto"`` | multiplies env rewards; ``"auto"``: 1 / mean abs reward of the buffer at the first update |
    | ``obs_norm`` | False (+ True) | running observation normalisation |
    | ``obs_clip`` | 10.0 | clip of normalised observations |
    | ``variant`` | ``"ddpg"`` (+ ``"td3"``) | ``"td3"``: twin critics, target smoothing, delayed actor |
    | ``policy_delay`` | 2 | TD3: critic updates per actor/target update |
    | ``target_noise``, ``target_noise_clip`` | 0.1, 0.2 | TD3 target smoothing on the [0, 1] scale (γ > 0 only) |
    | ``critic_input`` | ``"action"`` (+ ``"decision"``) | what the critic sees of an action (module doc, 1.) |
    | ``relax_sigma`` | 0.1 | width of the decision critic's smooth surrogate for the actor gradient |
    | ``imitation_weight`` | 0.0 (+ 10.0) | weight of the critic-guided jumps (module doc, 2.; needs ``variant="td3"`` and the decision critic) |
    | ``max_grad_norm`` | ``None`` | gradient clipping (``None``: off) |
    | ``seed`` | 0 | network init, noise, sampling and episode resets |
    | ``device`` | ``"cpu"`` | torch device |
    | ``torch_threads`` | 1 | ``torch.set_num_threads`` during ``learn`` (``None``: leave as is) |
    """

    hidden_actor: int | tuple[int, ...] | str = rules.param(
        50, rules.Rule("ints", lo=1, also=("auto",))
    )
    hidden_critic: int | tuple[int, ...] | str = rules.param(
        30, rules.Rule("ints", lo=1, also=("auto",))
    )
    activation: str = rules.param("relu", rules.choice("relu", "tanh"))
    actor_out_init: float | None = rules.param(3e-3, rules.non_negative(none_ok=True))
    lr_actor: float = rules.param(1e-4, rules.unit_interval(lo_open=True))
    lr_critic: float = rules.param(1e-3, rules.unit_interval(lo_open=True))
    gamma: float = rules.param(0.0, rules.unit_interval())
    tau: float = rules.param(0.01, rules.unit_interval(lo_open=True))
    batch_size: int = rules.param(64, rules.Rule("int", lo=1))
    buffer_size: int = rules.param(100_000, rules.Rule("int", lo=1))
    learning_starts: int = rules.param(1000, rules.non_negative("int"))
    warmup: str = rules.param("actor", rules.choice(*WARMUPS))
    train_freq: int = rules.param(1, rules.Rule("int", lo=1))
    gradient_steps: int = rules.param(1, rules.Rule("int", lo=1))
    noise: str = rules.param("gaussian", rules.choice(*NOISE_KINDS))
    noise_sigma: float = rules.param(0.1, rules.non_negative())
    noise_sigma_final: float | None = rules.param(None, rules.non_negative(none_ok=True))
    noise_decay_steps: int = rules.param(0, rules.non_negative("int"))
    ou_theta: float = rules.param(0.15, rules.positive())
    ou_dt: float = rules.param(1.0, rules.positive())
    noise_common: float = rules.param(0.0, rules.non_negative())
    explore_placements: float = rules.param(0.0, rules.unit_interval(note="a probability"))
    jump_candidates: str = rules.param("whole", rules.choice(*JUMP_CANDIDATES))
    jump_samples: int = rules.param(16, rules.Rule("int", lo=1))
    log_inputs: str = rules.param("none", rules.choice(*LOG_INPUTS))
    refine: str = rules.param("none", rules.choice(*REFINES))
    update_backend: str = rules.param("torch", rules.choice(*UPDATE_BACKENDS))
    reward_scale: float | str = rules.param("auto", rules.positive(also=("auto",)))
    reward_transform: str = rules.param("none", rules.choice(*REWARD_TRANSFORMS))
    obs_norm: bool = False
    obs_clip: float | None = rules.param(10.0, rules.non_negative(none_ok=True))
    variant: str = rules.param("ddpg", rules.choice(*VARIANTS))
    policy_delay: int = rules.param(2, rules.Rule("int", lo=1))
    target_noise: float = rules.param(0.1, rules.non_negative())
    target_noise_clip: float = rules.param(0.2, rules.non_negative())
    critic_input: str = rules.param("action", rules.choice(*CRITIC_INPUTS))
    relax_sigma: float = rules.param(0.1, rules.positive())
    imitation_weight: float = rules.param(0.0, rules.non_negative())
    max_grad_norm: float | None = rules.param(None, rules.non_negative(none_ok=True))
    seed: int = rules.param(0, rules.non_negative("int"))
    device: str = "cpu"
    torch_threads: int | None = rules.param(1, rules.Rule("int", lo=1, none_ok=True))

    def __post_init__(self) -> None:
        rules.check_fields(self)
        for name in ("hidden_actor", "hidden_critic"):
            if isinstance(getattr(self, name), list):
                object.__setattr__(self, name, tuple(getattr(self, name)))
        if self.imitation_weight > 0 and (self.critic_input != "decision" or self.variant != "td3"):
            raise ValueError(
                "imitation_weight > 0 needs critic_input='decision' and variant='td3' (it "
                "scores decisions with both critics)"
            )

    def to_dict(self) -> dict[str, Any]:
        """Plain values (tuples as lists) for checkpoints and hyperparameter tables."""
        d = asdict(self)
        for k, v in d.items():
            if isinstance(v, tuple):
                d[k] = list(v)
        return d


class IoRLO(CheckpointMixin):
    """The IoRLO agent (DDPG) for ``EdgeRL/MECPartition-v0`` / ``EdgeRL/D2DPartition-v0``.

    Args:
        env: A Gymnasium env with a 1-D ``Box(0, 1)`` action space (the partitioning envs in
            ``action_mode="continuous"``, or any env wrapped in
            :class:`envs.wrappers.IntentThresholds`) and a 1-D Box observation space.
        logger: A :class:`RunLogger` (default: in-memory only).
        **kwargs: :class:`IoRLOConfig` fields.

    Example::

        env = gym.make("EdgeRL/MECPartition-v0", dnn="alexnet")
        agent = IoRLO(env, seed=0)
        agent.learn(20_000)
        agent.save("runs/iorlo_alexnet.pt")
        actor = agents.loading.load_actor("runs/iorlo_alexnet.pt")  # NumpyActor, ~9 µs/decision
    """

    algo: ClassVar[str] = ALGO  # also IoRLO+'s (its checkpoints are IoRLO checkpoints)
    # files saved before these fields existed: whole-model jumps, the observation alone
    config_fields_before: ClassVar[Mapping[str, Any]] = {
        "jump_candidates": "whole",
        "log_inputs": "none",
        "refine": "none",
        "update_backend": "torch",
    }
    default_config: ClassVar[IoRLOConfig] = IoRLOConfig()

    def __init__(self, env: Any, *, logger: RunLogger | None = None, **kwargs: Any) -> None:
        known = {f.name for f in fields(IoRLOConfig)}
        bad = sorted(set(kwargs) - known)
        if bad:
            raise ValueError(f"unknown IoRLO argument(s) {bad}; known: {sorted(known)}")
        self.config = replace(self.default_config, **kwargs)
        cfg = self.config
        obs_space, act_space = env.observation_space, env.action_space
        if not (isinstance(obs_space, spaces.Box) and len(obs_space.shape) == 1):
            raise ValueError(f"IoRLO needs a 1-D Box observation space, got {obs_space}")
        if not (
            isinstance(act_space, spaces.Box)
            and len(act_space.shape) == 1
            and np.all(act_space.low == 0.0)
            and np.all(act_space.high == 1.0)
        ):
            raise ValueError(
                "IoRLO needs a Box(0, 1, (n,)) action space (action_mode='continuous', or "
                f"wrap a discrete env in envs.wrappers.IntentThresholds), got {act_space}"
            )
        self.env = env
        self.signature = env_signature(env)
        base = env.unwrapped
        params = getattr(base, "params", None)  # a partitioning env's (its vector env's too)
        version = getattr(params, "version", 0)

        def auto(value: Any, v1: Any, v0: Any) -> Any:  # an "auto" field: v1's or v0's value
            return value if value != "auto" else v1 if version >= 1 else v0

        #: observation entries whose log ratios are appended to the networks' input (None: off)
        self._log_idx: np.ndarray | None = None
        if auto(cfg.log_inputs, "ratios", "none") == "ratios":
            idx = getattr(base, "ratio_features", None)
            if idx is None:
                raise ValueError(
                    "log_inputs='ratios' needs an env with ratio_features (the partition "
                    "envs); use log_inputs='none' for this env"
                )
            self._log_idx = np.asarray(idx, dtype=np.int64)
        #: the networks' input size: the observation's, plus the log ratios
        self.obs_dim = int(obs_space.shape[0]) + (
            0 if self._log_idx is None else self._log_idx.size
        )
        self.act_dim = int(act_space.shape[0])
        self.device = torch.device(cfg.device)
        th = self.signature["thresholds"]
        for name, on in (
            ("critic_input='decision'", cfg.critic_input == "decision"),
            ("explore_placements > 0", cfg.explore_placements > 0),
        ):
            if on and not th:
                raise ValueError(
                    f"{name} needs intent thresholds (env.unwrapped.params.thresholds epsilon/phi or "
                    "zeta, or an IntentThresholds wrapper); this env has none"
                )
        # Intent thresholds t_1 < ... < t_{P-1} and each platform's interval midpoint.
        self.thresholds = (
            torch.tensor(list(th.values()), dtype=torch.float32, device=self.device) if th else None
        )
        self.num_choices = 1 if self.thresholds is None else int(self.thresholds.numel()) + 1
        if self.thresholds is not None:
            zero, one = self.thresholds.new_zeros(1), self.thresholds.new_ones(1)
            edges = torch.cat([zero, self.thresholds, one])
            self._midpoints = 0.5 * (edges[:-1] + edges[1:])
            self._midpoints_np = self._midpoints.cpu().numpy()
            self._choices = torch.arange(self.num_choices, device=self.device)
        self.logger = logger if logger is not None else RunLogger(None)
        self._log_reward = auto(cfg.reward_transform, "log", "none") == "log"
        self._hidden_critic = auto(cfg.hidden_critic, V1_HIDDEN_CRITIC, V0_HIDDEN_CRITIC)
        self._hidden_actor = auto(cfg.hidden_actor, V1_HIDDEN_ACTOR, V0_HIDDEN_ACTOR)
        current = getattr(params, "observe", "current") == "current"
        #: decisions refined by the critics (module doc, 9.)
        self.refines = auto(cfg.refine, "critics" if current else "none", "none") == "critics"
        if self.refines and (cfg.critic_input != "decision" or not th):
            raise ValueError(
                "refine='critics' needs critic_input='decision' and intent thresholds (the "
                f"critics score decisions); got critic_input={cfg.critic_input!r}"
            )
        if self.thresholds is not None:
            two = auto(cfg.jump_candidates, "two_segment", "whole") == "two_segment"
            # the fixed placements (C, n): the P whole-model ones first, then (two_segment)
            # every one-cut placement; jumps score the first P and a sample of the rest
            self._placements = fixed_placements(self.act_dim, self.num_choices, two).to(self.device)
            self._placements_np = self._placements.cpu().numpy()
            self._placements_one_hot = self._one_hot(self._placements)  # the critics' input

        # Randomness: network init under a forked global torch RNG (no global side effect);
        # a private numpy Generator for noise, warm-up actions and sampling; a private torch
        # Generator for TD3's target smoothing noise.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.seed)
            self.actor = self._make_actor()
            # TD3's twin critics as one module (stacked weights: one forward and one backward
            # for both); its members draw their init in turn, as two Critic modules did
            self.critics = self._make_critics(2 if cfg.variant == "td3" else 1)
            self.actor_target = copy.deepcopy(self.actor)
            self.critics_target = copy.deepcopy(self.critics)
        for net in self._targets():
            net.requires_grad_(False)
        self._actor_params = list(self.actor.parameters())
        self._critic_params = self.critics.param_list()
        # fused Adam's kernel without torch.optim's per-step overhead (agents.iorlo.optim)
        self.actor_optimizer = FusedAdam(self._actor_params, lr=cfg.lr_actor)
        self.critic_optimizer = FusedAdam(self._critic_params, lr=cfg.lr_critic)
        # Polyak averaging: every target parameter and its source, in one list each
        self._polyak = (
            [*self.actor_target.parameters(), *self.critics_target.param_list()],
            [*self._actor_params, *self._critic_params],
        )

        #: the decision critic's updates in numpy and compiled loops (module doc, 10.)
        cpu = self.device.type == "cpu"  # (numpy views of the parameters)
        backend = auto(
            cfg.update_backend, "compiled" if COMPILED_UPDATES and cpu else "torch", "torch"
        )
        self.compiled_updates = backend == "compiled" and cfg.critic_input == "decision"
        if cfg.update_backend == "compiled" and not (self.compiled_updates and cpu):
            raise ValueError(
                "update_backend='compiled' needs critic_input='decision' and device='cpu', got "
                f"critic_input={cfg.critic_input!r}, device={cfg.device!r}"
            )
        if self.compiled_updates and not COMPILED_UPDATES:
            raise ValueError(
                "update_backend='compiled' needs numba (not installed); use 'torch' or 'auto'"
            )
        self._fast: DecisionUpdate | None = None  # built at the first update

        self.rng = np.random.default_rng(cfg.seed)
        self.torch_gen = torch.Generator().manual_seed(cfg.seed)
        self.noise = (
            GaussianNoise(self.act_dim, cfg.noise_sigma, self.rng)
            if cfg.noise == "gaussian"
            else OUNoise(self.act_dim, cfg.noise_sigma, self.rng, cfg.ou_theta, cfg.ou_dt)
        )
        self.buffer = ReplayBuffer(cfg.buffer_size, self.obs_dim, self.act_dim, cfg.device)
        self.obs_rms = RunningMeanStd((self.obs_dim,), clip=cfg.obs_clip) if cfg.obs_norm else None
        self.reward_scale: float | None = (
            None if cfg.reward_scale == "auto" else float(cfg.reward_scale)
        )
        self.global_step = 0  # env steps taken in training
        self.episode = 0  # training episodes started
        self.n_updates = 0  # gradient updates
        self._obs: np.ndarray | None = None  # current training observation (None: reset next)
        self._ep_stats = EpisodeStats()
        self._loss_acc: dict[str, float] = {}
        self._loss_n = 0
        #: predict's refined policy and the (global_step, n_updates) it was built at
        self._refined: tuple[tuple[int, int], CriticRefinedActor] | None = None

    # ------------------------------------------------------------------ set-up
    def _make_actor(self) -> Actor:
        cfg = self.config
        return Actor(
            self.obs_dim, self.act_dim, self._hidden_actor, cfg.activation, cfg.actor_out_init
        ).to(self.device)

    def _make_critics(self, members: int) -> CriticStack:
        cfg = self.config
        in_dim = self.act_dim * (self.num_choices if cfg.critic_input == "decision" else 1)
        return CriticStack(
            self.obs_dim, in_dim, self._hidden_critic, cfg.activation, members=members
        ).to(self.device)

    # The critics one at a time, as standalone Critic modules (copies: for inspection; the
    # agent trains self.critics / self.critics_target). critic2*: TD3's second critic.
    @property
    def critic(self) -> Critic:
        return self.critics.member(0)

    @property
    def critic_target(self) -> Critic:
        return self.critics_target.member(0)

    @property
    def critic2(self) -> Critic | None:
        return self.critics.member(1) if self.critics.members > 1 else None

    @property
    def critic2_target(self) -> Critic | None:
        return self.critics_target.member(1) if self.critics.members > 1 else None

    # What the critic sees of an action. "action": the [0, 1] vector itself (DDPG/IoRLO).
    # "decision": the one-hot platform of every block after the intent thresholds, i.e. what
    # the env's cost actually depends on; the actor's gradient then flows through the
    # probabilities that a Gaussian perturbation (std relax_sigma) of μ(s) lands in each
    # threshold interval, a smooth surrogate of the piecewise-constant discretisation.
    def _q_in(self, actions: torch.Tensor) -> torch.Tensor:
        if self.config.critic_input == "action":
            return actions
        return self._one_hot(discretise_array(actions, self.thresholds))

    def _one_hot(self, platforms: torch.Tensor) -> torch.Tensor:
        """Platforms ``(..., n)`` as the decision critic's input ``(..., n * P)``: F.one_hot's
        values without its range check (a device sync, ~50 µs a call)."""
        return (platforms.unsqueeze(-1) == self._choices).float().flatten(-2)

    def _targets(self) -> list[torch.nn.Module]:
        return [self.actor_target, self.critics_target]

    # ---------------------------------------------------------------- acting
    def _features(self, obs: Any) -> np.ndarray:
        """The networks' input of env observation(s): float32, with the log ratios appended
        when ``log_inputs`` is on (what the buffer stores and the normaliser sees)."""
        x = np.asarray(obs, dtype=np.float32)
        return x if self._log_idx is None else log_ratios(x, self._log_idx)

    def _norm_obs_np(self, obs: np.ndarray) -> np.ndarray:
        return obs if self.obs_rms is None else self.obs_rms.normalize(obs)

    def _norm_obs_t(self, obs: torch.Tensor) -> torch.Tensor:
        return obs if self.obs_rms is None else self.obs_rms.normalize_torch(obs)

    @torch.no_grad()
    def _actor_np(self, obs: np.ndarray) -> np.ndarray:
        x = torch.as_tensor(
            self._norm_obs_np(np.asarray(obs, dtype=np.float32)), device=self.device
        )
        return self.actor.forward(x).cpu().numpy()  # (no module call: hooks unused)

    def predict(self, obs: Any, deterministic: bool = True) -> np.ndarray:
        """Action(s) for the env's observation ``obs`` ``(D,)`` or a batch ``(B, D)``
        (without the log ratios, which are appended here): float32 in ``[0, 1]``.

        ``deterministic=False`` adds exploration noise: Gaussian with the current σ per block
        (also for OU, a per-episode process) plus the ``noise_common`` shift. With refined
        decisions (``refine``) the deterministic action is :meth:`fast_actor`'s: every block
        at its chosen platform's interval midpoint.
        """
        if deterministic and self.refines:
            key = (self.global_step, self.n_updates)  # the policy changes only in training
            if self._refined is None or self._refined[0] != key:
                self._refined = (key, self.fast_actor())
            x = np.asarray(obs, dtype=np.float32)
            policy = self._refined[1]
            return policy.act_batch(x) if x.ndim == 2 else policy.act(x)
        a = self._actor_np(self._features(obs))
        if not deterministic:
            shift = self.rng.normal(0.0, self.config.noise_common, (*a.shape[:-1], 1))
            a = np.clip(a + self.rng.normal(0.0, self.noise.sigma, a.shape) + shift, 0.0, 1.0)
        return a.astype(np.float32)

    def _explore(self, obs: np.ndarray) -> np.ndarray:
        if self.global_step < self.config.learning_starts and self.config.warmup == "random":
            return self.rng.random(self.act_dim, dtype=np.float32)
        if self.compiled_updates:  # the actor in numpy too (a torch call costs more here)
            x = self._norm_obs_np(np.asarray(obs, dtype=np.float32))
            a = self._fast_update().actor_mu(x[None])[0] + self.noise()
        else:
            a = self._actor_np(obs) + self.noise()
        if self.config.noise_common > 0:  # one shift for every block: explores joint moves
            a += np.float32(self.rng.normal(0.0, self.config.noise_common))
        p = self.config.explore_placements
        if p > 0 and self.rng.random() < p:  # a fixed placement (module doc, 3.)
            k = self.rng.integers(len(self._placements_np))
            return self._midpoints_np[self._placements_np[k]].astype(np.float32, copy=False)
        return np.clip(a, 0.0, 1.0, out=a).astype(np.float32, copy=False)

    def noise_sigma_at(self, step: int) -> float:
        """The exploration σ at global step ``step`` (linear decay if configured)."""
        cfg = self.config
        if cfg.noise_sigma_final is None or cfg.noise_decay_steps == 0:
            return cfg.noise_sigma
        frac = min(1.0, max(0, step - cfg.learning_starts) / cfg.noise_decay_steps)
        return cfg.noise_sigma + frac * (cfg.noise_sigma_final - cfg.noise_sigma)

    # ---------------------------------------------------------------- updates
    def _learning_reward(self, reward: float) -> float:
        """What the critics learn from: the env's reward, or with ``reward_transform="log"``
        ``-log(cost)`` (the env's reward is ``-reward_scale * cost``), module doc, 5."""
        if not self._log_reward:
            return reward
        return -math.log(max(-float(reward), 1e-12))

    def _reward_scale(self) -> float:
        if self.reward_scale is None:  # "auto", first update: fix it from the warm-up data
            n = len(self.buffer)
            mean_abs = float(np.abs(self.buffer.rewards[:n]).mean()) if n else 0.0
            self.reward_scale = 1.0 / mean_abs if mean_abs > 0 else 1.0
        return self.reward_scale

    def _scaled_rewards(self, rewards: torch.Tensor) -> torch.Tensor:
        return rewards * self._reward_scale()

    def _step_optimizer(self, optimizer: FusedAdam, grads: list[torch.Tensor]) -> None:
        max_norm = self.config.max_grad_norm
        if max_norm is not None:  # torch.nn.utils.clip_grad_norm_'s arithmetic (2-norm)
            total = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))
            torch._foreach_mul_(grads, (max_norm / (total + 1e-6)).clamp(max=1.0))
        optimizer.step(grads)

    def _soft_update(self) -> None:  # (under torch.no_grad(), as in update)
        torch._foreach_lerp_(*self._polyak, self.config.tau)

    @torch.no_grad()  # gradients by hand, but for IoRLO's actor (autograd, enabled there)
    def update(self, batch: ReplayBatch) -> dict[str, float]:
        """One DDPG (Lillicrap et al. 2016; Ren et al. Sec. 4.2) or TD3 (Fujimoto et al. 2018)
        update. As in SB3, DDPG is TD3 with one critic, no target smoothing and an actor
        update every step (``policy_delay=1``).

        Critic(s): minimise ``(Q_j(s, a) - y)^2`` with, for DDPG,
        ``y = r + γ (1 - terminated) Q'(s', μ'(s'))`` and, for TD3,
        ``y = r + γ (1 - terminated) min_j Q'_j(s', clip(μ'(s') + clip(ε, -c, c), 0, 1))``,
        ``ε ~ N(0, target_noise^2)``. Actor: maximise ``Q_1(s, μ(s))`` (plus the critic-guided
        jumps with ``imitation_weight``, TD3 only), then the targets ``θ' <- τ θ + (1 - τ) θ'``;
        with TD3 both every ``policy_delay`` critic updates.
        """
        if self.compiled_updates:  # the same losses in numpy and compiled loops
            return self._update_compiled(batch)
        cfg = self.config
        obs = self._norm_obs_t(batch.observations)
        y = self._critic_targets(batch, self._scaled_rewards(batch.rewards))
        platforms = None
        if cfg.critic_input == "decision":
            platforms = discretise_array(batch.actions, self.thresholds)
            a = self._one_hot(platforms)
        else:
            a = batch.actions
        # every critic in one forward and backward; with TD3 the sum of their losses
        critic_loss, q, grads = self.critics.mse_grads(obs, a, y)  # q: (B, K)
        self._step_optimizer(self.critic_optimizer, grads)
        out = {"critic_loss": critic_loss.item(), "q_values": q[:, 0].mean().item()}
        if self._actor_turn():
            if cfg.critic_input == "action":
                with torch.enable_grad():
                    actor_loss = -self.critics.q1_frozen(obs, self.actor(obs)).mean()
                    grads = list(torch.autograd.grad(actor_loss, self._actor_params))
            else:
                actor_loss, grads = self._decision_actor_grads(obs, a, platforms, out)
            self._step_actor(grads, actor_loss, out)
        return out

    def _update_compiled(self, batch: ReplayBatch) -> dict[str, float]:
        """:meth:`update` with the compiled backend (module doc, 10.): the batch as numpy
        arrays (``learn`` samples it so; a batch of tensors is read through views), the
        prologue's float32 arithmetic in numpy (normalisation, reward scale, platforms: the
        torch path's values bit for bit, without its tensor calls), both steps in
        :class:`~agents.iorlo.fast_update.DecisionUpdate`."""
        cfg = self.config
        obs_raw, actions, rewards = (_as_numpy(x) for x in batch[:3])
        obs = obs_raw if self.obs_rms is None else self.obs_rms.normalize_f32(obs_raw)
        y = rewards * self._reward_scale()  # float32 times the scale, as the torch path
        if cfg.gamma > 0.0:
            y = self._critic_targets(batch, torch.from_numpy(y)).numpy()
        fast = self._fast_update()
        platforms = discretise(actions, fast.thresholds)  # (numpy's fastest form)
        critic_loss, q1, grads = fast.critic_grads(obs, platforms, y)
        self._step_optimizer(self.critic_optimizer, [torch.from_numpy(g) for g in grads])
        out = {"critic_loss": critic_loss, "q_values": q1}
        if self._actor_turn():
            cut = self._jump_cuts(obs.shape[0])
            actor_loss, grads, fraction = fast.actor_grads(
                obs, platforms, None if cut is None else cut.numpy()
            )
            if cfg.imitation_weight > 0:
                out["imitation_fraction"] = fraction
            self._step_actor([torch.from_numpy(g) for g in grads], actor_loss, out)
        return out

    def _critic_targets(self, batch: ReplayBatch, rewards: torch.Tensor) -> torch.Tensor:
        """``y``: the reward with γ = 0 (a contextual bandit), else the bootstrapped target
        (:meth:`update`'s docstring); a batch of numpy arrays is read through tensors."""
        cfg = self.config
        if cfg.gamma <= 0.0:
            return rewards
        next_obs = self._norm_obs_t(torch.as_tensor(batch.next_observations))
        next_mu = self.actor_target(next_obs)
        if self.critics.members > 1:  # TD3's target policy smoothing
            eps = torch.randn(tuple(batch.actions.shape), generator=self.torch_gen)
            eps = (eps.to(self.device) * cfg.target_noise).clamp(
                -cfg.target_noise_clip, cfg.target_noise_clip
            )
            next_mu = (next_mu + eps).clamp(0.0, 1.0)
        # clipped double Q with TD3 (the min over one critic: its value)
        next_q = self.critics_target(next_obs, self._q_in(next_mu)).amin(1, True)
        return rewards + cfg.gamma * (1.0 - torch.as_tensor(batch.terminations)) * next_q

    def _actor_turn(self) -> bool:
        """Counts the update; True where the actor updates too (every ``policy_delay``
        critic updates with TD3, every update with DDPG)."""
        self.n_updates += 1
        td3 = self.critics.members > 1
        return not td3 or self.n_updates % self.config.policy_delay == 0

    def _step_actor(self, grads: list[torch.Tensor], actor_loss: Any, out: dict) -> None:
        self._step_optimizer(self.actor_optimizer, grads)
        self._soft_update()
        out["actor_loss"] = float(actor_loss)

    def _fast_update(self) -> DecisionUpdate:
        """The compiled update on numpy views of the parameters (built once: training and
        loading change the parameters in place; rebuilt where they are other tensors, as
        after a deepcopy of the agent)."""
        fast = self._fast
        if fast is None or fast.aw[0].ctypes.data != self._actor_params[0].data_ptr():
            crit = self.critics
            self._fast = DecisionUpdate(
                [p.detach().numpy() for p in self._actor_params],
                [w.detach().numpy() for w in crit.weights],
                [b.detach().numpy() for b in crit.biases],
                self.obs_dim, self.thresholds.cpu().numpy(), self._midpoints_np,
                self._placements_np, self.config.activation == "relu", self.config.relax_sigma,
                self.config.imitation_weight,
            )  # fmt: skip
        return self._fast

    def _jump_cuts(self, B: int) -> torch.Tensor | None:
        """The one-cut placements (rows of the fixed placements) the jumps score per state:
        ``jump_samples`` drawn uniformly, or ``None`` for all of them when there are no more
        (the torch generator, so both backends draw the same ones)."""
        P, C = self.num_choices, self._placements.shape[0]
        m = min(C - P, self.config.jump_samples)
        if m == C - P:
            return None
        return torch.randint(P, C, (B, m), generator=self.torch_gen).to(self.device)

    def _decision_actor_grads(
        self, obs: torch.Tensor, q_in: torch.Tensor, platforms: torch.Tensor, out: dict
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The actor's loss and its gradient with the decision critic (module doc, 1. and 2.),
        backpropagated by hand (no autograd graph: :func:`agents.iorlo.networks.linear_grads`).

        ``-Q_1(s, p(μ(s)))`` through the smooth surrogate ``p``: the probability that ``μ(s) +
        N(0, relax_sigma²)`` lands in each platform's interval, ``p_j = Φ(u_j) - Φ(u_{j-1})``
        with ``u_j = (t_j - μ) / relax_sigma`` (``Φ(u_{-1}) = 0``, ``Φ(u_{P-1}) = 1``); plus
        ``imitation_weight`` times the critic-guided jumps' squared distance
        (:meth:`_imitation_target`). ``q_in``, ``platforms``: the replayed actions' one-hot
        decisions and platforms; ``out`` gets ``imitation_fraction``. Under
        ``torch.no_grad()`` (:meth:`update`).
        """
        cfg, crit, d = self.config, self.critics, self.obs_dim
        B, sigma = obs.shape[0], cfg.relax_sigma
        mu, inputs = self.actor.forward_kept(obs)
        z_obs = crit.first_layer(obs, slice(0, d))  # every critic's observation part + bias
        u = (self.thresholds - mu.unsqueeze(-1)) / sigma  # (B, n, P - 1)
        cdf = torch.special.ndtr(u)
        probs = F.pad(cdf, (0, 1), value=1.0) - F.pad(cdf, (1, 0), value=0.0)  # (B, n, P)
        w_dec = crit.weights[0][0, :, d:]  # critic 1's first layer, decision part
        z_pi = z_obs[:, : w_dec.shape[0]] + F.linear(probs.flatten(-2), w_dec)
        q_pi, dz = crit.q1_and_input_grad(z_pi, -1.0 / B)
        loss = -q_pi.mean()
        d_probs = torch.mm(dz, w_dec).view_as(probs)
        d_cdf = d_probs[..., :-1] - d_probs[..., 1:]
        d_mu = (d_cdf * torch.exp(-0.5 * u * u)).sum(-1).mul_(-1.0 / (sigma * SQRT_2PI))
        if cfg.imitation_weight > 0:  # td3 only (IoRLOConfig)
            target, out["imitation_fraction"] = self._imitation_target(z_obs, mu, q_in, platforms)
            diff = mu - target
            loss = loss + cfg.imitation_weight * diff.pow(2).sum(-1).mean()
            d_mu.add_(diff, alpha=2.0 * cfg.imitation_weight / B)
        return loss, self.actor.grads(inputs, mu, d_mu)

    def _imitation_target(
        self, z_obs: torch.Tensor, mu: torch.Tensor, q_in: torch.Tensor, platforms: torch.Tensor
    ) -> tuple[torch.Tensor, float]:
        """Critic-guided jumps (module doc, 2.): the actor's target and the fraction of
        states that jump.

        Candidates per state: the replayed action, every whole-model placement (all blocks
        at one platform's interval midpoint) and, with ``jump_candidates="two_segment"``,
        ``jump_samples`` one-cut placements drawn for that state. Where the lower of the two
        critics' values of the best candidate exceeds the higher of their values of the
        actor's own decision (both critics agree, which guards against chasing one critic's
        errors), the target is that candidate's decision; elsewhere it is the actor's own
        decision. The loss is the squared distance of μ(s) to the target's interval
        midpoints, so the actor jumps where the critics agree and otherwise stays clear of
        the thresholds (small drifts do not flip blocks).

        ``z_obs``: the observations' part of the critics' first layer (with the bias);
        ``q_in``, ``platforms``: the replayed actions' one-hot decisions and platforms. The
        first layer of every decision is added to ``z_obs`` (that of the fixed placements
        computed once for the batch), and the values of all candidates and of the actor's
        own decision come from one forward of the critic stack.
        """
        B, P = mu.shape[0], self.num_choices
        crit, fixed = self.critics, self._placements
        C = fixed.shape[0]
        mu_platforms = discretise_array(mu, self.thresholds)
        decisions = torch.cat([q_in, self._placements_one_hot, self._one_hot(mu_platforms)])
        z_dec = crit.first_layer(decisions, slice(self.obs_dim, None), bias=False)
        # the fixed placements scored per state (rows of `fixed`): the P whole-model ones,
        # then m one-cut ones (all of them, or a uniform draw per state when there are more)
        cut = self._jump_cuts(B)
        if cut is None:
            cut = torch.arange(P, C, device=self.device).expand(B, C - P)
        scored = torch.cat([self._choices.expand(B, P), cut], 1)  # (B, P + m)
        # per critic and state: [replayed, scored fixed ones, actor's own], gathered (rows of
        # z_dec) straight into a member-major buffer kept between updates, then the state's
        # part added in place (no allocation of B (P + m + 2) K h floats, one pass each;
        # CriticStack.from_first_layer_members scores it without transposes)
        K, S, h = crit.members, scored.shape[1] + 2, z_obs.shape[1] // crit.members
        z = self._candidate_buffer(K, B, S, h)
        rows = torch.arange(B, device=self.device).unsqueeze(1)
        idx = torch.cat([rows, scored + B, rows + (B + C)], 1)  # (B, S)
        z_dec_k = z_dec.view(-1, K, h).transpose(0, 1).contiguous()  # (K, 2 B + C, h)
        torch.index_select(z_dec_k, 1, idx.view(-1), out=z.view(K, B * S, h))
        z.add_(z_obs.view(B, K, h).transpose(0, 1).unsqueeze(2))  # z_dec + z_obs, as before
        q = crit.from_first_layer_members(z.view(K, B * S, h)).view(K, B, S)
        q_cand = q[:, :, :-1].amin(0)  # (B, 1 + P + m): the lower critic
        q_pi = q[:, :, -1].amax(0)  # (B,): the higher critic
        best_q, best = q_cand.max(1)
        jump = best_q > q_pi
        # the chosen decision's platforms: the replayed action's, a fixed placement's, or
        # (no better candidate) the actor's own: hold it at their midpoints
        k = scored.gather(1, (best - 1).clamp(min=0).unsqueeze(1)).squeeze(1)
        chosen = torch.where(best.unsqueeze(1) == 0, platforms, fixed[k])
        chosen = torch.where(jump.unsqueeze(1), chosen, mu_platforms)
        return self._midpoints[chosen], jump.float().mean().item()

    def _candidate_buffer(self, *shape: int) -> torch.Tensor:
        buf = getattr(self, "_cand_buf", None)
        if buf is None or tuple(buf.shape) != shape:
            buf = self._cand_buf = torch.empty(shape, device=self.device)
        return buf

    # ---------------------------------------------------------------- training
    def _reset_env(self) -> None:
        obs, _ = self.env.reset(seed=episode_seed(self.config.seed, self.episode))
        self._obs = self._features(obs)
        self.episode += 1
        self.noise.reset()
        self._ep_stats = EpisodeStats()

    def learn(
        self,
        total_steps: int,
        callback: Callable[[IoRLO, dict[str, float]], bool | None] | None = None,
        eval_env: Any = None,
        eval_every: int = 5000,
        eval_seeds: tuple[int, ...] = DEFAULT_EVAL_SEEDS,
        log_every: int = 1000,
        checkpoint_path: str | os.PathLike[str] | None = None,
        checkpoint_every: int | None = None,
    ) -> IoRLO:
        """Train for ``total_steps`` more env steps (continuing the step count).

        Args:
            total_steps: Env steps in this call.
            callback: Called as ``callback(agent, metrics)`` after every training episode
                (``metrics``: ``episodic_return``, ``cost``, ``gap``, ``episodic_length``)
                and every evaluation (``eval/...`` keys); returning ``False`` stops training.
            eval_env: A second env instance for deterministic evaluation every
                ``eval_every`` steps and at the end (episodes reset with ``eval_seeds``);
                ``None``: no evaluation.
            log_every: Steps between ``losses/*`` and ``charts/SPS`` points.
            checkpoint_path, checkpoint_every: Save (with the replay buffer) at the first
                episode boundary after every ``checkpoint_every`` steps and at the end.
        """
        if not (isinstance(total_steps, int | np.integer) and total_steps >= 0):
            raise ValueError(f"total_steps must be an integer >= 0, got {total_steps!r}")
        for name, v in (("eval_every", eval_every), ("log_every", log_every)):
            if not (isinstance(v, int) and v >= 1):
                raise ValueError(f"{name} must be an integer >= 1, got {v!r}")
        if checkpoint_every is not None and checkpoint_path is None:
            raise ValueError("checkpoint_every needs checkpoint_path")
        if eval_env is not None and eval_env is self.env:
            raise ValueError("eval_env must be another env instance than the training env")
        cfg = self.config
        blas = cfg.torch_threads if self.compiled_updates else None  # numpy's products too
        with torch_threads(cfg.torch_threads), blas_threads(blas):
            log = self.logger
            start_step, t0 = self.global_step, time.perf_counter()
            end = self.global_step + int(total_steps)
            next_eval = self.global_step + eval_every
            next_ckpt = None if checkpoint_every is None else self.global_step + checkpoint_every
            stop = False
            evaluated: tuple[int, dict[str, float]] | None = None  # the last periodic one
            while self.global_step < end and not stop:
                if self._obs is None:
                    self._reset_env()
                obs = self._obs
                if self.obs_rms is not None:
                    self.obs_rms.update(obs)
                self.noise.sigma = self.noise_sigma_at(self.global_step)
                action = self._explore(obs)
                next_obs, reward, terminated, truncated, info = self.env.step(action)
                next_obs = self._features(next_obs)
                self.buffer.add(obs, action, self._learning_reward(reward), next_obs, terminated)
                self._obs = next_obs
                self.global_step += 1
                st = self._ep_stats
                st.ret += float(reward)
                st.length += 1
                st.cost += float(info.get("cost", math.nan))
                if "gap" in info:
                    st.gap += float(info["gap"])
                    st.gap_count += 1

                if (
                    self.global_step > cfg.learning_starts
                    and self.global_step % cfg.train_freq == 0
                ):
                    for _ in range(cfg.gradient_steps):
                        batch = self.buffer.sample(
                            cfg.batch_size, self.rng, numpy=self.compiled_updates
                        )
                        losses = self.update(batch)
                        for k, v in losses.items():
                            self._loss_acc[k] = self._loss_acc.get(k, 0.0) + v
                        self._loss_n += 1

                if self.global_step % log_every == 0:
                    if self._loss_n:
                        log.scalars(
                            {k: v / self._loss_n for k, v in self._loss_acc.items()},
                            self.global_step,
                            prefix="losses",
                        )
                        self._loss_acc, self._loss_n = {}, 0
                    sps = (self.global_step - start_step) / max(time.perf_counter() - t0, 1e-9)
                    log.scalar("charts/SPS", sps, self.global_step)
                    log.scalar("charts/noise_sigma", self.noise.sigma, self.global_step)

                if terminated or truncated:
                    metrics = {
                        "episodic_return": st.ret,
                        "episodic_length": float(st.length),
                        "cost": st.cost / st.length,
                    }
                    if st.gap_count:
                        metrics["gap"] = st.gap / st.gap_count
                    log.scalars(metrics, self.global_step, prefix="charts")
                    self._obs = None
                    if callback is not None and callback(self, metrics) is False:
                        stop = True
                    if next_ckpt is not None and self.global_step >= next_ckpt:
                        self.save(checkpoint_path, include_buffer=True)
                        next_ckpt = self.global_step + checkpoint_every

                if eval_env is not None and self.global_step >= next_eval:
                    res = self.evaluate(eval_env, eval_seeds)
                    evaluated = (self.global_step, res)
                    if callback is not None and callback(self, res) is False:
                        stop = True
                    next_eval = self.global_step + eval_every
            final = {}
            if eval_env is not None:  # once per step: the last periodic one if it is this step's
                done_now = evaluated is not None and evaluated[0] == self.global_step
                final = evaluated[1] if done_now else self.evaluate(eval_env, eval_seeds)
            if checkpoint_path is not None:
                self.save(checkpoint_path, include_buffer=True)
            log.log_hparams(
                {
                    "algo": ALGO,
                    **self.config.to_dict(),
                    "env_id": self.signature["env_id"],
                    "dnn": self.signature["profile_name"],
                },
                final or {"charts/SPS": log.last("charts/SPS", math.nan)},
                step=self.global_step,
            )
            log.flush()
        return self

    def evaluate(
        self, env: Any, seeds: tuple[int, ...] = DEFAULT_EVAL_SEEDS, log: bool = True
    ) -> dict[str, float]:
        """Deterministic evaluation (no noise) on one episode per seed; logs ``eval/*``."""
        actor = self.fast_actor()
        res = evaluate_policy(actor.act, env, seeds)
        out = {f"eval/{k}": v for k, v in res.items() if k in ("episodic_return", "cost", "gap")}
        if log:
            self.logger.scalars(out, self.global_step)
        return out

    # ------------------------------------------------------------- fast actor
    def actor_state(self) -> dict[str, Any]:
        """The deterministic policy as a fast-actor spec (:func:`mlp_actor_spec`)."""
        kw: dict[str, Any] = {}
        if self.obs_rms is not None:
            kw = {
                "obs_mean": self.obs_rms.mean,
                "obs_std": self.obs_rms.std,
                "obs_clip": self.obs_rms.clip,
            }
        return mlp_actor_spec(
            self.actor.linears(),
            activation=self.config.activation,
            output="sigmoid",
            log_inputs=self._log_idx,
            **kw,
        )

    def refine_state(self) -> dict[str, Any] | None:
        """The critics and candidates of critic-refined decisions as a spec
        (:func:`agents.iorlo.refine.refine_spec`), or ``None`` when decisions are the
        actor's (``refine``)."""
        if not self.refines:
            return None
        c = self.critics
        members = [([w[k] for w in c.weights], [b[k] for b in c.biases]) for k in range(c.members)]
        return refine_spec(members, self.config.activation, self._placements)

    def fast_actor(self) -> NumpyActor | CriticRefinedActor:
        """The current deterministic policy without torch (a snapshot): a
        :class:`NumpyActor`, or with refined decisions a :class:`CriticRefinedActor`."""
        actor = NumpyActor(self.actor_state(), signature=self.signature)
        refine = self.refine_state()
        return actor if refine is None else CriticRefinedActor(actor, refine)

    # ------------------------------------------------------------ checkpoints
    def state_dict(self, include_buffer: bool = False) -> dict[str, Any]:
        """Everything needed to resume (weights_only-safe plain values and tensors)."""
        # The critics in the layout of one Critic module each ("critic", "critic2") and their
        # optimiser state as torch.optim.Adam's over those modules' parameters: the format
        # of checkpoints written before the critics were stacked, which still load.
        K = self.critics.members
        state: dict[str, Any] = {
            "actor": self.actor.state_dict(),
            "actor_target": self.actor_target.state_dict(),
        }
        for net, suffix in ((self.critics, ""), (self.critics_target, "_target")):
            for k, sd in enumerate(net.member_state_dicts()):
                state[f"{CRITIC_KEYS[k]}{suffix}"] = sd
        state.update(
            actor_optimizer=self.actor_optimizer.state_dict(),
            critic_optimizer=unstack_state(self.critic_optimizer.state_dict(), K),
            obs_rms=None if self.obs_rms is None else self.obs_rms.state_dict(),
            reward_scale=self.reward_scale,
            global_step=self.global_step,
            episode=self.episode,
            n_updates=self.n_updates,
            rng={"numpy": numpy_rng_state(self.rng), "torch": self.torch_gen.get_state()},
            noise=self.noise.state_dict(),
            buffer=self.buffer.state_dict() if include_buffer else None,
            # mid-episode: the episode's length, so load replays it from the buffer
            ep_stats=self._ep_stats.as_list() if self._obs is not None else None,
        )
        return state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        K = self.critics.members
        self._refined = None  # new weights: predict's refined policy is rebuilt
        for name in ("actor", "actor_target"):
            getattr(self, name).load_state_dict(state[name])
        for net, suffix in ((self.critics, ""), (self.critics_target, "_target")):
            net.load_member_state_dicts([state[f"{key}{suffix}"] for key in CRITIC_KEYS[:K]])
        self.actor_optimizer.load_state_dict(state["actor_optimizer"])
        self.critic_optimizer.load_state_dict(stack_state(state["critic_optimizer"], K))
        if self.obs_rms is not None:
            self.obs_rms.load_state_dict(state["obs_rms"])
        rs = state["reward_scale"]
        self.reward_scale = None if rs is None else float(rs)
        self.global_step = int(state["global_step"])
        self.episode = int(state["episode"])
        self.n_updates = int(state["n_updates"])
        set_numpy_rng_state(self.rng, state["rng"]["numpy"])
        self.torch_gen.set_state(state["rng"]["torch"])
        self.noise.load_state_dict(state["noise"])
        if state.get("buffer") is not None:
            self.buffer.load_state_dict(state["buffer"])
        self._obs = None  # resume at the next episode start, unless the replay below works
        if state.get("ep_stats") is not None and state.get("buffer") is not None:
            self._replay_episode([float(x) for x in state["ep_stats"]])

    def _replay_episode(self, ep_stats: list[float]) -> None:
        """Put the env back where a mid-episode save left it: episode ``self.episode - 1``
        starts from its seed and its actions are the last ``length`` of the buffer (stored
        as taken, float32). The observations reached are checked against the buffer's; if
        they differ, the resume falls back to the next episode start."""
        length = int(ep_stats[1])
        buf = self.buffer
        if not 0 < length <= len(buf):
            return
        idx = [(buf.pos - length + i) % buf.capacity for i in range(length)]
        obs, _ = self.env.reset(seed=episode_seed(self.config.seed, self.episode - 1))
        for i in idx:
            if not np.array_equal(self._features(obs), buf.observations[i]):
                warnings.warn(
                    "IoRLO resume: replaying the saved episode did not reproduce its "
                    "observations; continuing from the next episode start",
                    stacklevel=3,
                )
                return
            obs, *_ = self.env.step(buf.actions[i].copy())
        self._obs = self._features(obs)
        self._ep_stats = EpisodeStats(
            ep_stats[0], length, ep_stats[2], ep_stats[3], int(ep_stats[4])
        )

    def save(self, path: str | os.PathLike[str], include_buffer: bool = False) -> Path:
        """Write a resumable checkpoint atomically (replay buffer only if ``include_buffer``).

        Keys: ``format``, ``version``, ``algo`` ("iorlo"), ``variant``, ``signature``
        (:func:`env_signature`), ``config`` (:class:`IoRLOConfig` as a dict), ``actor``
        (fast-actor spec for :func:`agents.loading.load_actor`), ``state``
        (:meth:`state_dict`). A save mid-episode with ``include_buffer`` resumes mid-episode (the
        episode is replayed from the buffer); without the buffer, at the next episode start.
        """
        return save_checkpoint(
            path,
            {
                "algo": ALGO,
                "variant": self.config.variant,
                "signature": self.signature,
                "config": self.config.to_dict(),
                "actor": self.actor_state(),
                "refine": self.refine_state(),
                "state": self.state_dict(include_buffer),
            },
        )


class IoRLOPlus(IoRLO):
    """IoRLO+, the improved variant (module doc): decision critic with a smooth threshold
    surrogate, critic-guided jumps, joint exploration, TD3 machinery, observation
    normalisation and, on v1, the scale-free reward, log link inputs and deeper critics and
    actor. Same actor form (a sigmoid MLP), thresholds, checkpoints and fast actor as
    :class:`IoRLO`; only the defaults differ (any field can still be overridden).
    """

    default_config: ClassVar[IoRLOConfig] = IoRLOConfig(
        variant="td3",
        obs_norm=True,
        critic_input="decision",
        imitation_weight=10.0,
        noise_common=0.2,
        explore_placements=0.1,
        jump_candidates="auto",
        log_inputs="auto",
        refine="auto",
        update_backend="auto",
        reward_transform="auto",
        hidden_critic="auto",
        hidden_actor="auto",
        lr_actor=3e-4,
        batch_size=128,
        warmup="random",
    )
