"""Result tables (CSV, Markdown, stdout) and plots of :mod:`pipeline.evaluate`.

Two kinds of rows: per-run rows (one trained run or baseline on one env config: means and
stds over decision steps or episodes, as ``train.py`` prints them) and aggregate rows (one
agent over its training seeds, :mod:`pipeline.aggregate`: IQM and mean with 95%
stratified-bootstrap CIs). The aggregate tables go to stdout and lead ``results.md``; the
plots show the aggregates with their CIs.
"""

from __future__ import annotations

import json
import math
from collections import OrderedDict
from pathlib import Path
from typing import Any

from pipeline import tables
from pipeline.tables import md_table
from pipeline.utils import atomic_write, atomic_write_json, atomic_write_text

#: what write_outputs records in out_dir (its files are removed before a rewrite)
MANIFEST = "evaluation.json"
#: aggregate columns: (metric, header); gaps in %
AGGREGATE_COLUMNS: dict[bool, tuple[tuple[str, str], ...]] = {
    False: (("gap", "gap to oracle (%)"), ("cost", "cost")),
    True: (("variance", "usage variance"), ("latency_ms", "task latency (ms)")),
}

PARTITION_COLUMNS: tuple[tuple[str, str], ...] = (
    ("cost", "cost"),
    ("latency_ms", "latency (ms)"),
    ("energy_j", "energy (J)"),
    ("overhead", "overhead"),
    ("gap", "gap to oracle (%)"),
)
SCHEDULING_COLUMNS: tuple[tuple[str, str], ...] = (
    ("variance", "usage variance"),
    ("latency_ms", "task latency (ms)"),
    ("dropped", "dropped"),
    ("forwarded_pct", "forwarded (%)"),
    ("slots", "slots"),
    ("episodic_return", "return"),
    ("objective", "objective J"),
)


def _num(v: Any) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return math.nan
    return f


def _pm(row: dict[str, Any], key: str) -> str:
    m, s = _num(row.get(f"{key}_mean")), _num(row.get(f"{key}_std"))
    if not math.isfinite(m):
        return "–"
    scale = max(1.0, abs(m))
    m = 0.0 if abs(m) < 1e-9 * scale else m  # float noise (e.g. the oracle's own gap)
    if not math.isfinite(s):
        return f"{m:.4g}"
    s = 0.0 if abs(s) < 1e-9 * scale else s
    return f"{m:.4g} ± {s:.2g}"


def _label(row: dict[str, Any]) -> str:
    name = str(row["agent"])
    if row.get("kind") == "trained" and row.get("train_seed", "") != "":
        name += f" (seed {row['train_seed']})"
    return f"**{name}**" if row.get("kind") == "trained" else name


def markdown_table(rows: list[dict[str, Any]], scheduling: bool) -> str:
    """One Markdown table: mean ± std per metric, platform distribution, decision time."""
    cols = SCHEDULING_COLUMNS if scheduling else PARTITION_COLUMNS
    cols = tuple(c for c in cols if any(math.isfinite(_num(r.get(f"{c[0]}_mean"))) for r in rows))
    dist = [] if scheduling else list(OrderedDict.fromkeys(
        k for r in rows for k in r if k.startswith("dist_") and k.endswith("_pct")
    ))  # fmt: skip
    head = ["agent", *(c[1] for c in cols)]
    if dist:
        head.append(" / ".join(k[5:-4] for k in dist) + " (%)")
    head.append("decision (ms)")
    body = []
    for r in rows:
        cells = [_label(r), *(_pm(r, c[0]) for c in cols)]
        if dist:
            cells.append(" / ".join(f"{_num(r.get(k, math.nan)):.0f}" for k in dist))
        body.append([*cells, _decision(r)])
    return md_table(head, body)


def _decision(row: dict[str, Any]) -> str:
    d = _num(row.get("decision_ms"))
    return f"{d:.3g}" if math.isfinite(d) else "–"


