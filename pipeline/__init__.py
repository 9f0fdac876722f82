"""EdgeRL's Hydra training and evaluation pipeline (``train.py``, ``evaluate.py``).

| module | contents |
|---|---|
| :mod:`~pipeline.config` | :func:`validate` (values, combinations) and :class:`ConfigError` |
| :mod:`~pipeline.envs` | :func:`make_env`, the ``_target_`` of ``configs/env/*.yaml`` |
| :mod:`~pipeline.runners` | one runner per agent family: IoRLO, DRLoS, Q-learning, SB3, RLlib |
| :mod:`~pipeline.train` | one training run: run dir, checkpoints, Ctrl-C, resume, metrics.json |
| :mod:`~pipeline.evaluation` | fixed-episode evaluation of any policy |
| :mod:`~pipeline.evaluate` | ``evaluate.py``: trained runs vs every baseline and the oracle |
| :mod:`~pipeline.report` | CSV / Markdown tables and plots |

See ``docs/pipeline.md``.
"""
