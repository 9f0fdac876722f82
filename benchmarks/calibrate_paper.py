"""Fit the platform factors to Ren et al.'s Sec. 5.2 numbers under a *random* placement.

Usage: ``.venv/bin/python benchmarks/calibrate_paper.py [--reading both|one_way|round_trip]
[--json PATH] [--check-presets FRAMES]``.

Ren et al. (IEEE TSC 2022, Sec. 5.2) say their decision "is selected randomly from the
potential partitioning decisions", with the computation distribution of Table 3. This script
reads that as ``paper_random`` (agents/partition_baselines.py): every block on platform ``s``
with probability ``shares[s]`` (Table 3 "Ours" of the DNN), i.i.d. over blocks. The expected
cost of that placement is exact and cheap: the chain cost (docs/model.md §4, §5) is a sum of per-block
terms in ``S_i`` and pair terms in ``(S_{i-1}, S_i)``, so its expectation is the per-block
terms times ``p_s`` plus the pair terms times ``p_a p_b`` (``S_0`` is the device with
probability 1), see :func:`expected_chain_cost`. Fixed decisions (Self, Edge-only,
Cloud-only, Co-H) are the one-hot special case.

Fitted: the slowdown factors ``d_T`` (user device, also the D2D user ``d_u``), ``d_E``,
``d_C``, the energy factor ``d_energy`` and the Co-H collaborator's factor ``d_H``
(``collaborator_factor`` at availability 1.0), in log space, by robust least squares
(``scipy.optimize.least_squares``, soft-L1 loss at 10% scale) on the relative errors of the
21 numbers in :data:`PAPER`, from several starts. Links are the Table 2 averages; both latency
readings are fitted: ``round_trip`` (a transfer pays the Table 2 latency, v0) and ``one_way``
(half of it, docs/model.md §10). Input 3x32x32 (CIFAR), 10 classes. The table printed compares every
number and marks those within 10%; ``--json`` writes the fit (atomically);
``--check-presets FRAMES`` also measures the numbers in the envs of
``experiment=paper_mec_calibrated`` / ``paper_d2d_calibrated`` (stochastic 5G trial links).
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy.optimize import least_squares

from agents.partition_baselines import PAPER_TABLE3_SHARES
from envs.dnn import get_profile
from envs.dynamics import TABLE2
from envs.model.chain import ChainCostModel
from envs.model.links import LinkMatrices, d2d_links, mec_links
from envs.model.units import MW_MS_TO_J
from pipeline.utils import atomic_write_json

DNNS: tuple[str, ...] = ("alexnet", "vgg16", "resnet32", "mobilenet_v1")
INPUT_SHAPE: tuple[int, int, int] = (3, 32, 32)
READINGS: dict[str, float] = {"round_trip": 1.0, "one_way": 0.5}  # multiplier of Table 2 L
PARAMS: tuple[str, ...] = ("d_t", "d_e", "d_c", "d_energy", "d_h")
TOLERANCE = 0.10  # "reproduced": within 10% relative error

# Ren et al., IEEE TSC 2022: the numbers the fit targets, (value, unit, where in the paper).
# Percentages are improvements / savings vs the self-contained approach (all on the device).
PAPER: dict[str, tuple[float, str, str]] = {
    "mec.latency_gain.alexnet": (86.77, "%", "Sec. 5.2.1, Fig. 10"),
    "mec.latency_gain.vgg16": (88.64, "%", "Sec. 5.2.1, Fig. 10"),
    "mec.latency_gain.resnet32": (64.68, "%", "Sec. 5.2.1, Fig. 10"),
    "mec.latency_gain.mobilenet_v1": (48.60, "%", "Sec. 5.2.1, Fig. 10"),
    "mec.energy_saving.alexnet": (62.70, "%", "Sec. 5.2.2, Fig. 12"),
    "mec.energy_saving.vgg16": (86.45, "%", "Sec. 5.2.2, Fig. 12"),
    "mec.energy_saving.resnet32": (64.52, "%", "Sec. 5.2.2, Fig. 12"),
    "mec.energy_saving.mobilenet_v1": (53.97, "%", "Sec. 5.2.2, Fig. 12"),
    "mec.edge_only_ms.alexnet": (261.36, "ms", "Sec. 5.2.1"),
    "mec.cloud_only_ms.alexnet": (85.92, "ms", "Sec. 5.2.1"),
    "mec.ours_ms.alexnet": (342.65, "ms", "Sec. 5.2.1"),
    "mec.edge_only_j": (0.06, "J", "Sec. 5.2.2"),
    "mec.cloud_only_j": (0.26, "J", "Sec. 5.2.2"),
    "d2d.co_h_gain.alexnet": (46.94, "%", "Sec. 5.2.1, Fig. 11"),
    "d2d.co_h_gain.vgg16": (47.35, "%", "Sec. 5.2.1, Fig. 11"),
    "d2d.co_h_gain.resnet32": (46.81, "%", "Sec. 5.2.1, Fig. 11"),
    "d2d.co_h_gain.mobilenet_v1": (47.00, "%", "Sec. 5.2.1, Fig. 11"),
    "d2d.latency_gain.alexnet": (38.46, "%", "Sec. 5.2.1, Fig. 11"),
    "d2d.latency_gain.vgg16": (45.60, "%", "Sec. 5.2.1, Fig. 11"),
    "d2d.latency_gain.resnet32": (33.92, "%", "Sec. 5.2.1, Fig. 11"),
    "d2d.latency_gain.mobilenet_v1": (24.21, "%", "Sec. 5.2.1, Fig. 11"),
}
# Start points of the fit (d_t, d_e, d_c, d_energy, d_h): the docs/model.md §3 defaults and a spread
# around the scale the edge/cloud-only latencies imply (d_E ~ 17, d_C ~ 1-3).
STARTS: tuple[tuple[float, ...], ...] = (
    (4.0, 1.0, 0.25, 1.0, 4.0),
    (100.0, 15.0, 2.0, 0.5, 50.0),
    (200.0, 17.0, 1.0, 0.1, 100.0),
    (300.0, 20.0, 3.0, 1.0, 150.0),
)


def expected_chain_cost(
    model: ChainCostModel,
    links: LinkMatrices,
    slowdown: Sequence[float],
    shares: Sequence[float],
    d_energy: float = 1.0,
) -> tuple[float, float]:
    """Exact expected (latency ms, device energy J) of the i.i.d. placement ``P(S_i = s) =
    shares[s]`` under one state (no early exits). ``shares`` one-hot gives a fixed decision.

    ``E[T] = Σ_i Σ_s p_s d_s T_i + Σ_i Σ_{a,b} q_{i-1}(a) p_b X_i(a, b) + Σ_s p_s X_out(s, 0)``
    with ``q_0 = δ_device`` and ``q_i = p``; the energy likewise, with the device's compute
    energy weighted by ``p_0`` and each transfer by the radio power (docs/model.md §4, §5).
    """
    p = np.asarray(shares, dtype=np.float64)
    sp = np.asarray(slowdown, dtype=np.float64)
    b = model.blocks
    k, lat, pw = (np.asarray(m, dtype=np.float64) for m in links)
    q = np.tile(p, (model.n, 1))
    q[0] = 0.0
    q[0, 0] = 1.0  # S_0 is the device
    x = b.in_kb[:, None, None] * k + lat  # (n, P, P); zero on the diagonal
    pair = np.einsum("ia,iab,b->i", q, x, p)
    pair_e = np.einsum("ia,iab,b->i", q, x * pw * MW_MS_TO_J, p)
    x_out = b.out_kb[-1] * k[:, 0] + lat[:, 0]  # S_n -> device
    latency = float(b.latency_ms.sum() * (p @ sp) + pair.sum() + p @ x_out)
    energy = float(
        p[0] * d_energy * b.energy_j.sum() + pair_e.sum() + p @ (x_out * pw[:, 0] * MW_MS_TO_J)
    )
    return latency, energy


@lru_cache(maxsize=16)
def _models(scenario: str) -> dict[str, ChainCostModel]:
    num = 3 if scenario == "mec" else 2
    return {d: ChainCostModel(get_profile(d, INPUT_SHAPE), num) for d in DNNS}


def table2_links(scenario: str, reading: str) -> LinkMatrices:
    """Links at the Table 2 averages, latency times the reading's factor (1 or 1/2)."""
    if reading not in READINGS:
        raise ValueError(f"reading must be one of {tuple(READINGS)}, got {reading!r}")
    f = READINGS[reading]
    if scenario == "mec":
        t = {k: v[2] for k, v in TABLE2.items()}
        return mec_links(
            t["b_te_up"], t["b_te_down"], t["b_ec_up"], t["b_ec_down"], f * t["l_te"], f * t["l_ec"]
        )
    return d2d_links(TABLE2["b_d2d"][2], f * TABLE2["l_d2d"][2])


