"""Test hosts with chosen capabilities, and a test human who answers through each channel.

A *host profile* says which approval channels the MCP client declares: none, form, url, apps or
form+url. The SDK's client declares both elicitation modes whenever it has a callback, so the
profile rewrites the declared capabilities; MCP Apps support is declared as the extension.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from mcp import Client
from mcp.client import session as client_session
from mcp.client.extension import advertise
from mcp.server.apps import APP_MIME_TYPE, EXTENSION_ID
from mcp.types import (
    CallToolResult,
    ElicitationCapability,
    ElicitRequestFormParams,
    ElicitRequestURLParams,
    ElicitResult,
    FormElicitationCapability,
    UrlElicitationCapability,
)

from binance_spot_mcp.approval.card import APPROVAL_META_KEY, APPROVE_TOOL
from binance_spot_mcp.catalog.endpoints import Endpoint, ParamType, RuleKind, load_catalog
from binance_spot_mcp.catalog.order_types import order_type_problems
from binance_spot_mcp.config import load_settings
from binance_spot_mcp.server import Runtime, build_server
from tests.e2e_support import loopback_environ

PROFILES = ["none", "form", "url", "apps", "form+url"]
CATALOG = load_catalog()
CHANGING = [e for e in CATALOG.endpoints if e.changes_state]


def minimal_arguments(endpoint: Endpoint, account: str = "live") -> dict[str, Any]:
    """Schema-valid arguments built from the catalog: required parameters plus what rules demand."""

    def value(name: str) -> Any:
        param = endpoint.params[name]
        if param.type is ParamType.ENUM:
            return param.values[0]
        if param.type is ParamType.DECIMAL:
            return "1"
        if param.type is ParamType.INTEGER:
            return 1 if param.constraints.minimum is None else int(param.constraints.minimum)
        if param.type is ParamType.BOOLEAN:
            return False
        if param.type is ParamType.STRING_ARRAY:
            return ["BTCUSDT"]
        return "BTCUSDT" if name == "symbol" else f"{name}-1"

    args = {name: value(name) for name in endpoint.required}
    for rule in endpoint.rules:
        if rule.kind in (RuleKind.AT_LEAST_ONE, RuleKind.EXACTLY_ONE) and not any(p in args for p in rule.params):
            args[rule.params[0]] = value(rule.params[0])
    for name, _ in order_type_problems(endpoint.tool, {k: str(v) for k, v in args.items()}, endpoint.params):
        args.setdefault(name, value(name))  # what the order type needs (LIMIT: timeInForce, price)
    args["account"] = account
    return args
NO_FILTERS = {"BINANCE_SPOT_MCP_LOCAL_FILTERS": "0"}


def sends(world: Any) -> int:
    """State-changing requests that reached the fake exchange."""
    return sum(1 for r in world.exchange.requests if r.method != "GET")


@dataclass
class Human:
    """What the person at the host does when asked. ``action``: approve, decline, cancel, wrong_text,
    timeout (never answers) or ignore (opens the page but never decides)."""

    action: str = "approve"
    asked: list[str] = field(default_factory=list)
    pages: list[str] = field(default_factory=list)
    on_ask: Any = None  # called (no arguments) when a question arrives, before answering

    def typed(self) -> str:
        return "do NOT CONFIRM" if self.action == "wrong_text" else "CONFIRM"

    async def callback(self, ctx: Any, params: Any) -> ElicitResult:
        if self.on_ask is not None:
            self.on_ask()
        if isinstance(params, ElicitRequestFormParams):
            self.asked.append(params.message)
            if "account" in params.requested_schema.get("properties", {}):
                return ElicitResult(action="accept", content={"account": "live"})
            if self.action in ("decline", "cancel"):
                return ElicitResult(action=self.action)
            if self.action == "timeout":
                import anyio

                await anyio.sleep_forever()
            if self.action == "decline_with_text":
                return ElicitResult(action="decline", content={"confirm": "CONFIRM"})
            return ElicitResult(action="accept", content={"confirm": self.typed()})
        assert isinstance(params, ElicitRequestURLParams)
        self.pages.append(params.url)
        if self.action == "cancel":
            return ElicitResult(action="cancel")
        if self.action == "timeout":
            return ElicitResult(action="accept")  # opened, never decided
        page = await open_page(params.url)
        self.asked.append(page.preview)
        decision = "decline" if self.action in ("decline", "decline_with_text") else "approve"
        await page.submit(confirm=self.typed(), decision=decision)
        return ElicitResult(action="accept")

    async def use_card(self, client: Client, result: CallToolResult, *, confirm: str | None = None) -> CallToolResult:
        """Act on an MCP Apps card: what the card's own script would call."""
        creds = (result.meta or {})[APPROVAL_META_KEY]
        self.asked.append(result.structured_content["preview"])
        decision = "decline" if self.action in ("decline", "cancel") else "approve"
        return await client.call_tool(
            APPROVE_TOOL,
            {"approval_id": creds["approval_id"], "secret": creds["secret"], "decision": decision,
             "confirm": confirm if confirm is not None else self.typed()},
        )


