"""One argument checker for the public API: wrong types raise an ArgumentError naming the
argument, instead of a TypeError or AttributeError deep inside NumPy or pandas.

:func:`checked` wraps a function and checks each argument against the function's own type
annotations when it is called (the annotations are the single statement of what is accepted,
so no check is written twice). The rules follow the annotations loosely, as Python code is
called in practice: an ``int`` accepts NumPy integers but not ``bool``; a ``float`` accepts
any real number; ``np.ndarray`` accepts anything array-like (lists, tuples, pandas Series);
``tuple[...]`` and ``Sequence[X]`` accept lists, tuples and arrays (not strings) whose items
match ``X``; ``str | os.PathLike`` accepts paths; unions, ``None``, ``Literal``, ``Mapping``,
``Iterable`` and ``Callable`` are honoured; annotations it does not understand accept
anything. Values (ranges, shapes) stay the function's own business.

NumPy and pandas are imported when a check runs, not when this module is imported: decorating
a function costs no heavy import, so ``import reawaken`` and the command line stay quick.
"""

from __future__ import annotations

import collections.abc as cabc
import functools
import inspect
import os
import types
import typing
from collections.abc import Callable
from typing import Any, TypeVar

from .errors import ArgumentError

__all__ = ["check_argument", "checked"]

F = TypeVar("F", bound=Callable[..., Any])
_MAX_ITEMS = 10_000  # items of a sequence checked one by one (beyond: the first ones)
_VARIADIC = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)


def _real(value: Any) -> bool:
    import numpy as np

    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool | np.bool_
    )


def _union_args(tp: Any) -> tuple | None:
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        return typing.get_args(tp)
    return None


def _sequence_items(value: Any, args: tuple) -> bool:
    import numpy as np

    if isinstance(value, str | bytes) or not isinstance(value, cabc.Sequence | np.ndarray):
        return False
    if not args or args[0] is Any:
        return True
    if (len(args) == 2 and args[1] is Ellipsis) or len(args) == 1:
        if isinstance(value, np.ndarray):
            items = value.ravel()[:_MAX_ITEMS].tolist()
        else:
            items = list(value[:_MAX_ITEMS])
        return all(matches(v, args[0]) for v in items)
    return len(value) == len(args) and all(matches(v, a) for v, a in zip(value, args, strict=True))


def _generic(value: Any, origin: Any, args: tuple) -> bool:
    import numpy as np

    if origin is typing.Literal:
        return any(value == a and type(value) is type(a) for a in args)
    if origin in (tuple, cabc.Sequence, list):
        return _sequence_items(value, args)
    if origin in (cabc.Mapping, dict):
        return isinstance(value, cabc.Mapping)
    if origin in (cabc.Iterable, cabc.Collection):
        if isinstance(value, str | bytes | cabc.Mapping) or not isinstance(value, cabc.Iterable):
            return False
        if isinstance(value, cabc.Sequence | np.ndarray):
            return _sequence_items(value, args[:1])
        return True
    if origin is cabc.Callable:
        return callable(value)
    if origin is os.PathLike:
        return isinstance(value, os.PathLike)
    if isinstance(origin, type):
        return isinstance(value, origin)
    return True


def matches(value: Any, tp: Any) -> bool:
    """Whether ``value`` is acceptable for the annotation ``tp`` (see module docstring)."""
    import numpy as np

    if tp is Any or tp is object:
        return True
    if tp is None or tp is type(None):
        return value is None
    union = _union_args(tp)
    if union is not None:
        return any(matches(value, t) for t in union)
    origin = typing.get_origin(tp)
    if origin is not None:
        return _generic(value, origin, typing.get_args(tp))
    if tp is bool:
        return isinstance(value, bool | np.bool_)
    if tp is int:
        return isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)
    if tp is float:
        return _real(value)
    if tp is np.ndarray:
        import pandas as pd

        return isinstance(value, np.ndarray | pd.Series | pd.Index | list | tuple) or _real(value)
    if isinstance(tp, type):
        return isinstance(value, tp)
    return True


