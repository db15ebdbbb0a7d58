"""The README's performance table is the one rendered from the benchmarks' recorded figures
(tests/benchmarks/performance.json, written by ``make bench``)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def _writer():
    path = HERE / "benchmarks" / "write_performance_table.py"
    spec = importlib.util.spec_from_file_location("write_performance_table", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


writer = _writer()


def test_readme_table_is_rendered_from_the_record():
    rows = json.loads(writer.RECORD.read_text())
    text = writer.README.read_text()
    assert writer.replace_between_markers(text, writer.render(rows)) == text, (
        "README's performance table differs from tests/benchmarks/performance.json; fix: "
        "python tests/benchmarks/write_performance_table.py"
    )
    for row in rows.values():
        assert row["task"] and row["reawaken"] and row["measured"]


def test_render_orders_rows_and_replaces_only_between_markers(tmp_path):
    rows = {
        "zeta": {"task": "z", "reawaken": "1 s", "measured": "today"},
        "throughput": {"task": "t | pipe", "reawaken": "2 s", "R": "3 s", "measured": "today"},
    }
    table = writer.render(rows)
    lines = table.splitlines()
    assert lines[0].startswith("| task | reawaken | previous implementation")
    assert lines[2].startswith("| t / pipe | 2 s |  | 3 s |") and lines[3].startswith("| z |")
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{writer.START}\nold\n{writer.END}\nrest\n")
    new = writer.replace_between_markers(readme.read_text(), table)
    assert new == f"intro\n{writer.START}\n{table}\n{writer.END}\nrest\n"
    with pytest.raises(SystemExit, match="performance"):
        writer.replace_between_markers("no markers", table)
