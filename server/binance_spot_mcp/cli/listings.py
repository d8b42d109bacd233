"""What the read-only subcommands print: ``tools`` (the endpoint catalog and the server's own
tools, as a table, JSON or the toolset sizes) and ``journal`` (one readable line per audit-journal
entry, control characters escaped)."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from binance_spot_mcp.catalog.endpoints import Catalog, Endpoint
from binance_spot_mcp.catalog.schema import plain_decimal
from binance_spot_mcp.catalog.toolsets import size_markdown
from binance_spot_mcp.journal import ACCOUNT_CHANGE, INTENT, NOT_APPROVED
from binance_spot_mcp.redact import escape_text


def catalog_json(catalog: Catalog, endpoints: Sequence[Endpoint] | None = None) -> list[dict[str, Any]]:
    """The catalog (or some of its endpoints) as plain data: what ``tools --json`` prints."""

    def param(endpoint: Endpoint, name: str) -> dict[str, Any]:
        p = endpoint.params[name]
        out: dict[str, Any] = {"name": name, "type": p.type.value, "required": name in endpoint.required}
        if p.values:
            out["enum"] = list(p.values)
        c = p.constraints
        for key, value in (
            ("minimum", c.minimum),
            ("maximum", c.maximum),
            ("minLength", c.min_length),
            ("maxLength", c.max_length),
            ("maxItems", c.max_items),
        ):
            if value is not None:
                out[key] = plain_decimal(value) if key in {"minimum", "maximum"} else value
        out["description"] = p.description
        return out

    return [
        {
            "name": e.tool,
            "toolset": e.toolset,
            "method": e.method,
            "path": e.path,
            "security": e.security.value,
            "signed": e.signed,
            "changes_state": e.changes_state,
            "description": e.description,
            "parameters": [param(e, n) for n in e.params],
            "rules": [r.describe() for r in e.rules],
        }
        for e in (catalog.endpoints if endpoints is None else endpoints)
    ]


def server_tools_json(catalog: Catalog, tools: Sequence[Any]) -> list[dict[str, Any]]:
    """The server's own tools (list_accounts, ...) in ``catalog_json``'s shape; no HTTP endpoint."""
    from binance_spot_mcp.accounts.tools import CHANGES_STATE
    from binance_spot_mcp.catalog.toolsets import toolset_of

    out = []
    for tool in tools:
        schema = tool.input_schema or {}
        required = set(schema.get("required", ()))
        parameters = []
        for name, prop in (schema.get("properties") or {}).items():
            param: dict[str, Any] = {"name": name, "type": prop.get("type", "string"), "required": name in required}
            if "enum" in prop:
                param["enum"] = list(prop["enum"])
            param["description"] = prop.get("description", "")
            parameters.append(param)
        out.append({
            "name": tool.name, "toolset": toolset_of(catalog, tool.name), "method": None, "path": None,
            "security": "NONE", "signed": False, "changes_state": tool.name in CHANGES_STATE,
            "description": tool.description or "", "parameters": parameters, "rules": [], "server_tool": True,
        })
    return out


def print_tools(catalog: Catalog, offered_tools: Sequence[Any], *, as_json: bool, sizes: bool) -> None:
    offered = {t.name for t in offered_tools}
    if sizes:
        from binance_spot_mcp.server.tool_list import tool_list_sizes

        sys.stdout.write(size_markdown(tool_list_sizes(catalog)) + "\n")
        return
    endpoints = [e for e in catalog.endpoints if e.tool in offered]
    if as_json:
        own = [t for t in offered_tools if catalog.get(t.name) is None]
        sys.stdout.write(json.dumps(catalog_json(catalog, endpoints) + server_tools_json(catalog, own), indent=2) + "\n")
        return
    if endpoints:
        width = max(len(e.tool) for e in endpoints)
        for e in endpoints:
            sys.stdout.write(f"{e.tool:<{width}}  {e.toolset:<11} {e.method:<6} {e.path:<36} {e.security.value}\n")
    server_tools = sorted(offered - {e.tool for e in catalog.endpoints})
    sys.stdout.write(
        f"{len(endpoints)} of {len(catalog.endpoints)} endpoints (SKILL.md {catalog.version})"
        + (f"; server tools: {', '.join(server_tools)}" if server_tools else "")
        + "\n"
    )


def _pairs(values: Mapping[str, Any]) -> str:
    return " ".join(
        f"{k}={v if isinstance(v, str) else json.dumps(v, separators=(',', ':'), default=str)}"
        for k, v in values.items()
    )


def journal_line(entry: Mapping[str, Any]) -> str:
    """One journal entry as one readable line (control characters from any value shown escaped)."""
    return escape_text(_journal_line(entry))


def _journal_line(entry: Mapping[str, Any]) -> str:
    head = f"{entry.get('ts', '?')}  {entry.get('id', '?')}  {entry.get('phase', '?'):<7}"
    approved = entry.get("approved_via")
    approval = f"  approved via {approved}" + (f" ({entry.get('approval_id')})" if entry.get("approval_id") else "")
    approval = approval if approved and approved not in ("not required", NOT_APPROVED) else ""
    approval = "  NOT approved by the human (not sent)" if approved == NOT_APPROVED else approval
    if entry.get("phase") == INTENT:
        params = entry.get("params")
        text = (
            f"{head}  {entry.get('tool')} on {entry.get('account')} ({entry.get('environment')}): "
            f"{entry.get('method')} {entry.get('path')}{approval}"
        )
        text = f"{text}  {_pairs(params)}" if isinstance(params, Mapping) and params else text
        policy = entry.get("policy")
        return f"{text}  [policy {_pairs(policy)}]" if isinstance(policy, Mapping) and policy else text
    if entry.get("phase") == ACCOUNT_CHANGE:
        previous = entry.get("previous_environment")
        env = f"{previous} -> {entry.get('environment')}" if previous else entry.get("environment")
        return f"{head}  {entry.get('action')} account {entry.get('account')} ({env}) via {entry.get('via')}{approval}"
    status = entry.get("status")
    answer = f"HTTP {status}" if status is not None else "no HTTP answer"
    text = f"{head}  {'ok' if entry.get('ok') else 'FAILED'}  {answer}"
    summary = entry.get("summary")
    return f"{text}  {_pairs(summary)}" if isinstance(summary, Mapping) and summary else text
