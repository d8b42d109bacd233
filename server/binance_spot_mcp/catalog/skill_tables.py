"""Reading SKILL.md's markdown: the front matter, ``##`` sections and the pipe tables in them.

A table is the pipe table under its ``##`` heading, up to the next ``#`` or ``##``; headings
inside fenced code blocks are text, not sections. Its header must carry the columns asked for and
every row as many cells as the header; a cell wrapped in one pair of backticks loses them. A cell
of ``—``, ``-``, ``None`` or nothing is empty (``EMPTY_CELL``). Each problem raises a
``CatalogError`` naming the SKILL.md line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from binance_spot_mcp.errors import CatalogError

EMPTY_CELL = frozenset({"", "—", "-", "None", "none"})


@dataclass(frozen=True)
class Row:
    """One table row: its SKILL.md line number and its cells by column name."""

    line: int
    cells: dict[str, str]

    def where(self) -> str:
        return f"SKILL.md line {self.line}"


def _strip_cell(cell: str) -> str:
    cell = cell.strip()
    if len(cell) >= 2 and cell.startswith("`") and cell.endswith("`") and cell.count("`") == 2:
        cell = cell[1:-1].strip()
    return cell


def _split_row(line: str) -> list[str]:
    body = line.strip()
    if body.startswith("|"):
        body = body[1:]
    if body.endswith("|"):
        body = body[:-1]
    return [_strip_cell(c) for c in body.split("|")]


def _fenced_lines(lines: list[str]) -> set[int]:
    """0-based indexes of the lines inside ``` or ~~~ fences (the fence lines included)."""
    inside: set[int] = set()
    fence: str | None = None
    for i, text in enumerate(lines):
        marker = re.match(r"^\s{0,3}(`{3,}|~{3,})", text)
        if fence is None and marker:
            fence = marker.group(1)
            inside.add(i)
        elif fence is not None:
            inside.add(i)
            closing = marker.group(1) if marker else ""
            if closing[:1] == fence[0] and len(closing) >= len(fence) and text.strip() == closing:
                fence = None
    return inside


def _section_lines(lines: list[str], heading: str) -> list[tuple[int, str]]:
    """Lines (1-based number, text) of the ``## heading`` section, up to the next ``#``/``##``.

    Headings inside fenced code blocks (examples) are text, not sections."""
    fenced = _fenced_lines(lines)
    start = None
    for i, text in enumerate(lines):
        if i in fenced:
            continue
        if re.match(r"^##\s+", text) and text[2:].strip().lower() == heading.lower():
            if start is not None:
                raise CatalogError(f"SKILL.md line {i + 1}: the section '## {heading}' appears twice")
            start = i + 1
    if start is None:
        raise CatalogError(f"SKILL.md has no '## {heading}' section")
    out: list[tuple[int, str]] = []
    for j in range(start, len(lines)):
        if j not in fenced and re.match(r"^#{1,2}\s", lines[j]):
            break
        out.append((j + 1, lines[j]))
    return out


def read_table(lines: list[str], heading: str, columns: Iterable[str]) -> list[Row]:
    """The rows of the table under ``## heading``, which must have (at least) ``columns``."""
    wanted = list(columns)
    table_lines = [(n, t) for n, t in _section_lines(lines, heading) if t.strip().startswith("|")]
    if len(table_lines) < 2:
        raise CatalogError(f"SKILL.md section '## {heading}' has no table")
    header_no, header_text = table_lines[0]
    header = _split_row(header_text)
    missing = [c for c in wanted if c not in header]
    if missing:
        raise CatalogError(
            f"SKILL.md line {header_no}: table '{heading}' lacks column(s) {', '.join(missing)}; "
            f"found {', '.join(header)}"
        )
    sep_no, sep_text = table_lines[1]
    if not re.fullmatch(r"\|?[\s:\-|]+\|?", sep_text.strip()):
        raise CatalogError(f"SKILL.md line {sep_no}: expected the table's separator row after its header")
    rows: list[Row] = []
    for number, text in table_lines[2:]:
        cells = _split_row(text)
        if len(cells) != len(header):
            raise CatalogError(
                f"SKILL.md line {number}: table '{heading}' row has {len(cells)} cells, the header has {len(header)}"
            )
        rows.append(Row(number, dict(zip(header, cells, strict=True))))
    return rows


def cell_names(cell: str) -> tuple[str, ...]:
    """A cell's comma-separated names, each without its backticks; none for an empty cell."""
    if cell in EMPTY_CELL:
        return ()
    return tuple(_strip_cell(p) for p in cell.split(",") if _strip_cell(p))


def parse_frontmatter(lines: list[str]) -> tuple[str, str]:
    """The skill's ``name`` and its ``metadata.version`` (an indented ``version:``) from the front matter."""
    if not lines or lines[0].strip() != "---":
        raise CatalogError("SKILL.md line 1: expected YAML frontmatter starting with '---'")
    name = version = None
    for number, text in enumerate(lines[1:], start=2):
        if text.strip() == "---":
            break
        key, _, value = text.partition(":")
        if key.strip() == "name" and not text.startswith(" "):
            name = value.strip()
        if key.strip() == "version" and text.startswith(" "):
            version = value.strip().strip("'\"")
    else:
        raise CatalogError("SKILL.md: the frontmatter is never closed with '---'")
    if not name:
        raise CatalogError("SKILL.md frontmatter has no 'name'")
    if not version or not re.fullmatch(r"\d+\.\d+\.\d+", version):
        raise CatalogError(f"SKILL.md frontmatter: metadata.version must look like 1.2.3, found {version!r}")
    del number
    return name, version
