"""Derivation: pure functions from the measured rows (``results.json``) and the papers'
numbers (``papers.json``) to the numbers and verdicts the report's text quotes. Nothing here
formats text; the templates do (``templates/*.md.j2``)."""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .budgets import MEC_BASELINES

Row = dict[str, Any]
PAPERS_FILE = Path(__file__).resolve().parent / "papers.json"


def load_papers(path: Path = PAPERS_FILE) -> dict[str, Any]:
    """The papers' reported values (``papers.json``)."""
    return json.loads(path.read_text())


PAPERS = load_papers()
#: per DNN (latency improvement %, energy saving %) of IoRLO vs Self, MEC (Ren et al. 5.2)
PAPER_MEC: dict[str, list[float]] = PAPERS["ren_mec"]["per_dnn"]
PAPER_MEC_AVG: list[float] = PAPERS["ren_mec"]["mean"]
#: per DNN D2D latency improvement vs Self (Co-H, IoRLO), %
PAPER_D2D: dict[str, list[float]] = PAPERS["ren_d2d"]["per_dnn"]
PAPER_D2D_COH_AVG: float = PAPERS["ren_d2d"]["coh_mean"]
#: Table 3 "Ours": MEC device / edge / cloud %, D2D client / collaborator %
PAPER_TABLE3_MEC: dict[str, list[float]] = PAPERS["ren_table3_mec"]["per_dnn"]
PAPER_TABLE3_D2D: dict[str, list[float]] = PAPERS["ren_table3_d2d"]["per_dnn"]
PAPER_ACTOR_MS: float = PAPERS["ren_actor_ms"]
PAPER_DRLOS_RATIO: float = PAPERS["huang_drlos"]["ratio_vs_closest"]
IMPR_KEYS = (("latency_impr", "latency"), ("energy_saving", "energy"))


# ============================================================================ basics
def mean(xs: Sequence[float]) -> float:
    xs = [x for x in xs if x is not None and math.isfinite(x)]
    return sum(xs) / len(xs) if xs else float("nan")


def pick(rows: list[Row], **kw: Any) -> Row | None:
    """The first row whose fields equal ``kw``."""
    return next((r for r in rows if all(r.get(k) == v for k, v in kw.items())), None)


def select(rows: list[Row], **kw: Any) -> list[Row]:
    """Every row whose fields equal ``kw``."""
    return [r for r in rows if all(r.get(k) == v for k, v in kw.items())]


def unique(rows: list[Row], key: str) -> list[Any]:
    """The values of ``key`` in order of first appearance."""
    return list(dict.fromkeys(r[key] for r in rows))


def compare_word(a: float, b: float, rel: float = 1e-6) -> str:
    """'lower than' / 'higher than' / 'equal to' for two costs (ties within ``rel``)."""
    if abs(a - b) <= rel * max(abs(a), abs(b), 1e-12):
        return "equal to"
    return "lower than" if a < b else "higher than"


def speedup_needed(gain_pct: float) -> float:
    """How many times faster the computing side must be for a latency gain of
    ``gain_pct`` % with free transfers: 1 / (1 − g)."""
    return 1 / (1 - gain_pct / 100)


def io_kb(dnn: str) -> tuple[float, float, float]:
    """(input KB, output KB, compute ms at d = 1) of a built-in DNN (docs/model.md §1-§3)."""
    from envs.dnn import get_profile
    from envs.model.layers import BlockCosts

    b = BlockCosts.from_profile(get_profile(dnn))
    return float(b.in_kb[0]), float(b.out_kb[-1]), float(b.latency_ms.sum())


def env_params(scenario: str) -> dict[str, Any]:
    """The default constructor parameters of a partitioning env (``env.params.named()``)."""
    from envs.partition import D2DPartitionEnv, MECPartitionEnv

    env = (MECPartitionEnv if scenario == "mec" else D2DPartitionEnv)(oracle=False)
    return env.params.named()


