"""Small pieces of the pipeline: value rules, action mapping, run discovery, tables."""

from __future__ import annotations

import numpy as np
import pytest
from omegaconf import OmegaConf

from pipeline.config import ConfigError, Rule, check_rules, missing_keys, positive, unit_interval
from pipeline.envs import UnitToSymmetric
from pipeline.evaluate import (
    default_out_dir,
    discover_runs,
    eval_root,
    group_key,
    heuristic_names,
    mean_over_networks,
    network_family,
)
from pipeline.report import markdown_table


def test_rules_describe_and_check():
    assert positive().describe() == "a number > 0"
    assert unit_interval(lo_open=True).describe() == "a number in (0, 1]"
    assert Rule("int", lo=-1).describe() == "an integer >= -1"
    assert Rule("float", also=("auto",)).ok("auto") and not Rule("float").ok("auto")
    assert not positive("int").ok(1.5) and not positive("int").ok(True)
    assert not positive().ok(float("nan")) and positive(none_ok=True).ok(None)
    with pytest.raises(ConfigError, match=r"agent\.lr=-1 is invalid: must be a number > 0"):
        check_rules("agent", {"lr": -1}, {"lr": positive()})
    with pytest.raises(ConfigError, match=r"unknown key\(s\) \['lrr'\]; allowed: \['lr'\]"):
        check_rules("agent", {"lrr": 1}, {"lr": positive()})


def test_missing_keys_through_interpolations():
    cfg = OmegaConf.create({"a": "???", "b": {"c": "${a}", "d": "???"}, "e": [1, "???"]})
    assert missing_keys(cfg) == ["a", "b.d", "e.1"]


def test_unit_to_symmetric_round_trip():
    import gymnasium as gym

    import envs  # noqa: F401

    env = UnitToSymmetric.wrap(gym.make("EdgeRL/MECPartition-v0", dnn="lenet"))
    assert env.action_space.low.min() == -1 and env.action_space.dtype == np.float32
    a = np.array([-1.0, -0.5, 0.0, 0.5, 1.0, 2.0], dtype=np.float32)[: env.action_space.shape[0]]
    np.testing.assert_allclose(UnitToSymmetric.to_env(a), np.clip((a + 1) / 2, 0, 1))
    with pytest.raises(ValueError, match="Box\\(0, 1\\)"):
        UnitToSymmetric.wrap(gym.make("EdgeRL/EdgeScheduling-v0"))


def test_discovery_and_out_dir(tmp_path):
    for rel in ("mec-alexnet/iorlo/seed0", "mec-alexnet/iorlo/seed1", "d2d-vgg16/sb3_td3/seed0"):
        d = tmp_path / rel
        (d / ".hydra").mkdir(parents=True)
        (d / "config.yaml").write_text("seed: 0\n")
        (d / "state.json").write_text("{}")
        (d / ".hydra" / "config.yaml").write_text("seed: 0\n")  # not a run dir
    (tmp_path / "eval").mkdir()
    assert len(discover_runs(str(tmp_path))) == 3
    assert len(discover_runs(str(tmp_path / "mec-*"))) == 2
    assert discover_runs(str(tmp_path / "d2d-vgg16/sb3_td3/seed0")) == [
        (tmp_path / "d2d-vgg16/sb3_td3/seed0").resolve()
    ]
    assert eval_root([str(tmp_path)]) == tmp_path / "eval"
    assert eval_root([f"{tmp_path}/mec-*/iorlo"]) == tmp_path / "eval"
    both = [str(tmp_path / "mec-alexnet/iorlo"), str(tmp_path / "d2d-vgg16")]
    assert eval_root(both) == tmp_path.resolve() / "eval"
    # every call gets its own new dated directory: nothing earlier is overwritten
    first, second = default_out_dir(str(tmp_path)), default_out_dir(str(tmp_path))
    assert first.parent == second.parent == tmp_path / "eval" and first != second
    assert first.is_dir() and not any(first.iterdir())
    assert len(first.name) == len("20260101-120000") and first.name[8] == "-"


def test_group_key_ignores_action_mode():
    a = {"env": {"name": "mec", "eta1": 1.0, "action_mode": "continuous"}, "dnn": {}, "network": {}}
    b = {"env": {"name": "mec", "eta1": 1.0, "action_mode": "discrete"}, "dnn": {}, "network": {}}
    c = {"env": {"name": "mec", "eta1": 2.0, "action_mode": None}, "dnn": {}, "network": {}}
    assert group_key(a) == group_key(b) != group_key(c)


def test_group_key_ignores_what_a_run_observes_only():
    """history / dp_features change the observation, not the frames: one group."""
    a = {"env": {"name": "mec", "history": [], "observe": "measured"}, "dnn": {}, "network": {}}
    b = {"env": {"name": "mec", "history": [0.7, 0.95], "observe": "measured",
                 "dp_features": True}, "dnn": {}, "network": {}}  # fmt: skip
    c = {"env": {"name": "mec", "history": [], "observe": "current"}, "dnn": {}, "network": {}}
    assert group_key(a) == group_key(b) != group_key(c)


