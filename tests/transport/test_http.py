"""Streamable HTTP: the real app under uvicorn on 127.0.0.1, driven by the SDK's own HTTP client.

The three gates (bearer token, Host, Origin), tools over HTTP in both protocol eras, CONFIRM over
HTTP (pushed mid-call in the handshake era, returned as a question in the modern era), and the
console script: loopback only unless told otherwise, and a generated token shown once on stderr.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import ElicitRequestFormParams, ElicitResult
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from binance_spot_mcp.cli.commands import main
from binance_spot_mcp.config import HTTP_TOKEN_ENV, load_settings
from binance_spot_mcp.errors import ConfigError
from binance_spot_mcp.server import Runtime
from binance_spot_mcp.transport.http import (
    HttpOptions,
    StaticTokenVerifier,
    bind_socket,
    bound_port,
    build_http_app,
    startup_notice,
    transport_security,
    uvicorn_server,
)
from tests.e2e_support import ERAS, World, console_script, loopback_environ, result_json, transcript

STARTUP_TIMEOUT_S = 15.0
SHUTDOWN_TIMEOUT_S = 15.0
TOKEN = "test-token-" + "x" * 24
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}},
}
MCP_HEADERS = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}


@dataclass
class Served:
    url: str
    port: int
    runtime: Runtime
    closes: list[str]


@contextmanager
def serving(
    world: World, token: str = TOKEN, allowed_hosts: tuple[str, ...] = (), extra_env: dict[str, str] | None = None
) -> Iterator[Served]:
    """The production app and uvicorn config, in a thread, on an ephemeral loopback port."""
    environ = {**loopback_environ(world.base_url, world.tools_file.parent), **(extra_env or {})}
    runtime = Runtime(settings=load_settings(tools_file=str(world.tools_file), environ=environ))
    closes: list[str] = []
    real_aclose = runtime.aclose

    async def counting_aclose() -> None:
        closes.append("closed")
        await real_aclose()

    runtime.aclose = counting_aclose  # type: ignore[method-assign]
    sock = bind_socket("127.0.0.1", 0)
    port = bound_port(sock)
    app = build_http_app(runtime, host="127.0.0.1", port=port, path="/mcp", token=token, allowed_hosts=allowed_hosts)
    server = uvicorn_server(app)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="mcp-http", daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the HTTP server did not start"
        time.sleep(0.01)
    try:
        yield Served(f"http://127.0.0.1:{port}/mcp", port, runtime, closes)
    finally:
        server.should_exit = True
        thread.join(SHUTDOWN_TIMEOUT_S)
        sock.close()
        assert not thread.is_alive(), "the HTTP server did not stop"


@asynccontextmanager
async def http_client(url: str, token: str, mode: str, **kwargs: Any) -> AsyncIterator[Client]:
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30.0, read=120.0)) as http:
        async with Client(streamable_http_client(url, http_client=http), mode=mode, **kwargs) as client:
            yield client


def _post(url: str, headers: dict[str, str]) -> httpx.Response:
    with httpx.Client(timeout=10.0) as http:
        return http.post(url, json=INITIALIZE, headers={**MCP_HEADERS, **headers})


def _sends(world: World) -> int:
    return sum(1 for r in world.exchange.requests if r.method != "GET")


# -- the gates ------------------------------------------------------------------------------


def test_requests_without_the_right_token_get_401(world):
    with serving(world) as served:
        missing = _post(served.url, {})
        wrong = _post(served.url, {"Authorization": "Bearer " + TOKEN[:-1] + "y"})
        not_bearer = _post(served.url, {"Authorization": f"Basic {TOKEN}"})
        good = _post(served.url, {"Authorization": f"Bearer {TOKEN}"})
    assert [missing.status_code, wrong.status_code, not_bearer.status_code] == [401, 401, 401]
    assert missing.headers["www-authenticate"].startswith("Bearer ")
    assert good.status_code == 200 and "binance-spot-mcp" in good.text
    for response in (missing, wrong, not_bearer):
        assert TOKEN not in response.text and TOKEN not in str(response.headers)
    assert served.closes == ["closed"]  # the runtime is closed when the server stops


def test_dns_rebinding_protection(world):
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with serving(world, allowed_hosts=("mcp.example.org",)) as served:
        port = served.port
        bad_host = _post(served.url, {**auth, "Host": f"evil.example:{port}"})
        wrong_port = _post(served.url, {**auth, "Host": f"127.0.0.1:{port + 1}"})
        bad_origin = _post(served.url, {**auth, "Origin": "http://evil.example"})
        rebound_origin = _post(served.url, {**auth, "Origin": f"http://attacker.test:{port}"})
        accepted = [
            _post(served.url, {**auth, "Host": f"localhost:{port}", "Origin": f"http://localhost:{port}"}),
            _post(served.url, {**auth, "Host": f"[::1]:{port}"}),
            _post(served.url, {**auth, "Origin": f"http://127.0.0.1:{port}"}),
            _post(served.url, {**auth, "Host": "mcp.example.org", "Origin": "https://mcp.example.org"}),
        ]
    assert bad_host.status_code == 421 and wrong_port.status_code == 421
    assert bad_origin.status_code == 403 and rebound_origin.status_code == 403
    assert [r.status_code for r in accepted] == [200, 200, 200, 200]


# -- tools over HTTP --------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ERAS)
async def test_public_and_signed_tools_over_http(world, mode):
    seen: list[Any] = []
    with serving(world) as served:
        async with http_client(served.url, TOKEN, mode) as client:
            assert (client.protocol_version in MODERN_PROTOCOL_VERSIONS) == (mode == "auto")
            tools = await client.list_tools()
            seen.append(tools)
            names = {t.name for t in tools.tools}
            assert {"get_ticker_price", "get_account", "place_order"} <= names
            price = await client.call_tool("get_ticker_price", {"symbol": "BTCUSDT"})
            account = await client.call_tool("get_account", {"account": "main"})
            seen += [price, account]
    assert not price.is_error and result_json(price)["symbol"] == "BTCUSDT"
    assert not account.is_error and "balances" in result_json(account)
    assert world.exchange.requests_to("/api/v3/account")
    text = transcript(seen)
    for secret in [*world.keys.sensitive(), TOKEN]:
        assert secret not in text


def _order(qty: str) -> dict[str, str]:
    return {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": qty, "account": "live"}


async def _quantity(client: Client) -> str:
    """A market-order quantity a few times the minimum notional, read through the tools."""
    info = result_json(await client.call_tool("get_exchange_info", {"symbol": "BTCUSDT", "account": "live"}))
    filters = {f["filterType"]: f for f in info["symbols"][0]["filters"]}
    step = Decimal(filters["LOT_SIZE"]["stepSize"])
    notional = Decimal(filters.get("NOTIONAL", filters.get("MIN_NOTIONAL", {})).get("minNotional", "10"))
    price = Decimal(result_json(await client.call_tool("get_ticker_price", {"symbol": "BTCUSDT"}))["price"])
    return str(((notional * 3 / price) / step).to_integral_value() * step + step)


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ERAS)
async def test_confirm_over_http_on_a_mainnet_account(world, mode):
    prompts: list[str] = []
    answers = iter([ElicitResult(action="decline"), ElicitResult(action="accept", content={"confirm": "CONFIRM"})])

    async def human(ctx: Any, params: Any) -> ElicitResult:
        assert isinstance(params, ElicitRequestFormParams)
        prompts.append(params.message)
        return next(answers)

    seen: list[Any] = []
    with serving(world) as served:
        async with http_client(served.url, TOKEN, mode, elicitation_callback=human) as client:
            # legacy: the prompt is pushed mid-call over the session; auto: returned as a question
            assert (client.protocol_version in MODERN_PROTOCOL_VERSIONS) == (mode == "auto")
            qty = await _quantity(client)
            orders_before, sends_before = len(world.exchange.orders_placed("BTCUSDT")), _sends(world)

            declined = await client.call_tool("place_order", _order(qty))
            seen.append(declined)
            assert declined.is_error and result_json(declined)["error"] == "not_confirmed"
            assert len(world.exchange.orders_placed("BTCUSDT")) == orders_before
            assert _sends(world) == sends_before

            confirmed = await client.call_tool("place_order", _order(qty))
            seen.append(confirmed)
    assert not confirmed.is_error, confirmed
    assert result_json(confirmed)["status"] == "FILLED"
    assert len(world.exchange.orders_placed("BTCUSDT")) == orders_before + 1
    assert _sends(world) == sends_before + 1
    assert len(prompts) == 2 and all("MAINNET" in p and "BTCUSDT" in p for p in prompts)
    text = transcript(seen) + "\n".join(prompts)
    for secret in world.keys.sensitive():
        assert secret not in text


@pytest.mark.anyio
async def test_a_chat_token_from_one_http_session_is_refused_in_another(world):
    """Chat approval is opt-in; even then, a token is bound to the HTTP session it was issued in."""
    args = {"symbol": "BTCUSDT", "account": "live"}
    with serving(world, extra_env={"BINANCE_SPOT_MCP_ALLOW_CHAT_CONFIRM": "1"}) as served:
        async with http_client(served.url, TOKEN, "legacy") as first, http_client(served.url, TOKEN, "legacy") as second:
            token = result_json(await first.call_tool("cancel_open_orders", args))["confirmation_token"]
            stolen = await second.call_tool("cancel_open_orders", {**args, "confirm": "CONFIRM", "confirmation_token": token})
            assert result_json(stolen)["error"] == "not_confirmed" and _sends(world) == 0
            own = await first.call_tool("cancel_open_orders", {**args, "confirm": "CONFIRM", "confirmation_token": token})
    assert result_json(own).get("error") != "not_confirmed" and _sends(world) == 1


# -- options and the command line -------------------------------------------------------------


def test_options_refuse_a_non_loopback_bind_unless_allowed():
    for host in ("127.0.0.1", "localhost", "::1", "127.0.0.2"):
        HttpOptions(host=host).check()
    with pytest.raises(ConfigError, match="--allow-remote"):
        HttpOptions(host="0.0.0.0").check()
    with pytest.raises(ConfigError, match="--allow-remote"):
        HttpOptions(host="192.168.1.5").check()
    HttpOptions(host="0.0.0.0", allow_remote=True).check()
    with pytest.raises(ConfigError, match="--path"):
        HttpOptions(path="mcp").check()
    with pytest.raises(ConfigError, match="--allowed-host"):
        HttpOptions(allowed_hosts=("https://proxy.example",)).check()


def test_allowed_hosts_and_origins():
    local = transport_security("127.0.0.1", 8765)
    assert local.enable_dns_rebinding_protection
    assert local.allowed_hosts == ["127.0.0.1:8765", "localhost:8765", "[::1]:8765"]
    assert "http://localhost:8765" in local.allowed_origins and "http://evil.example" not in local.allowed_origins
    remote = transport_security("10.0.0.7", 9000, ["mcp.example.org"])
    assert remote.allowed_hosts == ["10.0.0.7:9000", "mcp.example.org", "mcp.example.org:9000"]
    assert "https://mcp.example.org" in remote.allowed_origins


def test_the_notice_shows_a_generated_token_once_and_an_env_token_never():
    options = HttpOptions(port=0)
    generated = startup_notice(options, 4321, TOKEN, True)
    assert generated.count(TOKEN) == 1 and "http://127.0.0.1:4321/mcp" in generated
    assert "Authorization: Bearer" in generated
    from_env = startup_notice(options, 4321, TOKEN, False)
    assert TOKEN not in from_env and HTTP_TOKEN_ENV in from_env
    remote = startup_notice(HttpOptions(host="0.0.0.0", allow_remote=True), 4321, TOKEN, False)
    assert "TLS" in remote and "0.0.0.0:4321" in remote
    assert TOKEN not in repr(StaticTokenVerifier(TOKEN))


def test_cli_refuses_a_non_loopback_host_without_allow_remote(tmp_path, capsys):
    code = main(["--tools-file", str(tmp_path / "TOOLS.md"), "serve", "--http", "--host", "0.0.0.0", "--port", "0"])
    err = capsys.readouterr().err
    assert code == 2 and "--allow-remote" in err and "not a loopback address" in err


def test_cli_refuses_http_flags_without_http(tmp_path, capsys):
    assert main(["--tools-file", str(tmp_path / "TOOLS.md"), "serve", "--port", "9000"]) == 2
    assert "--http" in capsys.readouterr().err


def test_cli_refuses_a_short_token_from_the_environment(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv(HTTP_TOKEN_ENV, "short-token")
    assert main(["--tools-file", str(tmp_path / "TOOLS.md"), "serve", "--http", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert HTTP_TOKEN_ENV in err and "too short" in err and "short-token" not in err
    # the token only matters to HTTP: stdio tools and doctor still start
    assert main(["--tools-file", str(tmp_path / "TOOLS.md"), "tools"]) == 0
    assert "too short" not in capsys.readouterr().err


class LineLog:
    """Lines a subprocess writes to stderr, collected by a thread; waits are bounded."""

    def __init__(self, stream: Any) -> None:
        self._lines: list[str] = []
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: Any) -> None:
        for line in stream:
            with self._changed:
                self._lines.append(line)
                self._changed.notify_all()

    def value_after(self, marker: str, timeout: float = STARTUP_TIMEOUT_S) -> str:
        """The rest of the first line containing ``marker``; waits for it up to ``timeout``."""

        def found() -> str | None:
            return next((line.split(marker, 1)[1].strip() for line in self._lines if marker in line), None)

        with self._changed:
            assert self._changed.wait_for(lambda: found() is not None or not self._thread.is_alive(), timeout)
            value = found()
        assert value is not None, f"no {marker!r} on stderr: {self.text()}"
        return value

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    def text(self) -> str:
        with self._changed:
            return "".join(self._lines)


@contextmanager
def console_http(world: World, extra_env: dict[str, str]) -> Iterator[tuple[str, LineLog, subprocess.Popen[str]]]:
    """``binance-spot-mcp serve --http --port 0`` as a subprocess; yields its URL, stderr lines, process."""
    cwd = world.tools_file.parent
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(cwd), "PYTHONUNBUFFERED": "1",
           "BINANCE_SPOT_MCP_LOG_LEVEL": "DEBUG", **loopback_environ(world.base_url, cwd), **extra_env}
    args = [console_script(), "--tools-file", str(world.tools_file), "serve", "--http", "--port", "0"]
    proc = subprocess.Popen(args, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    log = LineLog(proc.stderr)
    try:
        yield log.value_after("streamable HTTP on "), log, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        proc.wait(SHUTDOWN_TIMEOUT_S)
        log.join(SHUTDOWN_TIMEOUT_S)


@pytest.mark.anyio
@pytest.mark.parametrize("source", ["generated", "environment"])
async def test_console_script_serves_http_and_shows_only_a_generated_token(world, source):
    extra = {HTTP_TOKEN_ENV: TOKEN} if source == "environment" else {}
    seen: list[Any] = []
    with console_http(world, extra) as (url, log, proc):
        assert url.startswith("http://127.0.0.1:") and url.endswith("/mcp")
        token = TOKEN if source == "environment" else log.value_after("shown once): ")
        async with http_client(url, token, "legacy") as client:
            seen.append(await client.list_tools())
            seen.append(await client.call_tool("get_account", {"account": "main"}))
        assert not seen[-1].is_error
        assert _post(url, {}).status_code == 401
    stdout = proc.stdout.read() if proc.stdout else ""
    stderr = log.text()
    assert stdout == ""  # stdout is never used by the HTTP server either
    assert stderr.count(token) == (1 if source == "generated" else 0), stderr
    if source == "environment":
        assert f"taken from {HTTP_TOKEN_ENV}" in stderr
    text = transcript(seen) + stderr
    assert token not in transcript(seen)
    for secret in world.keys.sensitive():
        assert secret not in text