@dataclass
class Page:
    url: str
    origin: str
    html: str
    csrf: str
    preview: str

    async def submit(self, *, confirm: str, decision: str = "approve", origin: str | None = None,
                     csrf: str | None = None) -> httpx.Response:
        headers = {"Origin": origin if origin is not None else self.origin}
        data = {"csrf": csrf if csrf is not None else self.csrf, "confirm": confirm, "decision": decision}
        async with httpx.AsyncClient() as http:
            return await http.post(self.url, data=data, headers=headers)


async def open_page(url: str) -> Page:
    async with httpx.AsyncClient() as http:
        response = await http.get(url)
    assert response.status_code == 200, response.text
    html = response.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', html)
    preview = re.search(r'<pre id="preview">(.*?)</pre>', html, re.S)
    assert csrf and preview
    origin = url.split("/approve/")[0]
    import html as html_module

    return Page(url, origin, html, csrf.group(1), html_module.unescape(preview.group(1)))


def _capabilities_for(profile: str, original: Any) -> Any:
    def patched(self: Any, version: str) -> Any:
        caps = original(self, version)
        form = FormElicitationCapability() if "form" in profile else None
        url = UrlElicitationCapability() if "url" in profile else None
        elicitation = ElicitationCapability(form=form, url=url) if (form or url) else None
        return caps.model_copy(update={"elicitation": elicitation})

    return patched


def runtime_for(world: Any, *, extra_env: dict[str, str] | None = None, **settings: Any) -> Runtime:
    environ = {**loopback_environ(world.base_url, world.tools_file.parent), **NO_FILTERS, **(extra_env or {})}
    loaded = load_settings(tools_file=str(world.tools_file), environ=environ)
    if settings:
        import dataclasses

        loaded = dataclasses.replace(loaded, **settings)
    return Runtime(settings=loaded)


@asynccontextmanager
async def host(runtime: Runtime, profile: str, mode: str, human: Human | None, monkeypatch: Any) -> AsyncIterator[Client]:
    """An MCP client declaring exactly ``profile``'s channels, answering as ``human``."""
    monkeypatch.setattr(
        client_session.ClientSession,
        "_build_capabilities",
        _capabilities_for(profile, client_session.ClientSession._build_capabilities),
    )
    kwargs: dict[str, Any] = {}
    if human is not None and profile not in ("none", "apps"):
        kwargs["elicitation_callback"] = human.callback
    if profile == "apps":
        kwargs["extensions"] = [advertise(EXTENSION_ID, {"mimeTypes": [APP_MIME_TYPE]})]
    async with Client(build_server(runtime), mode=mode, **kwargs) as client:
        yield client