def improvements(rows: list[Row], setting: str | None = None) -> list[Row]:
    """Latency / energy / cost reduction of every method vs Self (same DNN and setting), %."""
    out = []
    for r in rows:
        if setting is not None and r.get("setting") != setting:
            continue
        base = next(
            (
                s
                for s in rows
                if s["dnn"] == r["dnn"]
                and s["method"] == "self"
                and s.get("setting") == r.get("setting")
            ),
            None,
        )
        if base is None or r["method"] == "self":
            continue
        out.append(
            {
                "dnn": r["dnn"],
                "setting": r.get("setting", ""),
                "method": r["method"],
                "latency_impr": 100.0 * (1.0 - r["latency_ms_mean"] / base["latency_ms_mean"]),
                "energy_saving": 100.0 * (1.0 - r["energy_j_mean"] / base["energy_j_mean"]),
                "cost_red": 100.0 * (1.0 - r["cost_mean"] / base["cost_mean"]),
            }
        )
    return out


def mean_of(rows: list[Row], key: str, dnns: Sequence[str] | None = None, **kw: Any) -> float:
    """Mean of ``key`` over the rows matching ``kw`` (and, if given, whose DNN is in ``dnns``)."""
    return mean([r[key] for r in select(rows, **kw) if dnns is None or r["dnn"] in dnns])


def best_heuristic(rows: list[Row]) -> Row:
    """The cheapest of the non-oracle MEC rules among ``rows``."""
    return min((r for r in rows if r["method"] in MEC_BASELINES), key=lambda r: r["cost_mean"])


# ============================================================================ summary
def summary(R: dict[str, Any], imp_mec: list[Row], imp_d2d: list[Row], dnns: list[str]) -> dict:
    """The headline rows: MEC improvements, D2D, DRLoS ratio, actor decision time."""
    out: dict[str, Any] = {"mec": [], "d2d": None, "drlos": None, "actor": None}
    if imp_mec:
        for k, (key, _) in enumerate(IMPR_KEYS):
            out["mec"].append(
                {
                    "paper_avg": PAPER_MEC_AVG[k],
                    "paper_dnn_mean": mean([PAPER_MEC[d][k] for d in dnns]),
                    "ours": {
                        m: mean_of(imp_mec, key, dnns, method=m)
                        for m in ("iorlo_plus", "iorlo", "oracle", "edge_only")
                    },
                }
            )
    if imp_d2d:
        out["d2d"] = {
            "paper_iorlo": mean([PAPER_D2D[d][1] for d in dnns]),
            "co_h": mean_of(imp_d2d, "latency_impr", dnns, method="co_h", setting="Co-H"),
            "co_h_2x": mean_of(imp_d2d, "latency_impr", dnns, method="co_h", setting="Co-H 2x"),
            **{
                m: mean_of(imp_d2d, "latency_impr", dnns, method=m, setting="Co-H")
                for m in ("iorlo_plus", "iorlo", "oracle")
            },
        }
    if R.get("drlos"):
        out["drlos"] = drlos_ratios(R["drlos"]["rows"], 0.8) or None
    if R.get("decisions"):
        out["actor"] = pick(R["decisions"], method="NumpyActor.act")
    out["any"] = bool(out["mec"] or out["d2d"] or out["drlos"] or out["actor"])
    return out


# ============================================================================ 1. speed
def decision_facts(dec: list[Row]) -> dict[str, Any] | None:
    """The numpy actor's single-call time and how much faster it is than torch and SB3."""
    na = pick(dec, method="NumpyActor.act")
    tf = pick(dec, method="torch forward (inference_mode)")
    sb = pick(dec, method="SB3 TD3.predict (net_arch=[50])")
    if not (na and tf and sb):
        return None
    us = na["single_median_us"]
    return {"us": us, "torch_x": tf["single_median_us"] / us, "sb3_x": sb["single_median_us"] / us}