def test_mean_over_networks_keeps_each_env_config_apart():
    """Two env configs on the same networks (here another observation: the second group of a
    tag is ``#2``) are two families, each counted against its own dp_measured."""
    assert network_family("mecv1-alexnet@test:walking/5g/lateral+measured#2") == (
        "mecv1-alexnet+measured#2")  # fmt: skip
    rows = []
    for net in ("test:a", "test:b"):
        for suffix, observe, dpm in (("", "measured", 100.0), ("#2", "current", 90.0)):
            head = {"group": f"mecv1-alexnet@{net}{suffix}", "env": "mec", "dnn": "alexnet",
                    "network": net, "observe": observe, "gap_mean": 0.01}  # fmt: skip
            rows.append({**head, "agent": "dp_measured", "kind": "heuristic", "cost_mean": dpm})
            rows.append({**head, "agent": "x", "kind": "trained", "run": f"r{suffix}",
                         "cost_mean": 95.0})  # fmt: skip
    out = {(m["group"], m["agent"]): m for m in mean_over_networks(rows, ["test:a", "test:b"])}
    assert len(out) == 4
    assert out[("mecv1-alexnet", "x")]["cost_le_dp_measured"] == "2/2"
    assert out[("mecv1-alexnet#2", "x")]["cost_le_dp_measured"] == "0/2"
    assert out[("mecv1-alexnet#2", "dp_measured")]["observe"] == "current"


def test_heuristic_names():
    assert heuristic_names("mec")[-1] == "oracle" and "deepar" in heuristic_names("mec")
    assert "co_h" in heuristic_names("d2d") and "co_l" not in heuristic_names("d2d")
    assert "edge_only" not in heuristic_names("d2d")
    expected = {"closest", "average", "random", "least_loaded", "latency_greedy"}
    assert set(heuristic_names("scheduling")) == expected


def test_markdown_table_formats_mean_std():
    rows = [
        {"agent": "oracle", "kind": "oracle", "cost_mean": 54.7, "cost_std": 11.2,
         "gap_mean": 1e-15, "gap_std": 1e-15, "dist_device_pct": 0.0, "dist_edge_pct": 100.0,
         "decision_ms": 0.07},
        {"agent": "iorlo", "kind": "trained", "train_seed": 0, "cost_mean": 60.0,
         "cost_std": 12.0, "gap_mean": 9.7, "gap_std": 3.0, "dist_device_pct": 10.0,
         "dist_edge_pct": 90.0, "decision_ms": 0.015},
    ]  # fmt: skip
    table = markdown_table(rows, scheduling=False)
    assert "| oracle | 54.7 ± 11 | 0 ± 0 | 0 / 100 | 0.07 |" in table
    assert "| **iorlo (seed 0)** | 60 ± 12 | 9.7 ± 3 | 10 / 90 | 0.015 |" in table
    assert "device / edge (%)" in table


def test_env_budget_is_not_part_of_a_runs_identity():
    """A run made before env.train_steps existed (or with another env budget) is the same
    run: a rerun reports it finished instead of refusing it as another config."""
    from pipeline.train import _comparable, _diff

    old = {"env": {"name": "mec", "d_t": 4.0}, "train": {"total_steps": 1}, "seed": 0}
    new = {"env": {"name": "mec", "d_t": 4.0, "train_steps": 40000},
           "train": {"total_steps": 40000}, "seed": 0}  # fmt: skip
    assert _diff(_comparable(old), _comparable(new)) == []
    new["env"]["d_t"] = 5.0
    assert _diff(_comparable(old), _comparable(new)) == ["env.d_t: run has 4.0, now 5.0"]


def test_a_run_predating_a_key_at_its_default_is_the_same_config():
    # runs saved before env.dp_features (or a new agent field) existed ran with its default
    from pipeline.train import _diff, _with_predated_defaults

    new = {"env": {"id": "EdgeRL/MECPartition-v1", "name": "mec", "dp_features": False},
           "agent": {"name": "drlos", "lr": 0.01, "entropy_coef": 0.0}}  # fmt: skip
    old = {"env": {"id": "EdgeRL/MECPartition-v1", "name": "mec"},
           "agent": {"name": "drlos", "lr": 0.01}}  # fmt: skip
    assert _diff(_with_predated_defaults(old, new), new) == []
    changed = {**new, "env": {**new["env"], "dp_features": True}}
    assert _diff(_with_predated_defaults(old, changed), changed) == [
        "env.dp_features: run has None, now True"
    ]


def test_existing_paths_with_reserved_characters_are_quoted_for_hydra(tmp_path, monkeypatch):
    """evaluate.py's path keys: a run dir named after its overrides ("=", ",") is quoted so
    that Hydra reads it as one string; lists, quoted values, other keys and paths that do not
    exist are passed on as they are."""
    from pipeline.cli import EVALUATE_PATH_KEYS, quote_existing_paths

    run = tmp_path / "iorlo_plus" / "agent.lr_actor=0.001,env.observe=current" / "seed0"
    run.mkdir(parents=True)
    plain = tmp_path / "plain"
    plain.mkdir()
    monkeypatch.chdir(tmp_path)
    rel = "iorlo_plus/agent.lr_actor=0.001,env.observe=current/seed0"
    args = [f"runs={run}", f"forecast={rel}", f"out_dir={plain}", f"runs=['{run}']",
            f"runs='{run}'", "episodes=3", f"seed={rel}", "runs=missing/a=b", "-m"]  # fmt: skip
    assert quote_existing_paths(args, EVALUATE_PATH_KEYS) == [
        f'runs="{run}"', f'forecast="{rel}"', f"out_dir={plain}", f"runs=['{run}']",
        f"runs='{run}'", "episodes=3", f"seed={rel}", "runs=missing/a=b", "-m"]  # fmt: skip
    quoted = tmp_path / 'say "x=1"'
    quoted.mkdir()
    assert quote_existing_paths([f"runs={quoted}"], ["runs"]) == [f"runs='{quoted}'"]