def _ci(row: dict[str, Any], key: str) -> str:
    """``point [lo, hi]`` (one run: ``point``, its CI is a point)."""
    m, lo, hi = (_num(row.get(f"{key}{s}")) for s in ("", "_lo", "_hi"))
    if not math.isfinite(m):
        return "–"
    scale = max(1.0, abs(m))
    m, lo, hi = (0.0 if abs(x) < 1e-9 * scale else x for x in (m, lo, hi))
    if not (math.isfinite(lo) and math.isfinite(hi)) or (lo == hi == m):
        return f"{m:.4g}"
    return f"{m:.4g} [{lo:.4g}, {hi:.4g}]"


def aggregate_table(rows: list[dict[str, Any]], scheduling: bool) -> str:
    """Markdown: per agent its runs, IQM and mean [95% CI] of each aggregate metric."""
    cols = [c for c in AGGREGATE_COLUMNS[scheduling]
            if any(math.isfinite(_num(r.get(f"{c[0]}_iqm"))) for r in rows)]  # fmt: skip
    head = ["agent", "runs"]
    for _, title in cols:
        head += [f"{title} IQM [95% CI]", f"{title} mean [95% CI]"]
    head.append("decision (ms)")
    body = []
    for r in rows:
        name = f"**{r['agent']}**" if r.get("kind") == "trained" else str(r["agent"])
        cells = [name, str(r.get("runs", ""))]
        for key, _ in cols:
            cells += [_ci(r, f"{key}_iqm"), _ci(r, f"{key}_mean")]
        body.append([*cells, _decision(r)])
    return md_table(head, body)


def _aggregate_sections(aggregates: list[dict[str, Any]]) -> list[str]:
    groups: dict[str, list[dict[str, Any]]] = OrderedDict()
    for r in aggregates:
        groups.setdefault(r["group"], []).append(r)
    parts: list[str] = []
    for tag, members in groups.items():
        r0 = members[0]
        sched = r0["env"] == "scheduling"
        what = r0["env"] if sched else f"{r0['env']}, {r0['dnn']}, network {r0['network']}"
        eps = max((int(r.get("episodes", 0) or 0) for r in members), default=0)
        parts += ["", f"## {tag} ({what}; {eps} episodes x runs)", "",
                  aggregate_table(members, sched)]  # fmt: skip
    return parts


AGGREGATE_NOTE = (
    "IQM: interquartile mean of the per-episode scores over runs (training seeds) x "
    "episodes; [95% CI]: stratified bootstrap over runs (rliable). A baseline is one run. "
    "Gap to oracle = expected cost / optimal cost - 1, in %. Lower is better for every column."
)


def print_summary(aggregates: list[dict[str, Any]], *, episodes: int, seed: int) -> None:
    """The aggregate tables on stdout (what a researcher reads first)."""
    print(f"Evaluation on {episodes} episodes (seeds from {seed}). {AGGREGATE_NOTE}")
    print("\n".join(_aggregate_sections(aggregates)), flush=True)


def write_csv(rows: list[dict[str, Any]], path: Path) -> Path:
    """``rows`` as a CSV (every key of every row a column; :func:`pipeline.tables.write_csv`)."""
    return tables.write_csv(path, rows)


def write_markdown(
    rows: list[dict[str, Any]],
    path: Path,
    episodes: int,
    seed: int,
    aggregates: list[dict[str, Any]] | None = None,
) -> Path:
    groups: dict[str, list[dict[str, Any]]] = OrderedDict()
    for r in rows:
        groups.setdefault(r["group"], []).append(r)
    parts = ["# EdgeRL evaluation", ""]
    if aggregates:
        parts += [f"{episodes} episodes per run on fixed seeds (from {seed}). {AGGREGATE_NOTE}",
                  *_aggregate_sections(aggregates), "", "# Per run", ""]  # fmt: skip
    parts += [
        f"{episodes} episodes per agent on fixed seeds (from {seed}); mean ± std over decision "
        "steps (partitioning) or episodes (scheduling). Gap to oracle = expected cost / "
        "optimal cost - 1, in %. Decision time: median of single-observation `act()` calls.",
    ]
    for tag, members in groups.items():
        r0 = members[0]
        sched = r0["env"] == "scheduling"
        what = r0["env"] if sched else f"{r0['env']}, {r0['dnn']}, network {r0['network']}"
        parts += ["", f"## {tag} ({what})", "", markdown_table(members, sched)]
    return atomic_write_text(path, "\n".join(parts) + "\n")