def training_facts(training: list[Row], target: float) -> list[dict[str, Any]]:
    """Per scenario: which IoRLO+ runs start, stay, learn or miss ``target`` % and how plain
    IoRLO ends."""
    out = []
    for scen in ("mec", "d2d"):
        ts = [t for t in training if t["scenario"] == scen]
        if not ts:
            continue
        plus = [t for t in ts if t["agent"] == "iorlo_plus"]
        plain = [t for t in ts if t["agent"] == "iorlo"]
        stay = [t for t in plus if t["stay_step"] is not None]
        out.append(
            {
                "scenario": scen,
                "plus": plus,
                "plain": plain,
                "init_ok": [t for t in plus if t["gap_initial"] <= target] if scen == "mec" else [],
                "always": [t for t in stay if t["stay_step"] == 0],
                "learned": [t for t in stay if t["stay_step"] > 0],
                "missed": [t for t in plus if t["stay_step"] is None],
                "reached": [t for t in plain if t["gap_final"] <= target],
                "worse": [t for t in plain if t["gap_final"] > t["gap_initial"] + 1e-9],
            }
        )
    return out


# ============================================================================ 2. Ren et al.
def mec_facts(mec: list[Row]) -> dict[str, Any]:
    """Per DNN the best heuristic next to Edge-only, IoRLO+ and IoRLO; Edge-only's gap range;
    the input/output size of the first DNN."""
    dnns = unique(mec, "dnn")
    per_dnn = []
    for dnn in dnns:
        best = best_heuristic([r for r in mec if r["dnn"] == dnn])
        plus = pick(mec, dnn=dnn, method="iorlo_plus")
        per_dnn.append(
            {
                "dnn": dnn,
                "best": best,
                "edge_only": pick(mec, dnn=dnn, method="edge_only"),
                "plus": plus,
                "plain": pick(mec, dnn=dnn, method="iorlo"),
                "plus_vs_best": compare_word(plus["cost_mean"], best["cost_mean"]) if plus else "",
            }
        )
    eo_gaps = [pick(mec, dnn=d, method="edge_only")["gap_mean"] for d in dnns]
    kin, kout, _ = io_kb(dnns[0])
    return {
        "per_dnn": per_dnn,
        "eo_min": min(eo_gaps),
        "eo_max": max(eo_gaps),
        "kin": kin,
        "kout": kout,
    }


def improvement_facts(imp: list[Row], dnns: list[str]) -> dict[str, Any]:
    """IoRLO+ and the oracle vs the paper's IoRLO: mean improvement, distance in points, and
    on how many DNNs IoRLO+ is above the paper."""
    items = []
    for k, (key, name) in enumerate(IMPR_KEYS):
        for m in ("iorlo_plus", "oracle"):
            ours = mean_of(imp, key, dnns, method=m)
            pmean = mean([PAPER_MEC[d][k] for d in dnns])
            if math.isfinite(ours):
                items.append(
                    {
                        "method": m,
                        "name": name,
                        "k": k,
                        "ours": ours,
                        "pmean": pmean,
                        "pavg": PAPER_MEC_AVG[k],
                    }
                )
    above = []
    rs = [r for r in imp if r["method"] == "iorlo_plus" and r["dnn"] in dnns]
    for k, (key, name) in enumerate(IMPR_KEYS):
        above.append(
            {
                "name": name,
                "n": sum(1 for r in rs if r[key] > PAPER_MEC[r["dnn"]][k]),
                "of": len(rs),
            }
        )
    return {"items": items, "above": above}


def improvement_means(imp: list[Row], dnns: list[str], methods: Sequence[str]) -> list[tuple]:
    """(latency, energy) improvement per method, mean over ``dnns``."""
    return [
        (
            mean_of(imp, "latency_impr", dnns, method=m),
            mean_of(imp, "energy_saving", dnns, method=m),
        )
        for m in methods
    ]


def d2d_facts(d2d: list[Row], imp: list[Row]) -> dict[str, Any]:
    """The D2D statements: Co-H / Co-L / IoRLO+ vs Self, IoRLO+ on Co-L, Co-H 2x."""
    plus_l = []
    for r in select(d2d, method="iorlo_plus", setting="Co-L"):
        o = pick(d2d, dnn=r["dnn"], setting="Co-L", method="oracle")
        plus_l.append({"row": r, "oracle": o})
    return {
        "coh": select(imp, method="co_h", setting="Co-H"),
        "col": select(imp, method="co_l", setting="Co-L"),
        "coh2": select(imp, method="co_h", setting="Co-H 2x"),
        "plus": select(imp, method="iorlo_plus", setting="Co-H"),
        "plus_l": plus_l,
        "coh_speedup": speedup_needed(PAPER_D2D_COH_AVG),
    }


