"""Shared test settings: paths (the real data in ``../shared/data``, read in place, never
copied; ``$EDGERL_DATA`` overrides it), the skip marks of tests that need it, and the small
scheduling configs of the fast tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from envs.mixture import default_data_dir

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = default_data_dir()
TRACES_DIR = DATA_DIR / "traces"
ARRIVALS_DIR = DATA_DIR / "arrivals"
AZURE_CODE = ARRIVALS_DIR / "azure_llm_inference_code_2023.csv"
#: scheduling envs small enough for an episode in milliseconds (agent tests; env tests)
SCHEDULING_SMALL = {
    "capacities": 100,
    "buffer_size": 64,
    "window_slots": 40,
    "num_users": 200,
    "load": 0.8,
}
SCHEDULING_TINY = {"capacities": 50, "buffer_size": 32, "window_slots": 20, "num_users": 100}
HAVE_TRACES = (DATA_DIR / "traces" / "mmwave_uplink").is_dir() and (
    DATA_DIR / "traces" / "lumos5g"
).is_dir()
#: ids whose default network (mixture_train) needs the shared traces
TRACE_DEFAULT_IDS = ("EdgeRL/MECPartition-v1", "EdgeRL/D2DPartition-v1")

needs_traces = pytest.mark.skipif(not HAVE_TRACES, reason=f"shared traces absent ({DATA_DIR})")


def synthetic_obs(env, load, homes) -> np.ndarray:
    """A scheduling env's observation with the given server loads and visible tasks (their
    home servers), nothing else: the heuristics' tests set up exact situations with it."""
    lay, caps, m = env.obs_layout, env.capacities, env.num_servers
    obs = np.zeros(lay.size, dtype=np.float32)
    obs[:m] = np.asarray(load) / caps
    obs[m : 2 * m] = (caps - np.asarray(load)) / caps.max()
    rows = obs[lay.tasks_start : lay.mask_start].reshape(env.buffer_size, lay.task_features)
    rows[np.arange(len(homes)), homes] = 1.0
    obs[lay.mask_start : lay.mask_start + len(homes)] = 1.0
    return obs


def tensor_leaves(x, pre: str = ""):
    """``(path, tensor)`` for every tensor in a nested checkpoint (dicts, lists, tuples):
    ``dict(tensor_leaves(a))`` compares two checkpoints tensor by tensor."""
    if isinstance(x, torch.Tensor):
        yield pre, x
    elif isinstance(x, dict):
        for k, v in x.items():
            yield from tensor_leaves(v, f"{pre}.{k}")
    elif isinstance(x, list | tuple):
        for i, v in enumerate(x):
            yield from tensor_leaves(v, f"{pre}[{i}]")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without the shared traces, tests parametrised over a v1 id with its default network are
    skipped (tests/test_partition_v1.py covers v1 on the synthetic mixture as well)."""
    if HAVE_TRACES:
        return
    skip = pytest.mark.skip(reason=f"v1 default network replays shared traces ({DATA_DIR})")
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if any(v in TRACE_DEFAULT_IDS for v in params.values() if isinstance(v, str)):
            item.add_marker(skip)