def predict(factors: dict[str, float], reading: str) -> dict[str, float]:
    """The model's value of every number in :data:`PAPER` (same units) for ``factors``
    (keys :data:`PARAMS`) under a latency ``reading``."""
    d_t, d_e, d_c, d_en, d_h = (factors[k] for k in PARAMS)
    out: dict[str, float] = {}
    mec, d2d = table2_links("mec", reading), table2_links("d2d", reading)
    one_hot3, one_hot2 = np.eye(3), np.eye(2)
    for dnn in DNNS:
        m = _models("mec")[dnn]
        sp = (d_t, d_e, d_c)
        t_self, e_self = expected_chain_cost(m, mec, sp, one_hot3[0], d_en)
        t_ours, e_ours = expected_chain_cost(m, mec, sp, PAPER_TABLE3_SHARES["mec"][dnn], d_en)
        out[f"mec.latency_gain.{dnn}"] = 100.0 * (1.0 - t_ours / t_self)
        out[f"mec.energy_saving.{dnn}"] = 100.0 * (1.0 - e_ours / e_self)
        if dnn == "alexnet":
            t_edge, e_edge = expected_chain_cost(m, mec, sp, one_hot3[1], d_en)
            t_cloud, e_cloud = expected_chain_cost(m, mec, sp, one_hot3[2], d_en)
            out["mec.edge_only_ms.alexnet"] = t_edge
            out["mec.cloud_only_ms.alexnet"] = t_cloud
            out["mec.ours_ms.alexnet"] = t_ours
            # input and result sizes are the same for the four DNNs: AlexNet stands for all
            out["mec.edge_only_j"] = e_edge
            out["mec.cloud_only_j"] = e_cloud
        m2 = _models("d2d")[dnn]
        sp2 = (d_t, d_h)
        t_self2, _ = expected_chain_cost(m2, d2d, sp2, one_hot2[0], d_en)
        t_coh, _ = expected_chain_cost(m2, d2d, sp2, one_hot2[1], d_en)
        t_ours2, _ = expected_chain_cost(m2, d2d, sp2, PAPER_TABLE3_SHARES["d2d"][dnn], d_en)
        out[f"d2d.co_h_gain.{dnn}"] = 100.0 * (1.0 - t_coh / t_self2)
        out[f"d2d.latency_gain.{dnn}"] = 100.0 * (1.0 - t_ours2 / t_self2)
    return {k: out[k] for k in PAPER}