# ============================================================================ 3. DRLoS
def drlos_ratios(rows: list[Row], load: float) -> dict[float, float]:
    """Closest's variance ÷ DRLoS's at ``load``, per waiting penalty."""
    out = {}
    for lw in sorted({r["lambda_wait"] for r in rows}):
        c = pick(rows, lambda_wait=lw, load=load, policy="closest")
        d = pick(rows, lambda_wait=lw, load=load, policy="drlos")
        if c and d and d["variance"] > 0:
            out[lw] = c["variance"] / d["variance"]
    return out


def loads_where(
    rows: list[Row],
    lw: float,
    loads: list[float],
    other: str,
    better: Callable[[float, float], bool],
) -> int:
    """At how many ``loads`` DRLoS's variance is ``better`` than policy ``other``'s."""
    n = 0
    for ld in loads:
        d = pick(rows, lambda_wait=lw, load=ld, policy="drlos")
        c = pick(rows, lambda_wait=lw, load=ld, policy=other)
        n += bool(d and c and better(d["variance"], c["variance"]))
    return n


def drlos_facts(dr: dict[str, Any]) -> dict[str, Any]:
    """Grid, ratios, load counts and the load-0.8 comparisons of section 3 and section 6."""
    rows = dr["rows"]
    loads = sorted({r["load"] for r in rows})
    lws = sorted({r["lambda_wait"] for r in rows})
    rat = drlos_ratios(rows, 0.8)
    per_lw = []
    for lw in lws:
        at = {
            p: pick(rows, lambda_wait=lw, load=0.8, policy=p)
            for p in ("drlos", "least_loaded", "qlearning")
        }
        d = at["drlos"]
        better = None
        if d:
            better = [
                r["policy"]
                for r in select(rows, lambda_wait=lw, load=0.8)
                if r["policy"] in ("closest", "average", "random", "least_loaded")
                and r["variance"] < d["variance"]
            ]
        per_lw.append(
            {
                "lw": lw,
                "n_closest": loads_where(rows, lw, loads, "closest", lambda a, b: a < b),
                "n_random_share": loads_where(rows, lw, loads, "random_share", lambda a, b: a <= b),
                "n_least_loaded": loads_where(rows, lw, loads, "least_loaded", lambda a, b: a < b),
                "at": at,
                "better": better,
                "ll_word": compare_word(d["latency_ms"], at["least_loaded"]["latency_ms"])
                if d and at["least_loaded"]
                else "",
                "q_word": compare_word(at["qlearning"]["variance"], d["variance"])
                if d and at["qlearning"]
                else "",
            }
        )
    reached = [x > PAPER_DRLOS_RATIO for x in rat.values()]
    verdict = (
        "is reproduced"
        if reached and all(reached)
        else "is not reproduced"
        if not any(reached)
        else "is reproduced for some waiting penalties only"
    )
    return {"loads": loads, "lws": lws, "ratios": rat, "per_lw": per_lw, "verdict": verdict}


def drlos_table(rows: list[Row], lw: float, policies: Sequence[str]) -> list[tuple[Row, Row]]:
    """(row, Closest's row) per policy at load 0.8."""
    c = pick(rows, lambda_wait=lw, load=0.8, policy="closest")
    out = []
    for pol in policies:
        r = pick(rows, lambda_wait=lw, load=0.8, policy=pol)
        if r and c:
            out.append((r, c))
    return out


