"""DP-forecast: a learned one-step forecast of the frame's cost terms, then the exact DP.

Under ``observe="measured"`` (the v1 default) the agent sees the links and load measured for
the previous frame and is charged on the current frame's, which it has not seen.
``dp_measured`` runs the exact DP on the measurement as if nothing changed. The decision
that minimises the **expected** cost given the observation is different, and it is also a
DP: the chain cost of a fixed decision is linear in the inverse bandwidths (transfer time
``8G/B``), the latencies and the capability factors (docs/model.md §4/§5), so its expectation
is the cost of the same decision with those terms replaced by their conditional means
(exactly for latency; up to ``E[B L]`` in the transfer energy, whose radio power grows with
``B``: forecasting that term too changed nothing measurable, docs/model.md §13).

The learner fits that conditional mean: an MLP reads the observation and outputs one
log-correction ``c_f`` per term (MEC: 4 inverse bandwidths, 2 latencies, 3 factors; D2D: the
selected link's inverse bandwidth and latency, ``d_u``, ``d_h``), and the forecast is
``term_f = measured_f * exp(c_f)``. It is trained by squared error on the ratio
``true_f / measured_f`` of the frame the step then reveals (``info["network"]``), whose
minimiser is ``exp(c_f) = E[true_f / measured_f | obs]``; the last layer starts at zero, so
an untrained agent *is* ``dp_measured``, and with ``observe="current"`` the target is 1 and
the agent is the oracle. Each decision is the exact DP (:class:`envs.model.dp.Oracle`, the
compiled kernel) on the forecast terms. What the network can learn from one frame is the
predictable part of the dynamics: mean reversion of the platform load, the average
drift of volatile links (a bandwidth measured high tends to fall), the effect of a spike
in progress.

Training reuses :class:`agents.distill.DPDistill`'s loop (rollouts on a native vector env in
discrete mode, labelled frames aggregated in a buffer, minibatch updates, episodes across
iterations, ``charts/*`` and checkpoints that resume exactly). The policy is
:class:`ForecastDPActor`: numpy MLP + DP, saved in the checkpoint with the env's cost model
(the DNN profile, weights and readings), loaded by :func:`agents.load_actor` without an env.
Its log tags are those of DP-distill with ``losses/loss`` the squared error and
``losses/accuracy`` the share of terms whose forecast is closer to the truth than the
measurement.

The forecast can also serve another policy: :class:`ForecastFrameActor` writes it into the
observation and lets a policy trained on the frame it decides (``env.observe=current``)
decide on it (:func:`compose_forecast_frame`, ``python evaluate.py forecast=<run>``;
``python train.py agent=iorlo_plus_forecast`` trains both in one run).
"""

from __future__ import annotations

import functools
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from agents.common.fast_actor import NumpyActor, mlp_actor_spec
from agents.common.mlp import linear_modules
from agents.common.rules import Rule, choice, param
from agents.distill import DistillConfig, DPDistill
from envs.dnn import DNNProfile
from envs.model.chain import ChainCostModel
from envs.model.dp import Oracle
from envs.model.links import d2d_links, mec_links
from envs.model.thresholds import midpoints
from envs.partition.sim import FrameReadings

ALGO = "dp_forecast"
OBJECTIVES = ("cost", "gap")
#: per scenario, which forecast terms (:attr:`envs.partition.sim.FrameReadings.fields`, the
#: observation's first entries) are bandwidths: the cost is linear in 1 / B
TERMS: dict[str, dict[str, Any]] = {
    "mec": {"bandwidth": np.array([True] * 4 + [False] * 5)},
    "d2d": {"bandwidth": np.array([True, False, False, False])},
}


