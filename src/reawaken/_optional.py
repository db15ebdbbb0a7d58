"""Optional dependencies: import one or say, in one line, which extra installs it."""

from __future__ import annotations

import importlib
from types import ModuleType

from .errors import ReawakenError


def require(module: str, extra: str) -> ModuleType:
    """Import ``module``, or raise ReawakenError naming the extra that provides it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ReawakenError(
            f"this needs the Python package {module!r}, which is not installed; fix: "
            f"pip install 'reawaken[{extra}]'"
        ) from exc