# ============================================================================ 4. robustness
def robustness_facts(R: dict[str, Any], rob: list[Row]) -> dict[str, Any]:
    """The robustness table rows and statements: per DNN IoRLO+ over the te traces, the
    downlink-only shift, where the optimum keeps work on the device, IoRLO+ vs Edge-only."""
    mec = R.get("mec") or []
    dnns = unique(rob, "dnn")
    traces = unique(rob, "trace")
    seen: dict[str, Row] = {}
    for t in R.get("traces") or []:
        seen.setdefault(t["trace"], t)
    table = []
    for dnn in dnns:
        for t in traces:
            o = pick(rob, dnn=dnn, trace=t, variant="te", method="oracle")
            if not o:
                continue
            table.append(
                {
                    "dnn": dnn,
                    "trace": t,
                    "oracle": o,
                    "g": {
                        m: pick(rob, dnn=dnn, trace=t, variant="te", method=m)
                        for m in ("iorlo_plus", "iorlo", "edge_only", "deepar")
                    },
                    "best": best_heuristic(select(rob, dnn=dnn, trace=t, variant="te")),
                    "down": pick(rob, dnn=dnn, trace=t, variant="down", method="iorlo_plus"),
                }
            )
    per_dnn = []
    for dnn in dnns:
        te = select(rob, dnn=dnn, variant="te")
        plus = [r for r in te if r["method"] == "iorlo_plus"]
        if not plus:
            continue
        n_beat = 0
        for r in plus:
            heur = [h for h in te if h["trace"] == r["trace"] and h["method"] in MEC_BASELINES]
            if r["cost_mean"] <= min(h["cost_mean"] for h in heur) * (1 + 1e-9):
                n_beat += 1
        per_dnn.append(
            {
                "dnn": dnn,
                "mean_gap": mean([r["gap_mean"] for r in plus]),
                "worst": max(plus, key=lambda r: r["gap_mean"]),
                "ref": pick(mec, dnn=dnn, method="iorlo_plus"),
                "down": mean(
                    [
                        r["gap_mean"]
                        for r in select(rob, dnn=dnn, variant="down", method="iorlo_plus")
                    ]
                ),
                "n_beat": n_beat,
                "n": len(plus),
            }
        )
    shifts = []
    for r in select(rob, variant="down", method="iorlo_plus"):
        ref = pick(mec, dnn=r["dnn"], method="iorlo_plus")
        if ref:
            shifts.append(abs(r["gap_mean"] - ref["gap_mean"]))
    moved, worse = [], []
    same_as_edge = n_te = 0
    for r in select(rob, variant="te", method="oracle"):
        plus = pick(rob, dnn=r["dnn"], trace=r["trace"], variant="te", method="iorlo_plus")
        eo = pick(rob, dnn=r["dnn"], trace=r["trace"], variant="te", method="edge_only")
        if plus and eo:
            n_te += 1
            if abs(plus["cost_mean"] - eo["cost_mean"]) <= 1e-6 * eo["cost_mean"]:
                same_as_edge += 1
            elif plus["cost_mean"] > eo["cost_mean"]:
                worse.append((r, plus, eo))
        if r["dist_device_pct"] >= 1.0 and plus:
            moved.append((r, plus))
    over = [(o, p) for o, p, _ in worse if p["dist_device_pct"] > o["dist_device_pct"] + 1.0]
    rest = [(o, p, e) for o, p, e in worse if (o, p) not in over]
    over_dnns = sorted({o["dnn"] for o, _ in over}, key=dnns.index)
    learned = []
    for dnn in over_dnns:
        o5, p5 = pick(mec, dnn=dnn, method="oracle"), pick(mec, dnn=dnn, method="iorlo_plus")
        if o5 and p5:
            learned.append((dnn, o5, p5))
    return {
        "traces": list(seen.values()),
        "table": table,
        "per_dnn": per_dnn,
        "max_shift": max(shifts) if shifts else None,
        "kout": io_kb(dnns[0])[1],
        "moved": moved,
        "n_te": n_te,
        "same_as_edge": same_as_edge,
        "worse": worse,
        "n_over": len(over),
        "over_dnns": over_dnns,
        "learned": learned,
        "rest": rest,
        "excess": max((p["gap_mean"] - e["gap_mean"] for _, p, e in rest), default=None),
    }


