"""EdgeRL/EdgeScheduling-v0 stays bit-identical for a seed: fingerprints of whole episodes.

Each case runs one episode with fixed actions and hashes (SHA-256) every observation, reward,
info and the final per-task latencies. The expected digests were recorded with the env as it
was before the queue ring buffer, the vector env and the trace scaling options were added;
a change to any number of any step changes the digest. New behaviour must come as options
whose defaults keep these digests.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import SCHEDULING_TINY

from envs.mixture import default_data_dir
from envs.scheduling import EdgeSchedulingEnv

Policy = Callable[[EdgeSchedulingEnv, np.random.Generator, int], Any]


def _info_bytes(info: dict[str, Any]) -> bytes:
    out = []
    for k in sorted(info):
        v = info[k]
        out.append(k.encode())
        out.append(np.asarray(v).tobytes() if isinstance(v, np.ndarray) else repr(v).encode())
    return b"".join(out)


def fingerprint(
    kwargs: dict[str, Any], policy: Policy, task_set_seed: int | None, seed: int | None
) -> tuple[str, int, float, dict[str, Any]]:
    """(digest, steps, return, last info) of one episode."""
    env = EdgeSchedulingEnv(**kwargs)
    rng = np.random.default_rng(123)
    h = hashlib.sha256()
    opts = None if task_set_seed is None else {"task_set_seed": task_set_seed}
    obs, info = env.reset(seed=seed, options=opts)
    h.update(obs.tobytes())
    h.update(_info_bytes(info))
    total, steps = 0.0, 0
    for t in range(3000):
        obs, r, term, _, info = env.step(policy(env, rng, t))
        h.update(obs.tobytes())
        h.update(np.float64(r).tobytes())
        h.update(_info_bytes(info))
        total += r
        steps += 1
        if term:
            break
    h.update(env.task_latency_ms.tobytes())
    return h.hexdigest(), steps, total, info


def cyclic_shares(env: EdgeSchedulingEnv, rng: np.random.Generator, t: int) -> int:
    return t % 8


def random_shares(env: EdgeSchedulingEnv, rng: np.random.Generator, t: int) -> int:
    return int(rng.integers(2**env.num_servers))


def random_assign(env: EdgeSchedulingEnv, rng: np.random.Generator, t: int) -> np.ndarray:
    return rng.integers(0, env.num_servers + 1, env.buffer_size)


SMALL = SCHEDULING_TINY
PLAIN = "time_s,home,service\n" + "".join(
    f"{0.003 * i * (i % 7):.4f},{(i * 5) % 3},{1 + (i * 11) % 9}\n" for i in range(400)
)
# name: (env kwargs, policy, task_set_seed, reset seed,
#        expected (digest, steps, return, completed, dropped, forwarded, rejected))
CASES: dict[str, tuple[dict[str, Any], Policy, int | None, int | None, tuple]] = {
    "default_shares": (
        {}, cyclic_shares, 3, None,
        ("1c8ac2a8c3139ea22635fbc01b231ce36c26d680a7037f2c4b8e97ddfd428e8e", 173,
         -1.9075893333333325, 11804, 0, 3571, 0),
    ),
    "default_shares_seeded": (
        {"lambda_wait": 0.01}, random_shares, None, 5,
        ("4536d3f8e7a2a50566a4c58e3c67ced76ae508266756b6f43a83e1b581273659", 174,
         -2.0138746666666685, 11891, 0, 4239, 0),
    ),
    "small_assign_drops": (
        {**SMALL, "capacities": [6, 10, 14], "load": 1.3, "action_mode": "assign",
         "queue_limit": 6, "lambda_drop": 0.1, "lambda_wait": 0.2},
        random_assign, 7, None,
        ("a755ac8ad6ad102860da8a7ad865da2130ac61a397f3441a47856aefce09af2c", 52,
         -3.6648989040060456, 56, 15, 37, 22),
    ),
    "no_queue_limit_load_1.3": (
        {"num_servers": 5, "load": 1.3, "queue_limit": None,
         "capacities": [100, 200, 300, 400, 500], "home_skew": [5, 1, 1, 1, 2]},
        random_shares, 11, None,
        ("95fad5052a302c42f7b6d7935a3bf365512696c93bde60e04779779e0272aa63", 218,
         -1.7990995999999995, 19366, 0, 8912, 0),
    ),
    "assign_uniform_service": (
        {**SMALL, "action_mode": "assign", "service_time": "uniform", "mean_service_slots": 3.0,
         "queue_limit": None, "load": 1.2},
        random_assign, 2, None,
        ("a379c8b66543ac2ee71c57d604ac561d7c2184905575c9ebd59c681729a5448f", 54,
         -0.2712000000000001, 1196, 0, 794, 0),
    ),
    "plain_trace": (
        {"arrivals": "<plain>", "capacities": 8, "buffer_size": 16, "queue_limit": 60},
        random_shares, 0, None,
        ("b5d0fbe11d6614ce113981960d719a3b929beb36cbfd85b7e910b2c67456716b", 722,
         -8.02083333333324, 400, 0, 143, 0),
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", list(CASES))
def test_v0_episode_fingerprint(name: str, tmp_path: Path) -> None:
    kwargs, policy, k, seed, expected = CASES[name]
    if kwargs.get("arrivals") == "<plain>":
        path = tmp_path / "plain.csv"
        path.write_text(PLAIN)
        kwargs = {**kwargs, "arrivals": str(path)}
    digest, steps, total, info = fingerprint(kwargs, policy, k, seed)
    got = (digest, steps, total, info["completed"], info["dropped"], info["forwarded"],
           info["rejected"])  # fmt: skip
    assert got == expected


def test_v0_task_set_seed_draws() -> None:
    env = EdgeSchedulingEnv()
    seeds = [env.reset(seed=9)[1]["task_set_seed"]] + [
        env.reset()[1]["task_set_seed"] for _ in range(2)
    ]
    assert seeds == [8026632172992807823, 2645421825986888207, 5563059781266264542]


AZURE_CODE = default_data_dir() / "arrivals" / "azure_llm_inference_code_2023.csv"


@pytest.mark.skipif(not AZURE_CODE.is_file(), reason=f"shared Azure trace absent ({AZURE_CODE})")
def test_v0_azure_task_sets_and_episode() -> None:
    env = EdgeSchedulingEnv(arrivals=str(AZURE_CODE), load=0.8, window_slots=60, capacities=100)
    h = hashlib.sha256()
    for k in range(4):
        t = env.task_set(k)
        for a in (t.arrival, t.home, t.service):
            h.update(a.tobytes())
    obs, _ = env.reset(options={"task_set_seed": 1})
    h.update(obs.tobytes())
    for i in range(300):
        obs, r, term, _, info = env.step(i % 8)
        h.update(obs.tobytes())
        h.update(np.float64(r).tobytes())
        if term:
            break
    assert (h.hexdigest(), i, info["completed"]) == (
        "8df2c5ed0d37b7cf4a894f1cf738384f127bdf9146e45ba3e4309f2400bad526", 299, 1755,
    )  # fmt: skip
