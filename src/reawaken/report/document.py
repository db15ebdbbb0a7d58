"""Assemble certificates into ``report/``: a self-contained ``index.html`` (figures embedded),
``report.md``, CSV tables and PNG/SVG figures — each file written atomically.

The report is first built as a list of blocks (headings, paragraphs, tables, figures with their
captions; :func:`report_blocks`), then rendered twice: HTML and Markdown. Each finding gets the
pass criteria, the sampling distribution, whether the inference is honest, the design analysis,
the bias battery with its tipping points, and the one simulated cohort introduced as one draw
with its own estimate; an assumed input is called out where the finding starts.

Finding names become file names (``<name>_certificate.csv``, ...), so each is checked by
:func:`reawaken.outputs.check_name` before anything is written: a name such as
``../../elsewhere/x`` or an absolute path cannot write outside the report folder. The command
line writes the folder whole or not at all (:func:`reawaken.outputs.output_directory`)."""

from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from .. import __version__
from ..checks import checked
from ..errors import InputFileError
from ..io import write_table, write_text_atomic
from ..outputs import check_name
from . import captions
from .certificate_record import CI_WIDTH_TOLERANCE, ESTIMATE_TOLERANCE, Certificate
from .figures import save_figure
from .forest import forest_figure
from .tables import (
    design_table,
    inference_table,
    overview_table,
    reproduction_table,
    tipping_table,
)

CSS = """body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;
color:#222;line-height:1.45}table{border-collapse:collapse;margin:1rem 0;width:100%}
td,th{border:1px solid #ccc;padding:.3rem .6rem;text-align:left;font-size:.9rem;
vertical-align:top;overflow-wrap:break-word}th{background:#f3f3f3}
figure{margin:1.5rem 0}img{max-width:100%;height:auto;display:block}
figcaption{font-size:.88rem;color:#444;margin-top:.4rem}
code{font-size:.85em;background:#f5f5f5;padding:0 .2em;white-space:pre-wrap;
overflow-wrap:anywhere}.note{border-left:4px solid #d08c00;background:#fff8e6;
padding:.5rem .8rem}.pass{color:#1a7f37;font-weight:600}.fail{color:#b42318;font-weight:600}"""


@dataclass(frozen=True)
class Block:
    """One piece of the report: ``kind`` is h1/h2/h3, p, note, table or figure."""

    kind: str
    text: str = ""
    table: pd.DataFrame | None = None
    path: Path | None = None


def _pass_text() -> str:
    return (
        f"Pass: the reproduced median is within ±{ESTIMATE_TOLERANCE:.0%} of the reported "
        f"estimate and the reproduced CI width (log scale) within ±{CI_WIDTH_TOLERANCE:.0%}."
    )


def _assumed_note(cert: Certificate) -> list[Block]:
    f = cert.finding
    if not f.ci_assumed:
        return []
    return [Block("note", (
        f"Assumed input: the paper prints no CI for this {f.measure}; {f.ci_low:g}–"
        f"{f.ci_high:g} is an editable assumption (finding key `ci_assumed`). The CI width "
        "criterion, the power and type M from the reported CI, the E-value of the CI limit and "
        "the forest plot rest on it, and each says so."
    ))]


def _finding_blocks(cert: Certificate, figures: dict[str, Path]) -> list[Block]:
    f, verdict = cert.finding, "PASS" if cert.passed else "FAIL"
    blocks = [Block("h2", f"{f.title} — {verdict}"), Block("p", f.source),
              Block("p", cert.provenance), *_assumed_note(cert),
              Block("h3", "Reproduction"), Block("p", _pass_text()),
              Block("table", table=reproduction_table(cert))]
    fig = figures
    blocks += [Block("figure", captions.sampling_caption(cert), path=fig["sampling_distribution"])]
    blocks += [
        Block("h3", "Is the inference honest?"),
        Block("p", "The papers report none of these: they are properties of the analysis, "
                   "measured on the simulated replicates against its defined truth."),
        Block("table", table=inference_table(cert)),
        Block("h3", "Design analysis: power, exaggeration, E-value"),
        Block("table", table=design_table(cert)),
        Block("figure", captions.power_caption(cert), path=fig["power_curve"]),
        Block("h3", "Bias battery and tipping points"),
    ]
    if len(cert.tipping_points):
        blocks += [
            Block("p", f"How strong would one bias have to be to produce the reported "
                       f"{f.measure} {f.estimate:g} when infection does nothing? The paper "
                       "reports no such analysis, so these come from the simulation only."),
            Block("table", table=tipping_table(cert)),
        ]
    blocks += [Block("figure", captions.stress_caption(cert), path=fig["stress"])]
    curves = [n for n in fig if n.endswith("_one_cohort")]
    if curves:
        blocks += [Block("h3", "One simulated cohort"), Block("p", captions.one_cohort_intro(cert))]
        blocks += [
            Block("figure", captions.curve_caption(n, cert.figures[n], f.outcome), path=fig[n])
            for n in curves
        ]
    return blocks


