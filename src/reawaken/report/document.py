"""Assemble certificates into ``report/``: a self-contained ``index.html`` (figures embedded),
``report.md``, CSV tables and PNG/SVG figures — each file written atomically.

Finding names become file names (``<name>_certificate.csv``, ...), so each is checked by
:func:`reawaken.outputs.check_name` before anything is written: a name such as
``../../elsewhere/x`` or an absolute path cannot write outside the report folder. The command
line writes the folder whole or not at all (:func:`reawaken.outputs.output_directory`)."""

from __future__ import annotations

import base64
import html
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from .. import __version__
from ..checks import checked
from ..errors import InputFileError
from ..io import write_table, write_text_atomic
from ..outputs import check_name
from .certificate import Certificate, _forest_figure, forest_rows
from .figures import save_figure

CSS = """body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;
color:#222}table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #ccc;
padding:.3rem .6rem;text-align:left;font-size:.9rem}th{background:#f3f3f3}img{max-width:100%}
.pass{color:#1a7f37;font-weight:600}.fail{color:#b42318;font-weight:600}"""


def _md_table(df: pd.DataFrame) -> str:
    cols = list(df.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in df.itertuples(index=False):
        lines.append("| " + " | ".join("" if pd.isna(v) else str(v) for v in row) + " |")
    return "\n".join(lines)


def _display(rows: pd.DataFrame) -> pd.DataFrame:
    out = rows.copy()
    out["relative_difference"] = out["relative_difference"].map(
        lambda v: "" if pd.isna(v) else f"{v:+.1%}"
    )
    out["pass"] = out["pass"].map(
        lambda v: "" if v is None or pd.isna(v) else ("yes" if v else "NO")
    )
    return out


@checked
def write_report(
    certificates: list[Certificate],
    out_dir: str | Path,
    *,
    seed: int,
    reps: int,
    progress: bool = False,
) -> list[Path]:
    """Write the report for ``certificates`` into ``out_dir``; returns the paths written
    (``progress``: a "report" bar over the findings' tables and figures, on a terminal only).

    Raises
    ------
    InputFileError
        Before writing anything, if a finding name is unsafe as a file name or two findings
        share a name.
    """
    names = [check_name(cert.finding.name, "finding name") for cert in certificates]
    if len(set(names)) != len(names):
        raise InputFileError(
            f"two findings share a name ({', '.join(names)}); fix: give each finding its own name"
        )
    out = Path(out_dir)
    paths: list[Path] = []
    figure_files: dict[str, list[tuple[str, Path]]] = {}
    forest = [row for cert in certificates for row in forest_rows(cert)]
    paths += save_figure(_forest_figure(forest), out / "figures" / "forest")
    show = None if progress else True
    for cert in tqdm(certificates, desc="report", unit="finding", disable=show):
        name = cert.finding.name
        paths.append(write_table(cert.rows, out / f"{name}_certificate.csv"))
        paths.append(write_table(cert.replicates, out / f"{name}_replicates.csv"))
        paths.append(write_table(cert.power_curve, out / f"{name}_power_curve.csv"))
        paths.append(write_table(cert.stress, out / f"{name}_stress.csv"))
        figure_files[name] = []
        for fig_name, fig in cert.figures.items():
            png, svg = save_figure(fig, out / "figures" / f"{name}_{fig_name}")
            paths += [png, svg]
            figure_files[name].append((fig_name, png))
    md = [
        f"# reawaken reproduction report\n\nreawaken {__version__}, seed {seed}, {reps} "
        "replicates per finding. Pass: reproduced median within ±5% of the reported estimate "
        "and CI width within ±10%.\n",
        "![forest](figures/forest.png)\n",
    ]
    body = [
        f"<h1>reawaken reproduction report</h1><p>reawaken {html.escape(__version__)}, "
        f"seed {seed}, {reps} replicates per finding. Pass: reproduced median within ±5% of "
        "the reported estimate and CI width within ±10%.</p>",
        _img(out / "figures" / "forest.png", "forest plot"),
    ]
    for cert in certificates:
        f = cert.finding
        verdict = "PASS" if cert.passed else "FAIL"
        table = _display(cert.rows)
        md += [f"## {f.title} — {verdict}\n", f"{f.source}\n", f"{cert.provenance}\n"]
        md += [_md_table(table) + "\n"]
        md += [f"![{n}](figures/{f.name}_{n}.png)\n" for n, _ in figure_files[f.name]]
        body += [
            f"<h2>{html.escape(f.title)} — <span class='{verdict.lower()}'>{verdict}"
            f"</span></h2><p>{html.escape(f.source)}</p><p>{html.escape(cert.provenance)}</p>",
            table.to_html(index=False, escape=True, border=0),
        ]
        body += [_img(p, n) for n, p in figure_files[f.name]]
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>reawaken report</title>"
        f"<style>{CSS}</style></head><body>{''.join(body)}</body></html>\n"
    )
    paths.append(write_text_atomic(out / "report.md", "\n".join(md)))
    paths.append(write_text_atomic(out / "index.html", page))
    return paths


def _img(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f"<figure><img alt='{html.escape(alt)}' src='data:image/png;base64,{data}'></figure>"
