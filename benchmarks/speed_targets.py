"""Issue #16's speed targets: measure each one and regenerate table 1.0 of docs/results.md.

Usage::

    .venv/bin/python benchmarks/speed_targets.py --render   # 6 IoRLO+ trainings: 8 min on the 2-core Xeon
    .venv/bin/python benchmarks/speed_targets.py --quick --skip rllib --render --doc /tmp/r.md
    .venv/bin/python benchmarks/speed_targets.py --json out.json          # measure, print only
    .venv/bin/python benchmarks/speed_targets.py --from-json out.json --render

Measures every target of ``benchmarks/report/targets.json`` in this one process
(:func:`report.targets.speed_targets`: the oracle, vector and single env, IoRLO+ training,
DRLoS rollouts, RLlib sampling and the fast actor, each through its benchmark script's
functions; ``--skip`` leaves groups out; IoRLO+ against the commit before its update rewrite,
exported with ``git archive`` and timed interleaved with this tree, and with this tree run
with that commit's IoRLO+ configuration), derives 'met' for each
(:func:`report.derive.speed_target_rows`) and renders the block
(``templates/speed_targets.md.j2``). ``--render`` rewrites only the block between
``<!-- speed-targets:begin -->`` and ``<!-- speed-targets:end -->`` of ``--doc``
(atomically); the rest of the document stays byte for byte. ``make_report.py``'s speed
section runs the same measurement.
"""

from __future__ import annotations

import os

import blas_threads  # one BLAS thread, as make_report.py (before numpy)

blas_threads.limit()
os.environ.setdefault("RAY_AUTH_MODE", "disabled")

import argparse  # noqa: E402
import json  # noqa: E402
import shlex  # noqa: E402
import sys  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # sibling benchmark scripts and report/
    sys.path.insert(0, str(HERE))

from atomic_io import atomic_write_text  # noqa: E402
from report.render import TARGETS_BEGIN, TARGETS_END, replace_block, speed_targets_block  # noqa: E402
from report.targets import GROUPS  # noqa: E402

warnings.filterwarnings("ignore", message=".*is out of date.*")


def _command(argv: list[str] | None) -> str:
    """This command line without its output paths (``--doc``, ``--json``)."""
    words, kept = list(sys.argv[1:] if argv is None else argv), []
    while words:
        w = words.pop(0)
        if w in ("--doc", "--json"):
            words = words[1:]
        elif not w.startswith(("--doc=", "--json=")):
            kept.append(shlex.quote(w))
    return " ".join(["benchmarks/speed_targets.py", *kept])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer steps and repeats (noisier)")
    p.add_argument("--skip", nargs="*", default=[], choices=GROUPS, help="groups not measured")
    p.add_argument("--seed", type=int, default=0, help="IoRLO+ training seed")
    p.add_argument(
        "--iorlo-baseline", default="default", metavar="COMMIT",
        help="commit whose train.py IoRLO+ is timed against, interleaved in this run "
        "('default': targets.json's iorlo_plus_baseline_ref; 'none': the fixed 557 frames/s)",
    )  # fmt: skip
    p.add_argument("--json", type=Path, default=None, help="write the measurements here")
    p.add_argument(
        "--from-json", type=Path, default=None, help="no measuring: the measurements of --json"
    )
    p.add_argument("--render", action="store_true", help="rewrite the block of --doc")
    p.add_argument("--doc", type=Path, default=HERE.parent / "docs" / "results.md")
    args = p.parse_args(argv)
    if args.render and not args.doc.is_file():
        p.error(f"--doc {args.doc} does not exist")

    if args.from_json is not None:
        st = json.loads(args.from_json.read_text())
    else:
        from report.targets import speed_targets

        base = None if args.iorlo_baseline == "none" else args.iorlo_baseline
        st = speed_targets(
            args.quick, args.skip, command=_command(argv), seed=args.seed, iorlo_baseline=base
        )
        if args.json is not None:
            atomic_write_text(args.json, json.dumps(st, indent=1, default=str) + "\n")
            print(f"wrote {args.json}")
    block = speed_targets_block(st)
    print("\n" + block)
    if args.render:
        doc = args.doc.read_text()
        if TARGETS_BEGIN not in doc or TARGETS_END not in doc:
            p.error(f"{args.doc} has no {TARGETS_BEGIN} ... {TARGETS_END} block")
        atomic_write_text(args.doc, replace_block(doc, TARGETS_BEGIN, TARGETS_END, block))
        print(f"\nrewrote the speed-targets block of {args.doc}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