def _save(fig: Any, path: Path) -> Path:
    return atomic_write(
        path, lambda tmp: fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight")
    )


def _safe(tag: str) -> str:
    """A file-name-safe version of a group tag (``@`` and ``#`` from network/label suffixes)."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in tag)


def plot_partition_aggregates(
    aggregates: list[dict[str, Any]], out_dir: Path, metric: str = "cost"
) -> list[Path]:
    """Bar chart per partitioning env: IQM of ``metric`` per agent per env config (DNN,
    network) with its 95% bootstrap CI over training seeds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    files = []
    rows = [r for r in aggregates if r["env"] != "scheduling"]
    label = {"cost": "cost (ms-equivalent)", "gap": "gap to oracle (%)"}[metric]
    for env in OrderedDict.fromkeys(r["env"] for r in rows):
        sub = [r for r in rows if r["env"] == env]
        groups = list(OrderedDict.fromkeys(r["group"] for r in sub))
        agents = list(OrderedDict.fromkeys(r["agent"] for r in sub))
        width = 0.8 / max(len(agents), 1)
        fig, ax = plt.subplots(figsize=(max(6.0, 1.2 * len(groups) * max(len(agents), 4) / 4), 4))
        x = np.arange(len(groups))
        colors = plt.get_cmap("tab20").colors
        for i, agent in enumerate(agents):
            m, lo, hi = (np.full(len(groups), np.nan) for _ in range(3))
            for j, g in enumerate(groups):
                r = next((r for r in sub if r["group"] == g and r["agent"] == agent), None)
                if r is not None:
                    m[j], lo[j], hi[j] = (
                        _num(r.get(f"{metric}_iqm{s}")) for s in ("", "_lo", "_hi")
                    )
            trained = any(r["kind"] == "trained" for r in sub if r["agent"] == agent)
            err = np.nan_to_num(np.stack([m - lo, hi - m]).clip(min=0.0))
            ax.bar(
                x + (i - (len(agents) - 1) / 2) * width, m, width, label=agent, yerr=err,
                capsize=2, color=colors[i % len(colors)], hatch="//" if trained else None,
                edgecolor="black" if trained else None, linewidth=0.5,
            )  # fmt: skip
        ax.set_xticks(x, [g.split("-", 1)[1] if "-" in g else g for g in groups])
        ax.set_ylabel(label)
        ax.set_title(f"{env.upper()}: {metric} per agent (IQM, 95% CI over training seeds)")
        ax.legend(fontsize=7, bbox_to_anchor=(1.01, 1.0), loc="upper left")  # off the bars
        files.append(_save(fig, out_dir / f"{metric}_{env}.png"))
        plt.close(fig)
    return files


