"""Saving figures: PNG and SVG side by side, each written atomically.

No matplotlib backend is selected here: ``Figure.savefig`` renders with the canvas of the file
format (Agg for PNG), whatever the user's backend is, so importing reawaken leaves an
interactive backend alone.
"""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
from matplotlib.axis import Axis
from matplotlib.figure import Figure

from ..io import write_bytes_atomic

PUBLICATION_RC = {
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "savefig.dpi": 200,
    "svg.hashsalt": "reawaken",  # stable SVG ids: same figure, same bytes
}


def save_figure(fig: Figure, stem: str | Path) -> list[Path]:
    """Save ``fig`` as ``stem.png`` and ``stem.svg`` (atomically) and close it.

    Returns the two paths. SVG metadata dates are dropped so identical figures give identical
    files.
    """
    stem = Path(stem)
    paths = []
    for fmt in ("png", "svg"):
        buf = io.BytesIO()
        metadata = {"Date": None} if fmt == "svg" else {"Software": None}
        with matplotlib.rc_context(PUBLICATION_RC):  # the SVG id salt is read at save time
            fig.savefig(buf, format=fmt, bbox_inches="tight", metadata=metadata)
        paths.append(write_bytes_atomic(stem.with_suffix(f".{fmt}"), buf.getvalue()))
    plt.close(fig)
    return paths


def show_figure(fig: Figure, name: str, *, folder: str | Path = "build/figures") -> Path | None:
    """Show ``fig`` inline in a Jupyter kernel; elsewhere save ``folder/name.png`` and print its
    path (teaching scripts run both ways). Closes the figure."""
    import sys

    buf = io.BytesIO()
    with matplotlib.rc_context(PUBLICATION_RC):
        fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    if "ipykernel" in sys.modules:
        from IPython.display import Image, display

        display(Image(buf.getvalue()))
        return None
    path = write_bytes_atomic(Path(folder) / f"{name}.png", buf.getvalue())
    print(f"[figure written: {path}]")
    return path


def plain_log_ticks(axis) -> None:
    """Tick labels like 1, 2, 3 instead of 10^0, 2x10^0 on a log-scaled matplotlib axis."""
    from matplotlib.ticker import FuncFormatter

    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:g}"))


#: Candidate tick values of a ratio axis; :func:`ratio_ticks` shows those inside the range.
RATIO_TICKS = (0.1, 0.2, 0.3, 0.5, 0.7, 1.0, 1.5, 2.0, 3.0, 5.0, 7.0, 10.0, 20.0, 50.0, 100.0)


def ratio_ticks(axis: Axis, low: float, high: float) -> None:
    """At most five plain ticks (1, 1.5, 2, 3, ...) on a log-scaled ratio axis over
    ``[low, high]``, 1 kept when inside; no minor labels (they collide on short ranges)."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    inside = [t for t in RATIO_TICKS if low <= t <= high]
    while len(inside) > 5:
        inside = sorted({*inside[::2], *([1.0] if 1.0 in inside else [])})
    axis.set_major_locator(FixedLocator(inside or [low, high]))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_locator(NullLocator())
