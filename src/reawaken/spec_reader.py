"""Reading validated values out of parsed TOML tables.

:class:`_Section` wraps one table: it rejects unknown keys (naming the key as a dotted path and
listing the allowed ones) and reads numbers, lists, choices and strings with range checks, each
failure a :class:`~reawaken.errors.ScenarioError` that names the key and what is allowed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .errors import ScenarioError


class Section:
    """A TOML table being parsed: tracks used keys so unknown ones can be reported."""

    def __init__(self, data: Any, path: str, allowed: tuple[str, ...]):
        if not isinstance(data, Mapping):
            raise ScenarioError(f"scenario key '{path}' must be a table, e.g. [{path}]")
        unknown = sorted(set(data) - set(allowed))
        if unknown:
            raise ScenarioError(
                f"unknown scenario key '{join_key(path, unknown[0])}'; "
                f"allowed keys in '{path or 'top level'}': {', '.join(allowed)}"
            )
        self.data = data
        self.path = path

    def key(self, name: str) -> str:
        return join_key(self.path, name)

    def has(self, name: str) -> bool:
        return name in self.data

    def raw(self, name: str, default: Any = ..., *, required: bool = False) -> Any:
        if name not in self.data:
            if required or default is ...:
                raise ScenarioError(f"missing scenario key '{self.key(name)}'")
            return default
        return self.data[name]

    def number(
        self,
        name: str,
        default: Any = ...,
        *,
        lo: float | None = None,
        hi: float | None = None,
        lo_open: bool = False,
        integer: bool = False,
    ) -> float:
        value = self.raw(name, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ScenarioError(f"scenario key '{self.key(name)}' must be a number, got {value!r}")
        value = float(value)
        if not np.isfinite(value):
            raise ScenarioError(f"scenario key '{self.key(name)}' must be finite, got {value}")
        if integer and value != int(value):
            raise ScenarioError(f"scenario key '{self.key(name)}' must be a whole number")
        if lo is not None and (value < lo or (lo_open and value == lo)):
            op = ">" if lo_open else ">="
            raise ScenarioError(
                f"scenario key '{self.key(name)}' must be {op} {lo:g}, got {value:g}"
            )
        if hi is not None and value > hi:
            raise ScenarioError(f"scenario key '{self.key(name)}' must be <= {hi:g}, got {value:g}")
        return value

    def numbers(
        self, name: str, default: Any = ..., *, lo: float | None = None
    ) -> tuple[float, ...]:
        value = self.raw(name, default)
        if (
            not isinstance(value, list | tuple)
            or not value
            or any(isinstance(v, bool) or not isinstance(v, int | float) for v in value)
        ):
            raise ScenarioError(
                f"scenario key '{self.key(name)}' must be a non-empty list of numbers, "
                f"got {value!r}"
            )
        out = tuple(float(v) for v in value)
        if lo is not None and any(v < lo for v in out):
            raise ScenarioError(f"scenario key '{self.key(name)}' values must be >= {lo:g}")
        return out

    def choice(self, name: str, allowed: tuple[str, ...], default: Any = ...) -> str:
        value = self.raw(name, default)
        if value not in allowed:
            raise ScenarioError(
                f"scenario key '{self.key(name)}' = {value!r} is not allowed; "
                f"allowed values: {', '.join(allowed)}"
            )
        return value

    def text(self, name: str, default: Any = ...) -> str:
        value = self.raw(name, default)
        if not isinstance(value, str):
            raise ScenarioError(f"scenario key '{self.key(name)}' must be a string, got {value!r}")
        return value


def join_key(path: str, key: str) -> str:
    """``path.key`` (or ``key`` at the top level)."""
    return f"{path}.{key}" if path else key
