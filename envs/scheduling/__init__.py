"""Multi-edge request scheduling (DRLoS MDP; docs/model.md §8, Huang et al. Sec. 3.3).

Parts: ``tasks`` (task sets), ``arrivals`` (Bernoulli and trace arrival processes),
``servers`` (server pool and matching rules), ``timeline`` (slot clock and FIFO buffer queue),
``env`` (the Gymnasium environments, v0 and v1), ``objective`` (reward and scoreboard
formulas), ``batch`` (the batched simulator) and ``vector`` (the native vector envs,
``gym.make_vec(ENV_ID, num_envs=N)``).
"""

from envs.scheduling.arrivals import (
    AzureTraceArrivals,
    BernoulliArrivals,
    BurstyArrivals,
    CsvTraceArrivals,
    PlainTraceArrivals,
    home_probabilities,
    make_arrivals,
    read_azure_trace,
    read_csv_trace,
    read_plain_trace,
)
from envs.scheduling.env import (
    ACTION_MODES,
    ENTRY_POINT,
    ENV_ID,
    RECOMMENDED_MAX_EPISODE_STEPS,
    V1_ENV_ID,
    EdgeSchedulingEnv,
    EdgeSchedulingEnvV1,
    ObsLayout,
    ObsParts,
    action_masks_from_obs,
)
from envs.scheduling.objective import (
    OBJECTIVES,
    episode_objective,
    episode_scores,
    step_latency_ms,
    step_reward,
)
from envs.scheduling.servers import (
    ServerPool,
    cap_assignments,
    fill_shares,
    fill_shares_batch,
    share_fractions,
    share_offers,
)
from envs.scheduling.tasks import TaskSet, sample_service
from envs.scheduling.vector import EdgeSchedulingVectorEnv, EdgeSchedulingVectorEnvV1

__all__ = [
    "ACTION_MODES",
    "ENTRY_POINT",
    "ENV_ID",
    "OBJECTIVES",
    "RECOMMENDED_MAX_EPISODE_STEPS",
    "V1_ENV_ID",
    "AzureTraceArrivals",
    "BernoulliArrivals",
    "BurstyArrivals",
    "CsvTraceArrivals",
    "EdgeSchedulingEnv",
    "EdgeSchedulingEnvV1",
    "EdgeSchedulingVectorEnv",
    "EdgeSchedulingVectorEnvV1",
    "ObsLayout",
    "ObsParts",
    "PlainTraceArrivals",
    "ServerPool",
    "TaskSet",
    "action_masks_from_obs",
    "cap_assignments",
    "episode_objective",
    "episode_scores",
    "fill_shares",
    "fill_shares_batch",
    "home_probabilities",
    "make_arrivals",
    "read_azure_trace",
    "read_csv_trace",
    "read_plain_trace",
    "sample_service",
    "share_fractions",
    "share_offers",
    "step_latency_ms",
    "step_reward",
]
