"""Multi-edge request scheduling (DRLoS MDP; docs/model.md §8, Huang et al. Sec. 3.3).

Parts: ``tasks`` (task sets), ``arrivals`` (Bernoulli and trace arrival processes),
``servers`` (server pool and matching rules), ``timeline`` (slot clock and FIFO buffer queue),
``env`` (the Gymnasium environment), ``batch`` (the batched simulator) and ``vector`` (the
native vector env, ``gym.make_vec(ENV_ID, num_envs=N)``).
"""

from envs.scheduling.arrivals import (
    AzureTraceArrivals,
    BernoulliArrivals,
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
    EdgeSchedulingEnv,
    ObsLayout,
    ObsParts,
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
from envs.scheduling.vector import EdgeSchedulingVectorEnv

__all__ = [
    "ACTION_MODES",
    "ENTRY_POINT",
    "ENV_ID",
    "RECOMMENDED_MAX_EPISODE_STEPS",
    "AzureTraceArrivals",
    "BernoulliArrivals",
    "CsvTraceArrivals",
    "EdgeSchedulingEnv",
    "EdgeSchedulingVectorEnv",
    "ObsLayout",
    "ObsParts",
    "PlainTraceArrivals",
    "ServerPool",
    "TaskSet",
    "cap_assignments",
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
]
