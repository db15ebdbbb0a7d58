"""MkDocs hook: publish the teaching scripts in analyses/ as pages of the site.

The scripts stay where they are (``analyses/*.py``, jupytext percent format); this hook adds
them to the site's files as ``analyses/<name>.py`` (rendered and executed by mkdocs-jupyter)
and ``analyses/README.md`` as ``analyses/index.md``. It runs before mkdocs-jupyter's own
``on_files`` (higher priority) so that the plugin sees the scripts as notebooks.
"""

from __future__ import annotations

from pathlib import Path

from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[1]
ANALYSES = ROOT / "analyses"


@event_priority(100)
def on_files(files: Files, config) -> Files:
    """Add analyses/*.py and analyses/README.md (as analyses/index.md) to the site's files."""
    for script in sorted(ANALYSES.glob("[0-9][0-9]_*.py")):
        files.append(
            File(
                f"analyses/{script.name}",
                src_dir=str(ROOT),
                dest_dir=config["site_dir"],
                use_directory_urls=config["use_directory_urls"],
            )
        )
    readme = (ANALYSES / "README.md").read_text(encoding="utf-8")
    files.append(File.generated(config, "analyses/index.md", content=readme))
    return files
