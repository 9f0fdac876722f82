"""One TensorBoard tag scheme for every EdgeRL agent.

| tag | logged | meaning |
|---|---|---|
| ``charts/episodic_return`` | per episode | sum of env rewards (``-cost * env reward_scale``) |
| ``charts/episodic_length`` | per episode | frames in the episode |
| ``charts/cost`` | per episode | mean ``info["cost"]`` over the episode |
| ``charts/gap`` | per episode | mean ``info["gap"]`` (optimality gap vs the oracle), in % |
| ``charts/SPS`` | every ``log_every`` steps | env steps per second of the current ``learn`` call |
| ``charts/<name>`` | agent-specific | e.g. ``charts/noise_sigma``, ``charts/learning_rate`` |
| ``losses/<name>`` | every ``log_every`` steps | e.g. ``losses/critic_loss``, ``losses/actor_loss``, ``losses/q_values`` |
| ``eval/<name>`` | every evaluation | ``eval/episodic_return``, ``eval/cost``, ``eval/gap`` (%) (deterministic policy) |

plus a ``hyperparameters`` text table (CleanRL style) and an HParams entry
(:meth:`RunLogger.log_hparams`). The x-axis is always the global env step.

Gaps are in percent everywhere the user reads them (TensorBoard, ``evaluate.py`` tables,
``metrics.json``). Callers pass the env's own unit, the fraction ``info["gap"]``
(``expected_cost / optimal_cost - 1``); the logger scales the tags of :data:`PERCENT_TAGS`
by 100, in :attr:`RunLogger.history` too, so no agent or runner converts on its own (and
none can convert twice).

Without a ``log_dir`` nothing is written, but :attr:`RunLogger.history` still records
every scalar (tests and callbacks read it).
"""

from __future__ import annotations

import math
import os
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

TAG_PREFIXES: tuple[str, ...] = ("charts", "losses", "eval")
#: tags logged from a fraction and written in percent (x 100)
PERCENT_TAGS: frozenset[str] = frozenset({"charts/gap", "eval/gap"})


def to_logged_unit(tag: str, value: float) -> float:
    """``value`` in the unit ``tag`` is written in: percent for :data:`PERCENT_TAGS`."""
    return 100.0 * value if tag in PERCENT_TAGS else value


def flatten_hparams(params: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts -> ``{"a.b": value}`` with TensorBoard-friendly values (bool/int/float/str)."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten_hparams(value, prefix=f"{name}."))
        elif isinstance(value, bool | int | float | str):
            out[name] = value
        elif value is None:
            out[name] = "None"
        else:
            out[name] = str(value)
    return out


class RunLogger:
    """Scalars and hyperparameters under the shared tag scheme (see the module docstring).

    Args:
        log_dir: TensorBoard run directory (created); ``None`` keeps scalars in memory only.
        keep_history: Record every scalar in :attr:`history` (``tag -> [(step, value)]``).
    """

    def __init__(self, log_dir: str | os.PathLike[str] | None = None, keep_history: bool = True):
        self.log_dir = None if log_dir is None else os.fspath(log_dir)
        self.keep_history = keep_history
        self.history: dict[str, list[tuple[int, float]]] = defaultdict(list)
        self._writer = None
        if self.log_dir is not None:
            from torch.utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(self.log_dir)

    @staticmethod
    def _check_tag(tag: str) -> None:
        head = tag.split("/", 1)[0]
        if head not in TAG_PREFIXES or "/" not in tag:
            raise ValueError(
                f"tag must look like '<prefix>/<name>' with prefix in {TAG_PREFIXES}, got {tag!r}"
            )

    def scalar(self, tag: str, value: float, step: int) -> None:
        """Log one scalar (``tag`` must start with ``charts/``, ``losses/`` or ``eval/``);
        gaps are passed as fractions and logged in % (:data:`PERCENT_TAGS`)."""
        self._check_tag(tag)
        value = to_logged_unit(tag, float(value))
        if self.keep_history:
            self.history[tag].append((int(step), value))
        if self._writer is not None and math.isfinite(value):
            self._writer.add_scalar(tag, value, int(step))

    def scalars(self, values: Mapping[str, float], step: int, prefix: str | None = None) -> None:
        """Log several scalars; with ``prefix="losses"`` the keys are bare names."""
        for name, value in values.items():
            self.scalar(f"{prefix}/{name}" if prefix else name, value, step)

    def last(self, tag: str, default: float | None = None) -> float | None:
        """The most recent value of ``tag`` (``default`` if never logged)."""
        series = self.history.get(tag)
        return series[-1][1] if series else default

    #: also write TensorBoard's HParams *experiment* summary (its column set);
    #: :class:`pipeline.runners.base.PipelineLogger` writes the session alone
    write_experiment: bool = True

    def log_hparams(
        self, hparams: Mapping[str, Any], metrics: Mapping[str, float], step: int | None = None
    ) -> None:
        """A ``hyperparameters`` markdown table and a TensorBoard HParams entry.

        ``metrics`` are final numbers (e.g. ``{"eval/gap": 0.01}``, a fraction: shown as
        1 (%) like the scalar tag); they appear in the HParams view next to the (flattened)
        hyperparameters. The HParams plugin reads each metric from the run's scalars, so a
        metric is also written as a scalar at ``step`` (pass the final step), unless that
        point was just logged (a run's last evaluation usually was).
        """
        from torch.utils.tensorboard.summary import hparams as hparams_summary

        flat = flatten_hparams(hparams)
        if self._writer is None:
            return
        table = "\n".join(f"|{k}|{v}|" for k, v in flat.items())
        self._writer.add_text("hyperparameters", f"|param|value|\n|-|-|\n{table}")
        clean = {
            k: to_logged_unit(k, float(v))
            for k, v in metrics.items()
            if v is not None and math.isfinite(float(v))
        }
        experiment, start, end = hparams_summary(flat, clean)
        # in this run's own event file (SummaryWriter.add_hparams opens a second writer)
        summaries = (experiment, start, end) if self.write_experiment else (start, end)
        for summary in summaries:
            self._writer.file_writer.add_summary(summary, step)
        for tag, value in clean.items():
            series = self.history.get(tag)
            if step is None or not series or series[-1] != (int(step), value):
                self._writer.add_scalar(tag, value, step)

    def flush(self) -> None:
        if self._writer is not None:
            self._writer.flush()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def __enter__(self) -> RunLogger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
