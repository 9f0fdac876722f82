"""Result tables (CSV, Markdown) and plots of :mod:`pipeline.evaluate`."""

from __future__ import annotations

import csv
import io
import math
from collections import OrderedDict
from pathlib import Path
from typing import Any

from pipeline.utils import atomic_write_text

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
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [_label(r), *(_pm(r, c[0]) for c in cols)]
        if dist:
            cells.append(" / ".join(f"{_num(r.get(k, math.nan)):.0f}" for k in dist))
        d = _num(r.get("decision_ms"))
        cells.append(f"{d:.3g}" if math.isfinite(d) else "–")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_csv(rows: list[dict[str, Any]], path: Path) -> Path:
    keys = list(OrderedDict.fromkeys(k for r in rows for k in r))
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=keys, extrasaction="ignore")
    w.writeheader()
    for r in rows:
        w.writerow({k: r.get(k, "") for k in keys})
    return atomic_write_text(path, buf.getvalue())


def write_markdown(rows: list[dict[str, Any]], path: Path, episodes: int, seed: int) -> Path:
    groups: dict[str, list[dict[str, Any]]] = OrderedDict()
    for r in rows:
        groups.setdefault(r["group"], []).append(r)
    parts = [
        "# EdgeRL evaluation",
        "",
        f"{episodes} episodes per agent on fixed seeds (from {seed}); mean ± std over decision "
        "steps (partitioning) or episodes (scheduling). Gap to oracle = expected cost / "
        "optimal cost - 1. Decision time: median of single-observation `act()` calls.",
    ]
    for tag, members in groups.items():
        r0 = members[0]
        sched = r0["env"] == "scheduling"
        what = r0["env"] if sched else f"{r0['env']}, {r0['dnn']}, network {r0['network']}"
        parts += ["", f"## {tag} ({what})", "", markdown_table(members, sched)]
    return atomic_write_text(path, "\n".join(parts) + "\n")


def _save(fig: Any, path: Path) -> Path:
    tmp = path.with_name(f".{path.stem}.tmp.png")
    fig.savefig(tmp, dpi=120, bbox_inches="tight")
    tmp.replace(path)
    return path


def plot_partition_costs(rows: list[dict[str, Any]], out_dir: Path) -> list[Path]:
    """Bar chart per partitioning env: mean cost (± std) per agent, grouped by DNN/network."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    files = []
    for env in OrderedDict.fromkeys(r["env"] for r in rows if r["env"] != "scheduling"):
        sub = [r for r in rows if r["env"] == env]
        groups = list(OrderedDict.fromkeys(r["group"] for r in sub))
        agents = list(OrderedDict.fromkeys(r["agent"] for r in sub))
        width = 0.8 / max(len(agents), 1)
        fig, ax = plt.subplots(figsize=(max(6.0, 1.2 * len(groups) * max(len(agents), 4) / 4), 4))
        x = np.arange(len(groups))
        colors = plt.get_cmap("tab20").colors
        for i, agent in enumerate(agents):
            means, stds = [], []
            for g in groups:
                rs = [r for r in sub if r["group"] == g and r["agent"] == agent]
                # several seeds of one trained agent: mean of their means and of their stds
                means.append(float(np.mean([_num(r["cost_mean"]) for r in rs])) if rs else np.nan)
                stds.append(float(np.mean([_num(r["cost_std"]) for r in rs])) if rs else np.nan)
            m, sd = np.asarray(means), np.asarray(stds)
            trained = any(r["kind"] == "trained" for r in sub if r["agent"] == agent)
            ax.bar(
                x + (i - (len(agents) - 1) / 2) * width, m, width, label=agent,
                yerr=[np.minimum(sd, m), sd],  # costs are positive: clip the lower bar at 0
                capsize=2, color=colors[i % len(colors)], hatch="//" if trained else None,
                edgecolor="black" if trained else None, linewidth=0.5,
            )  # fmt: skip
        ax.set_xticks(x, [g.split("-", 1)[1] if "-" in g else g for g in groups])
        ax.set_ylabel("cost (ms-equivalent)")
        ax.set_title(f"{env.upper()}: cost per agent per DNN (mean ± std)")
        ax.legend(fontsize=7, ncol=2)
        files.append(_save(fig, out_dir / f"cost_{env}.png"))
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
        files.append(_save(fig, out_dir / f"scheduling_vs_load_{tag}.png"))
        plt.close(fig)
    return files


def write_outputs(
    rows: list[dict[str, Any]],
    sweeps: dict[str, list[dict[str, Any]]],
    out_dir: Path,
    *,
    plots: bool,
    episodes: int,
    seed: int,
) -> list[Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = [write_csv(rows, out_dir / "results.csv"),
             write_markdown(rows, out_dir / "results.md", episodes, seed)]  # fmt: skip
    for tag, srows in sweeps.items():
        files.append(write_csv(srows, out_dir / f"scheduling_loads_{tag}.csv"))
    if plots:
        files += plot_partition_costs(rows, out_dir)
        files += plot_scheduling_loads(sweeps, out_dir)
    return files
