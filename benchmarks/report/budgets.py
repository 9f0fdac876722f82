"""What the report measures: its sections, the methods per scenario and the budgets of a
full and a ``--quick`` run."""

from __future__ import annotations

from typing import Any

SECTIONS = ("speed", "mec", "d2d", "drlos", "robustness", "rllib")
MEC_METHODS = ("self", "edge_only", "cloud_only", "neuro_l", "neuro_e", "deepar", "jalad", "oracle")
MEC_BASELINES = tuple(m for m in MEC_METHODS if m != "oracle")
AGENT_NAMES = ("iorlo", "iorlo_plus")
D2D_SETTINGS: dict[str, dict[str, Any]] = {
    "Co-H": {"availability": (1.0, 1.0)},
    "Co-L": {"availability": (0.6, 0.6)},
    "Co-H 2x": {"availability": (1.0, 1.0), "collaborator_factor": 2.0},
}
D2D_METHODS: dict[str, tuple[str, ...]] = {
    "Co-H": ("self", "co_h", "neuro_l", "neuro_e", "jalad", "oracle"),
    "Co-L": ("self", "co_l", "oracle"),
    "Co-H 2x": ("self", "co_h", "oracle"),
}
ROBUST_METHODS = MEC_METHODS  # every MEC rule, on the trace-replay frames

FULL: dict[str, Any] = {
    "dnns": ["alexnet", "vgg16", "resnet32", "mobilenet_v1"],
    "oracle_dnns": None,  # None: every built-in profile
    "steps": 40_000,
    "episodes": 100,
    "env_steps": 10_000,
    "env_repeats": 3,
    "num_envs": [1, 64, 1024, 4096],
    "oracle_instances": 1000,
    "oracle_batch": 4096,
    "oracle_repeats": 20,
    "brute_instances": 3,
    "dec_single": 20_000,
    "dec_batch": 4096,
    "dec_repeats": 50,
    "policy_steps": 2000,
    "traces": None,  # None: all of report.sections.TRACES
    "trace_episodes": 100,
    "rllib_runners": [0, 1, 2],
    "rllib_iterations": 2,
    "rllib_warmup": 1,
    "rllib_batch": 4000,
    "rllib_epochs": 30,
    "rllib_minibatch": 128,
}
QUICK: dict[str, Any] = {
    **FULL,
    "dnns": ["alexnet", "mobilenet_v1"],
    "oracle_dnns": ["alexnet", "mobilenet_v1"],
    "steps": 1500,
    "episodes": 10,
    "env_steps": 500,
    "env_repeats": 1,
    "num_envs": [1, 64],
    "oracle_instances": 50,
    "oracle_batch": 256,
    "oracle_repeats": 2,
    "brute_instances": 1,
    "dec_single": 300,
    "dec_batch": 256,
    "dec_repeats": 3,
    "policy_steps": 50,
    "traces": ["5G walk 100", "4G drive 50015"],
    "trace_episodes": 5,
    "rllib_runners": [0, 1],
    "rllib_iterations": 1,
    "rllib_warmup": 0,
    "rllib_batch": 200,
    "rllib_epochs": 1,
    "rllib_minibatch": 100,
}