@dataclass
class ForecastConfig(DistillConfig):
    """:class:`agents.distill.DistillConfig` plus ``ratio_clip``; the oracle never acts
    (``beta0 = 0``): the frames do not depend on the actions, so the agent's own decisions
    see the same states."""

    hidden: tuple[int, ...] = (64, 64)
    beta0: float = 0.0
    # targets true / measured clipped to [1/clip, clip]: spikes give heavy tails, and a
    # tighter clip forecasts better at these data sizes (measured: docs/results.md)
    ratio_clip: float = param(5.0, Rule("float", lo=1, hi=1e6, lo_open=True))
    # "cost": least expected cost; "gap": least expected cost / OPT
    objective: str = param("cost", choice(*OBJECTIVES))


@dataclass
class ForecastFrameConfig:
    """The own key of ``agent=iorlo_plus_forecast`` (:mod:`pipeline.runners.forecast_frame`),
    which trains a :class:`ForecastFrameActor`'s two parts in one run; the parts' keys are
    IoRLO+'s (``agent.policy.*``) and :class:`ForecastConfig`'s (``agent.forecast.*``)."""

    # frames the forecaster trains on (before the policy's train.total_steps)
    forecast_steps: int = param(100_000, Rule("int", lo=1))


class ForecastDPActor:
    """The DP-forecast policy: forecast the frame's cost terms, then solve the exact DP.

    ``act(obs)`` / ``act_batch(obs)`` return actions of the env's action mode (platform
    indices, or the interval midpoints of each platform in the continuous mode);
    ``decide_batch`` returns the decisions ``(B, n)``.

    Args:
        forecaster: The MLP (a :class:`NumpyActor` with an ``identity`` head) giving the
            log-corrections of the measured terms.
        dp: The env's cost model as plain values (``DPForecast._dp``): ``scenario``,
            ``profile`` (:meth:`DNNProfile.to_dict`), ``overhead_weights``, ``cost_kw``,
            ``latency_scale``, ``thresholds``, ``action_mode``.
        signature: The env signature recorded with the actor.
    """

    def __init__(
        self, forecaster: NumpyActor, dp: Mapping[str, Any], signature: Mapping[str, Any] | None
    ) -> None:
        scenario = dp["scenario"]
        if scenario not in TERMS:
            raise ValueError(f"dp.scenario must be one of {list(TERMS)}, got {scenario!r}")
        self.forecaster = forecaster
        self.dp = dict(dp)
        self.signature = signature
        self.scenario = scenario
        self._bw = TERMS[scenario]["bandwidth"]
        if forecaster.out_dim != self._bw.size:
            raise ValueError(
                f"forecaster gives {forecaster.out_dim} corrections, {scenario} needs "
                f"{self._bw.size}"
            )
        P = 3 if scenario == "mec" else 2
        weights = [float(w) for w in dp["overhead_weights"]]
        self.model = ChainCostModel(DNNProfile.from_dict(dp["profile"]), P, weights)
        #: the readings' place in the observation (the simulator's layout, env-side)
        self.readings = FrameReadings(scenario, self.model.blocks.latency_ms)
        self.model.sequential_batch = True  # the compiled batched DP where available
        self.oracle = Oracle(self.model)
        self.n, self.P = self.model.n, P
        self.cost_kw = {k: float(v) for k, v in dp["cost_kw"].items()}
        self.latency_scale = float(dp["latency_scale"])
        self.action_mode = str(dp["action_mode"])
        self._mid = midpoints(np.asarray(dp["thresholds"], dtype=np.float64)).astype(np.float32)
        self.obs_dim = forecaster.obs_dim
        #: the width of the simulator's layout at the start of the observation (``None``:
        #: not recorded, a checkpoint older than the key: the observation itself must be it)
        self.layout_dim: int | None = dp.get("layout_dim")

    # ---------------------------------------------------------------- decisions
    def measured(self, obs: np.ndarray) -> np.ndarray:
        """The measured values ``(B, F)`` read back from the observation's squashed
        entries (``x / (x + scale)`` inverted)."""
        return self.readings.read(obs)

    def terms(self, obs: np.ndarray, corrections: np.ndarray | None = None) -> np.ndarray:
        """Forecast values ``(B, F)`` (bandwidths, latencies, factors) for the frame;
        ``corrections``: the forecaster's output if already computed."""
        meas = self.measured(obs)
        c = corrections
        if c is None:
            c = self.forecaster.act_batch(np.asarray(obs, dtype=np.float32))
        c = np.asarray(c, dtype=np.float64)
        # term = measured * exp(c); a bandwidth's c corrects 1 / B, so B = measured * exp(-c)
        return meas * np.exp(np.where(self._bw, -c, c))

    @functools.cached_property
    def frame_readings(self) -> FrameReadings:
        """Where :meth:`frame` writes the forecast: the simulator's layout at the start of
        this actor's observation (its recorded ``layout_dim``; without one, the whole
        observation: ValueError for a width with ``dp_features`` or ``history`` entries)."""
        width = self.layout_dim or self.obs_dim
        return FrameReadings.of_width(self.scenario, self.readings.latency, width)

    def frame(self, obs: np.ndarray) -> np.ndarray:
        """The observations in the simulator's layout ``(B, frame_readings.obs_dim)``, with
        the forecast frame's readings in place of the measured ones, as the simulator writes
        readings (docs/model.md §13). Entries appended to the layout (``dp_features``,
        ``history``) inform the forecast and are dropped."""
        width = self.frame_readings.obs_dim
        return self.frame_readings.write(np.asarray(obs)[:, :width], self.terms(obs))

    def decide_batch(self, obs_batch: Any, corrections: np.ndarray | None = None) -> np.ndarray:
        """Decisions ``(B, n)``; ``corrections`` as in :meth:`terms`."""
        obs = np.asarray(obs_batch, dtype=np.float32)
        if obs.ndim != 2 or obs.shape[1] != self.obs_dim:
            raise ValueError(f"obs must have shape (batch, {self.obs_dim}), got {obs.shape}")
        v = self.terms(obs, corrections)
        s = self.latency_scale
        if self.scenario == "mec":
            links = mec_links(*v[:, :4].T, v[:, 4] * s, v[:, 5] * s, validate=False)
            slowdown = v[:, 6:9]
        else:
            links = d2d_links(v[:, 0], v[:, 1] * s, validate=False)
            slowdown = v[:, 2:4]
        dec, _ = self.oracle.solve_batch(links, np.ascontiguousarray(slowdown), **self.cost_kw)
        if self.scenario == "d2d":
            dec[obs[:, 4] < 0.5] = 0  # no collaborator: every block stays local
        return dec

    def act_batch(self, obs_batch: Any) -> np.ndarray:
        dec = self.decide_batch(obs_batch)
        return self._mid[dec] if self.action_mode == "continuous" else dec

    def act(self, obs: Any) -> np.ndarray:
        x = np.asarray(obs, dtype=np.float32)
        if x.shape != (self.obs_dim,):
            raise ValueError(f"obs must have shape ({self.obs_dim},), got {x.shape}")
        return self.act_batch(x[None])[0]

    __call__ = act

    def decide(self, obs: Any) -> np.ndarray:
        return self.decide_batch(np.asarray(obs, dtype=np.float32)[None])[0]

    def check_fits(self, env: Any, action_mode: str | None = None) -> None:
        """ValueError unless ``env`` is the scenario, size and action mode (``action_mode``:
        another than this actor's) this actor acts in."""
        base = env.unwrapped
        inner = getattr(base, "env", base)
        obs_space = getattr(env, "single_observation_space", None) or env.observation_space
        if int(np.prod(obs_space.shape)) != self.obs_dim:
            raise ValueError(
                f"actor takes {self.obs_dim} observation values, the env gives "
                f"{int(np.prod(obs_space.shape))}"
            )
        got = (getattr(inner, "scenario", None), getattr(inner, "n_blocks", None),
               getattr(getattr(inner, "params", None), "action_mode", None))  # fmt: skip
        want = (self.scenario, self.n, action_mode or self.action_mode)
        if got != want:
            raise ValueError(f"actor acts on (scenario, n_blocks, action_mode) {want}, env {got}")

    @classmethod
    def from_checkpoint(cls, payload: Mapping[str, Any], **kwargs: Any) -> ForecastDPActor:
        forecaster = NumpyActor(payload["actor"], signature=payload.get("signature"), **kwargs)
        return cls(forecaster, payload["dp"], payload.get("signature"))

    def __repr__(self) -> str:
        return f"ForecastDPActor({self.scenario}, n={self.n}, forecaster={self.forecaster!r})"