def relative_errors(pred: dict[str, float]) -> np.ndarray:
    return np.array([pred[k] / PAPER[k][0] - 1.0 for k in PAPER])


@dataclass
class Fit:
    reading: str
    factors: dict[str, float]
    predicted: dict[str, float]
    rel_error: dict[str, float]
    within: list[str]
    loss: float

    def to_dict(self) -> dict:
        return {
            "reading": self.reading,
            "factors": self.factors,
            "numbers": {
                k: {
                    "paper": PAPER[k][0],
                    "fitted": self.predicted[k],
                    "rel_error": self.rel_error[k],
                    "unit": PAPER[k][1],
                    "source": PAPER[k][2],
                    "within_10pct": k in self.within,
                }
                for k in PAPER
            },
            "num_within_10pct": len(self.within),
            "loss": self.loss,
        }


def fit(reading: str, starts: Sequence[Sequence[float]] = STARTS) -> Fit:
    """Robust least squares (soft-L1 at 10%) of the relative errors over log factors; the
    best of the ``starts``. Deterministic (no random restarts)."""

    def residuals(logf: np.ndarray) -> np.ndarray:
        return relative_errors(predict(dict(zip(PARAMS, np.exp(logf), strict=True)), reading))

    best = None
    for x0 in starts:
        res = least_squares(
            residuals, np.log(np.asarray(x0, dtype=np.float64)), loss="soft_l1", f_scale=TOLERANCE
        )
        if best is None or res.cost < best.cost:
            best = res
    assert best is not None
    factors = {k: float(v) for k, v in zip(PARAMS, np.exp(best.x), strict=True)}
    pred = predict(factors, reading)
    rel = dict(zip(PAPER, relative_errors(pred).tolist(), strict=True))
    within = [k for k in PAPER if abs(rel[k]) <= TOLERANCE]
    return Fit(reading, factors, pred, rel, within, float(best.cost))


