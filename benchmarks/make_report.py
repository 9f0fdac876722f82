"""Benchmarks and reproduction report: measures everything and renders ``docs/results.md``.

Usage::

    .venv/bin/python benchmarks/make_report.py --out docs/            # full report (~30 min)
    .venv/bin/python benchmarks/make_report.py --quick --out /tmp/r   # smoke version (~2 min)
    .venv/bin/python benchmarks/make_report.py --render-only benchmarks/out/report/results.json --out docs/

Sections (``--skip`` any of ``speed mec d2d drlos robustness rllib``):

1. speed: issue #16's targets, each measured next to its threshold (table 1.0, the same
   measurement as ``benchmarks/speed_targets.py``; ``--skip rllib`` leaves out its RLlib
   row), env steps/s (single, vector), oracle time per instance (scalar, batched) next to
   brute-force enumeration, decision latency of the loaded actor vs torch vs SB3
   ``predict``, training wall-clock to a 3% gap (from the section-2 training runs);
2. Ren et al. Sec. 5: IoRLO and IoRLO+ trained per DNN on MEC and D2D (Co-H), every
   baseline on the same frames; improvement vs Self; computation distribution (Table 3);
3. Huang et al. Sec. 4.5: ``bench_drlos.py --replot`` of the CSVs in ``--drlos-dir``;
4. robustness: the section-2 actors on real 5G/4G trace replay they were not trained on;
5. RLlib PPO samples/s vs ``num_env_runners``.

Everything is measured in this one process, sequentially (timings on a 2-core machine must
not overlap). Raw results go to ``--csv-dir`` (CSV per table plus ``results.json``;
default ``benchmarks/out/report``, with ``--quick`` ``<out>/data``), figures to
``<out>/figures`` and the Markdown to ``<out>/results.md``. The Markdown is generated: every
number and every comparison in it is computed from the measured rows.

This file is the command line; the report is data → template (``benchmarks/report/``):
``measure.py`` (measuring and saving), ``papers.json`` (the papers' numbers), ``derive.py``
(the numbers the text quotes), ``templates/*.md.j2`` (the Markdown, one per section) and
``render.py``.
"""

from __future__ import annotations

# One BLAS/OpenMP thread everywhere (set before numpy is imported): every timing in the
# report uses one core, as bench_decisions.py does; torch is set to one thread in measure().
import blas_threads

blas_threads.limit()

import argparse  # noqa: E402
import json  # noqa: E402
import shlex  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(HERE) not in sys.path:  # sibling benchmark scripts (bench_envs, bench_drlos, ...)
    sys.path.insert(0, str(HERE))

import atomic_io  # noqa: E402
from atomic_io import atomic_write_text  # noqa: E402
from report.budgets import FULL, QUICK, SECTIONS  # noqa: E402
from report.measure import machine_info, measure, save_raw  # noqa: E402
from report.render import (  # noqa: E402
    RLLIB_ENVS_BEGIN,
    RLLIB_ENVS_END,
    ROB1_BEGIN,
    ROB1_END,
    ROB1T_BEGIN,
    ROB1T_END,
    SCHED_BEGIN,
    SCHED_END,
    SPEED_NOTES_BEGIN,
    SPEED_NOTES_END,
    TARGETS_BEGIN,
    TARGETS_END,
    render,
    replace_block,
)
from v1_report import BEGIN as V1_BEGIN  # noqa: E402
from v1_report import END as V1_END  # noqa: E402

# Blocks of results.md written by other scripts, kept when the report is regenerated (the
# speed targets: benchmarks/speed_targets.py, or this run's speed section).
CARRIED: tuple[tuple[str, str], ...] = (
    (ROB1_BEGIN, ROB1_END),
    (ROB1T_BEGIN, ROB1T_END),
    (RLLIB_ENVS_BEGIN, RLLIB_ENVS_END),
    (TARGETS_BEGIN, TARGETS_END),
    (SCHED_BEGIN, SCHED_END),
    (SPEED_NOTES_BEGIN, SPEED_NOTES_END),
)


# ============================================================================ main
def carry_over(old: str, md: str) -> str:
    """``md`` with what other scripts wrote into the previous ``old`` report kept: the
    blocks between the markers of :data:`CARRIED` (where ``md`` has the markers with
    nothing between them: a block this run generated, e.g. the speed targets, is kept), and
    everything from the v1 section (benchmarks/v1_report.py) on, which holds section 7
    (benchmarks/generalisation.py)."""
    for begin, end in CARRIED:
        if begin in old and end in old and begin in md and end in md:
            if md[md.index(begin) + len(begin) : md.index(end)].strip():
                continue  # generated in this run
            block = old[old.index(begin) : old.index(end) + len(end)]
            md = replace_block(md, begin, end, block)
    if V1_BEGIN in old and V1_END in old:
        md += "\n\n" + old[old.index(V1_BEGIN) :].rstrip("\n")
    return md


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--out", type=Path, default=ROOT / "docs", help="results.md and figures/ go here"
    )
    p.add_argument(
        "--csv-dir",
        type=Path,
        default=None,
        help="raw results (default benchmarks/out/report; --quick: <out>/data)",
    )
    p.add_argument(
        "--drlos-dir",
        type=Path,
        default=HERE / "out",
        help="CSVs of bench_drlos.py to replot (section 3)",
    )
    p.add_argument("--quick", action="store_true", help="tiny budgets (smoke test, ~2 min)")
    p.add_argument("--skip", nargs="*", default=[], choices=SECTIONS)
    p.add_argument("--seed", type=int, default=0, help="training seed")
    p.add_argument("--eval-seed", type=int, default=10_000, help="seed of the evaluation frames")
    p.add_argument("--steps", type=int, default=None, help="env steps per IoRLO/IoRLO+ run")
    p.add_argument("--episodes", type=int, default=None, help="evaluation episodes (100 frames)")
    p.add_argument("--dnns", nargs="+", default=None)
    p.add_argument(
        "--render-only",
        type=Path,
        default=None,
        help="re-render results.md and the figures from a results.json",
    )
    args = p.parse_args(argv)
    out = args.out.resolve()
    fig_dir = out / "figures"
    csv_dir = (args.csv_dir or (out / "data" if args.quick else HERE / "out" / "report")).resolve()
    command = ".venv/bin/python benchmarks/make_report.py " + " ".join(
        shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv)
    )

    if args.render_only is not None:
        R = json.loads(args.render_only.read_text())
        command = R.get("command", command)
    else:
        P = dict(QUICK if args.quick else FULL)
        for k in ("steps", "episodes", "dnns"):
            if getattr(args, k) is not None:
                P[k] = getattr(args, k)
        P.update(
            {
                "quick": args.quick,
                "seed": args.seed,
                "eval_seed": args.eval_seed,
                "csv_dir_display": atomic_io.display_path(csv_dir),
                "out_display": atomic_io.display_path(out),
            }
        )
        t0 = time.perf_counter()
        meta = machine_info()
        R = measure(args, P, csv_dir, fig_dir)
        R["meta"] = meta
        R["total_s"] = time.perf_counter() - t0
        R["command"] = command
        save_raw(R, csv_dir)
    md = render(R, fig_dir, R["command"])
    old = (out / "results.md").read_text() if (out / "results.md").exists() else ""
    atomic_write_text(out / "results.md", carry_over(old, md) + "\n")
    print(f"wrote {out / 'results.md'} and {fig_dir}/ ({R.get('total_s', 0) / 60:.1f} min)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
