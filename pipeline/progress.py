"""Progress display and graceful Ctrl-C for training runs."""

from __future__ import annotations

import logging
import math
import signal
import sys
import threading
import time
from typing import Any

log = logging.getLogger("edgerl")
#: progress keys holding an optimality gap (a fraction; displayed as ``<key>%``)
GAP_KEYS: frozenset[str] = frozenset({"gap", "eval_gap"})


class GracefulInterrupt:
    """Turn the first SIGINT/SIGTERM into a stop request, checked by the training loop.

    The loop stops at its next safe point (between env steps or iterations), the pipeline
    saves a resumable checkpoint and exits with status 130. A second Ctrl-C raises
    KeyboardInterrupt at once (no checkpoint).
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.requested = False
        self.signal_name = ""
        self._previous: dict[int, Any] = {}

    def _handler(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        self.signal_name = signal.Signals(signum).name
        print(
            f"\n{self.signal_name}: stopping at the next safe point and saving a checkpoint "
            "(press Ctrl-C again to abort without saving)",
            file=sys.stderr,
            flush=True,
        )

    def __enter__(self) -> GracefulInterrupt:
        if threading.current_thread() is threading.main_thread():
            for s in self.SIGNALS:
                self._previous[s] = signal.signal(s, self._handler)
        return self

    def __exit__(self, *exc: object) -> None:
        for s, prev in self._previous.items():
            signal.signal(s, prev)
        self._previous.clear()


class Progress:
    """A tqdm bar on a terminal, else a one-line status every ``every`` steps (logging).

    ``enabled=False`` prints nothing.
    """

    def __init__(self, total: int, start: int, label: str, enabled: bool, every: int) -> None:
        self.total, self.label, self.enabled, self.every = total, label, enabled, every
        self.step = start
        self._start_step = start
        self._t0 = time.perf_counter()
        self._next_line = (start // every + 1) * every
        self._bar = None
        self.postfix: dict[str, float] = {}
        if enabled and sys.stderr.isatty():
            from tqdm import tqdm

            self._bar = tqdm(
                total=total, initial=start, desc=label, unit="step", dynamic_ncols=True,
                smoothing=0.1,
            )  # fmt: skip

    def sps(self) -> float:
        dt = time.perf_counter() - self._t0
        return (self.step - self._start_step) / dt if dt > 0 else 0.0

    def update(self, step: int, **postfix: float) -> None:
        step = min(int(step), self.total)
        # gaps arrive as the env's fraction and are shown in % (the unit of TensorBoard and
        # the evaluation tables)
        for k, v in postfix.items():
            if v is not None:
                self.postfix[f"{k}%" if k in GAP_KEYS else k] = 100.0 * v if k in GAP_KEYS else v
        if not self.enabled:
            self.step = step
            return
        if self._bar is not None:
            self._bar.update(step - self.step)
            self.step = step
            if postfix:
                self._bar.set_postfix({k: _fmt(v) for k, v in self.postfix.items()}, refresh=False)
            return
        advanced = step > self.step
        self.step = step
        if step >= self._next_line or (advanced and step >= self.total):
            self._next_line = (step // self.every + 1) * self.every
            self.line()

    def line(self) -> None:
        sps = self.sps()
        eta = (self.total - self.step) / sps if sps > 0 else math.inf
        extra = " | ".join(f"{k} {_fmt(v)}" for k, v in self.postfix.items())
        log.info(
            "%s step %d/%d (%.0f%%) | %.0f SPS | eta %s%s",
            self.label, self.step, self.total, 100.0 * self.step / self.total, sps,
            _eta(eta), f" | {extra}" if extra else "",
        )  # fmt: skip

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _fmt(v: float) -> str:
    v = float(v)
    if not math.isfinite(v):
        return "nan"
    return f"{v:.4g}"


def _eta(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    m, s = divmod(int(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m" if h else (f"{m}m{s:02d}s" if m else f"{s}s")
