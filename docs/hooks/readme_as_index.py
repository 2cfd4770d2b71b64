"""mkdocs hook: the site's front page is the repository README (one source, no copy).

The README links to ``docs/<page>.md`` so the links work on a code host; on the site the pages
sit at the root, so those links lose their ``docs/`` prefix.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def on_page_read_source(page: Any, config: Any) -> str | None:
    if page.file.src_uri != "index.md":
        return None
    readme = Path(config["config_file_path"]).parent / "README.md"
    return readme.read_text().replace("](docs/", "](")
