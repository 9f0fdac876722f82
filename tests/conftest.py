"""Shared test settings: the v1 partition envs replay real traces from ``../shared/data``."""

from __future__ import annotations

import pytest

from envs.mixture import default_data_dir

DATA_DIR = default_data_dir()
HAVE_TRACES = (DATA_DIR / "traces" / "mmwave_uplink").is_dir() and (
    DATA_DIR / "traces" / "lumos5g"
).is_dir()
#: ids whose default network (mixture_train) needs the shared traces
TRACE_DEFAULT_IDS = ("EdgeRL/MECPartition-v1", "EdgeRL/D2DPartition-v1")

needs_traces = pytest.mark.skipif(not HAVE_TRACES, reason=f"shared traces absent ({DATA_DIR})")


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
