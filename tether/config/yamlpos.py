"""Source positions for YAML documents, so every problem reads ``path:line:col``.

Files are parsed twice only when needed: a fast C-backed safe load first, and a ruamel round-trip
load (which keeps line/column of every key and item) only for files that have a problem to report.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError

# The parsers are imported on first use, not with this module: a plan whose files are all in
# the check cache parses no YAML at all (libyaml and ruamel take ~20 ms to import).


@functools.cache
def _round_trip() -> YAML:
    from ruamel.yaml import YAML

    return YAML(typ="rt")


# Bounds for hostile or broken files (issue 14): each is far above any real workspace file and
# far below what would exhaust memory or the stack.
MAX_YAML_BYTES = 1024 * 1024
"""An integration file is a few KB."""
MAX_DEPTH = 100
"""Nesting of mappings and sequences (the parsers recurse per level)."""
MAX_VALUES = 100_000
"""Values in a document once anchors and aliases are expanded (a "billion laughs" expands
nine lines of aliases to 10⁹ strings)."""


@functools.cache
def _fast_loader() -> Any:
    """libyaml's C loader with YAML 1.2 booleans (so ``country: NO`` stays a string, as in
    ruamel's 1.2 round-trip parser that reports positions)."""
    import re

    import yaml

    class Loader(yaml.CSafeLoader):
        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            # libyaml keeps the last of duplicate keys silently; ruamel (which reports the
            # position) refuses them, so a duplicate sends the file down that path.
            merges = any(k.tag == "tag:yaml.org,2002:merge" for k, _ in node.value)
            mapping = super().construct_mapping(node, deep=deep)
            if not merges and len(mapping) < len(node.value):
                raise yaml.constructor.ConstructorError(
                    None, None, "duplicate key", node.start_mark
                )
            return mapping

    bool_tag = "tag:yaml.org,2002:bool"
    Loader.yaml_implicit_resolvers = {
        first: [r for r in resolvers if r[0] != bool_tag]
        for first, resolvers in yaml.CSafeLoader.yaml_implicit_resolvers.items()
    }
    Loader.add_implicit_resolver(
        bool_tag, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
    )
    return Loader


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

    _check_depth(text)
    try:
        doc = yaml.load(text, Loader=_fast_loader())  # a safe loader subclass
    except yaml.YAMLError:
        doc = load_positions(text)
    _check_expansion(doc, text)
    return doc


def load_untyped(text: str) -> Any:
    """Every scalar as a string (enough for SOPS files: key names and the MAC), fastest."""
    import yaml

    _check_depth(text)
    try:
        return yaml.load(text, Loader=yaml.CBaseLoader)  # constructs no objects
    except yaml.YAMLError:
        return load_positions(text)


def load_positions(text: str) -> Any:
    from ruamel.yaml.error import MarkedYAMLError

    _check_depth(text)
    try:
        return _round_trip().load(text)
    except MarkedYAMLError as exc:
        raise _syntax_error(exc) from None
    except RecursionError:  # _check_depth's bound is far below this; a last line of defence
        raise YamlSyntaxError(1, 1, "YAML nested too deeply to read") from None


_FLOW = re.compile(r"[\[\]{}]")
_ALIAS = re.compile(r"(?:^|[\s\[,{:])(\*[^\s,\[\]{}]+)", re.MULTILINE)


def _check_depth(text: str) -> None:
    """Refuse documents nested deeper than MAX_DEPTH before a recursive parser sees them.

    Counts flow brackets (``[[[[…``) and block indentation (two columns a level); quoted
    brackets count too, which only matters past a hundred of them unclosed.
    """
    depth = 0
    for match in _FLOW.finditer(text):
        depth += 1 if match.group() in "[{" else -1
        if depth > MAX_DEPTH:
            raise YamlSyntaxError(*_line_col(text, match.start()), _too_deep())
    for number, line in enumerate(text.splitlines(), 1):
        indent = len(line) - len(line.lstrip(" -"))
        if indent > 2 * MAX_DEPTH:
            raise YamlSyntaxError(number, 1, _too_deep())


def _too_deep() -> str:
    return f"YAML nested more than {MAX_DEPTH} levels deep; a workspace file needs a few"


def _check_expansion(doc: Any, text: str) -> None:
    """Refuse documents whose aliases expand past MAX_VALUES values (a "billion laughs")."""
    sizes: dict[int, int] = {}

    def size(node: Any) -> int:
        if not isinstance(node, dict | list):
            return 1
        known = sizes.get(id(node))
        if known is None:
            children = node.items() if isinstance(node, dict) else enumerate(node)
            known = 1 + sum(size(v) for _, v in children)
            sizes[id(node)] = min(known, MAX_VALUES + 1)
        return known

    if size(doc) > MAX_VALUES:
        found = _ALIAS.search(text)
        line, col = _line_col(text, found.start(1)) if found else (1, 1)
        raise YamlSyntaxError(
            line,
            col,
            f"YAML anchors and aliases expand to more than {MAX_VALUES:,} values; "
            "write the values out instead of aliasing them",
        )


def _line_col(text: str | bytes, offset: int) -> tuple[int, int]:
    """1-based line and column of ``offset``."""
    newline = "\n" if isinstance(text, str) else b"\n"
    start = text.rfind(newline, 0, offset) + 1  # type: ignore[arg-type]
    return text.count(newline, 0, offset) + 1, offset - start + 1  # type: ignore[arg-type]


def position(doc: Any, loc: tuple[str | int, ...]) -> tuple[int, int]:
    """1-based (line, col) of the deepest part of ``loc`` that exists in a round-trip document.

    For a mapping key we point at the key; for a sequence item at the item.
    """
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

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
    from ruamel.yaml.comments import CommentedMap

    last = loc[-1]
    if isinstance(parent, CommentedMap) and last in parent:
        vl, vc = parent.lc.value(last)
        return vl + 1, vc + 1
    return position(doc, loc)


def too_large(size: int) -> str:
    return f"file is too large ({size:,} bytes; a workspace YAML file is at most 1 MiB)"


def read_text(path: Path) -> str:
    """A workspace YAML file's text, or ``YamlSyntaxError`` if it is too big or not UTF-8."""
    size = path.stat().st_size
    if size > MAX_YAML_BYTES:
        raise YamlSyntaxError(1, 1, too_large(size))
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, col = _line_col(raw, exc.start)
        raise YamlSyntaxError(
            line, col, f"not valid UTF-8 (byte 0x{raw[exc.start]:02x}); save the file as UTF-8"
        ) from None
