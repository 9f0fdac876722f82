"""Count how the envs and readers treat generated inputs: works / clear error / unhelpful / silent.

Usage: ``.venv/bin/python benchmarks/probe_inputs.py [--n 200] [--examples 3]``.

Runs a fixed number of generated probes per target — the constructor arguments, actions and
reset options of ``EdgeRL/MECPartition-v0``, ``EdgeRL/D2DPartition-v0`` and
``EdgeRL/EdgeScheduling-v0``, and the network / arrival trace readers — with the input
families of ``tests/test_fuzz.py`` (its hypothesis strategies, drawn derandomised, so the
probes and counts are the same on every run and machine with the same library versions). Each
outcome is one of:

* **works**: accepted; observations in the observation space, finite rewards and costs for a
  few steps (parsed traces finite, bounded, increasing);
* **clear error**: ``ValueError``/``TypeError`` naming the argument (for files: the file and
  the line);
* **unhelpful error**: any other exception, a message naming no argument, or a crash after
  the input was accepted;
* **silent wrong**: accepted, but a non-finite or out-of-space result (or a complex/string/
  NaN action taken as valid).

Prints one row per target and a total; ``--examples K`` also prints up to K unhelpful / silent
inputs per target (shortened) for bug reports. Exit status 0 always: this is a measurement.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

KINDS = ("works", "clear", "unhelpful", "silent")


def load_fuzz() -> ModuleType:
    """``tests/test_fuzz.py`` as a module: its strategies and probe functions."""
    spec = importlib.util.spec_from_file_location("edgerl_fuzz", ROOT / "tests" / "test_fuzz.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def targets(fz: ModuleType, tmp: Path) -> dict[str, tuple[st.SearchStrategy[Any], Callable]]:
    """name -> (strategy of one probe input, probe: input -> (kind, detail))."""
    out: dict[str, tuple[st.SearchStrategy[Any], Callable]] = {
        "MECPartition-v0 constructor": (
            fz.some_of(fz.MEC_FIELDS),
            lambda kw: fz.probe_constructor(fz.MEC_ID, fz.PARTITION_BASE, kw),
        ),
        "D2DPartition-v0 constructor": (
            fz.some_of(fz.D2D_FIELDS),
            lambda kw: fz.probe_constructor(fz.D2D_ID, fz.PARTITION_BASE, kw),
        ),
        "EdgeScheduling-v0 constructor": (
            fz.some_of(fz.SCHED_FIELDS),
            lambda kw: fz.probe_constructor(fz.SCHED_ID, fz.SMALL_SCHED, kw),
        ),
        # v1: its own arguments and the network mixture spec (synthetic: no trace files)
        "MECPartition-v1 constructor": (
            fz.some_of({**fz.MEC_FIELDS, **fz.V1_FIELDS}),
            lambda kw: fz.probe_constructor("EdgeRL/MECPartition-v1", fz.V1_BASE, kw),
        ),
        "D2DPartition-v1 constructor": (
            fz.some_of({**fz.D2D_FIELDS, **fz.V1_D2D_FIELDS}),
            lambda kw: fz.probe_constructor("EdgeRL/D2DPartition-v1", fz.V1_BASE, kw),
        ),
    }
    for name in fz.ENVS:
        strategy = fz.actions(fz.action_shape(fz.get_env(name)))
        out[f"{name} actions"] = (strategy, lambda a, name=name: fz.probe_action(name, a))
    for name in fz.RESET_ENVS:
        out[f"{name} reset(seed, options)"] = (
            fz.reset_calls(),
            lambda call, name=name: fz.probe_reset(name, *call),
        )

    def file_probe(suffix: str, text_of: Callable[[Any], str], probe: Callable) -> Callable:
        def run(args: tuple[Any, tuple[bool, bool]]) -> tuple[str, str]:
            content, flags = args
            path = fz.write(tmp, suffix, text_of(content), *flags)
            return probe(path, content)

        return run

    out["read_lumos5g"] = (
        st.tuples(st.tuples(fz.lines, st.sampled_from([" ", "\t", ","])), fz.flags),
        file_probe(
            "lumos",
            lambda c: fz.lumos_text(*c),
            lambda p, c: fz.probe_reader(fz.read_lumos5g, p, fz.check_trace),
        ),
    )
    out["read_mmwave_list"] = (
        st.tuples(st.tuples(fz.list_files(), st.one_of(st.none(), st.integers(0, 3))), fz.flags),
        file_probe(
            "x.list",
            lambda c: c[0],
            lambda p, c: fz.probe_reader(fz.read_list_run(c[1]), p, fz.check_maybe_trace),
        ),
    )
    out["read_csv_trace"] = (
        st.tuples(st.tuples(st.sampled_from(fz.CSV_HEADERS), fz.lines), fz.flags),
        file_probe(
            "t.csv",
            lambda c: fz.csv_text(*c),
            lambda p, c: fz.probe_reader(fz.read_csv_trace, p, fz.check_csv),
        ),
    )
    for kind in ("plain", "azure"):
        out[f"arrival trace ({kind})"] = (
            st.tuples(fz.arrival_rows, fz.flags),
            file_probe(
                f"{kind}.csv",
                lambda rows, kind=kind: fz.csv_text(fz.ARRIVAL_HEADERS[kind], rows),
                lambda p, c, kind=kind: fz.probe_arrival_file(p, kind),
            ),
        )
    return out


def run_target(
    strategy: st.SearchStrategy[Any], probe: Callable, n: int
) -> tuple[Counter[str], list[tuple[str, str, Any]]]:
    counts: Counter[str] = Counter()
    bad: list[tuple[str, str, Any]] = []

    @settings(
        max_examples=n,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: every probe counts once
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def one(value: Any) -> None:
        kind, detail = probe(value)
        counts[kind] += 1
        if kind in ("unhelpful", "silent"):
            bad.append((kind, detail, value))

    one()
    return counts, bad


def short(x: Any, width: int = 160) -> str:
    text = repr(x)
    return text if len(text) <= width else text[: width - 3] + "..."


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=200, help="probes per target (default 200)")
    ap.add_argument("--examples", type=int, default=0, help="failing inputs shown per target")
    args = ap.parse_args()
    warnings.simplefilter("ignore")  # overflow RuntimeWarnings of accepted extreme inputs
    fz = load_fuzz()
    header = (
        f"{'target':40s} {'tried':>6s} {'works':>6s} {'clear':>6s} {'unhelpful':>9s} {'silent':>6s}"
    )
    print(f"{header}\n{'-' * len(header)}")
    total: Counter[str] = Counter()
    examples: dict[str, list[tuple[str, str, Any]]] = {}
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for name, (strategy, probe) in targets(fz, Path(tmp)).items():
            counts, bad = run_target(strategy, probe, args.n)
            total += counts
            examples[name] = bad
            tried = sum(counts.values())
            print(
                f"{name:40s} {tried:6d} {counts['works']:6d} {counts['clear']:6d} "
                f"{counts['unhelpful']:9d} {counts['silent']:6d}"
            )
    print("-" * len(header))
    print(
        f"{'total':40s} {sum(total.values()):6d} {total['works']:6d} {total['clear']:6d} "
        f"{total['unhelpful']:9d} {total['silent']:6d}   ({time.perf_counter() - t0:.0f} s)"
    )
    if args.examples:
        for name, bad in examples.items():
            seen: set[str] = set()
            shown = 0
            for kind, detail, value in bad:
                key = detail[:60]
                if key in seen:  # one example per distinct message
                    continue
                seen.add(key)
                if shown == 0:
                    print(f"\n{name}:")
                print(f"  [{kind}] {short(value)}\n      -> {short(detail, 200)}")
                shown += 1
                if shown >= args.examples:
                    break


if __name__ == "__main__":
    main()
