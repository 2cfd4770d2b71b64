"""Files `tether init` writes."""

from __future__ import annotations

from pathlib import Path

from tether.errors import TetherError

TOML = """[project]
name = "{name}"

[state]
path = "state/tether.duckdb"

[daemon]
socket = "state/tether.sock"
max_concurrent_syncs = 4
catch_up = "once"            # missed ticks after downtime: "once" (one catch-up run) or "skip"

[secrets]
age_key_file = "~/.config/sops/age/keys.txt"   # or set SOPS_AGE_KEY_FILE

[access]                     # unix user names; everyone else who can reach the socket is a viewer
admins = ["root"]
operators = []
"""

SOPS_YAML = """# sops encrypts files under secrets/ for these age recipients (public keys, age1…).
# `tether secrets keygen` adds yours (a teammate runs it too, then commits this file).
creation_rules:
  - path_regex: secrets/.*\\.sops\\.yaml$
    age: []
"""

NEXT_STEPS = ("tether secrets keygen", "tether add shopify", "tether apply")
"""What `tether init` says to run next: the whole path to a first sync."""


def scaffold(directory: Path, name: str) -> list[Path]:
    from tether.config.mappings import header_line
    from tether.config.model import MAPPING_FILES

    if (directory / "tether.toml").exists():
        raise TetherError(
            f"{directory}/tether.toml already exists.", hint="Choose an empty directory."
        )
    files: dict[Path, str] = {
        directory / "tether.toml": TOML.format(name=name),
        directory / ".sops.yaml": SOPS_YAML,
        directory / ".gitignore": "state/*\n!state/.gitkeep\nplan.out\n",
        directory / "integrations" / ".gitkeep": "",
        directory / "secrets" / ".gitkeep": "",
        directory / "state" / ".gitkeep": "",
    }
    for kind, filename in MAPPING_FILES.items():
        files[directory / "mappings" / filename] = header_line(kind) + "\n"
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return list(files)