#: the ``algo`` of a composite checkpoint (:func:`compose_forecast_frame`), and the suffix of
#: a policy's name when it decides on the forecast frame (evaluation rows, benchmark tags)
FRAME_ALGO = "forecast_frame"
FRAME_SUFFIX = f"+{FRAME_ALGO}"
#: what a composite checkpoint keeps of each part's checkpoint (``refine``: IoRLO+'s critics)
POLICY_KEYS: tuple[str, ...] = ("algo", "variant", "signature", "actor", "refine")
FORECAST_KEYS: tuple[str, ...] = ("algo", "signature", "actor", "dp")
#: signature fields the policy's and the forecaster's envs must share
SHARED_FIELDS: tuple[str, ...] = (
    "env_id", "scenario", "profile_fingerprint", "n_blocks", "num_platforms",
)  # fmt: skip


class ForecastFrameActor:
    """A policy that decides on the frame DP-forecast predicts (docs/model.md §13).

    Under ``observe="measured"`` the observation holds the last frame's readings. This actor
    replaces them by the forecaster's forecast of the frame to decide
    (:meth:`ForecastDPActor.terms`, written as the simulator writes readings:
    :class:`envs.partition.sim.FrameReadings`) and lets ``policy`` act on the result. The
    intended ``policy`` was trained on the frame it decides (``env.observe=current``): it
    learned decisions from the true frame without the cost model, and the forecaster
    learned what a measurement predicts.

    ``act`` / ``act_batch`` act in the policy's action space (``decide`` / ``decide_batch``
    where the policy has them); ``check_fits`` checks both parts against the deployed env.

    Args:
        policy: A loaded policy with ``act_batch`` and ``obs_dim`` (a
            :class:`~agents.common.fast_actor.NumpyActor` or
            :class:`~agents.iorlo.refine.CriticRefinedActor`) reading the simulator's layout
            (no ``dp_features`` or ``history`` entries).
        forecaster: The :class:`ForecastDPActor` of the same env (same layout).
        signature: The deployed env's signature (default: the forecaster's env with the
            policy's action space).
    """

    def __init__(
        self,
        policy: Any,
        forecaster: ForecastDPActor,
        signature: Mapping[str, Any] | None = None,
    ) -> None:
        scenario, n, dim = forecaster.scenario, forecaster.n, int(policy.obs_dim)
        try:  # the policy's width first: the likelier mismatch (a policy with history)
            FrameReadings.of_width(scenario, forecaster.readings.latency, dim)
        except ValueError as exc:
            raise ValueError(
                f"policy reads {exc}: the forecast frame is written into that layout (a policy "
                "trained without dp_features or history)"
            ) from None
        try:
            layout = forecaster.frame_readings.obs_dim
        except ValueError:  # entries appended to a layout the checkpoint does not record
            layout = None
        if layout != dim:
            raise ValueError(
                f"forecaster reads {forecaster.obs_dim} observation values, the policy {dim}: "
                "the forecaster must read the policy's layout, with or without entries "
                "appended (history, dp_features); a forecaster saved before its layout was "
                "recorded must read exactly the policy's (retrain it, or with env.history=[])"
            )
        self.policy, self.forecaster = policy, forecaster
        #: ``obs_dim``: the deployed env's observation (the forecaster's); ``policy_dim``:
        #: the simulator's layout at its start, which the policy reads
        self.scenario, self.n, self.obs_dim = scenario, n, forecaster.obs_dim
        self.policy_dim = dim
        own = dict(getattr(policy, "signature", None) or {})
        self.action_mode = own.get("action_mode") or getattr(policy, "action_mode", None)
        if signature is None and own:
            signature = {**own, **{k: v for k, v in (forecaster.signature or {}).items()
                                   if k in ("observation_space", "env_params")}}  # fmt: skip
        self.signature = None if signature is None else dict(signature)

    def frame(self, obs_batch: Any) -> np.ndarray:
        """The observations ``(B, policy_dim)`` with the forecast frame's readings: what the
        policy reads (entries appended for the forecaster dropped)."""
        obs = np.asarray(obs_batch, dtype=np.float32)
        if obs.ndim != 2 or obs.shape[1] != self.obs_dim:
            raise ValueError(f"obs must have shape (batch, {self.obs_dim}), got {obs.shape}")
        return self.forecaster.frame(obs)

    def act_batch(self, obs_batch: Any) -> np.ndarray:
        return self.policy.act_batch(self.frame(obs_batch))

    def decide_batch(self, obs_batch: Any) -> np.ndarray:
        return self.policy.decide_batch(self.frame(obs_batch))

    def _one(self, obs: Any) -> np.ndarray:
        x = np.asarray(obs, dtype=np.float32)
        if x.shape != (self.obs_dim,):
            raise ValueError(f"obs must have shape ({self.obs_dim},), got {x.shape}")
        return x[None]

    def act(self, obs: Any) -> np.ndarray:
        return self.policy.act(self.frame(self._one(obs))[0])  # the policy's single path

    __call__ = act

    def decide(self, obs: Any) -> np.ndarray:
        return self.policy.decide(self.frame(self._one(obs))[0])

    def check_fits(self, env: Any) -> None:
        """ValueError unless both parts fit ``env`` (sizes, scenario, blocks, action mode); a
        warning when ``env`` observes the current frame (nothing left to forecast there). The
        policy is checked against the part of the observation it reads."""
        act = getattr(env, "single_action_space", None) or env.action_space
        layout = gym.spaces.Box(0.0, 1.0, (self.policy_dim,), np.float32)
        self.policy.check_fits(SimpleNamespace(observation_space=layout, action_space=act))
        self.forecaster.check_fits(env, action_mode=self.action_mode)  # the env's width
        base = env.unwrapped
        params = getattr(getattr(base, "env", base), "params", None)
        if getattr(params, "observe", None) == "current":
            warnings.warn(
                "this env observes the frame it charges (observe='current'): the forecast "
                "frame corrects an exact observation; use the policy alone (.policy) there",
                stacklevel=2,
            )

    @classmethod
    def from_checkpoint(cls, payload: Mapping[str, Any], **kwargs: Any) -> ForecastFrameActor:
        """The composite of a checkpoint written by :func:`compose_forecast_frame`."""
        from agents.loading import actor_from_payload

        policy = actor_from_payload(payload["policy"], **kwargs)
        forecaster = ForecastDPActor.from_checkpoint(payload["forecast"], **kwargs)
        return cls(policy, forecaster, payload.get("signature"))

    def __repr__(self) -> str:
        return f"ForecastFrameActor({self.scenario}, n={self.n}, policy={self.policy!r})"