def report_blocks(
    certificates: list[Certificate], figures: dict[str, dict[str, Path]], forest: Path,
    *, seed: int, reps: int,
) -> list[Block]:
    """The whole report as blocks (see module docstring)."""
    blocks = [
        Block("h1", "reawaken reproduction report"),
        Block("p", f"reawaken {__version__}, seed {seed}, {reps} replicates per finding. "
                   f"{_pass_text()}"),
        Block("table", table=overview_table(certificates)),
        Block("figure", captions.forest_caption(certificates), path=forest),
    ]
    for cert in certificates:
        blocks += _finding_blocks(cert, figures[cert.finding.name])
    return blocks


def _inline_html(text: str) -> str:
    """Escaped text with `code` spans as <code> elements."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))


def _html_cell(value: object) -> str:
    text = str(value)
    if text in ("PASS", "FAIL"):
        return f"<td class='{text.lower()}'>{text}</td>"
    return f"<td>{_inline_html(text)}</td>"


def _html_table(df: pd.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    body = "".join(
        "<tr>" + "".join(_html_cell(v) for v in row) + "</tr>"
        for row in df.itertuples(index=False)
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _html_block(b: Block, out: Path) -> str:
    if b.kind in ("h1", "h2", "h3"):
        text = _inline_html(b.text)
        for word in ("PASS", "FAIL"):
            text = text.replace(f"— {word}", f"— <span class='{word.lower()}'>{word}</span>")
        return f"<{b.kind}>{text}</{b.kind}>"
    if b.kind == "table":
        return _html_table(b.table)
    if b.kind == "figure":
        data = base64.b64encode(b.path.read_bytes()).decode("ascii")
        alt = html.escape(b.path.stem.replace("_", " "))
        return (f"<figure><img alt='{alt}' src='data:image/png;base64,{data}'>"
                f"<figcaption>{_inline_html(b.text)}</figcaption></figure>")
    cls = " class='note'" if b.kind == "note" else ""
    return f"<p{cls}>{_inline_html(b.text)}</p>"


def _md_table(df: pd.DataFrame) -> str:
    cols = list(df.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in df.itertuples(index=False):
        lines.append("| " + " | ".join(str(v).replace("|", "\\|") for v in row) + " |")
    return "\n".join(lines)


def _md_block(b: Block, out: Path) -> str:
    if b.kind in ("h1", "h2", "h3"):
        return "#" * int(b.kind[1]) + " " + b.text
    if b.kind == "table":
        return _md_table(b.table)
    if b.kind == "figure":
        rel = b.path.relative_to(out).as_posix()
        return f"![{b.path.stem.replace('_', ' ')}]({rel})\n\n*{b.text}*"
    return f"> {b.text}" if b.kind == "note" else b.text


def render_html(blocks: list[Block], out: Path) -> str:
    body = "\n".join(_html_block(b, out) for b in blocks)
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><meta name='viewport' "
        "content='width=device-width, initial-scale=1'><title>reawaken reproduction report"
        f"</title><style>{CSS}</style></head><body>\n{body}\n</body></html>\n"
    )


def render_markdown(blocks: list[Block], out: Path) -> str:
    return "\n\n".join(_md_block(b, out) for b in blocks) + "\n"


def _check_names(certificates: list[Certificate]) -> None:
    if not certificates:
        raise InputFileError("no certificate to report; fix: pass at least one certificate")
    names = [check_name(cert.finding.name, "finding name") for cert in certificates]
    if len(set(names)) != len(names):
        raise InputFileError(
            f"two findings share a name ({', '.join(names)}); fix: give each finding its own name"
        )


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
    (``progress``: a "writing report" bar over the files, on a terminal only).

    Raises
    ------
    InputFileError
        Before writing anything, if there is no certificate, a finding name is unsafe as a
        file name or two findings share a name.
    """
    _check_names(certificates)
    out = Path(out_dir)
    total = 3 + sum(4 + len(c.figures) for c in certificates)
    bar = tqdm(total=total, desc="writing report", unit="file", disable=None if progress else True)
    paths: list[Path] = []
    figures: dict[str, dict[str, Path]] = {}
    with bar:
        forest = save_figure(forest_figure(pd.concat([c.forest for c in certificates])),
                             out / "figures" / "forest")
        paths += forest
        bar.update()
        for cert in certificates:
            name = cert.finding.name
            for kind, table in (("certificate", cert.rows), ("replicates", cert.replicates),
                                ("power_curve", cert.power_curve), ("stress", cert.stress)):
                paths.append(write_table(table, out / f"{name}_{kind}.csv"))
                bar.update()
            figures[name] = {}
            for fig_name, fig in cert.figures.items():
                png, svg = save_figure(fig, out / "figures" / f"{name}_{fig_name}")
                paths += [png, svg]
                figures[name][fig_name] = png
                bar.update()
        blocks = report_blocks(certificates, figures, forest[0], seed=seed, reps=reps)
        paths.append(write_text_atomic(out / "report.md", render_markdown(blocks, out)))
        bar.update()
        paths.append(write_text_atomic(out / "index.html", render_html(blocks, out)))
        bar.update(total - bar.n)
    return paths
