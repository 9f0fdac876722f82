"""The benchmark report driver (``benchmarks/make_report.py --quick``) runs end to end.

Slow (about a minute on 2 cores: it trains tiny IoRLO/IoRLO+ runs, times everything and
starts a Ray session for the RLlib section); run with ``pytest -m slow tests/test_report.py``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "make_report.py"
TRACES = ROOT.parent / "shared" / "data" / "traces"


def _finite_numbers(obj, path="") -> list[str]:
    """Paths of non-finite floats in a JSON tree."""
    bad = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            bad += _finite_numbers(v, f"{path}/{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            bad += _finite_numbers(v, f"{path}[{i}]")
    elif isinstance(obj, float) and not math.isfinite(obj):
        bad.append(path)
    return bad


@pytest.mark.slow
@pytest.mark.rllib
def test_quick_report_renders_markdown_and_figures(tmp_path):
    out = tmp_path / "docs"
    env = {**os.environ, "RAY_AUTH_MODE": "disabled"}
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--out", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    md = (out / "results.md").read_text()
    for heading in (
        "## Setup",
        "## Headline numbers next to the papers",
        "### 1.0 Targets of issue #16",
        "### 1.1 Environment steps per second",
        "### 1.2 Exact oracle: time per instance",
        "### 1.3 Decision latency",
        "### 1.4 Training wall-clock to a 3% gap",
        "### 2.1 MEC",
        "### 2.2 D2D",
        "## 3. Multi-edge scheduling",
        "### 3.5 Paper reproduction on v0: DRLoS",
        "## 5. Scaling: RLlib PPO samples per second",
        "## 6. Where our numbers differ from the papers",
    ):
        assert heading in md, heading
    if TRACES.is_dir():
        assert "## 4. Robustness" in md
    # no NaN / inf rendered as numbers (words such as "Narayanan" must not match)
    assert not re.search(r"\bnan\b", md, flags=re.IGNORECASE)
    assert not re.search(r"\binf\b", md, flags=re.IGNORECASE)

    # every figure the markdown links exists and is a PNG
    figures = re.findall(r"!\[[^\]]*\]\(figures/([^)]+)\)", md)
    assert {"mec_cost.png", "mec_vs_self.png", "d2d.png", "training_curves.png"} <= set(figures)
    assert "rllib_scaling.png" in figures and "drlos_convergence.png" in figures
    for name in figures:
        data = (out / "figures" / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n", name

    # the raw results: one JSON, finite where the tables need numbers
    res = json.loads((out / "data" / "results.json").read_text())
    for key in ("mec", "d2d", "training", "env_speed", "oracle_speed", "decisions", "rllib"):
        assert res.get(key), key
    assert set(res["speed_targets"]["measured"]) == {
        "oracle", "vector", "single", "iorlo", "drlos", "rllib", "decisions"
    }  # fmt: skip
    for key in ("mec", "d2d", "env_speed", "oracle_speed", "decisions", "rllib"):
        assert not _finite_numbers(res[key]), (key, _finite_numbers(res[key])[:5])
    assert all(r["brute_matches_dp"] in (True, None) for r in res["oracle_speed"])
    # the oracle is the cheapest method on every MEC frame set (gap 0, the rest >= 0)
    for row in res["mec"]:
        assert row["gap_mean"] >= -1e-9, row["method"]
        if row["method"] == "oracle":
            assert abs(row["gap_mean"]) < 1e-9


def test_regenerated_report_keeps_blocks_written_by_other_scripts():
    """make_report rewrites results.md: the marked blocks other scripts wrote (speed targets,
    the scheduling scoreboard, the section-4 v1 block) and everything from the v1 section on
    (section 7) survive; a block the new report has no markers for is not invented."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import make_report as mr

    old = "\n".join([
        "# old", mr.TARGETS_BEGIN, "targets", mr.TARGETS_END, mr.SCHED_BEGIN, "scoreboard",
        mr.SCHED_END, "old section 4", mr.ROB1_BEGIN, "v1 agents", mr.ROB1_END,
        mr.ROB1T_BEGIN, "decided frame", mr.ROB1T_END, mr.RLLIB_ENVS_BEGIN, "envs per runner", mr.RLLIB_ENVS_END, mr.SPEED_NOTES_BEGIN,
        "against earlier commits", mr.SPEED_NOTES_END, mr.V1_BEGIN, "v1 section", mr.V1_END, "## 7. Generalisation", "tables",
    ])  # fmt: skip
    new = "\n".join([
        "# new", mr.TARGETS_BEGIN, mr.TARGETS_END, mr.SCHED_BEGIN, mr.SCHED_END, "new section 4",
        mr.ROB1T_BEGIN, mr.ROB1T_END, mr.RLLIB_ENVS_BEGIN, mr.RLLIB_ENVS_END, mr.SPEED_NOTES_BEGIN, mr.SPEED_NOTES_END,
    ])  # fmt: skip
    md = mr.carry_over(old, new)
    for kept in ("targets", "scoreboard", "decided frame", "envs per runner", "against earlier commits",
                 "v1 section", "## 7. Generalisation", "tables"):  # fmt: skip
        assert kept in md
    assert "# new" in md and "new section 4" in md and "# old" not in md
    assert "v1 agents" not in md  # the new report has no section-4 markers
    assert md.index("targets") < md.index("scoreboard") < md.index("v1 section")