def energy_saving_windows(reading: str) -> dict[str, tuple[float, float]]:
    """The ``d_energy`` interval in which each MEC energy saving is within 10% of the paper.

    The saving does not depend on the latency factors: ``s(d) = 1 - p_0 - a/d`` with
    ``a`` = expected transfer energy / the device's compute energy at ``d_energy = 1`` (links
    and Table 3 shares only). An empty interval is ``(nan, nan)``.
    """
    out = {}
    for dnn in DNNS:
        m = _models("mec")[dnn]
        p = PAPER_TABLE3_SHARES["mec"][dnn]
        _, transfer_j = expected_chain_cost(m, table2_links("mec", reading), (1.0,) * 3, p, 0.0)
        a = transfer_j / float(m.blocks.energy_j.sum())
        s = PAPER[f"mec.energy_saving.{dnn}"][0] / 100.0
        lo_room, hi_room = 1.0 - p[0] - (1 - TOLERANCE) * s, 1.0 - p[0] - (1 + TOLERANCE) * s
        if lo_room <= 0:
            out[dnn] = (math.nan, math.nan)
        else:
            out[dnn] = (a / lo_room, a / hi_room if hi_room > 0 else math.inf)
    return out


def explain(f: Fit) -> str:
    """Why the numbers outside 10% cannot be reached by any factors (printed under a table)."""
    lines = ["why the misses cannot be fixed by the factors:"]
    win = energy_saving_windows(f.reading)
    for dnn, (lo, hi) in win.items():
        p0 = PAPER_TABLE3_SHARES["mec"][dnn][0]
        rng = "none" if math.isnan(lo) else f"[{lo:.3g}, {hi:.3g}]"
        lines.append(
            f"  energy saving {dnn}: <= {100 * (1 - p0):.2f}% for any d_energy (1 - p_device); "
            f"within 10% needs d_energy in {rng}"
        )
    lines.append(
        "  the windows do not all overlap, so one d_energy reproduces at most "
        f"{_max_overlap(win)} of the 4 energy savings"
    )
    for key in ("mec.edge_only_j", "mec.cloud_only_j"):
        lines.append(
            f"  {key}: {f.predicted[key]:.3f} J depends on no fitted factor (Table 2 links x 5G "
            f"power, docs/model.md §4): {f.predicted[key] / PAPER[key][0]:.2f}x the paper's {PAPER[key][0]} J"
        )
    return "\n".join(lines)


def _max_overlap(windows: dict[str, tuple[float, float]]) -> int:
    ends = [w for w in windows.values() if not math.isnan(w[0])]
    return max((sum(lo <= x <= hi for lo, hi in ends) for x, _ in ends), default=0)


def format_table(f: Fit) -> str:
    lines = [
        f"reading={f.reading}  "
        + "  ".join(f"{k}={v:.4g}" for k, v in f.factors.items())
        + f"  (robust loss {f.loss:.4f})",
        f"{'number':34s} {'unit':>4s} {'paper':>9s} {'fitted':>9s} {'rel.err':>8s}  within 10%",
    ]
    for k in PAPER:
        v, unit, _ = PAPER[k]
        mark = "yes" if k in f.within else "NO"
        lines.append(
            f"{k:34s} {unit:>4s} {v:9.2f} {f.predicted[k]:9.2f} {100 * f.rel_error[k]:+7.1f}%  {mark}"
        )
    lines.append(f"within 10%: {len(f.within)} of {len(PAPER)}")
    return "\n".join(lines)


PRESETS: dict[str, str] = {"mec": "paper_mec_calibrated", "d2d": "paper_d2d_calibrated"}