def plot_profiles(profiles: dict[str, Any], out_dir: Path) -> list[Path]:
    """Per partitioning env config: the gap performance profiles (fraction of runs x
    episodes with gap <= tau) with their 95% CIs, drawn by rliable."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from rliable import plot_utils

    files = []
    for tag, p in profiles.items():
        if not p["profiles"]:
            continue
        names = list(p["profiles"])
        cmap = plt.get_cmap("tab20").colors
        colors = {n: cmap[i % len(cmap)] for i, n in enumerate(names)}
        styles = {n: "-" if p["kinds"].get(n) == "trained" else "--" for n in names}
        fig, ax = plt.subplots(figsize=(7, 4.5))
        plot_utils.plot_performance_profiles(
            p["profiles"], p["taus"], performance_profile_cis=p["cis"], colors=colors,
            linestyles=styles, ax=ax, xlabel=r"gap to oracle $\tau$ (%)",
            ylabel=r"fraction of runs x episodes with gap $\leq \tau$",
        )  # fmt: skip
        ax.legend([plt.Line2D([0], [0], color=colors[n], linestyle=styles[n]) for n in names],
                  names, fontsize=7, ncol=2, loc="lower right")  # fmt: skip
        ax.set_title(f"{tag}: performance profiles (95% CI)", fontsize=10)
        files.append(_save(fig, out_dir / f"profile_{_safe(tag)}.png"))
        plt.close(fig)
    return files


def plot_scheduling_loads(sweeps: dict[str, list[dict[str, Any]]], out_dir: Path) -> list[Path]:
    """Per scheduling config: usage variance and task latency against the load level."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = []
    for tag, rows in sweeps.items():
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
        keys = list(OrderedDict.fromkeys((r["agent"], r["run"]) for r in rows))
        for agent, run in keys:
            rs = sorted((r for r in rows if r["agent"] == agent and r["run"] == run),
                        key=lambda r: r["load"])  # fmt: skip
            label = agent if not run else f"{agent} ({Path(run).name})"
            loads = [r["load"] for r in rs]
            a1.plot(loads, [r["variance"] for r in rs], marker="o", ms=3, label=label)
            a2.plot(loads, [r["latency_ms"] for r in rs], marker="o", ms=3, label=label)
        a1.set_xlabel("load ρ")
        a1.set_ylabel("resource-usage variance")
        a1.set_yscale("symlog", linthresh=1e-4)  # heuristics differ by orders of magnitude
        a2.set_xlabel("load ρ")
        a2.set_ylabel("mean task latency (ms)")
        a1.legend(fontsize=7)
        fig.suptitle(f"{tag}: variance and latency vs load")
        files.append(_save(fig, out_dir / f"scheduling_vs_load_{_safe(tag)}.png"))
        plt.close(fig)
    return files


def _remove_previous(out_dir: Path) -> None:
    """Files a previous evaluation wrote into ``out_dir`` (listed in its manifest), so a
    named ``out_dir`` never mixes stale tables or plots into a new result."""
    mf = out_dir / MANIFEST
    try:
        old = json.loads(mf.read_text()).get("files", [])
    except (OSError, ValueError, AttributeError):
        return
    for name in [*old, MANIFEST]:
        if isinstance(name, str) and "/" not in name and name not in ("", ".", ".."):
            (out_dir / name).unlink(missing_ok=True)


def write_outputs(
    rows: list[dict[str, Any]],
    sweeps: dict[str, list[dict[str, Any]]],
    out_dir: Path,
    *,
    plots: bool,
    episodes: int,
    seed: int,
    aggregates: list[dict[str, Any]] | None = None,
    profiles: dict[str, Any] | None = None,
    meta: dict[str, Any] | None = None,
) -> list[Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _remove_previous(out_dir)
    files = []
    if aggregates:
        files.append(write_csv(aggregates, out_dir / "aggregates.csv"))
    files += [write_csv(rows, out_dir / "results.csv"),
              write_markdown(rows, out_dir / "results.md", episodes, seed, aggregates)]  # fmt: skip
    for tag, srows in sweeps.items():
        files.append(write_csv(srows, out_dir / f"scheduling_loads_{_safe(tag)}.csv"))
    if plots:
        for metric in ("cost", "gap"):
            files += plot_partition_aggregates(aggregates or [], out_dir, metric)
        files += plot_profiles(profiles or {}, out_dir)
        files += plot_scheduling_loads(sweeps, out_dir)
    record = {**(meta or {}), "files": [f.name for f in files]}
    files.append(atomic_write_json(out_dir / MANIFEST, record))
    return files