# ============================================================================ 5. RLlib
def rllib_facts(R: dict[str, Any], rl: list[Row]) -> dict[str, Any]:
    """Speed-ups relative to local sampling, the learner's share, the bare env's speed."""
    P = R["params"]
    base = pick(rl, num_env_runners=0) or rl[0]
    return {
        "defaults": (P["rllib_batch"], P["rllib_epochs"], P["rllib_minibatch"]) == (4000, 30, 128),
        "num_cpus": max(2, max(P["rllib_runners"])),
        "base": base,
        "others": [
            {
                "runners": r["num_env_runners"],
                "sampling_x": r["sampling_samples_per_s"] / base["sampling_samples_per_s"],
                "iteration_x": r["samples_per_s"] / base["samples_per_s"],
            }
            for r in rl
            if r is not base
        ],
        "learner_share": mean([r["learner_s"] / r["iteration_s"] for r in rl]),
        "env": pick(
            R.get("env_speed") or [], scenario="mec", kind="single (gym.make)", oracle=True
        ),
    }


# ============================================================================ 6. differences
def mec_difference_rows(imp_mec: list[Row], mec: list[Row], dnns: list[str]) -> list[dict]:
    """Per paper DNN: IoRLO+ vs the paper's IoRLO, the speed-up the paper's gain needs, the
    network share of Edge-only's latency and the device share of the blocks."""
    rows = []
    for d in dnns:
        p = pick(imp_mec, dnn=d, method="iorlo_plus")
        selfr = pick(mec, dnn=d, method="self")
        eo = pick(mec, dnn=d, method="edge_only")
        plus = pick(mec, dnn=d, method="iorlo_plus")
        if not (p and selfr and eo and plus):
            continue
        _, _, comp = io_kb(d)  # edge compute at d_E = 1
        rows.append(
            {
                "dnn": d,
                "paper": PAPER_MEC[d],
                "impr": p,
                "needs": speedup_needed(PAPER_MEC[d][0]),
                "net_share": 100.0 * (eo["latency_ms_mean"] - comp) / eo["latency_ms_mean"],
                "paper_device": PAPER_TABLE3_MEC[d][0],
                "device": plus["dist_device_pct"],
            }
        )
    return rows


def table3_device_range() -> tuple[float, float]:
    """The smallest and largest device share of the paper's Table 3 (MEC), %."""
    dev = [v[0] for v in PAPER_TABLE3_MEC.values()]
    return min(dev), max(dev)


# ============================================================================ 1.0 speed targets
# A part of the 'measured' cell: (label, values, unit, joiner); values: one number, a range
# (joiner '–') or a sequence (joiner ' → '). A check: (label, holds).
Part = tuple[str, list[float], str, str]


def _range(label: str, xs: Sequence[float], unit: str) -> Part:
    lo, hi = min(xs), max(xs)
    return (label, [lo] if math.isclose(lo, hi, rel_tol=5e-3) else [lo, hi], unit, "–")


def _one(label: str, x: float, unit: str = "") -> Part:
    return (label, [x], unit, "")


def _case(r: Row) -> str:
    return r["scenario"].upper() + (" + exits" if r.get("exits") else "")


def _oracle(M: dict[str, Any], key: str, ref_label: str) -> dict[str, Any]:
    rows = M["oracle"]
    values = [r[f"compiled_{key}_us"] for r in rows]
    parts = [_one(_case(r), r[f"compiled_{key}_us"], "µs") for r in rows]
    parts.append(_range(ref_label, [r[f"reference_{key}_us"] for r in rows], "µs"))
    if f"compiled_{key}_keywords_us" in rows[0]:  # scalar: Oracle.bind's solver timed above
        kw = [r[f"compiled_{key}_keywords_us"] for r in rows]
        parts.append(_range("Oracle.solve with keywords (weights looked up per call)", kw, "µs"))
    return {
        "value": max(values),
        "parts": parts,
        "checks": [
            ("decisions and costs = the Python DP's", all(r["costs_identical"] for r in rows))
        ],
    }


