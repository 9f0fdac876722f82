"""The leaf of config validation: :class:`ConfigError`, the value :class:`Rule` and its
constructors, :func:`check_rules` and :class:`RunSpec`.

No imports from the pipeline: :mod:`pipeline.config` (which validates a composed config and
loads the runner it names) and the runners (:mod:`pipeline.runners.base` and the runner
modules, whose ``rules`` it checks) both import these names from here, so neither imports the
other at module level. They stay importable from :mod:`pipeline.config` as before.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


class ConfigError(ValueError):
    """A config value (or combination) that cannot run; the message names the field."""


@dataclass(frozen=True)
class Rule:
    """Allowed values of one config field.

    ``kind``: ``"int"``, ``"float"`` (ints accepted), ``"bool"``, ``"str"``, ``"choice"``,
    ``"int_list"`` (non-empty list of ints >= ``lo``) or ``"any"``.
    """

    kind: str
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False
    none_ok: bool = False
    choices: tuple[Any, ...] = ()
    also: tuple[str, ...] = ()  # extra string values accepted by numeric rules (e.g. "auto")

    def describe(self) -> str:
        if self.kind == "choice":
            text = f"one of {list(self.choices)}"
        elif self.kind in ("int", "float"):
            what = "an integer" if self.kind == "int" else "a number"
            parts = []
            if self.lo is not None:
                parts.append(f"{'>' if self.lo_open else '>='} {self.lo:g}")
            if self.hi is not None:
                parts.append(f"{'<' if self.hi_open else '<='} {self.hi:g}")
            if self.lo is not None and self.hi is not None:
                lb = "(" if self.lo_open else "["
                rb = ")" if self.hi_open else "]"
                text = f"{what} in {lb}{self.lo:g}, {self.hi:g}{rb}"
            else:
                text = f"{what} {' and '.join(parts)}" if parts else what
        elif self.kind == "int_list":
            text = f"a non-empty list of integers >= {self.lo:g}"
        else:
            text = {"bool": "true or false", "str": "a string"}.get(self.kind, "any value")
        if self.also:
            text += " or " + " / ".join(repr(a) for a in self.also)
        if self.none_ok:
            text += " or null"
        return text

    def ok(self, v: Any) -> bool:
        if v is None:
            return self.none_ok or self.kind == "any"
        if isinstance(v, str) and v in self.also:
            return True
        if self.kind == "any":
            return True
        if self.kind == "bool":
            return isinstance(v, bool)
        if self.kind == "str":
            return isinstance(v, str)
        if self.kind == "choice":
            return v in self.choices
        if self.kind == "int_list":
            return (
                isinstance(v, list | tuple)
                and len(v) > 0
                and all(isinstance(x, int) and not isinstance(x, bool) and x >= self.lo for x in v)
            )
        if isinstance(v, bool):
            return False
        if self.kind == "int" and not isinstance(v, int):
            return False
        if self.kind == "float" and not isinstance(v, int | float):
            return False
        x = float(v)
        if not math.isfinite(x):
            return False
        if self.lo is not None and (x < self.lo or (self.lo_open and x == self.lo)):
            return False
        return not (self.hi is not None and (x > self.hi or (self.hi_open and x == self.hi)))


def positive(kind: str = "float", **kw: Any) -> Rule:
    return Rule(kind, lo=0, lo_open=True, **kw)


def non_negative(kind: str = "float", **kw: Any) -> Rule:
    return Rule(kind, lo=0, **kw)


def unit_interval(lo_open: bool = False, hi_open: bool = False, **kw: Any) -> Rule:
    return Rule("float", lo=0, hi=1, lo_open=lo_open, hi_open=hi_open, **kw)


def check_rules(section: str, values: Mapping[str, Any], rules: Mapping[str, Rule]) -> None:
    """Every key of ``values`` must have a rule, and every value must pass it."""
    unknown = sorted(set(values) - set(rules))
    if unknown:
        raise ConfigError(f"{section}: unknown key(s) {unknown}; allowed: {sorted(rules)}")
    for key, rule in rules.items():
        if key not in values:
            continue
        v = values[key]
        if not rule.ok(v):
            raise ConfigError(f"{section}.{key}={v!r} is invalid: must be {rule.describe()}")


@dataclass(frozen=True)
class RunSpec:
    """What validation found out: the runner class and the env action mode it trains on."""

    runner_cls: type
    action_kind: str  # "continuous" | "discrete"
    action_mode: str  # the env's action_mode