def test_robustness_reading_is_computed_from_the_results():
    """The section-4 v1 block's text (generalisation.py) quotes the tables' numbers: spans
    over an agent's seeds, its traces at or below dp_measured, the worst trace against the
    best heuristic (signed), for every agent in the results."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import generalisation as gen

    def net(dp_cost, a0, a1):  # (cost, gap) of seeds 0 and 1; oracle cost 100
        return {
            "hardness": {
                "best_constant_gap": 0.2,
                "heuristics": {"self": 0.05, "dp_measured": 0.01},
            },
            "dp_measured": {"cost": dp_cost, "gap": dp_cost / 100 - 1},
            "oracle": {"cost": 100.0},
            "agent/seed0": {"cost": a0[0], "gap": a0[1]},
            "agent/seed1": {"cost": a1[0], "gap": a1[1]},
        }

    results = {"mec/alexnet": {
        "networks": {"n1": net(104.0, (103.0, 0.03), (105.0, 0.05)),
                     "n2": net(102.0, (102.0, 0.02), (109.0, 0.09))},
        "train_s": {"agent/seed0": 1.0, "agent/seed1": 1.0},
        "frames": {"agent/seed0": 500, "agent/seed1": 500},
    }}  # fmt: skip
    text = "\n".join(gen.robustness_reading(results))
    assert (
        "* **agent** (500 frames, seeds 0, 1): AlexNet gap 2.50–7.00% (`dp_measured` 3.00%)" in text
    )
    assert "at or below it on 0–2 of 2 traces" in text  # seed 0: both; seed 1: none
    assert "worst trace -2.00 to +4.00 points from the best heuristic" in text
    # cost ratio: seed 0 mean(103/104, 102/102), seed 1 mean(105/104, 109/102)
    assert "cost vs `dp_measured` 0.9952–1.0391" in text


def test_generalisation_variants_and_blocks_of_their_own(tmp_path):
    """generalisation.py: --agent-kw values parse as YAML config fields, and --block renders a
    JSON between its own markers with the command that fills it."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import generalisation as gen

    kw = gen.parse_agent_kw(["hidden_critic=[64, 64]", "jump_candidates=whole", "jump_samples=8"])
    assert kw == {"hidden_critic": [64, 64], "jump_candidates": "whole", "jump_samples": 8}
    with pytest.raises(SystemExit, match="FIELD=VALUE"):
        gen.parse_agent_kw(["hidden_critic"])
    e = {"hardness": {"best_constant_gap": 0.1, "heuristics": {"self": 0.05}},
         "dp_measured": {"cost": 101.0, "gap": 0.01}, "oracle": {"cost": 100.0},
         "iorlo_plus_prev/seed0": {"cost": 100.5, "gap": 0.005}}  # fmt: skip
    results = {"mec/alexnet": {"networks": {"n1": e}, "train_s": {"iorlo_plus_prev/seed0": 3.0},
                               "frames": {"iorlo_plus_prev/seed0": 40}}}  # fmt: skip
    out = tmp_path / "v.json"
    args = argparse.Namespace(
        suite="test", observe="measured", dp_features=False, block="gen9", out=out,
        markers=("<!-- gen9:begin -->", "<!-- gen9:end -->"), episodes=3, seed=1, frames=40,
        history=(), train_observe="measured",
    )  # fmt: skip
    block = gen.render(results, args)
    assert block.startswith("<!-- gen9:begin -->") and block.endswith("<!-- gen9:end -->")
    assert f"--out {out} --render --block gen9" in block and "`iorlo_plus_prev`" in block
    # the JSON's one training budget (not --frames' default) is part of the command
    assert "generalisation.py --observe measured --frames 40 --agents ..." in block
    assert "| iorlo_plus_prev/seed0 | 40 | 0.9950 | 1/1 |" in block
    # --history: the setting says what the agents observed, the command repeats the decays
    args.history = (0.7, 0.95)
    block = gen.render(results, args)
    assert "`env.history=[0.7, 0.95]`" in block and "observation history" in block
    assert "--observe measured --history 0.7 0.95 --frames 40 --agents ..." in block
    # --train-observe current: trained on the decided frame, tested on the measurement
    args.history, args.train_observe = (), "current"
    block = gen.render(results, args)
    assert 'trained with `observe="current"`' in block
    assert "`python evaluate.py observe=measured` does the same" in block
    assert "--observe measured --train-observe current --frames 40 --agents ..." in block
    # --forecast-frame: the composite's frames are both learners', the text says what it is
    tag = "iorlo_plus+train_current+forecast_frame/seed0"
    results["mec/alexnet"]["networks"]["n1"][tag] = {"cost": 100.2, "gap": 0.002}
    results["mec/alexnet"]["train_s"][tag] = 5.0
    results["mec/alexnet"]["frames"][tag] = "40 + 1,600"
    assert "--frames" not in gen.render(results, args)  # budgets differ: no one --frames
    args.block = None
    block = gen.render(results, args)
    assert f"| {tag} | 40 + 1,600 | 0.9921 | 1/1 |" in block
    assert "decide on `dp_forecast`'s forecast of the frame" in block
    assert "--train-observe current --agents iorlo_plus --seeds 0 1 2 --forecast-frame" in block
    args.suite = "robustness"
    block = gen.render(results, args)
    assert "--suite robustness --scenario mec --observe measured --train-observe current" in block
    args.block = "gen9"  # a robustness block of its own names its suite too
    block = gen.render(results, args)
    assert "generalisation.py --suite robustness --scenario mec --observe measured" in block