def _vector(M: dict[str, Any], oracle: bool) -> dict[str, Any]:
    rows = [r for r in M["vector"] if r["oracle"] == oracle]
    n = max(r["num_envs"] for r in rows) if oracle else 4096
    at = [r for r in rows if r["num_envs"] == n]
    return {
        "value": min(r["steps_per_s"] for r in at),
        "parts": [_one(r["scenario"].upper(), r["steps_per_s"]) for r in at],
    }


def _scaling(M: dict[str, Any]) -> dict[str, Any]:
    parts, drops = [], []
    for sc in unique(M["vector"], "scenario"):
        rows = sorted(select(M["vector"], scenario=sc, oracle=False), key=lambda r: r["num_envs"])
        rates = [r["steps_per_s"] for r in rows]
        drops.append(max(0.0, 100 * (1 - min(rates[1:]) / rates[0])) if len(rates) > 1 else 0.0)
        parts.append((sc.upper(), rates, "", " → "))
    return {"value": max(drops), "parts": [*parts, _one("largest drop", max(drops), "%")]}


def _faults(M: dict[str, Any]) -> dict[str, Any]:
    rows = [r for r in M["vector"] if not r["oracle"]]
    parts = [_range(sc.upper(), [r["minor_faults_per_step"] for r in select(rows, scenario=sc)], "")
             for sc in unique(rows, "scenario")]  # fmt: skip
    return {"value": max(r["minor_faults_per_step"] for r in rows), "parts": parts}


def _iorlo(M: dict[str, Any], t: dict[str, Any], fixed: float) -> dict[str, Any]:
    """The frames/s ratio: against the baseline commit timed in the same run, pair by pair
    (value: the worst pair), or, when that commit could not be timed, against ``fixed``."""
    r = M["iorlo"]
    head = f"python train.py, {r['frames']:,} frames:"
    base = r.get("baseline", {})
    if "runs_frames_per_s" not in base:
        out = {
            "value": r["frames_per_s"] / fixed,
            "parts": [_one("", r["frames_per_s"] / fixed, "×"),
                      _one(head, r["frames_per_s"], "frames/s")],
        }  # fmt: skip
        if base:
            out["parts"].append(
                (f"commit {base['ref']} not timed: {base['not_measured']}", [], "", "")
            )
        return out
    ratios = [c / b for c, b in zip(r["runs_frames_per_s"], base["runs_frames_per_s"], strict=True)]
    parts = [_range("", ratios, "×"), _range(head, r["runs_frames_per_s"], "frames/s")]
    same = r.get("like_for_like")
    if same:  # this tree with the commit's configuration: the code's own speed-up
        like = [c / b for c, b in zip(same["runs_frames_per_s"], base["runs_frames_per_s"],
                                      strict=True)]  # fmt: skip
        parts.append(_range(f"with {base['ref']}'s IoRLO+ configuration "
                            f"({' '.join(same['overrides'])})", like, "×"))  # fmt: skip
    return {
        "value": min(ratios),
        "parts": parts,
        "before": {"value": statistics.median(base["runs_frames_per_s"]), "unit": "frames/s",
                   "source": f"commit {base['ref']}, timed in this run"},
        "target": t["target_measured"].format(ref=base["ref"]),
    }  # fmt: skip


def _drlos(M: dict[str, Any]) -> dict[str, Any]:
    r = M["drlos"]
    return {
        "value": r["speedup"],
        "parts": [_one("", r["speedup"], "×"),
                  _one(f"N = {r['n_rollouts']} batched", r["batched_iterations_per_s"], "it/s"),
                  _one("one at a time", r["one_at_a_time_iterations_per_s"], "it/s")],
    }  # fmt: skip


def _rllib(M: dict[str, Any]) -> dict[str, Any]:
    rows, k = M["rllib"]["rows"], M["rllib"]["default_envs"]
    one, default = pick(rows, num_envs=1), pick(rows, num_envs=k)
    assert one is not None and default is not None
    return {
        "value": default["steps_per_s"] / one["steps_per_s"],
        "parts": [_one("", default["steps_per_s"] / one["steps_per_s"], "×"),
                  _one(f"{k} envs", default["steps_per_s"], "env steps/s"),
                  _one("1 env", one["steps_per_s"], "env steps/s")],
    }  # fmt: skip


