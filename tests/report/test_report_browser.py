"""The reproduction report as a reader's browser shows it: headless Chromium (Debian's
``chromium``) renders ``index.html`` of a small real report; every image loads, no text is
clipped, the page fits the window, no table cell is empty, every figure has a caption, and the
smallest text of every figure is at least 11 CSS pixels tall at the width it is shown. The
screenshot is kept in ``build/test-artifacts/report.png``."""

from __future__ import annotations

from pathlib import Path

import pytest
from matplotlib.text import Text
from report_checks import CHROMIUM, render

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)",
)

ARTIFACTS = Path(__file__).resolve().parents[2] / "build" / "test-artifacts"
DPI = 200  # savefig.dpi of PUBLICATION_RC: natural pixels per inch of every PNG
MIN_TEXT_PX = 11.0


@pytest.fixture(scope="module")
def verdict(small_report, tmp_path_factory):
    work = tmp_path_factory.mktemp("chromium")
    return render(small_report.folder / "index.html", work, ARTIFACTS / "report.png")


def _smallest_font_pt(fig) -> float:
    sizes = [t.get_fontsize() for t in fig.findobj(Text) if t.get_visible() and t.get_text()]
    return min(sizes)


def test_every_image_loads(verdict, small_report):
    figures = 1 + sum(len(c.figures) for c in small_report.certificates)
    assert len(verdict["images"]) == figures
    assert [i["alt"] for i in verdict["images"] if not i["loaded"]] == []


def test_no_text_is_clipped_and_the_page_fits(verdict):
    assert verdict["clipped"] == []
    assert verdict["page_width"] <= verdict["window_width"]


def test_no_empty_table_cell(verdict):
    assert verdict["tables"] >= 1 + 4 * 2
    assert verdict["empty_cells"] == 0


def test_every_figure_has_a_caption(verdict):
    assert verdict["figures"] == len(verdict["images"]) == len(verdict["captions"])
    assert all(len(c) > 100 for c in verdict["captions"]), verdict["captions"]


def test_figure_text_is_readable_at_the_width_shown(verdict, small_report):
    shown = {i["alt"]: (i["shown"], i["natural"]) for i in verdict["images"]}
    for cert in small_report.certificates:
        for name, fig in cert.figures.items():
            width, natural = shown[f"{cert.finding.name}_{name}".replace("_", " ")]
            assert width <= natural  # never blown up
            px = _smallest_font_pt(fig) / 72 * DPI * width / natural
            assert px >= MIN_TEXT_PX, (cert.finding.name, name, round(px, 1))


def test_screenshot_is_kept(verdict):
    shot = Path(verdict["screenshot"])
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_check_sees_clipped_text_a_broken_image_and_an_empty_cell(tmp_path):
    page = tmp_path / "index.html"
    page.write_text(
        "<!doctype html><html><body><div style='width:40px;overflow:hidden;white-space:nowrap'>"
        "a sentence far wider than forty pixels</div><img alt='broken' src='data:image/png;"
        "base64,AAAA'><table><tr><td></td><td style='width:30px;max-width:30px;"
        "white-space:nowrap'>an unbreakable cell text</td></tr></table></body></html>",
        encoding="utf-8",
    )
    found = render(page, tmp_path, tmp_path / "shot.png")
    assert [i["loaded"] for i in found["images"]] == [False]
    assert len(found["clipped"]) == 2 and found["clipped"][0].startswith("DIV: a sentence")
    assert found["empty_cells"] == 1
