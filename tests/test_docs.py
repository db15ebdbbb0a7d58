"""The documentation site (mkdocs.yml, docs/): every public name has an API entry, and the site
builds in strict mode.

The strict build here skips executing the teaching scripts (``REAWAKEN_DOCS_EXECUTE=false``;
tests/test_analyses.py runs them) and so takes about 10-20 s; it needs the ``docs`` extra and is
skipped without it. ``make docs`` (run by .ci/run after ``make test``) builds the full site with
the scripts executed in smoke mode.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import reawaken

ROOT = Path(__file__).resolve().parents[1]
API_PAGES = sorted((ROOT / "docs" / "api").glob("*.md"))


def _documented() -> set[str]:
    names = set()
    for page in API_PAGES:
        names |= set(re.findall(r"^::: reawaken\.(\w+)$", page.read_text(), flags=re.M))
    return names


def test_every_public_name_has_an_api_entry():
    public = set(reawaken.__all__) - {"__version__"}
    missing = sorted(public - _documented())
    assert not missing, f"public names without a '::: reawaken.NAME' entry in docs/api: {missing}"


def test_api_entries_name_public_objects_only():
    extra = sorted(_documented() - set(reawaken.__all__))
    assert not extra, f"docs/api documents names outside reawaken.__all__: {extra}"


def test_site_builds_in_strict_mode(tmp_path: Path):
    pytest.importorskip("mkdocs", reason="needs the docs extra: pip install -e '.[docs]'")
    pytest.importorskip("mkdocs_jupyter", reason="needs the docs extra")
    pytest.importorskip("mkdocstrings", reason="needs the docs extra")
    env = os.environ | {
        "REAWAKEN_DOCS_EXECUTE": "false",
        "REAWAKEN_DOCS_CACHE": "false",
        "NO_MKDOCS_2_WARNING": "1",
    }
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, f"mkdocs build --strict failed:\n{done.stderr[-4000:]}"
    site = tmp_path / "site"
    assert (site / "index.html").is_file()
    assert (site / "analyses" / "01_kaplan_meier_logrank.html").is_file()
    api = (site / "api" / "survival.html").read_text(encoding="utf-8")
    assert "fit_cox" in api and "Parameters" in api