def test_generalisation_summary_has_the_references_and_a_fixed_pair_order():
    """Each pair's summary starts with dp_measured and the oracle on the same columns as the
    agents (what the targets ask there), and the pairs come MEC then D2D in DNNS order,
    whatever order the runs wrote them in."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import generalisation as gen

    def pair(dp_gap):
        e = {"hardness": {"best_constant_gap": 0.1, "heuristics": {"self": 0.05}},
             "dp_measured": {"cost": 100.0 * (1 + dp_gap), "gap": dp_gap},
             "oracle": {"cost": 100.0}, "agent/seed0": {"cost": 103.0, "gap": 0.03}}  # fmt: skip
        return {"networks": {"n1": e}, "train_s": {"agent/seed0": 2.0}}

    results = {"d2d/alexnet": pair(0.02), "mec/vgg16": pair(0.02), "mec/alexnet": pair(0.04)}
    args = argparse.Namespace(
        suite="test", observe="measured", dp_features=False, block=None,
        markers=("<!-- gen:begin -->", "<!-- gen:end -->"), episodes=3, seed=1, frames=40,
        history=(), train_observe="measured",
    )  # fmt: skip
    block = gen.render(results, args)
    order = [line for line in block.splitlines() if line.startswith("#### ")]
    assert order == ["#### mec/alexnet", "#### mec/vgg16", "#### d2d/alexnet"]
    mec_alexnet = block.split("#### mec/vgg16")[0]
    # dp_measured: 104 / 104, (1.04) / (1.1) = 0.945, 4 - 5 = -1 point from the heuristic
    assert "| dp_measured (reference) | – | 1.0000 | 1/1 | 0.945 | -1.00 | – |" in mec_alexnet
    assert "| oracle (clairvoyant) | – | 0.9615 | 1/1 | 0.909 | -5.00 | – |" in mec_alexnet
    assert "| agent/seed0 | 40 | 0.9904 | 1/1 | 0.936 | -2.00 | 2 |" in mec_alexnet
    # with the current state dp_measured is the oracle: one reference row, not two
    current = gen.render(results, argparse.Namespace(**{**vars(args), "observe": "current"}))
    assert "| dp_measured (reference) |" in current and "oracle (clairvoyant)" not in current


def _report_modules():
    """benchmarks/report/ (its modules import the sibling benchmark scripts)."""
    if str(ROOT / "benchmarks") not in sys.path:
        sys.path.insert(0, str(ROOT / "benchmarks"))
    from report import derive, render

    return derive, render


def test_papers_data_loads_with_every_dnn():
    derive, _ = _report_modules()
    papers = derive.load_papers()
    dnns = {"alexnet", "vgg16", "resnet32", "mobilenet_v1"}
    for key in ("ren_mec", "ren_d2d", "ren_table3_mec", "ren_table3_d2d"):
        assert set(papers[key]["per_dnn"]) == dnns, key
    assert papers["ren_mec"]["mean"] == [72.17, 66.91]
    assert papers["ren_d2d"]["coh_mean"] == 47.02
    assert papers["huang_drlos"]["ratio_vs_closest"] == 2.17
    for split in papers["ren_table3_mec"]["per_dnn"].values():
        assert abs(sum(split) - 100.0) < 0.05
    assert derive.PAPER_MEC["alexnet"] == [86.77, 62.7]


def test_derive_improvements_ratios_and_words():
    derive, _ = _report_modules()
    rows = [
        {"dnn": "a", "method": "self", "latency_ms_mean": 10.0, "energy_j_mean": 2.0,
         "cost_mean": 30.0},
        {"dnn": "a", "method": "edge_only", "latency_ms_mean": 5.0, "energy_j_mean": 0.5,
         "cost_mean": 10.0},
    ]  # fmt: skip
    (imp,) = derive.improvements(rows)
    assert imp["method"] == "edge_only" and imp["setting"] == ""
    assert (imp["latency_impr"], imp["energy_saving"]) == (50.0, 75.0)
    assert abs(imp["cost_red"] - 200 / 3) < 1e-12
    dr = [
        {"lambda_wait": 0.0, "load": 0.8, "policy": "closest", "variance": 3.0},
        {"lambda_wait": 0.0, "load": 0.8, "policy": "drlos", "variance": 1.0},
    ]
    assert derive.drlos_ratios(dr, 0.8) == {0.0: 3.0}
    assert derive.compare_word(1.0, 2.0) == "lower than"
    assert derive.compare_word(2.0, 2.0 + 1e-9) == "equal to"
    assert f"{derive.speedup_needed(47.02):.1f}" == "1.9"


def test_template_filters_and_a_report_without_measurements(tmp_path):
    """The templates render a report with no measured section: the headings, the markers
    other scripts fill and the re-render command, nothing undefined (StrictUndefined)."""
    _, render = _report_modules()
    assert render.para("  one\n  two\n\n three ") == "one two three\n"
    assert render.items("\n a\n\n b \n", "; ") == "a; b"
    tpl = render.environment().from_string(
        "{% for x in xs %}{{ x|fnum(1) }}{{ sep(loop) }}{% endfor %} {{ 1234.5|fsig }}"
    )
    assert tpl.render(xs=[1, 2.25, None]) == "1.0, 2.2, – 1,234"
    R = {
        "params": {"dnns": ["alexnet"], "seed": 0, "eval_seed": 1, "episodes": 2, "steps": 10,
                   "csv_dir_display": "d", "out_display": "o"},
        "timings": {"x": 1.0},
        "meta": {"date": "today", "cpu": "c", "nproc": 2, "affinity": 2, "mem_gib": 1.0,
                 "gpu": "none", "os": "os", "versions": {"python": "3"}, "commit": "abc",
                 "dirty": []},
        "command": "cmd",
    }  # fmt: skip
    md = render.render(R, tmp_path, "cmd")
    assert md.startswith("# EdgeRL: benchmarks and reproduction report\n")
    for text in ("## Setup", "## 1. Speed", render.TARGETS_BEGIN, "## 6. Where our numbers",
                 "--render-only d/results.json --out o`."):  # fmt: skip
        assert text in md, text
    assert "## Headline numbers" not in md and "## 3." not in md and "None" not in md
    assert md.endswith("--out o`.\n")


def _speed_targets_measurement(fast: bool, skip: tuple[str, ...] = ()) -> dict:
    """A made-up :func:`report.targets.speed_targets` result: every target met (``fast``)
    or none of those with a threshold."""
    k = 1.0 if fast else 10.0  # times scale with k, rates with 1 / k
    oracle = [
        {"scenario": sc, "exits": ex, "compiled_scalar_us": 1.5 * k, "reference_scalar_us": 20.0,
         "compiled_batch_us": 0.3 * k, "reference_batch_us": 3.0, "costs_identical": True}
        for sc in ("mec", "d2d") for ex in (False, True)
    ]  # fmt: skip
    vector = [
        {"scenario": sc, "num_envs": n, "oracle": o, "steps_per_s": r / k,
         "minor_faults_per_step": 0.0 if fast else 300.0}
        for sc in ("mec", "d2d")
        for n, o, r in ((1024, False, 3e6), (4096, False, 3e6 if fast else 1e7),
                        (16384, False, 2.9e6 if fast else 2e6), (4096, True, 1.2e6))
    ]  # fmt: skip
    measured = {
        "oracle": oracle,
        "vector": vector,
        "single": [{"scenario": "mec", "version": 1, "oracle": True, "steps_per_s": 45e3 / k}],
        "iorlo": {"frames": 3000, "frames_per_s": 1000 / k},
        "drlos": {"n_rollouts": 20, "speedup": 5.0 / k, "batched_iterations_per_s": 10 / k,
                  "one_at_a_time_iterations_per_s": 2.0},
        "rllib": {"default_envs": 8, "rows": [{"num_envs": 1, "steps_per_s": 500.0},
                                               {"num_envs": 8, "steps_per_s": 2900.0 / k}]},
        "decisions": {"single_us": 3.0 * k, "single_compiled": True, "numpy_single_us": 5.0,
                      "batch": 4096, "auto_backend": "onnxruntime" if fast else "numpy",
                      "identical": True,
                      "backends": [{"backend": "numpy", "batch_ms": 1.0, "identical": True},
                                   {"backend": "onnxruntime", "batch_ms": 0.6, "identical": True}]},
    }  # fmt: skip
    st = {
        "measured": {g: v for g, v in measured.items() if g not in skip}, "seconds": {},
        "budget": {"vector_repeats": 3}, "quick": False, "skip": list(skip), "clock": "thread",
        "command": "benchmarks/speed_targets.py", "oracle_backend": "numba",
        "meta": {"date": "today", "cpu": "c", "nproc": 2},
    }  # fmt: skip
    if fast:  # the current measurement's extras; a JSON written before them still renders
        for r in oracle:
            r["compiled_scalar_keywords_us"] = 2.0 * k
        st["meta"]["caches"] = "L1d 48K, L2 2048K"
        st["budget"]["probe_blocks"] = 40
        one = {
            "python_us": {"min": 30.0, "median": 31.0},
            "copy_32mb_ms": {"min": 2.0, "median": 2.5},
        }
        st["host_probe"] = {
            "start": one,
            "end": {**one, "python_us": {"min": 60.0, "median": 70.0}},
        }
    return st


def test_speed_targets_block_renders_met_and_not_met():
    """Table 1.0 from a measurement: one row per target of targets.json, 'met' derived from
    the thresholds and checks, a skipped group 'not measured', the markers around it."""
    derive, render = _report_modules()
    from report.targets import load_targets

    T = load_targets()
    ids = [t["id"] for t in T["targets"]]
    assert len(ids) == len(set(ids)) == 12 and T["iorlo_plus_baseline_fps"] == 557
    rows = derive.speed_target_rows(T, _speed_targets_measurement(fast=True))
    assert [r["met"] for r in rows] == [True] * 12
    by_id = {r["id"]: r for r in rows}
    assert by_id["iorlo_plus"]["value"] == 1000 / 557
    assert by_id["vector_scaling"]["value"] == 100 * (1 - 2.9 / 3)
    assert by_id["rllib"]["value"] == 5.8
    slow = derive.speed_target_rows(T, _speed_targets_measurement(fast=False, skip=("rllib",)))
    met = {r["id"]: r["met"] for r in slow}
    assert met.pop("rllib") is None
    assert set(met.values()) == {False}, met  # actor_batch: auto did not pick the fastest

    block = render.speed_targets_block(_speed_targets_measurement(fast=False, skip=("rllib",)))
    assert block.startswith(render.TARGETS_BEGIN + "\n### 1.0 Targets of issue #16")
    assert block.endswith("\n" + render.TARGETS_END)
    table = [ln for ln in block.splitlines() if ln.startswith("| ") and "---" not in ln][1:]
    assert len(table) == 12
    assert sum("| **no** |" in ln for ln in table) == 11 and "– (not measured)" in table[9]
    assert "0 of 11 measured targets met; not measured (`--skip rllib`): rllib." in block
    assert "Not reached, and why:" in block and "**not** fastest of the backends" in block
    ok = render.speed_targets_block(_speed_targets_measurement(fast=True))
    assert "12 of 12 measured targets met." in ok and "Not reached" not in ok
    assert "| yes |" in ok and "**no**" not in ok and "nan" not in ok.lower()
    assert "MEC 3M → 3M → 2.9M" in ok and "1.8×, python train.py, 3,000 frames:" in ok
    assert "(c; L1d 48K, L2 2048K; 2 cores)" in ok and "(c; 2 cores)" in block
    assert "Oracle.solve with keywords (weights looked up per call) 2 µs" in ok
    assert "a Python loop of 5,000 additions 30 / 31 µs → 60 / 70 µs; a 32 MB numpy copy" in ok
    assert "How fast the host ran" not in block


def test_a_backend_that_acts_otherwise_is_not_the_fastest_to_pick():
    """onnxruntime faster but with logits (so act_batch actions) that differ from numpy's in
    the last bits: "auto" keeps numpy, and the row is met, saying why onnxruntime is out."""
    derive, render = _report_modules()
    from report.targets import load_targets

    st = _speed_targets_measurement(fast=True)
    st["measured"]["decisions"].update(auto_backend="numpy", backends=[
        {"backend": "numpy", "batch_ms": 1.8, "identical": True, "act_max_diff": 0.0},
        {"backend": "onnxruntime", "batch_ms": 0.9, "identical": False, "act_max_diff": 6e-8}])  # fmt: skip
    row = next(r for r in derive.speed_target_rows(load_targets(), st) if r["id"] == "actor_batch")
    assert row["met"] is True
    cell = render.measured(row)
    assert "onnxruntime 0.9 ms (actions differ from numpy's by up to 6e-08: not eligible)" in cell
    assert "fastest of the backends with numpy's actions (numpy)" in cell


def test_host_probe_times_fixed_work():
    """The host probe: positive times, min <= median, for each fixed piece of work."""
    _report_modules()
    from report.measure import cpu_caches
    from report.targets import host_probe

    probe = host_probe(3)
    assert set(probe) == {"python_us", "copy_32mb_ms"}
    for t in probe.values():
        assert 0 < t["min"] <= t["median"]
    assert isinstance(cpu_caches(), str)


def test_iorlo_target_against_a_commit_timed_in_the_same_run():
    """IoRLO+'s ratio: pair by pair against the baseline commit's runs (the worst pair
    decides), its median as 'before'; a commit that could not be timed falls back to the fixed
    number and says why."""
    derive, render = _report_modules()
    from report.targets import load_targets

    T = load_targets()
    st = _speed_targets_measurement(fast=True)
    st["measured"]["iorlo"].update(
        runs_frames_per_s=[300.0, 340.0], baseline={"ref": "abc123", "runs_frames_per_s": [150.0, 250.0]}
    )  # fmt: skip
    row = {r["id"]: r for r in derive.speed_target_rows(T, st)}["iorlo_plus"]
    assert row["value"] == 340 / 250 and row["met"] is False  # the first pair alone would meet
    assert (
        row["before"]["value"] == 200.0 and "abc123" in row["target"] and "557" not in row["target"]
    )
    cell = render.measured(row)
    assert cell.startswith("1.36–2×, python train.py, 3,000 frames: 300–340 frames/s"), cell
    # like for like: this tree with the commit's configuration, reported beside, not judged
    st["measured"]["iorlo"]["like_for_like"] = {
        "overrides": ["agent.hidden_critic=128"], "runs_frames_per_s": [300.0, 400.0]
    }  # fmt: skip
    row = {r["id"]: r for r in derive.speed_target_rows(T, st)}["iorlo_plus"]
    assert row["value"] == 340 / 250 and row["met"] is False
    cell = render.measured(row)
    like = "with abc123's IoRLO+ configuration (agent.hidden_critic=128) 1.6–2×"
    assert cell.endswith(like), cell
    del st["measured"]["iorlo"]["like_for_like"]
    st["measured"]["iorlo"]["baseline"] = {"ref": "abc123", "not_measured": "no history"}
    row = {r["id"]: r for r in derive.speed_target_rows(T, st)}["iorlo_plus"]
    assert row["value"] == 1000 / 557 and row["before"]["value"] == 557
    assert render.measured(row).endswith("frames/s, commit abc123 not timed: no history")


def test_timed_subprocesses_get_the_users_blas_threads(monkeypatch):
    """The benchmarks time in-process with one BLAS thread, but ``python train.py`` runs in
    the environment the user had: a variable they set is kept, one they did not is unset."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import blas_threads

    monkeypatch.setattr(blas_threads, "_USER", None)
    for var in blas_threads.THREAD_VARS:  # recorded, so the teardown restores each one
        monkeypatch.setenv(var, "x")
        monkeypatch.delenv(var)
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "4")
    blas_threads.limit()
    assert os.environ["OMP_NUM_THREADS"] == os.environ["MKL_NUM_THREADS"] == "1"
    assert os.environ["OPENBLAS_NUM_THREADS"] == "4"
    env = blas_threads.user_environ()
    assert "OMP_NUM_THREADS" not in env and "MKL_NUM_THREADS" not in env
    assert env["OPENBLAS_NUM_THREADS"] == "4" and env["PATH"] == os.environ["PATH"]


