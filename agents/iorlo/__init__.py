"""IoRLO (Ren et al. Sec. 4.2): DDPG with a sigmoid actor and intent-threshold discretisation.

Parts (SB3-style split): :mod:`~agents.iorlo.networks` (Actor, Critic, CriticStack),
:mod:`~agents.iorlo.buffer` (ReplayBuffer, ReplayBatch), :mod:`~agents.iorlo.noise`
(GaussianNoise, OUNoise), :mod:`~agents.iorlo.optim` (FusedAdam),
:mod:`~agents.iorlo.fast_update` (the decision critic's updates in numpy and compiled loops),
:mod:`~agents.iorlo.agent` (IoRLO, IoRLOPlus, IoRLOConfig).
"""

from agents.iorlo.agent import IoRLO, IoRLOConfig, IoRLOPlus, episode_seed, fixed_placements
from agents.iorlo.buffer import ReplayBatch, ReplayBuffer
from agents.iorlo.networks import Actor, Critic
from agents.iorlo.noise import GaussianNoise, OUNoise

__all__ = [
    "Actor",
    "Critic",
    "GaussianNoise",
    "IoRLO",
    "IoRLOConfig",
    "IoRLOPlus",
    "OUNoise",
    "ReplayBatch",
    "ReplayBuffer",
    "episode_seed",
    "fixed_placements",
]