def check_presets(frames: int, seed: int = 0) -> dict[str, float]:
    """The numbers of :data:`PAPER` measured in the envs of the calibrated presets.

    Each (preset, DNN) env runs ``frames`` frames of ``paper_random`` (its own seeded draws)
    on the preset's stochastic 5G trial network; Self / Edge-only / Cloud-only / Co-H are
    evaluated on the same frames (``env.unwrapped.problem``). Gains are ratios of mean
    latencies (energies), as the paper averages over runs. D2D frames without an available
    collaborator are skipped.
    """
    from hydra import compose, initialize_config_dir

    from agents.partition_policies import make_partition_policy
    from pipeline.envs import build_env
    from pipeline.utils import CONFIG_DIR

    out: dict[str, float] = {}
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        for scenario, preset in PRESETS.items():
            for dnn in DNNS:
                cfg = compose(
                    "train", overrides=[f"experiment={preset}", f"dnn={dnn}", "env.oracle=false"]
                )
                env = build_env(cfg)
                obs, _ = env.reset(seed=seed)
                policy = make_partition_policy("paper_random", env, seed=seed)
                n, P = env.unwrapped.problem.n_blocks, env.unwrapped.problem.num_platforms
                sums = np.zeros((P + 1, 2))  # rows: all-on-s for each s, then paper_random
                used = 0
                for _ in range(frames):
                    fixed = [env.unwrapped.problem.evaluate(np.full(n, s)) for s in range(P)]
                    obs, _, _, _, info = env.step(policy.act(obs))
                    if info.get("no_collaborator"):
                        continue
                    sums[:P] += [(r.latency_ms, r.energy_j) for r in fixed]
                    sums[P] += (info["latency_ms"], info["energy_j"])
                    used += 1
                env.close()
                (t_self, e_self), (t_ours, e_ours) = sums[0], sums[P]
                if scenario == "mec":
                    out[f"mec.latency_gain.{dnn}"] = 100.0 * (1.0 - t_ours / t_self)
                    out[f"mec.energy_saving.{dnn}"] = 100.0 * (1.0 - e_ours / e_self)
                    if dnn == "alexnet":
                        out["mec.edge_only_ms.alexnet"] = sums[1, 0] / used
                        out["mec.cloud_only_ms.alexnet"] = sums[2, 0] / used
                        out["mec.ours_ms.alexnet"] = t_ours / used
                        out["mec.edge_only_j"] = sums[1, 1] / used
                        out["mec.cloud_only_j"] = sums[2, 1] / used
                else:
                    out[f"d2d.co_h_gain.{dnn}"] = 100.0 * (1.0 - sums[1, 0] / t_self)
                    out[f"d2d.latency_gain.{dnn}"] = 100.0 * (1.0 - t_ours / t_self)
    return {k: out[k] for k in PAPER}


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reading", choices=("both", *READINGS), default="both")
    ap.add_argument("--json", type=Path, default=None, help="write the fit(s) here (atomically)")
    ap.add_argument(
        "--check-presets",
        type=int,
        default=0,
        metavar="FRAMES",
        help="also measure the numbers in the calibrated presets' envs over FRAMES frames",
    )
    args = ap.parse_args(argv)
    if args.check_presets < 0:
        ap.error(f"--check-presets must be >= 0 frames, got {args.check_presets}")
    readings = tuple(READINGS) if args.reading == "both" else (args.reading,)
    fits = [fit(r) for r in readings]
    for f in fits:
        print(format_table(f))
        print(explain(f), end="\n\n")
    best = max(fits, key=lambda f: (len(f.within), -f.loss))
    print(
        f"best reading: {best.reading} ({len(best.within)} of {len(PAPER)} within 10%); preset "
        f"values: d_t={best.factors['d_t']:.4g} d_e={best.factors['d_e']:.4g} "
        f"d_c={best.factors['d_c']:.4g} d_energy={best.factors['d_energy']:.4g} "
        f"collaborator_factor={best.factors['d_h']:.4g}"
    )
    env_numbers = None
    if args.check_presets:
        env_numbers = check_presets(args.check_presets)
        print(f"\npresets in their envs ({args.check_presets} frames per DNN, 5G trial network):")
        print(f"{'number':34s} {'paper':>9s} {'fit':>9s} {'env':>9s} {'env err':>8s}  within 10%")
        for k, v in env_numbers.items():
            err = v / PAPER[k][0] - 1.0
            print(
                f"{k:34s} {PAPER[k][0]:9.2f} {best.predicted[k]:9.2f} {v:9.2f} "
                f"{100 * err:+7.1f}%  {'yes' if abs(err) <= TOLERANCE else 'NO'}"
            )
        hits = sum(abs(v / PAPER[k][0] - 1.0) <= TOLERANCE for k, v in env_numbers.items())
        print(f"within 10% in the envs: {hits} of {len(PAPER)}")
    if args.json is not None:
        atomic_write_json(
            args.json,
            {
                "best": best.reading,
                "fits": {f.reading: f.to_dict() for f in fits},
                "energy_saving_d_energy_windows": {
                    f.reading: energy_saving_windows(f.reading) for f in fits
                },
                "input_shape": list(INPUT_SHAPE),
                "shares": PAPER_TABLE3_SHARES,
                "presets_in_env": env_numbers,
                "presets_frames": args.check_presets,
            },
        )
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
