"""agents.common.evaluation: one episode summary for every caller (issue #17)."""

import gymnasium
import numpy as np

import envs  # noqa: F401  (registers the env ids)
from agents.common.evaluation import (
    SchedulingEpisode,
    evaluate,
    mean_metrics,
    scoreboard,
    training_eval,
)
from agents.scheduling_baselines import make_scheduling_policy
from envs.scheduling.objective import SCOREBOARD_COLUMNS

ENV_ID = "EdgeRL/EdgeScheduling-v1"
KW = {"capacities": [20, 20, 20], "buffer_size": 16, "window_slots": 30}


def test_no_placed_task_has_no_latency_and_means_skip_it():
    env = gymnasium.make(ENV_ID, action_mode="assign", max_episode_steps=5, **KW)
    m = env.unwrapped.num_servers
    wait = np.full(env.action_space.shape, m, dtype=np.int64)  # keep every task waiting
    (idle,) = evaluate(lambda obs: wait, env, [0])
    assert isinstance(idle, SchedulingEpisode) and idle.steps == 5
    assert np.isnan(idle.metrics["latency_mean_ms"]) and np.isnan(idle.metrics["latency_p95_ms"])
    assert idle.metrics["unplaced_pct"] > 0
    (busy,) = evaluate(make_scheduling_policy("closest", env), env, [0])
    assert np.isfinite(busy.metrics["latency_mean_ms"])
    mean = mean_metrics([idle, busy], {"latency_ms": "latency_mean_ms", "steps": "steps"})
    assert mean == {"latency_ms": busy.metrics["latency_mean_ms"], "steps": 10.0 / 2}
    assert np.isnan(mean_metrics([idle], ["latency_mean_ms"])["latency_mean_ms"])
    assert np.isnan(training_eval(lambda obs: wait, env, [0, 1])["latency_ms"])


def test_scoreboard_is_the_mean_of_the_episode_metrics():
    env = gymnasium.make(ENV_ID, action_mode="assign", **KW)
    policy = make_scheduling_policy("least_loaded", env)
    row = scoreboard(env, policy, [3, 4])
    episodes = evaluate(policy, env, [3, 4])
    assert list(row) == list(SCOREBOARD_COLUMNS)
    assert row == {c: float(np.mean([e.metrics[c] for e in episodes])) for c in row}
