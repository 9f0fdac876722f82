"""How much learning can matter on a partitioning env: the hardness report.

A benchmark on which one fixed placement is (nearly) optimal cannot compare agents. For an env
configuration and fixed seeds, :func:`hardness_report` rolls out ``episodes`` copies of its
vector env for ``frames`` frames (the links, load and candidates do not depend on the
actions) and reports, against the clairvoyant oracle of every frame:

* the **best constant decision** (the same placement in every frame) and its mean gap. It is
  exact: the mean ratio ``cost_f(S) / opt_f`` over frames is, for a fixed ``S``, the chain
  cost under the per-block and per-pair terms summed over the frames with weights
  ``1 / opt_f``, so the DP of docs/model.md §7 over the summed terms finds the best ``S``;
* every heuristic's mean gap and the share of frames where it is optimal (non-oracle rules
  decide on what the agent observes: with ``observe="measured"`` the previous frame's
  measurement), including ``dp_measured``, the exact DP applied to the last measurement;
* the number of distinct oracle decisions and how often the oracle's decision changes from
  one frame to the next within an episode.

D2D frames without a collaborator run every block locally whatever the decision: every
policy is optimal there (ratio 1) and they do not enter the constant's DP.

``python benchmarks/hardness.py`` prints the table for the default envs.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from agents.partition_baselines import D2D_ONLY, MEC_ONLY, make_rule
from envs.model.chain import ChainTerms
from envs.model.dp import solve_terms

#: Heuristics of the report per scenario (``co_l`` is ``co_h``'s rule; ``oracle`` is the
#: reference). ``dp_measured`` is the exact DP on the observed (measured) frame.
MEC_HEURISTICS: tuple[str, ...] = (
    "self", "edge_only", "cloud_only", "neuro_l", "neuro_e", "deepar", "jalad", "random",
    "dp_measured",
)  # fmt: skip
D2D_HEURISTICS: tuple[str, ...] = (
    "self", "co_h", "neuro_l", "neuro_e", "jalad", "random", "dp_measured",
)  # fmt: skip
RATIO_TOL = 1e-9  # a decision within this relative distance of the optimum counts as optimal


@dataclass
class PolicyStats:
    """Mean gap to the oracle (``mean(cost / opt) - 1``) and share of optimal frames."""

    gap: float
    optimal_share: float


@dataclass
class HardnessReport:
    """Result of :func:`hardness_report` (see the module docstring)."""

    env_id: str
    dnn: str
    episodes: int
    frames: int
    seed: int
    best_constant: np.ndarray
    best_constant_gap: float
    distinct_decisions: int
    change_rate: float
    policies: dict[str, PolicyStats] = field(default_factory=dict)

    @property
    def best_heuristic(self) -> tuple[str, float]:
        """Name and gap of the best heuristic other than ``dp_measured``."""
        rows = [(g.gap, n) for n, g in self.policies.items() if n != "dp_measured"]
        gap, name = min(rows)
        return name, gap

    def row(self) -> dict[str, Any]:
        """One flat table row (gaps in %)."""
        out: dict[str, Any] = {
            "env": self.env_id,
            "dnn": self.dnn,
            "best_constant": "".join(map(str, self.best_constant.tolist())),
            "best_constant_gap_%": 100 * self.best_constant_gap,
            "distinct_oracle_decisions": self.distinct_decisions,
            "oracle_change_%": 100 * self.change_rate,
        }
        for name, st in self.policies.items():
            out[f"{name}_gap_%"] = 100 * st.gap
            out[f"{name}_optimal_%"] = 100 * st.optimal_share
        return out

    def to_dict(self) -> dict[str, Any]:
        d = self.row()
        d.update(episodes=self.episodes, frames=self.frames, seed=self.seed)
        return d


def heuristics_for(scenario: str) -> tuple[str, ...]:
    if scenario not in ("mec", "d2d"):
        raise ValueError(f"scenario must be 'mec' or 'd2d', got {scenario!r}")
    return MEC_HEURISTICS if scenario == "mec" else D2D_HEURISTICS


class _ConstantAccumulator:
    """Sums the oracle's chain terms over frames, weighted by ``1 / opt``."""

    def __init__(self) -> None:
        self.sums: list[np.ndarray] | None = None
        self.excluded = 0
        self.frames = 0

    def add(self, terms: ChainTerms, weights: np.ndarray, include: np.ndarray) -> None:
        w = np.where(include, weights, 0.0)  # batched terms: a leading frame axis
        parts = [
            np.tensordot(w, x, axes=(0, 0))
            for x in (terms.node, terms.edge_kb, terms.edge_0, terms.branch, terms.exit_ret)
        ]
        self.sums = (
            parts if self.sums is None else [a + b for a, b in zip(self.sums, parts, strict=True)]
        )
        self.excluded += int((~include).sum())
        self.frames += int(w.size)


