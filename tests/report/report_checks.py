"""Checks of a written report shared by the report tests: progress-bar text and a headless
Chromium rendering of ``index.html``.

Chromium is Debian's ``chromium`` package (``/usr/bin/chromium``). A copy of the page gets a
small script that runs after ``load`` and writes a JSON verdict into the DOM, which
``--dump-dom`` prints: every image loaded (``complete`` and ``naturalWidth > 0``), no text
clipped (an element whose overflow is hidden or clipped, or a table cell, whose content is
wider or taller than its box), the page no wider than the window, and no empty table cell.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
WINDOW = (1280, 900)

#: A tqdm bar as drawn: "<label>: <pct>%|<bar>| <n>/<total> [...]"; the label may be empty.
BAR = re.compile(r"^(?P<label>.*?)(?::\s*)?(?P<pct>\d{1,3})%\|.*\|\s*(?P<n>\d+)/(?P<total>\d+)")

CHECK_SCRIPT = """<script>
window.addEventListener('load', () => {
  const short = (el) => el.tagName + ': ' + (el.textContent || '').trim().slice(0, 80);
  const images = [...document.images].map((im) => ({
    alt: im.alt, loaded: im.complete && im.naturalWidth > 0,
    natural: im.naturalWidth, shown: Math.round(im.getBoundingClientRect().width)}));
  const clipped = [];
  for (const el of document.body.querySelectorAll('*')) {
    if (el.id === 'reawaken-verdict') continue;
    const cs = getComputedStyle(el);
    const hides = ['hidden', 'clip'].includes(cs.overflowX) ||
      ['hidden', 'clip'].includes(cs.overflowY) || cs.textOverflow === 'ellipsis';
    const cell = el.tagName === 'TD' || el.tagName === 'TH';
    if ((hides || cell) && (el.scrollWidth > el.clientWidth + 1 ||
        el.scrollHeight > el.clientHeight + 1)) clipped.push(short(el));
  }
  const empty = [...document.querySelectorAll('td, th')]
    .filter((c) => !c.textContent.trim()).map((c) => c.cellIndex);
  const verdict = {images, clipped, empty_cells: empty.length,
    page_width: document.documentElement.scrollWidth, window_width: window.innerWidth,
    page_height: document.documentElement.scrollHeight,
    tables: document.querySelectorAll('table').length,
    figures: document.querySelectorAll('figure').length,
    captions: [...document.querySelectorAll('figcaption')].map((c) => c.textContent.trim())};
  const out = document.createElement('pre');
  out.id = 'reawaken-verdict';
  out.textContent = JSON.stringify(verdict);
  document.body.appendChild(out);
});
</script>"""


def bars(text: str) -> list[tuple[str, int]]:
    """Every drawn progress bar in terminal text (``\\r``/newline separated): ``(label,
    total)``, one per distinct bar (the last state of each consecutive run)."""
    found: list[tuple[str, int]] = []
    for piece in re.split(r"[\r\n]+", re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text)):
        m = BAR.match(piece.strip())
        if m is None:
            continue
        key = (m.group("label").strip(), int(m.group("total")))
        if not found or found[-1] != key:
            found.append(key)
    return found


def _chromium(*args: str, height: int = WINDOW[1], timeout: float = 120):
    profile = tempfile.mkdtemp(prefix="reawaken-chromium-")
    try:
        return subprocess.run(
            [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--hide-scrollbars", f"--user-data-dir={profile}",
             f"--window-size={WINDOW[0]},{height}", "--virtual-time-budget=10000", *args],
            capture_output=True, text=True, timeout=timeout, check=False,
        )
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def render(index: Path, work: Path, screenshot: Path) -> dict:
    """The verdict of the check script on a copy of ``index`` (see module docstring), and a
    full-height screenshot of the original page at ``screenshot``."""
    page = index.read_text(encoding="utf-8")
    checked = work / "checked.html"
    checked.write_text(page.replace("</body>", CHECK_SCRIPT + "</body>"), encoding="utf-8")
    dump = _chromium("--dump-dom", checked.as_uri())
    match = re.search(r"<pre id=\"reawaken-verdict\">(.*?)</pre>", dump.stdout, re.S)
    if match is None:
        raise AssertionError(f"no verdict in Chromium's DOM; stderr: {dump.stderr[-2000:]}")
    verdict = json.loads(html.unescape(match.group(1)))
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    height = min(40000, int(verdict["page_height"]) + 40)
    _chromium(f"--screenshot={screenshot}", index.as_uri(), height=height)
    verdict["screenshot"] = str(screenshot) if screenshot.exists() else None
    return verdict