def _actor_single(M: dict[str, Any]) -> dict[str, Any]:
    d = M["decisions"]
    how = "numba" if d["single_compiled"] else "numpy"
    return {
        "value": d["single_us"],
        "parts": [
            _one(f"decide ({how})", d["single_us"], "µs"),
            _one("numpy", d["numpy_single_us"], "µs"),
        ],
    }


def _actor_batch(M: dict[str, Any], tolerance: float) -> dict[str, Any]:
    d = M["decisions"]
    ms = {r["backend"]: r["batch_ms"] for r in d["backends"]}
    ok = [r["backend"] for r in d["backends"] if r["identical"]]
    fastest = min(ok, key=ms.__getitem__)
    chosen = d["auto_backend"] or "numpy"
    # a backend that acts otherwise than numpy (its logits differ in the last bits) is timed
    # but not eligible: say so beside its time
    other = {}
    for r in d["backends"]:
        diff = r.get("act_max_diff", math.nan)
        other[r["backend"]] = (
            ""
            if r["identical"]
            else f" (actions differ from numpy's by up to {diff:.1g}: not eligible)"
        )
    return {
        "value": ms.get(chosen, math.nan),
        "parts": [_one(f"`auto` picked {chosen}:", ms.get(chosen, math.nan), f"ms per {d['batch']}")]
        + [_one(name, t, "ms" + other[name]) for name, t in ms.items() if name != chosen],
        "checks": [
            (f"fastest of the backends with numpy's actions ({fastest})",
             ms.get(chosen, math.inf) <= (1 + tolerance) * ms[fastest]),
            ("actions identical to numpy's (batched and one by one)", d["identical"]),
        ],
    }  # fmt: skip


def speed_target_rows(targets: dict[str, Any], st: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows of table 1.0: each target of ``targets.json`` with what
    :func:`report.targets.speed_targets` measured (``st``). A row: the target's fields plus
    ``value`` (the number compared with ``threshold``: the worst case), ``parts`` (the
    numbers of the 'measured' cell, :data:`Part`), ``checks`` and ``met`` (``None``: its
    group was not measured)."""
    M = st["measured"]
    by_id: dict[str, Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]] = {
        "oracle_scalar": lambda m, t: _oracle(m, "scalar", "Python DP"),
        "oracle_batch": lambda m, t: _oracle(m, "batch", "numpy"),
        "vector_4096": lambda m, t: _vector(m, oracle=False),
        "vector_scaling": lambda m, t: _scaling(m),
        "vector_oracle": lambda m, t: _vector(m, oracle=True),
        "page_faults": lambda m, t: _faults(m),
        "single_oracle": lambda m, t: {"value": m["single"][0]["steps_per_s"],
                                       "parts": [_one("MEC v1", m["single"][0]["steps_per_s"])]},
        "iorlo_plus": lambda m, t: _iorlo(m, t, targets["iorlo_plus_baseline_fps"]),
        "drlos": lambda m, t: _drlos(m),
        "rllib": lambda m, t: _rllib(m),
        "actor_single": lambda m, t: _actor_single(m),
        "actor_batch": lambda m, t: _actor_batch(m, t.get("tolerance", 0.0)),
    }  # fmt: skip
    rows = []
    for t in targets["targets"]:
        row: dict[str, Any] = {**t, "value": None, "parts": [], "checks": [], "met": None}
        if t["group"] in M:
            row.update(by_id[t["id"]](M, t))
            checks = all(ok for _, ok in row["checks"])
            if t["kind"] == "max":
                row["met"] = row["value"] <= t["threshold"] and checks
            elif t["kind"] == "min":
                row["met"] = row["value"] >= t["threshold"] and checks
            else:
                row["met"] = checks
        rows.append(row)
    return rows
