"""Package layout (the rest of the metadata is in pyproject.toml).

``configs/`` stays at the repository root for ``python train.py`` and is installed as
package data of ``pipeline.configs``, where :data:`pipeline.utils.CONFIG_DIR` finds it after
``pip install .`` (so ``edgerl-train`` works from any directory).
"""

from pathlib import Path

from setuptools import find_packages, setup

CONFIG_GROUPS = sorted(p.name for p in Path(__file__).parent.joinpath("configs").iterdir()
                       if p.is_dir())  # fmt: skip

setup(
    packages=[
        *find_packages(include=["envs", "envs.*", "agents", "agents.*", "pipeline", "pipeline.*"]),
        "pipeline.configs",
        *(f"pipeline.configs.{g}" for g in CONFIG_GROUPS),
    ],
    package_dir={"pipeline.configs": "configs"},
    package_data={
        "pipeline.configs": ["*.yaml"],
        **{f"pipeline.configs.{g}": ["*.yaml"] for g in CONFIG_GROUPS},
    },
)
