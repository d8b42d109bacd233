"""Which tools a server offers: toolsets and read-only mode, and what each costs in context.

Toolsets are declared in SKILL.md (the ``Toolsets`` table, plus a ``Toolset`` column in the Quick
Reference). ``select_tools`` turns the operator's choice into the tool list: only the chosen
toolsets, then, in read-only mode, nothing that changes state. Read-only always wins.

``list_size`` measures a tool list the way a host receives it: the JSON of the ``tools/list``
result. Tokens are estimated as characters / 4.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from mcp.types import ListToolsResult, Tool

from binance_spot_mcp.catalog.endpoints import Catalog
from binance_spot_mcp.errors import CatalogError, ConfigError

CHARS_PER_TOKEN = 4


@dataclass(frozen=True)
class Selection:
    """The operator's choice: toolsets (None: all) and read-only mode."""

    toolsets: tuple[str, ...] | None = None
    read_only: bool = False

    def describe(self) -> str:
        chosen = "all toolsets" if self.toolsets is None else "toolsets " + ", ".join(self.toolsets)
        return chosen + (", read-only" if self.read_only else "")


def toolset_of(catalog: Catalog, tool: str) -> str | None:
    endpoint = catalog.get(tool)
    if endpoint is not None:
        return endpoint.toolset
    for toolset in catalog.toolsets.values():
        if tool in toolset.server_tools:
            return toolset.name
    return None


def check_server_tools(catalog: Catalog, server_tools: Iterable[Tool]) -> None:
    """Every server tool must belong to exactly one declared toolset, and every declared one must exist."""
    names = {t.name for t in server_tools}
    declared = {name for ts in catalog.toolsets.values() for name in ts.server_tools}
    if names - declared:
        raise CatalogError(f"SKILL.md Toolsets table does not place server tool(s): {', '.join(sorted(names - declared))}")
    if declared - names:
        raise CatalogError(f"SKILL.md Toolsets table names unknown server tool(s): {', '.join(sorted(declared - names))}")


def check_selection(catalog: Catalog, selection: Selection) -> None:
    unknown = [name for name in selection.toolsets or () if name not in catalog.toolsets]
    if unknown:
        raise ConfigError(
            f"unknown toolset(s): {', '.join(unknown)}; known: {', '.join(catalog.toolsets)} (or all)"
        )


def select_tools(
    catalog: Catalog, tools: Sequence[Tool], selection: Selection, *, changes_state: Iterable[str] = ()
) -> list[Tool]:
    """The tools to offer, in catalog order. ``changes_state`` names the server tools that write."""
    check_selection(catalog, selection)
    writers = set(changes_state) | {e.tool for e in catalog.endpoints if e.changes_state}
    chosen: list[Tool] = []
    for tool in tools:
        if selection.toolsets is not None and toolset_of(catalog, tool.name) not in selection.toolsets:
            continue
        if selection.read_only and tool.name in writers:
            continue
        chosen.append(tool)
    return chosen


def list_size(tools: Sequence[Tool]) -> int:
    """Characters of the ``tools/list`` result JSON as the SDK serialises it on the wire, in the
    handshake era; the 2026-07-28 era adds about 90 characters of envelope (server info, cache hints)."""
    return len(ListToolsResult(tools=list(tools)).model_dump_json(by_alias=True, exclude_none=True))


@dataclass(frozen=True)
class SizeRow:
    name: str
    tools: int
    chars: int

    @property
    def tokens(self) -> int:
        return round(self.chars / CHARS_PER_TOKEN)


def size_table(catalog: Catalog, tools: Sequence[Tool], *, changes_state: Iterable[str] = ()) -> list[SizeRow]:
    """The size of each toolset alone, of the read-only list and of the whole list."""
    writers = tuple(changes_state)
    rows = []
    for name in catalog.toolsets:
        subset = select_tools(catalog, tools, Selection((name,)), changes_state=writers)
        rows.append(SizeRow(name, len(subset), list_size(subset)))
    read_only = select_tools(catalog, tools, Selection(None, read_only=True), changes_state=writers)
    rows.append(SizeRow("all, --read-only", len(read_only), list_size(read_only)))
    rows.append(SizeRow("all", len(tools), list_size(tools)))
    return rows


def size_markdown(rows: Sequence[SizeRow]) -> str:
    """The size table as markdown, exactly as docs/tools.md carries it."""
    lines = ["| Toolset | Tools | tools/list JSON (chars) | ≈ tokens |", "|---|---:|---:|---:|"]
    for row in rows:
        name = f"`{row.name}`" if row.name.isidentifier() else row.name
        lines.append(f"| {name} | {row.tools} | {row.chars:,} | {row.tokens:,} |")
    return "\n".join(lines)
