"""constraints.txt pins every dependency that `make test` installs (run `make lock` after
changing pyproject.toml), so a fresh machine tests the versions CI tested."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"constraints.txt: {line!r} is not pinned with =="
            pins[_canonical(name)] = version.strip()
    return pins


def _declared() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    reqs = [*project["dependencies"], *extras["dev"], *extras["dask"], *extras["omop"]]
    return [_canonical(re.split(r"[\s<>=!~;\[]", r, maxsplit=1)[0]) for r in reqs]


def test_every_declared_dependency_is_pinned():
    pins = _pins()
    missing = [name for name in _declared() if name not in pins]
    assert not missing, f"not pinned in constraints.txt: {missing}; fix: run `make lock`"


def test_installed_versions_are_the_pinned_ones():
    pins = _pins()
    wrong = {
        name: (metadata.version(name), pins[name])
        for name in _declared()
        if name in pins and metadata.version(name) != pins[name]
    }
    assert not wrong, f"installed vs pinned: {wrong}; fix: rm -rf .venv && make test"
