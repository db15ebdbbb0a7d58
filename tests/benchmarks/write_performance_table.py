"""Write the README's performance table from the benchmarks' recorded figures.

``make bench`` runs the benchmarks, each of which stores its figures with
``tests/benchmarks/_timing.record`` in ``tests/benchmarks/performance.json`` (one row per key,
with the date and load average of its run), then runs this script, which replaces the lines
between ``<!-- performance:start -->`` and ``<!-- performance:end -->`` in README.md by the
table. A benchmark not run keeps its last recorded row. Usage::

    python tests/benchmarks/write_performance_table.py [README.md]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RECORD = HERE / "performance.json"
README = HERE.parents[1] / "README.md"
START, END = "<!-- performance:start -->", "<!-- performance:end -->"
#: Table columns: header and the record field behind it.
COLUMNS = (
    ("task", "task"),
    ("reawaken", "reawaken"),
    ("previous implementation (same run)", "previous"),
    ("R `coxph`", "R"),
    ("statsmodels", "statsmodels"),
    ("lifelines", "lifelines"),
    ("measured", "measured"),
)
#: Row order; keys recorded but not listed here follow in name order.
ORDER = (
    "replicate_cpu",
    "throughput",
    "tv_cox_flatiron",
    "stratified_matched",
    "tv_cox_million",
    "simulate_million",
    "power_1000",
    "power_curve_ukb",
    "calibrate",
    "matching_flatiron",
    "matching_ukb",
    "matching_million",
    "shared_members",
    "omop_million",
)


def render(rows: dict[str, dict[str, str]]) -> str:
    """The markdown table of the recorded rows (formatting only)."""
    keys = [k for k in ORDER if k in rows] + sorted(set(rows) - set(ORDER))
    lines = [
        "| " + " | ".join(head for head, _ in COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
    ]
    for key in keys:
        cells = (rows[key].get(field, "").replace("|", "/") for _, field in COLUMNS)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def replace_between_markers(text: str, table: str) -> str:
    """``text`` with the lines between the performance markers replaced by ``table``."""
    if text.count(START) != 1 or text.count(END) != 1 or text.index(START) > text.index(END):
        raise SystemExit(
            f"README needs one {START} line and one {END} line after it around the performance "
            "table; fix: add them"
        )
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{table}\n{END}{tail}"


def main(argv: list[str]) -> int:
    readme = Path(argv[0]) if argv else README
    rows = json.loads(RECORD.read_text())
    text = readme.read_text()
    new = replace_between_markers(text, render(rows))
    if new != text:
        readme.write_text(new)
    print(f"{readme}: performance table of {len(rows)} rows from {RECORD.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
