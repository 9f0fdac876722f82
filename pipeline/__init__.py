"""EdgeRL's Hydra training and evaluation pipeline (``train.py``, ``evaluate.py``).

| module | contents |
|---|---|
| :mod:`~pipeline.config` | :func:`validate` (values, combinations) -> :class:`RunSpec`; :class:`ConfigError` (from :mod:`agents.common.rules`, the one validator) |
| :mod:`~pipeline.envs` | :func:`make_env`, the ``_target_`` of ``configs/env/*.yaml`` |
| :mod:`~pipeline.runners` | one runner per agent family: IoRLO, DRLoS, Q-learning, SB3, RLlib |
| :mod:`~pipeline.train` | one training run: run dir, checkpoints, Ctrl-C, resume, metrics.json |
| :mod:`~pipeline.evaluate` | ``evaluate.py``: trained runs vs every baseline and the oracle |
| :mod:`~pipeline.report` | CSV / Markdown tables and plots |
| :mod:`~pipeline.aggregate` | rliable aggregates over training seeds (IQM, CIs, profiles) |
| :mod:`~pipeline.cli` | the ``edgerl-train`` / ``edgerl-evaluate`` entry points |

See ``docs/pipeline.md``. Importing the package checks that ``envs`` and ``agents`` are
EdgeRL's (:func:`check_packages`).
"""


def check_packages(names: tuple[str, ...] = ("envs", "agents")) -> None:
    """ImportError unless the top-level packages ``names`` are EdgeRL's own: installed (or
    checked out) next to this one. ``envs``, ``agents`` and ``pipeline`` are generic names; a
    folder called ``envs/`` in the working directory or on ``PYTHONPATH`` would otherwise be
    imported in their place and fail somewhere deep inside. Finding a package's location
    runs none of its code."""
    import importlib.util
    from pathlib import Path

    home = Path(__file__).resolve().parent.parent
    for name in names:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        origin = None if spec is None else spec.origin
        where = None if origin is None else Path(origin).resolve().parent
        if where is None or where.parent != home:
            found = where or (list(spec.submodule_search_locations or []) if spec else None)
            raise ImportError(
                f"the package {name!r} imported here is not EdgeRL's: found {found or 'nothing'}, "
                f"expected {home / name}. A folder named {name!r} in the working directory or "
                "on PYTHONPATH shadows it: rename that folder or run from another directory "
                "(README, 'Package layout')"
            )


check_packages()