def describe(tp: Any) -> str:
    """Readable name of an annotation, e.g. ``"int or None"``."""
    import numpy as np

    if tp is None or tp is type(None):
        return "None"
    union = _union_args(tp)
    if union is not None:
        return " or ".join(dict.fromkeys(describe(t) for t in union))
    origin = typing.get_origin(tp)
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if origin is not None:
        inner = ", ".join(describe(a) for a in typing.get_args(tp) if a is not Ellipsis)
        name = getattr(origin, "__name__", str(origin))
        return f"{name} of {inner}" if inner else name
    if tp is np.ndarray:
        return "an array (list, tuple, NumPy array or pandas Series)"
    if tp is np.random.Generator:
        return "numpy.random.Generator"
    if isinstance(tp, type):
        module = tp.__module__
        prefix = "" if module == "builtins" else module.split(".")[0] + "."
        return prefix + tp.__qualname__
    return str(tp)


def _shown(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:60]}{'...' if len(text) > 60 else ''}"


def _example(tp: Any) -> str:
    """How to make a value of ``tp`` (for the common argument types), else ``""``."""
    union = _union_args(tp)
    for t in union if union is not None else (tp,):
        for cls, how in _EXAMPLES.items():
            if isinstance(t, type) and t.__name__ == cls:
                return f" such as {how}"
    return ""


_EXAMPLES: dict[str, str] = {  # class name -> how to make one
    "Generator": "numpy.random.default_rng(seed)",
    "DataFrame": "reawaken.read_cohort(path) or a pandas.DataFrame",
    "Scenario": "reawaken.load_scenario(name)",
    "ReportedFinding": "reawaken.load_finding(name)",
}


def check_argument(where: str, name: str, value: Any, tp: Any) -> None:
    """Raise :class:`~reawaken.errors.ArgumentError` unless ``value`` fits ``tp``."""
    if not matches(value, tp):
        raise ArgumentError(
            f"{where}: argument {name!r} must be {describe(tp)}, got {_shown(value)}; "
            f"fix: give {name} {describe(tp)}{_example(tp)}"
        )


def _hints(func: Callable[..., Any]) -> dict[str, Any]:
    """The resolved annotations of ``func`` (names that cannot be resolved accept anything)."""
    try:
        hints = typing.get_type_hints(func)
    except (NameError, TypeError):
        hints = {}
    hints.pop("return", None)
    return hints


def checked(func: F | None = None, *, skip: tuple[str, ...] = ()) -> Any:
    """Decorator: check the arguments of every call against ``func``'s annotations.

    Missing, unexpected and wrongly typed arguments raise
    :class:`~reawaken.errors.ArgumentError` (also a :class:`TypeError`) naming the argument.
    The wrapper keeps the name, module and docstring, so pickling by reference still works.
    ``@checked(skip=("data",))`` leaves arguments to the function's own checks (e.g. a data
    frame whose own error class and message the function documents).
    """
    if func is None:
        return functools.partial(_wrap, skip=skip)
    return _wrap(func, skip)


def _wrap(func: F, skip: tuple[str, ...] = ()) -> F:
    signature = inspect.signature(func)
    cache: list[dict[str, Any]] = []  # the resolved annotations, filled on the first call

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not cache:
            cache.append(_hints(func))
        hints = cache[0]
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise ArgumentError(
                f"{func.__qualname__}: {exc}; fix: see help({func.__name__}) for the arguments"
            ) from None
        for name, value in bound.arguments.items():
            param = signature.parameters[name]
            if name in hints and name not in skip and param.kind not in _VARIADIC:
                if value is param.default:
                    continue
                check_argument(func.__qualname__, name, value, hints[name])
        return func(*args, **kwargs)

    return typing.cast(F, wrapper)