def test_baseline_commit_export(tmp_path):
    """The baseline tree is ``git archive`` of the commit (the checkout is only read); a
    missing commit is reported, not raised."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from report.targets import _export_commit

    why = _export_commit("0" * 40, tmp_path)
    assert why is not None and not any(tmp_path.iterdir())
    if (
        "git is not installed" in why
        or subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True
        ).returncode
    ):
        pytest.skip(f"no usable git history here: {why}")
    assert _export_commit("HEAD", tmp_path) is None
    assert (tmp_path / "train.py").is_file() and not (tmp_path / ".git").exists()


def test_speed_targets_block_replacement_touches_only_the_marked_block():
    """speed_targets.py rewrites the block between the markers, the rest byte for byte;
    make_report's carry_over keeps a block generated in this run, carries an empty one."""
    _, render = _report_modules()
    import make_report as mr

    begin, end = render.TARGETS_BEGIN, render.TARGETS_END
    head, tail = "# doc\n\n## 1. Speed\n\n", "\n\ntext  with  spaces\n" + mr.SCHED_BEGIN + "x\n"
    doc = head + begin + "\nold table\n" + end + tail
    new = render.replace_block(doc, begin, end, begin + "\nnew table\n" + end)
    assert new == head + begin + "\nnew table\n" + end + tail
    with pytest.raises(ValueError):
        render.replace_block("no markers", begin, end, "x")

    old = "\n".join(["# old", begin, "old targets", end])
    assert "old targets" in mr.carry_over(old, "\n".join(["# new", begin, end]))
    md = mr.carry_over(old, "\n".join(["# new", begin, "generated", end]))
    assert "generated" in md and "old targets" not in md