class ForecastFrameObservation(gym.ObservationWrapper):
    """``env``'s observation with the forecaster's forecast of the frame written in: what a
    :class:`ForecastFrameActor`'s policy sees. A policy acting on this env decides as the
    composite does on ``env`` (the runner of ``agent=iorlo_plus_forecast`` evaluates its
    policy on it while training).

    Args:
        env: A v1 partitioning env observing the measured frame (the forecaster's: with the
            entries it reads appended, if any).
        forecaster: The :class:`ForecastDPActor` of the same env.

    Its observation space is the simulator's layout (the appended entries dropped).
    """

    def __init__(self, env: gym.Env, forecaster: ForecastDPActor) -> None:
        super().__init__(env)
        dim = int(env.observation_space.shape[0])
        if forecaster.obs_dim != dim:
            raise ValueError(
                f"forecaster reads {forecaster.obs_dim} observation values, the env has {dim}"
            )
        width = forecaster.frame_readings.obs_dim  # ValueError for a width it cannot write
        self.observation_space = gym.spaces.Box(0.0, 1.0, (width,), np.float32)
        self.forecaster = forecaster

    def observation(self, observation: np.ndarray) -> np.ndarray:
        return self.forecaster.frame(np.asarray(observation, dtype=np.float32)[None])[0]


