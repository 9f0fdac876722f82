"""The one validator of configs: :class:`ConfigError`, the value :class:`Rule` and its
constructors, :func:`check_rules`; the agents' config dataclasses declare their fields with it: each field carries its :class:`Rule` (:func:`param`), which
:func:`rules_of` reads (a field without one: from its annotation), :func:`check_fields` applies
in the dataclass's ``__post_init__`` and the pipeline applies to ``agent.*``
(:func:`check_rules`, through the runner's ``agent_rules``); :func:`field_defaults` gives the
defaults that become the Hydra schema node of each agent config (:mod:`pipeline.runners`).

It sits below the agents (their config dataclasses validate with it) and imports nothing of
EdgeRL's: :mod:`pipeline.config` (which validates a composed config and loads the runner it
names) and the runners (whose ``rules`` it checks) import it from here, so neither imports the
other at module level. The names stay importable from :mod:`pipeline.config`.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import numbers
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np


class ConfigError(ValueError):
    """A config value (or combination) that cannot run; the message names the field."""


@dataclass(frozen=True)
class Rule:
    """Allowed values of one config field.

    ``kind``: ``"int"``, ``"float"`` (ints accepted), ``"bool"``, ``"str"``, ``"choice"``,
    ``"int_list"`` (non-empty list of ints >= ``lo``), ``"ints"`` (an ``"int"`` or a non-empty
    list of them), ``"float_list"`` (a list of numbers >= ``lo``, strictly increasing) or
    ``"any"``. A bool is never an int or a number here (numpy scalars are).
    """

    kind: str
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False
    none_ok: bool = False
    choices: tuple[Any, ...] = ()
    also: tuple[str, ...] = ()  # extra string values accepted by numeric rules (e.g. "auto")
    note: str = ""  # why, appended to the description in parentheses

    def describe(self) -> str:
        if self.kind == "ints":
            text = f"{Rule('int', self.lo, self.hi).describe()} or a non-empty list of them"
        elif self.kind == "float_list":
            text = f"an increasing list of numbers >= {self.lo:g}"
        elif self.kind == "choice":
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
        if self.note:
            text += f" ({self.note})"
        return text

    def ok(self, v: Any) -> bool:
        if v is None:
            return self.none_ok or self.kind == "any"
        if isinstance(v, str) and v in self.also:
            return True
        if self.kind == "any":
            return True
        if self.kind == "bool":
            return isinstance(v, bool | np.bool_)
        if self.kind == "str":
            return isinstance(v, str)
        if self.kind == "choice":  # str first: an array or a dict is not compared
            return isinstance(v, str | int | float) and v in self.choices
        if self.kind in ("int_list", "ints", "float_list"):
            item = Rule("float" if self.kind == "float_list" else "int", self.lo, self.hi)
            if self.kind == "ints" and not isinstance(v, list | tuple):
                return item.ok(v)
            if not isinstance(v, list | tuple) or not (v or self.kind == "float_list"):
                return False
            if not all(item.ok(x) for x in v):
                return False
            return self.kind != "float_list" or all(a < b for a, b in itertools.pairwise(v))
        if isinstance(v, bool | np.bool_):
            return False
        if self.kind == "int" and not isinstance(v, numbers.Integral):
            return False
        if self.kind == "float" and not isinstance(v, numbers.Real):
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


def choice(*values: Any, **kw: Any) -> Rule:
    return Rule("choice", choices=tuple(values), **kw)


# ------------------------------------------------------------------ config dataclasses
def param(default: Any, rule: Rule) -> Any:
    """A config dataclass field with its default and its :class:`Rule` (``hidden: int =
    param(20, positive("int"))``), read by :func:`rules_of`."""
    return dataclasses.field(default=default, metadata={"rule": rule})


#: the rule of a field without :func:`param`, from its annotation (``int | None``: none_ok)
_ANNOTATION_KINDS = {"int": "int", "float": "float", "bool": "bool", "str": "str"}


def rules_of(config_cls: type) -> dict[str, Rule]:
    """Every field of the config dataclass ``config_cls`` and its :class:`Rule`: the one given
    by :func:`param` (in the class or the base class that declared the field first), else
    the plain type of its annotation (``int``, ``float``, ``bool``, ``str``, ``X | None``)."""
    out = {}
    for f in dataclasses.fields(config_cls):
        rule = next(
            (b.__dataclass_fields__[f.name].metadata["rule"] for b in config_cls.__mro__
             if f.name in getattr(b, "__dataclass_fields__", {})
             and "rule" in b.__dataclass_fields__[f.name].metadata),
            None,
        )  # fmt: skip
        if rule is None:
            parts = [p.strip() for p in str(f.type).split("|")]
            kinds = [_ANNOTATION_KINDS.get(p) for p in parts if p != "None"]
            if len(kinds) != 1 or kinds[0] is None:
                raise TypeError(f"{config_cls.__name__}.{f.name}: give its rule with param()")
            rule = Rule(kinds[0], none_ok="None" in parts)
        out[f.name] = rule
    return out


def check_fields(config: Any) -> None:
    """The one validator of a config dataclass (call it first in ``__post_init__``): every
    field's value passes its rule (:func:`rules_of`), else a :class:`ConfigError` (a
    ValueError) ``"<field> must be <allowed values>, got <value>"``."""
    for name, rule in rules_of(type(config)).items():
        v = getattr(config, name)
        if not rule.ok(v):
            raise ConfigError(f"{name} must be {rule.describe()}, got {v!r}")


def field_defaults(config: Any, skip: Iterable[str] = ()) -> dict[str, Any]:
    """Field -> default of a config dataclass (or the values of an instance), tuples as
    lists, without the fields ``skip``: a Hydra schema node."""

    def plain(v: Any) -> Any:
        return [plain(x) for x in v] if isinstance(v, tuple | list) else v

    out = {}
    for f in dataclasses.fields(config):
        if f.name in skip:
            continue
        out[f.name] = plain(getattr(config, f.name) if not isinstance(config, type) else f.default)
    return out


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