def test_speed_targets_script_renders_from_json(tmp_path):
    """benchmarks/speed_targets.py --from-json --render: no measuring, the doc's block only."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import speed_targets

    _, render = _report_modules()
    st = tmp_path / "st.json"
    st.write_text(json.dumps(_speed_targets_measurement(fast=True)))
    doc = tmp_path / "results.md"
    doc.write_text("before\n" + render.TARGETS_BEGIN + "\nx\n" + render.TARGETS_END + "\nafter\n")
    assert speed_targets.main(["--from-json", str(st), "--render", "--doc", str(doc)]) == 0
    text = doc.read_text()
    assert text.startswith("before\n" + render.TARGETS_BEGIN + "\n### 1.0")
    assert text.endswith(render.TARGETS_END + "\nafter\n") and "\nx\n" not in text


def test_generalisation_json_keeps_its_evaluation_and_the_ratio_cis(tmp_path):
    """A JSON records the episodes and seed it was evaluated on: the block says those (not
    the command's), a measurement with others is refused before anything runs, and a JSON
    without the record (written before it existed) is read as the 30 / 12345 it used. With
    per-network CIs the summary counts the networks whose CI lies above 1."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import generalisation as gen

    def entry(ci):
        return {"hardness": {"best_constant_gap": 0.1, "heuristics": {"self": 0.05}},
                "dp_measured": {"cost": 100.0, "gap": 0.01}, "oracle": {"cost": 99.0},
                "a/seed0": {"cost": 100.1, "gap": 0.011, "ratio_ci": ci}}  # fmt: skip

    nets = {"n1": entry([1.0004, 1.0019]), "n2": entry([0.9990, 1.0011])}
    results = {"mec/alexnet": {"networks": nets, "train_s": {"a/seed0": 1.0},
                               "eval": {"episodes": 300, "seed": 7}}}  # fmt: skip
    args = argparse.Namespace(
        suite="test", observe="measured", dp_features=False, block="gen9", out=tmp_path / "e.json",
        markers=("<!-- gen9:begin -->", "<!-- gen9:end -->"), episodes=30, seed=12345,
        frames=40, history=(), train_observe="measured",
    )  # fmt: skip
    block = gen.render(results, args)
    assert "evaluation on 300 episodes × 100 frames per network (seed 7)" in block
    assert "generalisation.py --observe measured --episodes 300 --seed 7 --agents ..." in block
    assert "| a/seed0 | 40 | 1.0010 | 0/2 (1 above) |" in block and '"(k above)"' in block
    with pytest.raises(SystemExit, match="evaluated on 300 episodes \\(seed 7\\); --episodes 30"):
        gen.measure(args, results)
    del results["mec/alexnet"]["eval"]
    assert gen.eval_setting(results) == {"episodes": 30, "seed": 12345}
    for e in nets.values():
        del e["a/seed0"]["ratio_ci"]
    block = gen.render(results, args)  # as before the CIs: no count, no sentence
    assert "| a/seed0 | 40 | 1.0010 | 0/2 |" in block and "(k above)" not in block
    assert "evaluation on 30 episodes × 100 frames per network (seed 12345)" in block
