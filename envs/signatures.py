"""The signatures of constructors that pass keyword arguments on, as they behave.

Two patterns write each argument and default once:

* a scenario env takes its own arguments and ``**common`` (the arguments every scenario
  takes, with their defaults in one method); :func:`with_common_arguments`;
* a v1 env takes its new arguments and ``**kwargs``, passed over its changed defaults to
  the v0 constructor; :func:`v1_signature`.

Set as ``__init__.__signature__``, the result makes ``help()``, ``inspect.signature`` and
the pipeline's env schema (``pipeline/schemas.py``) list every argument with its default;
type checkers read the ``Unpack[TypedDict]`` annotation of ``**common``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any


def v1_signature(
    v0_init: Callable[..., Any], defaults: Mapping[str, Any], v1_init: Callable[..., Any]
) -> inspect.Signature:
    """The signature of ``v0_init`` with the defaults named in ``defaults`` and the
    keyword-only arguments of ``v1_init`` appended (every argument keyword-only: ``v1_init``
    takes no positional ones)."""
    unknown = set(defaults) - set(inspect.signature(v0_init).parameters)
    if unknown:  # a typo in a defaults table would otherwise be silently ignored
        raise TypeError(
            f"v1 defaults name no argument of {v0_init.__qualname__}: {sorted(unknown)}"
        )
    v0 = inspect.signature(v0_init)
    own = inspect.signature(v1_init).parameters.values()
    params = [p for p in v0.parameters.values() if p.kind is not p.VAR_KEYWORD]
    self_param, rest = params[0], params[1:]
    out = [self_param] + [
        p.replace(kind=p.KEYWORD_ONLY, default=defaults.get(p.name, p.default)) for p in rest
    ]
    out += [p for p in own if p.kind is p.KEYWORD_ONLY]
    return v0.replace(parameters=out)


#: the common arguments listed before a scenario's own; the other common ones follow them
COMMON_HEAD: tuple[str, ...] = ("dnn", "input_shape", "network", "trace_dir")


def with_common_arguments(
    own_init: Callable[..., Any], common: Callable[..., Any], head: tuple[str, ...] = COMMON_HEAD
) -> inspect.Signature:
    """The signature of ``own_init(self, *, <own arguments>, **common)`` that passes
    ``**common`` to ``common``: the keyword-only arguments of ``common`` named in ``head``,
    then its own, then the other keyword-only arguments of ``common``."""
    sig = inspect.signature(own_init)
    params = list(sig.parameters.values())
    own = [p for p in params[1:] if p.kind is p.KEYWORD_ONLY]
    shared = [p for p in inspect.signature(common).parameters.values() if p.kind is p.KEYWORD_ONLY]
    clash = {p.name for p in own} & {p.name for p in shared}
    if clash:
        raise TypeError(f"{own_init.__qualname__} repeats common arguments {sorted(clash)}")
    first = [p for p in shared if p.name in head]
    return sig.replace(
        parameters=[params[0], *first, *own, *(p for p in shared if p.name not in head)]
    )
