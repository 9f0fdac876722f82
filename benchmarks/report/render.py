"""Rendering: the measured results (``results.json``), the papers' numbers and the
derivations (:mod:`.derive`) through the Jinja2 templates of ``templates/`` (one per
section), plus the figures (:mod:`.plots`)."""

from __future__ import annotations

import math
import re
import shlex
from pathlib import Path
from typing import Any

import jinja2
from generalisation import MARKERS

from pipeline.tables import fnum, fsig, md_table

from . import derive, plots
from .budgets import D2D_METHODS, D2D_SETTINGS, MEC_METHODS
from .labels import dnn_label
from .labels import label as policy_label

TEMPLATES = Path(__file__).resolve().parent / "templates"
#: the section templates, in the order of the report
SECTION_TEMPLATES = (
    "header", "summary", "speed", "ren", "drlos", "robustness", "rllib", "differences", "footer",
)  # fmt: skip
# Blocks of results.md written by other scripts, kept when the report is regenerated
# (make_report.carry_over); the templates write the empty markers.
TARGETS_BEGIN, TARGETS_END = "<!-- speed-targets:begin -->", "<!-- speed-targets:end -->"
SCHED_BEGIN, SCHED_END = "<!-- sched-v1:begin -->", "<!-- sched-v1:end -->"
ROB1_BEGIN, ROB1_END = MARKERS["robustness"]  # generalisation.py --suite robustness
#: the same suite trained on the decided frame (--train-observe current, --forecast-frame)
ROB1T_BEGIN, ROB1T_END = MARKERS["robustness_trcur"]
#: section 5's envs-per-runner text and table (benchmarks/bench_rllib_sampling.py, by hand)
RLLIB_ENVS_BEGIN, RLLIB_ENVS_END = "<!-- rllib-envs:begin -->", "<!-- rllib-envs:end -->"
#: section 1's measurements against earlier commits, below the targets table (by hand)
SPEED_NOTES_BEGIN, SPEED_NOTES_END = "<!-- speed-notes:begin -->", "<!-- speed-notes:end -->"
MEC_TABLE_METHODS = [*MEC_METHODS[:-1], "iorlo", "iorlo_plus", "oracle"]
IMPR_METHODS = ("iorlo_plus", "iorlo", "oracle", "edge_only", "cloud_only", "deepar")


# ------------------------------------------------------------------ filters and helpers
def para(text: str) -> str:
    """A template paragraph written over several lines as one Markdown line (+ newline)."""
    return re.sub(r"\s*\n\s*", " ", text.strip()) + "\n"


def items(text: str, sep: str = "; ") -> str:
    """The non-empty lines of ``text`` joined with ``sep`` (one statement per line)."""
    return sep.join(line.strip() for line in text.splitlines() if line.strip())


def sep(loop: Any, between: str = ", ") -> str:
    """``between`` after every item of a Jinja loop but the last."""
    return "" if loop.last else between


def avg(rows: list[dict[str, Any]], key: str) -> float:
    return derive.mean([r[key] for r in rows])


def human(x: Any) -> str:
    """A measured number in a few characters: 1.67M, 25.2k, 3 significant digits below
    10,000 ('–' for missing/NaN)."""
    if x is None or not math.isfinite(x):
        return "–"
    if abs(x) >= 1e6:
        return f"{x / 1e6:.3g}M"
    if abs(x) >= 1e4:
        return f"{x / 1e3:.3g}k"
    return fsig(x) if abs(x) >= 1 else f"{x:.3g}" if x else "0"


def measured(row: dict[str, Any]) -> str:
    """The 'measured' cell of a speed-target row (:func:`derive.speed_target_rows`): its
    parts, then its checks (a failed one marked **not**)."""
    cells = []
    for label, values, unit, joiner in row["parts"]:
        text = joiner.join(human(v) for v in values)
        text += unit if unit in ("×", "%") else f" {unit}" if unit else ""
        cells.append(f"{label} {text}" if label and text else label or text)
    cells += [label if ok else f"**not** {label}" for label, ok in row["checks"]]
    return ", ".join(cells) if cells else "–"