def compose_forecast_frame(
    policy: str | os.PathLike[str],
    forecast: str | os.PathLike[str],
    out: str | os.PathLike[str] | None = None,
    **kwargs: Any,
) -> ForecastFrameActor:
    """The :class:`ForecastFrameActor` of a policy's and a DP-forecast's checkpoints (files or
    run directories), written as one checkpoint to ``out`` if given (atomic, checksummed;
    :func:`agents.load_actor` reads it). ``kwargs``: those of :func:`agents.load_actor`.

    Raises :class:`~agents.common.checkpoint.CheckpointError` naming the file when a part is
    not what it must be: ``forecast`` a DP-forecast run, ``policy`` a custom agent's
    partitioning policy of the same env and DNN (a composite or a DP-forecast is refused).
    """
    from agents.common.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
    from agents.loading import actor_from_payload, find_checkpoint

    files = {"policy": find_checkpoint(policy), "forecast": find_checkpoint(forecast)}
    parts = {k: load_checkpoint(f) for k, f in files.items()}
    if parts["forecast"].get("algo") != ALGO:
        raise CheckpointError(
            files["forecast"], f"not a {ALGO} checkpoint (algo {parts['forecast'].get('algo')!r})"
        )
    if parts["policy"].get("algo") in (ALGO, FRAME_ALGO):
        raise CheckpointError(
            files["policy"], f"the policy must decide itself, got a {parts['policy']['algo']}"
        )
    sig_p = parts["policy"].get("signature") or {}
    sig_f = parts["forecast"].get("signature") or {}
    if bad := [k for k in SHARED_FIELDS if sig_p.get(k) != sig_f.get(k)]:
        raise CheckpointError(
            files["policy"],
            "policy and forecaster trained on different envs: "
            + ", ".join(f"{k} {sig_p.get(k)!r} vs {sig_f.get(k)!r}" for k in bad),
        )
    payload = {
        "algo": FRAME_ALGO,
        "policy": {k: parts["policy"][k] for k in POLICY_KEYS if k in parts["policy"]},
        "forecast": {k: parts["forecast"][k] for k in FORECAST_KEYS if k in parts["forecast"]},
    }
    try:
        policy_actor = actor_from_payload(payload["policy"], **kwargs)
        actor = ForecastFrameActor(
            policy_actor, ForecastDPActor.from_checkpoint(payload["forecast"], **kwargs)
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(files["policy"], f"cannot compose: {exc}") from exc
    if out is not None:
        save_checkpoint(out, {**payload, "signature": actor.signature})
    return actor


class DPForecast(DPDistill):
    """Learns the one-step forecast of :class:`ForecastDPActor` (see the module docstring).

    Args: those of :class:`agents.distill.DPDistill`; ``**config``: :class:`ForecastConfig`
    fields.
    """

    algo = ALGO
    config_class = ForecastConfig
    label_dtype = np.float32

    def _setup(self, base: Any) -> None:
        inner = getattr(base, "env", base)
        self.scenario = inner.scenario
        self._terms = TERMS[self.scenario]
        if inner.cost_model.early_exits is not None:
            raise ValueError("DP-forecast needs an env without early exits (early_exit=None)")
        self._dp = {
            "scenario": self.scenario,
            "profile": inner.profile.to_dict(),
            "overhead_weights": inner.cost_model.overhead_weights.tolist(),
            "cost_kw": dict(inner.params.cost_kw),
            "latency_scale": float(inner.params.latency_scale),
            "thresholds": list(inner.params.thresholds),
            "action_mode": "discrete",
        }
        # the simulator's layout at the start of the observation (v1; entries may follow it)
        readings = getattr(getattr(inner, "sim", None), "readings", None)
        if getattr(readings, "obs_dim", None) is not None:
            self._dp["layout_dim"] = int(readings.obs_dim)

    def _out_dim(self) -> int:
        return self._terms["bandwidth"].size

    def _label_dim(self) -> int:
        return 2 * self._out_dim()  # ratio targets, then their weights (0: no target)

    def _build_net(self, obs_dim: int) -> None:
        super()._build_net(obs_dim)
        last = linear_modules(self.net)[-1]
        with torch.no_grad():  # start as dp_measured: no correction
            last.weight.zero_()
            last.bias.zero_()

    def fast_actor(self) -> ForecastDPActor:
        """The current policy (a snapshot) as a :class:`ForecastDPActor`, discrete actions."""
        spec = mlp_actor_spec(linear_modules(self.net), activation="relu", output="identity")
        return ForecastDPActor(NumpyActor(spec, signature=self.signature), self._dp, self.signature)

    def _actor_payload(self) -> dict[str, Any]:
        return {"actor": self.fast_actor().forecaster.spec, "dp": self._dp}

    def _dp_actor(self) -> ForecastDPActor:
        """The DP side (decoding, cost model, oracle), built once; the forecast comes from
        the network at each call of :meth:`_decide`."""
        if self.__dict__.get("_actor") is None:
            self._actor = self.fast_actor()
        return self._actor

    def _decide(self, obs: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            c = self.net(torch.as_tensor(obs, dtype=torch.float32)).numpy()
        return self._dp_actor().decide_batch(obs, c)

    def _label(
        self, obs: np.ndarray, expert: np.ndarray, expert_cost: np.ndarray, info: dict[str, Any]
    ) -> np.ndarray:
        """Targets ``true / measured`` per term (inverse for bandwidths) and their weights
        (``objective="gap"``: proportional to ``1 / OPT`` of the true frame)."""
        t, net, actor = self._terms, info["network"], self._dp_actor()
        meas = actor.measured(obs)  # the values the actor's forecast starts from
        true = np.stack([np.asarray(net[k], dtype=np.float64) if k in net else meas[:, j]
                         for j, k in enumerate(actor.readings.fields)], 1)  # fmt: skip
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(t["bandwidth"], meas / true, true / meas)
        clip = self.config.ratio_clip
        weight = np.isfinite(ratio).astype(np.float64)
        if self.scenario == "d2d":  # no collaborator (now or measured): nothing to forecast
            weight *= ((obs[:, 4] > 0.5) & ~np.asarray(info["no_collaborator"]))[:, None]
        ratio = np.clip(np.nan_to_num(ratio, nan=1.0, posinf=clip), 1.0 / clip, clip)
        if self.config.objective == "gap":  # weighted least squares: E[ratio / OPT] / E[1 / OPT]
            inv = 1.0 / np.maximum(np.asarray(expert_cost, dtype=np.float64), 1e-12)
            weight *= (inv / inv.mean())[:, None]
        return np.concatenate([ratio, weight], 1).astype(np.float32)

    def _loss(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, float]:
        """(weighted squared error of ``exp(c)`` against the ratio, share of terms the
        forecast gets closer than the measurement)."""
        k = self._out_dim()
        ratio, weight = y[:, :k], y[:, k:]
        pred = torch.exp(self.net(x))
        err = (pred - ratio) ** 2
        loss = (err * weight).sum() / weight.sum().clamp_min(1.0)
        better = ((err <= (1.0 - ratio) ** 2).float() * weight).sum() / weight.sum().clamp_min(1)
        return loss, float(better)