def _frames(vec: Any, seed: int, frames: int) -> Iterator[tuple[Any, Any, np.ndarray]]:
    """``(true problem, observed problem, include)`` of every frame of ``frames`` steps of a
    partitioning vector env reset with ``seed`` (actions do not change the frames)."""
    base = vec.unwrapped
    action = np.zeros(vec.action_space.shape, dtype=vec.action_space.dtype)
    vec.reset(seed=int(seed))
    for _ in range(frames):
        avail = base.sim.available
        include = np.ones(base.num_envs, dtype=bool) if avail is None else avail.copy()
        yield base.problem, base.measured_problem, include
        vec.step(action)


def _solve_constant(model: Any, acc: _ConstantAccumulator) -> tuple[np.ndarray, float]:
    """The constant decision minimising the summed weighted terms, and the mean ratio - 1."""
    sums = acc.sums
    const, weighted = solve_terms(
        ChainTerms(sums[0], sums[1], sums[2], sums[3], sums[4], model.exit_probs),
        model.blocks.in_kb,
        float(model.blocks.out_kb[-1]),
    )
    return const, (weighted + acc.excluded) / acc.frames - 1.0


def best_constant(vec: Any, seed: int, frames: int) -> tuple[np.ndarray, float]:
    """The best constant decision in hindsight over the frames of ``vec`` (a partitioning
    vector env, every copy one episode) reset with ``seed``, and its mean gap to the oracle.

    ``evaluate.py`` shows it beside every agent: on the frames an agent is evaluated on, no
    fixed placement does better, so an agent above it has not learnt to use the state."""
    base = vec.unwrapped
    model, kw = base.cost_model, base.params.cost_kw
    acc = _ConstantAccumulator()
    for true, _, include in _frames(vec, seed, frames):
        opt = true.optimum()[1]
        acc.add(model.chain_terms(true.links, true.slowdown, **kw), 1.0 / opt, include)
    return _solve_constant(model, acc)


def hardness_report(
    env_id: str,
    *,
    episodes: int = 100,
    frames: int = 100,
    seed: int = 0,
    heuristics: Sequence[str] | None = None,
    **env_kwargs: Any,
) -> HardnessReport:
    """The hardness report of ``gymnasium.make_vec(env_id, **env_kwargs)`` (module docstring).

    Args:
        env_id: A registered partitioning id (``EdgeRL/MECPartition-v1`` ...).
        episodes: Independent episodes (copies of the vector env).
        frames: Frames per episode.
        seed: Seed of the vector env (episode draws) and of the ``random`` rule.
        heuristics: Policy names (default :func:`heuristics_for` the scenario).
        **env_kwargs: Constructor arguments of the env.
    """
    import gymnasium as gym

    import envs  # noqa: F401  (registers the ids)

    for name, v in (("episodes", episodes), ("frames", frames)):
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {v!r}")
    env_kwargs = {**env_kwargs, "oracle": False}  # the report solves every frame itself
    vec = gym.make_vec(
        env_id,
        num_envs=int(episodes),
        vectorization_mode="vector_entry_point",
        max_episode_steps=None,
        **env_kwargs,
    )
    base = vec.unwrapped
    scenario = base.scenario
    names = tuple(heuristics_for(scenario) if heuristics is None else heuristics)
    for n in names:
        if n != "dp_measured" and (
            (scenario == "mec" and n in D2D_ONLY) or (scenario == "d2d" and n in MEC_ONLY)
        ):
            raise ValueError(f"heuristic {n!r} does not apply to the {scenario} scenario")
    rules = {
        n: make_rule(
            "oracle" if n == "dp_measured" else n, **({"seed": seed} if n == "random" else {})
        )
        for n in names
    }
    model, kw = base.cost_model, base.params.cost_kw
    acc = _ConstantAccumulator()
    ratios: dict[str, list[np.ndarray]] = {n: [] for n in names}
    decisions = []
    try:
        for true, seen, include in _frames(vec, seed, frames):
            dec, opt = true.optimum()
            acc.add(model.chain_terms(true.links, true.slowdown, **kw), 1.0 / opt, include)
            for n, rule in rules.items():
                d = rule.decide(seen).copy()
                d[~include] = 0  # no collaborator: the env runs every block locally
                ratios[n].append(true.evaluate(d).cost / opt)
            decisions.append(dec)
    finally:
        vec.close()
    const, const_gap = _solve_constant(model, acc)
    dec_arr = np.stack(decisions, axis=1)  # (episodes, frames, n)
    changes = np.any(dec_arr[:, 1:] != dec_arr[:, :-1], axis=-1)
    distinct = len({d.tobytes() for d in dec_arr.reshape(-1, model.n)})
    policies = {}
    for n, rs in ratios.items():
        r = np.stack(rs)
        policies[n] = PolicyStats(float(r.mean() - 1.0), float(np.mean(r <= 1.0 + RATIO_TOL)))
    return HardnessReport(
        env_id=env_id,
        dnn=model.profile.name,
        episodes=int(episodes),
        frames=int(frames),
        seed=int(seed),
        best_constant=const,
        best_constant_gap=float(const_gap),
        distinct_decisions=distinct,
        change_rate=float(changes.mean()) if frames > 1 else 0.0,
        policies=policies,
    )