def environment() -> jinja2.Environment:
    """The Jinja2 environment of the report templates (Markdown: no autoescaping)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        autoescape=False,
    )
    env.filters.update(
        fnum=fnum, fsig=fsig, f=format, para=para, items=items, shquote=shlex.quote,
        human=human, measured=measured,
    )  # fmt: skip
    env.globals.update(
        D=dnn_label, L=policy_label, pick=derive.pick, sep=sep, avg=avg, nan=math.nan,
        isfinite=math.isfinite, md_table=md_table, drlos_table=derive.drlos_table,
        papers=derive.PAPERS, TARGETS_BEGIN=TARGETS_BEGIN, TARGETS_END=TARGETS_END,
        SCHED_BEGIN=SCHED_BEGIN, SCHED_END=SCHED_END, SPEED_NOTES_BEGIN=SPEED_NOTES_BEGIN,
        SPEED_NOTES_END=SPEED_NOTES_END,
    )  # fmt: skip
    return env


# ------------------------------------------------------------------ figures
def figures(R: dict[str, Any], imp_mec: list[dict[str, Any]], fig_dir: Path) -> dict[str, Any]:
    """Draw every figure the report links; their file names (None: nothing to plot)."""
    from .sections import GAP_TARGET

    figs: dict[str, Any] = {}
    if R.get("oracle_speed"):
        figs["oracle"] = plots.oracle_speed(R["oracle_speed"], fig_dir / "oracle_speed.png")
    if R.get("training"):
        figs["training"] = plots.training_curves(
            R["training"], GAP_TARGET, fig_dir / "training_curves.png"
        )
    if R.get("mec"):
        figs["cost"] = plots.cost_per_method(R["mec"], MEC_TABLE_METHODS, fig_dir / "mec_cost.png")
        figs["impr"] = plots.improvement_vs_self(
            imp_mec,
            ["iorlo_plus", "iorlo", "oracle", "edge_only", "cloud_only"],
            derive.PAPER_MEC,
            fig_dir / "mec_vs_self.png",
        )
    if R.get("d2d"):
        series = [
            ("Co-H", "self", "Self"), ("Co-H", "co_h", "Co-H"), ("Co-L", "co_l", "Co-L"),
            ("Co-H", "iorlo", "IoRLO (Co-H)"), ("Co-H", "iorlo_plus", "IoRLO+ (Co-H)"),
            ("Co-H", "oracle", "oracle (Co-H)"), ("Co-H 2x", "co_h", "Co-H, 2× faster"),
        ]  # fmt: skip
        figs["d2d"] = plots.d2d_bars(R["d2d"], series, fig_dir / "d2d.png")
    if R.get("robustness"):
        figs["rob"] = plots.robustness_bars(
            R["robustness"],
            ["iorlo_plus", "iorlo", "edge_only", "deepar", "neuro_l"],
            "te",
            fig_dir / "robustness.png",
        )
    if R.get("rllib"):
        figs["rllib"] = plots.rllib_scaling(
            R["rllib"], R["meta"]["nproc"], fig_dir / "rllib_scaling.png"
        )
    return figs


# ------------------------------------------------------------------ the report
def context(R: dict[str, Any], fig_dir: Path, command: str) -> dict[str, Any]:
    """Everything the templates read: the raw results, derived facts, figure names."""
    from .sections import GAP_TARGET

    P = R["params"]
    mec, d2d, training = R.get("mec") or [], R.get("d2d") or [], R.get("training") or []
    imp_mec, imp_d2d = derive.improvements(mec), derive.improvements(d2d)
    pdnns = [d for d in P["dnns"] if d in derive.PAPER_MEC]
    dr, rob, rl = R.get("drlos"), R.get("robustness"), R.get("rllib")
    ctx: dict[str, Any] = {
        "R": R, "P": P, "meta": R["meta"], "T": R["timings"], "command": command, "dr": dr,
        "total_min": R.get("total_s", float("nan")) / 60, "mec": mec, "d2d": d2d,
        "training": training, "imp_mec": imp_mec, "imp_d2d": imp_d2d, "pdnns": pdnns,
        "es": R.get("env_speed"), "osr": R.get("oracle_speed"), "dec": R.get("decisions"),
        "pd": R.get("policy_decisions"), "rob": rob, "rl": rl, "target": GAP_TARGET,
        "S": derive.summary(R, imp_mec, imp_d2d, pdnns),
        "figs": figures(R, imp_mec, fig_dir),
        "mec_methods": MEC_TABLE_METHODS, "impr_methods": IMPR_METHODS,
        "d2d_methods": {s: [*D2D_METHODS[s][:-1], "iorlo", "iorlo_plus", "oracle"]
                        for s in D2D_SETTINGS},
        "ROB1_BEGIN": ROB1_BEGIN, "ROB1_END": ROB1_END,
        "ROB1T_BEGIN": ROB1T_BEGIN, "ROB1T_END": ROB1T_END,
        "RLLIB_ENVS_BEGIN": RLLIB_ENVS_BEGIN, "RLLIB_ENVS_END": RLLIB_ENVS_END,
    }  # fmt: skip
    ctx.update(speed_targets_context(R.get("speed_targets")))
    ctx["decf"] = derive.decision_facts(ctx["dec"]) if ctx["dec"] else None
    ctx["trf"] = derive.training_facts(training, GAP_TARGET)
    if mec:
        ctx["mec_params"] = derive.env_params("mec")
        ctx["mf"] = derive.mec_facts(mec)
        ctx["impf"] = derive.improvement_facts(imp_mec, pdnns)
        ctx["impr_means"] = derive.improvement_means(imp_mec, pdnns, IMPR_METHODS)
        ctx["impr_paper_mean"] = [
            derive.mean([derive.PAPER_MEC[d][k] for d in pdnns]) for k in (0, 1)
        ]
    if d2d:
        ctx["df"] = derive.d2d_facts(d2d, imp_d2d)
    if dr:
        from bench_drlos import POLICY_ORDER

        from envs.scheduling.arrivals import home_probabilities

        ctx["fx"] = derive.drlos_facts(dr)
        ctx["policy_order"] = POLICY_ORDER
        ctx["home"] = [100 * x for x in home_probabilities(1.0, 3)]
    if rob:
        ctx["rf"] = derive.robustness_facts(R, rob)
    if rl:
        ctx["xf"] = derive.rllib_facts(R, rl)
    ctx["diff"] = differences(imp_mec, imp_d2d, mec, pdnns)
    return ctx


def differences(
    imp_mec: list[dict[str, Any]],
    imp_d2d: list[dict[str, Any]],
    mec: list[dict[str, Any]],
    pdnns: list[str],
) -> dict[str, Any]:
    """The facts of section 6 (MEC table, D2D comparison; DRLoS uses the section-3 facts)."""
    out: dict[str, Any] = {"mec_rows": []}
    if imp_mec:
        out["mec_rows"] = derive.mec_difference_rows(imp_mec, mec, pdnns)
        out["ep"] = derive.env_params("mec")
        out["t3_range"] = derive.table3_device_range()
    if imp_d2d:
        out["d2d_coh"] = {
            r["dnn"]: r for r in derive.select(imp_d2d, method="co_h", setting="Co-H")
        }
        out["d2d_plus"] = {
            r["dnn"]: r for r in derive.select(imp_d2d, method="iorlo_plus", setting="Co-H")
        }
        out["coh_speedup"] = derive.speedup_needed(derive.PAPER_D2D_COH_AVG)
    return out


def speed_targets_context(st: dict[str, Any] | None) -> dict[str, Any]:
    """What ``speed_targets.md.j2`` reads: the measurement ``st``
    (:func:`report.targets.speed_targets`; ``None``: not measured), its rows, the targets."""
    from .targets import load_targets

    T = load_targets()
    return {"st": st, "st_targets": T, "st_rows": derive.speed_target_rows(T, st) if st else []}


def speed_targets_block(st: dict[str, Any]) -> str:
    """Table 1.0 (issue #16's speed targets), markers included, no final newline."""
    tpl = environment().get_template("speed_targets.md.j2")
    return tpl.render(speed_targets_context(st)).rstrip("\n")


def replace_block(doc: str, begin: str, end: str, block: str) -> str:
    """``doc`` with the text from ``begin`` to ``end`` (markers included) replaced by
    ``block`` (which brings its own markers); the rest byte for byte."""
    i, j = doc.find(begin), doc.find(end)
    if i < 0 or j < i:
        raise ValueError(f"{begin} ... {end} not found in the document")
    return doc[:i] + block + doc[j + len(end) :]


def render(R: dict[str, Any], fig_dir: Path, command: str) -> str:
    """The report's Markdown (without the blocks other scripts write; no final newline)."""
    ctx = context(R, fig_dir, command)
    env = environment()
    parts = []
    for name in SECTION_TEMPLATES:
        if name == "drlos" and not ctx["dr"]:
            continue
        parts.append(env.get_template(f"{name}.md.j2").render(ctx))
    return "".join(parts)[:-1]
