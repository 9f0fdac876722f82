"""Figures of ``docs/results.md`` (driven by ``benchmarks/make_report.py``).

Each function takes the rows measured by :mod:`.sections`, writes one PNG atomically
(temp file + ``os.replace``, mode 0644) and returns its file name, or ``None`` when there is
nothing to plot.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from atomic_io import save_png

from .labels import dnn_label, label


def _save(fig: Any, path: Path) -> str:
    save_png(fig, path, dpi=110)
    return path.name


def _two_panels(rows: list[dict[str, Any]]) -> tuple[list[str], Any, Any, Any] | None:
    """The DNNs of ``rows`` (in order), a figure with two panels side by side, its axes and
    the bar positions (None: no rows)."""
    dnns = list(dict.fromkeys(r["dnn"] for r in rows))
    if not dnns:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(14, 4.8))
    return dnns, fig, axes, np.arange(len(dnns))


def _value(rows: list[dict[str, Any]], key: str, **match: Any) -> float:
    """``key`` of the first row whose fields equal ``match`` (NaN: none)."""
    return next((r[key] for r in rows if all(r[k] == v for k, v in match.items())), np.nan)


def _grid(n: int) -> tuple[int, int]:
    cols = min(n, 2)
    return (n + cols - 1) // cols, cols


def cost_per_method(rows: list[dict[str, Any]], methods: Sequence[str], path: Path) -> str | None:
    """MEC: mean cost per method, one panel per DNN, gap to the oracle annotated."""
    dnns = list(dict.fromkeys(r["dnn"] for r in rows))
    if not dnns:
        return None
    nr, nc = _grid(len(dnns))
    fig, axes = plt.subplots(
        nr, nc, figsize=(6.4 * nc, 0.42 * len(methods) * nr + 1.2 * nr), squeeze=False
    )
    for ax, dnn in zip(axes.flat, dnns, strict=False):
        by = {r["method"]: r for r in rows if r["dnn"] == dnn}
        names = [m for m in methods if m in by]
        costs = [by[m]["cost_mean"] for m in names]
        colors = ["C3" if m.startswith("iorlo") else "C2" if m == "oracle" else "C0" for m in names]
        y = np.arange(len(names))
        ax.barh(y, costs, color=colors)
        ax.set_yticks(y, [label(m) for m in names])
        ax.invert_yaxis()
        ax.set_xscale("log")
        for yi, m in zip(y, names, strict=True):
            ax.text(by[m]["cost_mean"], yi, f" {by[m]['gap_mean']:.1f}%", va="center", fontsize=8)
        ax.set_xlabel("mean cost = T + η1·E + η2·D (log scale); label: gap to oracle")
        ax.set_title(dnn_label(dnn))
        ax.grid(axis="x", alpha=0.3, which="both")
        ax.set_xlim(right=max(costs) * 4)
    for ax in list(axes.flat)[len(dnns) :]:
        ax.axis("off")
    fig.suptitle("MEC (5g_trial network): cost per method per DNN")
    fig.tight_layout()
    return _save(fig, path)


def improvement_vs_self(
    improvements: list[dict[str, Any]],
    methods: Sequence[str],
    paper: dict[str, tuple[float, float]],
    path: Path,
) -> str | None:
    """MEC: latency improvement and energy saving vs Self per DNN (ours and the paper's)."""
    series = [m for m in methods if any(r["method"] == m for r in improvements)]
    panels = _two_panels(improvements)
    if panels is None:
        return None
    dnns, fig, axes, x = panels
    width = 0.8 / (len(series) + 1)
    for k, (ax, key, title) in enumerate(
        zip(
            axes,
            ("latency_impr", "energy_saving"),
            ("latency improvement vs Self (%)", "mobile energy saving vs Self (%)"),
            strict=True,
        )
    ):
        for i, m in enumerate(series):
            vals = [_value(improvements, key, dnn=d, method=m) for d in dnns]
            ax.bar(x + i * width, vals, width, label=label(m))
        pv = [paper.get(d, (np.nan, np.nan))[k] for d in dnns]
        ax.bar(
            x + len(series) * width,
            pv,
            width,
            label="paper IoRLO",
            color="k",
            alpha=0.35,
            hatch="//",
        )
        ax.set_xticks(x + width * len(series) / 2, [dnn_label(d) for d in dnns])
        ax.set_ylabel(title)
        ax.axhline(0, color="k", lw=0.8)
        ax.grid(axis="y", alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=9)
    fig.suptitle("MEC: improvement over the self-contained approach (ours vs Ren et al. Sec. 5.2)")
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return _save(fig, path)


def d2d_bars(
    rows: list[dict[str, Any]],
    series: Sequence[tuple[str, str, str]],
    path: Path,
) -> str | None:
    """D2D: latency and energy per method per DNN; ``series``: (setting, method, label)."""
    panels = _two_panels(rows)
    if panels is None:
        return None
    dnns, fig, axes, x = panels
    width = 0.8 / len(series)
    for ax, key, title in zip(
        axes,
        ("latency_ms_mean", "energy_j_mean"),
        ("mean latency (ms)", "mean mobile energy (J)"),
        strict=True,
    ):
        for i, (setting, method, lab) in enumerate(series):
            vals = [_value(rows, key, dnn=d, setting=setting, method=method) for d in dnns]
            ax.bar(x + i * width, vals, width, label=lab)
        ax.set_xticks(x + width * (len(series) - 1) / 2, [dnn_label(d) for d in dnns])
        ax.set_ylabel(title)
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend(fontsize=8, ncol=2)
    fig.suptitle("D2D (5g_trial D2D link): Self, collaborator-only and IoRLO per DNN")
    fig.tight_layout()
    return _save(fig, path)


def training_curves(training: list[dict[str, Any]], target: float, path: Path) -> str | None:
    """Deterministic evaluation gap vs env steps, one panel per (scenario, DNN)."""
    keys = list(dict.fromkeys((t["scenario"], t["dnn"]) for t in training))
    if not keys:
        return None
    scen = list(dict.fromkeys(k[0] for k in keys))
    dnns = list(dict.fromkeys(k[1] for k in keys))
    fig, axes = plt.subplots(
        len(scen), len(dnns), figsize=(3.6 * len(dnns), 3.2 * len(scen)), squeeze=False
    )
    for i, s in enumerate(scen):
        for j, d in enumerate(dnns):
            ax = axes[i][j]
            for t in training:
                if t["scenario"] == s and t["dnn"] == d:
                    c = t["curve"]
                    ax.plot(
                        [p["step"] for p in c],
                        [max(p["gap"], 1e-3) for p in c],
                        marker=".",
                        label=label(t["agent"]),
                    )
            ax.axhline(target, color="k", ls="--", lw=0.8, label=f"{target:g}% gap")
            ax.set_yscale("log")
            ax.set_ylim(bottom=1e-3)
            ax.set_title(f"{s.upper()} {dnn_label(d)}", fontsize=10)
            ax.set_xlabel("env steps")
            if j == 0:
                ax.set_ylabel("eval gap to oracle (%)")
            ax.grid(alpha=0.3, which="both")
    axes[0][0].legend(fontsize=8)
    fig.suptitle(
        "Training: mean optimality gap of the deterministic actor on 10 × 100 fixed frames"
    )
    fig.tight_layout()
    return _save(fig, path)


def robustness_bars(
    rows: list[dict[str, Any]], methods: Sequence[str], variant: str, path: Path
) -> str | None:
    """Gap to the oracle per trace (one panel per DNN) for the given trace variant."""
    rows = [r for r in rows if r["variant"] == variant]
    dnns = list(dict.fromkeys(r["dnn"] for r in rows))
    if not dnns:
        return None
    traces = list(dict.fromkeys(r["trace"] for r in rows))
    names = [m for m in methods if any(r["method"] == m for r in rows)]
    nr, nc = _grid(len(dnns))
    fig, axes = plt.subplots(nr, nc, figsize=(7.5 * nc, 3.8 * nr), squeeze=False)
    width = 0.8 / len(names)
    x = np.arange(len(traces))
    for ax, dnn in zip(axes.flat, dnns, strict=False):
        for i, m in enumerate(names):
            vals = [
                max(
                    next(
                        (
                            r["gap_mean"]
                            for r in rows
                            if r["dnn"] == dnn and r["trace"] == t and r["method"] == m
                        ),
                        np.nan,
                    ),
                    1e-3,
                )
                for t in traces
            ]
            ax.bar(x + i * width, vals, width, label=label(m))
        ax.axhline(3.0, color="k", ls="--", lw=0.8)
        ax.set_yscale("log")
        ax.set_ylim(bottom=1e-3)
        ax.set_xticks(x + width * (len(names) - 1) / 2, traces, fontsize=8)
        ax.set_ylabel("gap to oracle (%, log)")
        ax.set_title(dnn_label(dnn))
        ax.grid(axis="y", alpha=0.3, which="both")
    for ax in list(axes.flat)[len(dnns) :]:
        ax.axis("off")
    axes[0][0].legend(fontsize=8, ncol=3)
    fig.suptitle(
        "Trace replay (TE link from real 5G/4G traces), actors trained on 5g_trial; dashed: 3%"
    )
    fig.tight_layout()
    return _save(fig, path)


def rllib_scaling(rows: list[dict[str, Any]], cores: int, path: Path) -> str | None:
    if not rows:
        return None
    fig, ax = plt.subplots(figsize=(6.5, 4))
    n = [r["num_env_runners"] for r in rows]
    ax.plot(
        n, [r["samples_per_s"] for r in rows], "o-", label="training iteration (sampling + learner)"
    )
    ax.plot(n, [r["sampling_samples_per_s"] for r in rows], "s--", label="sampling only")
    ax.set_xticks(n)
    ax.set_xlabel("num_env_runners (0 = sampling in the driver)")
    ax.set_ylabel("env steps per second")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(f"RLlib PPO on MEC ({dnn_label(rows[0].get('dnn', '?'))}), {cores}-core machine")
    fig.tight_layout()
    return _save(fig, path)


def oracle_speed(rows: list[dict[str, Any]], path: Path) -> str | None:
    if not rows:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.2), sharey=True)
    for ax, scen in zip(axes, ("mec", "d2d"), strict=True):
        rs = [r for r in rows if r["scenario"] == scen]
        x = np.arange(len(rs))
        ax.bar(x - 0.27, [r["scalar_us"] for r in rs], 0.27, label="DP scalar (µs/instance)")
        ax.bar(
            x,
            [r["batch_us_per_instance"] for r in rs],
            0.27,
            label=f"DP batched, B={rs[0]['batch'] if rs else ''} (µs/instance)",
        )
        ax.bar(x + 0.27, [r["brute_ms"] * 1e3 for r in rs], 0.27, label="brute force (µs/instance)")
        ax.set_xticks(x, [f"{dnn_label(r['dnn'])}\nn={r['blocks']}" for r in rs], fontsize=8)
        ax.set_yscale("log")
        ax.set_title(f"{scen.upper()} ({'3' if scen == 'mec' else '2'} platforms)")
        ax.grid(axis="y", alpha=0.3, which="both")
    axes[0].set_ylabel("time per instance (µs, log)")
    axes[0].legend(fontsize=8)
    fig.suptitle("Exact oracle: dynamic programming vs brute-force enumeration (where P^n ≤ 2^17)")
    fig.tight_layout()
    return _save(fig, path)
