"""Partitioning baselines as policies of the MEC/D2D environments.

A policy wraps a :class:`~agents.partition_baselines.DecisionRule`: each call reads the
frame as the agent observes it (``env.unwrapped.measured_problem``: with a v1 env's
``observe="measured"`` the links and load measured for the previous frame; otherwise, and in
every v0 env, the frame the action is charged on) — only ``oracle`` reads the true frame
(``env.unwrapped.problem``: it is the clairvoyant reference) — lets the rule decide, and converts the decision into an
element of the env's action space (``decision_to_action``: the midpoint of each platform's
threshold interval in continuous mode, e.g. device -> ε/2, edge -> (ε+φ)/2, cloud ->
(φ+1)/2; the platform ints in discrete mode). An :class:`~envs.wrappers.IntentThresholds`
wrapper in the chain is honoured (its thresholds convert).

| name | rule | scenarios |
|---|---|---|
| ``self`` | every block on the user's device | MEC, D2D |
| ``edge_only`` / ``cloud_only`` | every block on the edge / cloud | MEC |
| ``co_h`` / ``co_l`` | every block on the collaborator (the paper's strong / weak collaborator is an env setting) | D2D |
| ``neuro_l`` / ``neuro_e`` | Neurosurgeon: best single split for latency / device energy | MEC, D2D |
| ``deepar`` | DeePar: best two-cut device -> edge -> cloud | MEC |
| ``jalad`` | JALAD: single split with quantised features (the env charges full precision) | MEC, D2D |
| ``random`` | uniform random platform per block (``seed``) | MEC, D2D |
| ``paper_random`` | random platform per block with ``shares`` (default: Ren et al. Table 3 "Ours" of the DNN; ``seed``) | MEC, D2D |
| ``oracle`` | exact optimum (DP, docs/model.md §7) on the true frame (clairvoyant) | MEC, D2D |
| ``dp_measured`` | the same DP on the observed frame (the last measurement in v1) | MEC, D2D |
| ``constant`` | one given placement in every frame (``decision=[...]``) | MEC, D2D |

Usage::

    policy = make_partition_policy("neuro_l", env)
    obs, _ = env.reset(seed=0)
    obs, reward, *_ = env.step(policy.act(obs))

``act_batch(obs_batch)`` decides for every copy of a vector env at once (one batched rule
call); on a single env it accepts a batch of one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from agents.partition_baselines import D2D_ONLY, MEC_ONLY, DecisionRule, make_rule

PARTITION_POLICY_NAMES: tuple[str, ...] = (
    "self",
    "edge_only",
    "cloud_only",
    "neuro_l",
    "neuro_e",
    "deepar",
    "jalad",
    "co_h",
    "co_l",
    "random",
    "paper_random",
    "oracle",
    "dp_measured",
)
#: Policies that decide on the true frame instead of the observed one.
CLAIRVOYANT: tuple[str, ...] = ("oracle",)


def _converter(env: Any) -> Any:
    """The outermost object in the wrapper chain that defines ``decision_to_action``."""
    obj = env
    while obj is not None:
        if "decision_to_action" in dir(type(obj)):
            return obj
        obj = getattr(obj, "env", None)
    raise ValueError(
        f"{env!r} is not a partitioning env: no decision_to_action in its wrapper chain"
    )


class RulePolicy:
    """A :class:`DecisionRule` acting in a partitioning env (single or vector).

    Args:
        env: ``EdgeRL/MECPartition-v0`` / ``EdgeRL/D2DPartition-v0`` env (possibly wrapped)
            or their vector envs.
        rule: The decision rule.
        name: Policy name (for logs).
    """

    def __init__(self, env: Any, rule: DecisionRule, name: str) -> None:
        base = env.unwrapped
        scenario = getattr(base, "scenario", None)
        if scenario not in ("mec", "d2d"):
            raise ValueError(f"policy {name!r} needs a MEC or D2D partitioning env, got {env!r}")
        if scenario == "d2d" and name in MEC_ONLY:
            raise ValueError(
                f"policy {name!r} applies to the MEC scenario only (MEC-only: {', '.join(MEC_ONLY)})"
            )
        if scenario == "mec" and name in D2D_ONLY:
            raise ValueError(
                f"policy {name!r} applies to the D2D scenario only (D2D-only: {', '.join(D2D_ONLY)})"
            )
        self.env = env
        self.base = base
        self.rule = rule
        self.name = name
        self.clairvoyant = name in CLAIRVOYANT
        self._conv = _converter(env)

    def _problem(self) -> Any:
        return self.base.problem if self.clairvoyant else self.base.measured_problem

    def decide(self) -> np.ndarray:
        """The rule's decision(s) for the current frame(s): ``(n,)`` or ``(num_envs, n)``."""
        return self.rule.decide(self._problem())

    def act(self, obs: Any = None) -> np.ndarray:
        """One action for a single env (``obs`` is not needed: the rule reads the frame)."""
        problem = self._problem()
        if problem.batch_size is not None:
            raise ValueError(f"policy {self.name!r}: use act_batch() with a vector env")
        return self._conv.decision_to_action(self.rule.decide(problem))

    def act_batch(self, obs_batch: Any) -> np.ndarray:
        """Actions for a batch: every copy of a vector env, or a batch of one for a single env."""
        problem = self._problem()
        size = len(obs_batch)
        if problem.batch_size is None:
            if size != 1:
                raise ValueError(
                    f"policy {self.name!r}: a single env decides one frame; got a batch of {size}"
                )
            return self.act(obs_batch[0])[None]
        if size != problem.batch_size:
            raise ValueError(
                f"policy {self.name!r}: obs_batch has {size} rows, the env has {problem.batch_size}"
            )
        return self._conv.decision_to_action(self.rule.decide(problem))

    def __repr__(self) -> str:
        return f"RulePolicy({self.name!r}, {self.rule!r})"


def _factory(name: str) -> Callable[..., RulePolicy]:
    rule = "oracle" if name == "dp_measured" else name

    def make(env: Any, **kwargs: Any) -> RulePolicy:
        return RulePolicy(env, make_rule(rule, **kwargs), name)

    make.__name__ = f"make_{name}"
    make.__doc__ = f"The {name!r} partitioning policy (see the module table)."
    return make


#: Every policy by name: the baselines of :data:`PARTITION_POLICY_NAMES` (no arguments
#: needed) and ``constant`` (``decision=[...]``).
PARTITION_POLICIES: dict[str, Callable[..., RulePolicy]] = {
    name: _factory(name) for name in (*PARTITION_POLICY_NAMES, "constant")
}


def make_partition_policy(name: str, env: Any, **kwargs: Any) -> RulePolicy:
    """``PARTITION_POLICIES[name](env, **kwargs)``; unknown names list the known ones."""
    if name not in PARTITION_POLICIES:
        raise ValueError(
            f"unknown partitioning policy {name!r}; known: {', '.join(PARTITION_POLICIES)}"
        )
    return PARTITION_POLICIES[name](env, **kwargs)
