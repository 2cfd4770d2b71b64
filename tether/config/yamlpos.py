"""Source positions for YAML documents, so every problem reads ``path:line:col``.

Files are parsed twice only when needed: a fast C-backed safe load first, and a ruamel round-trip
load (which keeps line/column of every key and item) only for files that have a problem to report.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

_round_trip = YAML(typ="rt")


def _fast_loader() -> Any:
    """libyaml's C loader with YAML 1.2 booleans (so ``country: NO`` stays a string, as in
    ruamel's 1.2 round-trip parser that reports positions)."""
    import re

    import yaml

    class Loader(yaml.CSafeLoader):
        pass

    bool_tag = "tag:yaml.org,2002:bool"
    Loader.yaml_implicit_resolvers = {
        first: [r for r in resolvers if r[0] != bool_tag]
        for first, resolvers in yaml.CSafeLoader.yaml_implicit_resolvers.items()
    }
    Loader.add_implicit_resolver(
        bool_tag, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
    )
    return Loader


_Fast = _fast_loader()


class YamlSyntaxError(Exception):
    def __init__(self, line: int, col: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.col = col
        self.message = message


def _syntax_error(exc: MarkedYAMLError) -> YamlSyntaxError:
    mark = exc.problem_mark or exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    what = exc.problem or exc.context or "invalid YAML"
    return YamlSyntaxError(line, col, f"YAML syntax error: {what}")


def load_fast(text: str) -> Any:
    """Parse quickly; on any error, re-parse with ruamel so the message and position match."""
    import yaml

    try:
        return yaml.load(text, Loader=_Fast)  # a safe loader subclass
    except yaml.YAMLError:
        return load_positions(text)


def load_untyped(text: str) -> Any:
    """Every scalar as a string (enough for SOPS files: key names and the MAC), fastest."""
    import yaml

    try:
        return yaml.load(text, Loader=yaml.CBaseLoader)  # constructs no objects
    except yaml.YAMLError:
        return load_positions(text)


def load_positions(text: str) -> Any:
    try:
        return _round_trip.load(text)
    except MarkedYAMLError as exc:
        raise _syntax_error(exc) from None


def position(doc: Any, loc: tuple[str | int, ...]) -> tuple[int, int]:
    """1-based (line, col) of the deepest part of ``loc`` that exists in a round-trip document.

    For a mapping key we point at the key; for a sequence item at the item.
    """
    line, col = 1, 1
    node = doc
    for part in loc:
        if isinstance(node, CommentedMap) and part in node:
            kl, kc = node.lc.key(part)
            line, col = kl + 1, kc + 1
            node = node[part]
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and 0 <= part < len(node):
            il, ic = node.lc.item(part)
            line, col = il + 1, ic + 1
            node = node[part]
        else:
            break
    return line, col


def value_position(doc: Any, loc: tuple[str | int, ...]) -> tuple[int, int]:
    """Like ``position`` but for a mapping value: points at the value, not the key."""
    if not loc:
        return 1, 1
    parent = doc
    for part in loc[:-1]:
        try:
            parent = parent[part]
        except (KeyError, IndexError, TypeError):
            return position(doc, loc)
    last = loc[-1]
    if isinstance(parent, CommentedMap) and last in parent:
        vl, vc = parent.lc.value(last)
        return vl + 1, vc + 1
    return position(doc, loc)


def read_text(path: Path) -> str:
    return path.read_text(encoding="utf-8")
