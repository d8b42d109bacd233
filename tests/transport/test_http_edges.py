"""The HTTP transport at its edges: option bounds, accepted Host values, IPv6 addresses in URLs, the
operator's notice word for word, the socket and uvicorn settings, and ``serve_http`` itself in-process
(the mutation run of ``transport.http`` asked for these)."""

from __future__ import annotations

import logging
import socket
import threading
import time

import anyio
import httpx
import pytest
from binance_spot_mcp.config import HTTP_TOKEN_ENV, load_settings
from binance_spot_mcp.errors import ConfigError
from binance_spot_mcp.server import Runtime
from binance_spot_mcp.transport import http as transport
from binance_spot_mcp.transport.http import (
    GRACEFUL_SHUTDOWN_S,
    HttpOptions,
    StaticTokenVerifier,
    accepted_hosts,
    bind_socket,
    bound_port,
    endpoint_url,
    resolve_token,
    startup_notice,
    uvicorn_server,
)

from tests.e2e_support import loopback_environ
from tests.transport.test_http import INITIALIZE, MCP_HEADERS, TOKEN, _post, serving

WAIT_S = 15.0


# ------------------------------------------------------------------------------------ options
@pytest.mark.parametrize("port", [0, 1, 65535])
def test_every_tcp_port_is_accepted(port):
    HttpOptions(port=port).check()


@pytest.mark.parametrize("port", [-1, 65536])
def test_a_port_outside_tcp_is_refused_with_its_range(port):
    with pytest.raises(ConfigError) as caught:
        HttpOptions(port=port).check()
    assert caught.value.message == f"--port must be between 0 and 65535 (0 picks a free port), not {port}"


def test_paths_and_allowed_hosts_refuse_only_what_cannot_be_one():
    for path in ("/mcp", "/X", "/a-b/c"):
        HttpOptions(path=path).check()
    for path in ("/a?b", "/a#b", "/a b", "mcp"):
        with pytest.raises(ConfigError, match="--path must be a URL path"):
            HttpOptions(path=path).check()
    HttpOptions(allowed_hosts=("mcp.example.org", "Xproxy.lan:8443", "[::2]")).check()
    for value in ("", "a/b", "a b", "user@host"):
        with pytest.raises(ConfigError, match="--allowed-host takes host"):
            HttpOptions(allowed_hosts=(value,)).check()


def test_a_remote_bind_is_refused_with_what_to_do():
    with pytest.raises(ConfigError) as caught:
        HttpOptions(host="0.0.0.0").check()
    assert caught.value.message == (
        "refusing to listen on 0.0.0.0, which is not a loopback address: anyone who can reach it could try the "
        "token. Add --allow-remote to do it anyway (behind a TLS reverse proxy), or use --host 127.0.0.1"
    )


def test_extra_hosts_get_the_port_only_when_they_have_none():
    got = accepted_hosts("10.0.0.7", 9000, ["proxy.example", "proxy.example:443", "[::2]", "[::3]:8443", "Xeon.lan"])
    assert got == ["10.0.0.7:9000", "proxy.example", "proxy.example:9000", "proxy.example:443", "[::2]", "[::3]:8443",
                   "Xeon.lan", "Xeon.lan:9000"]


@pytest.mark.parametrize(("host", "url"), [
    ("127.0.0.1", "http://127.0.0.1:8765/mcp"),
    ("::1", "http://[::1]:8765/mcp"),
    ("[::1]", "http://[::1]:8765/mcp"),
    ("Xeon.lan", "http://Xeon.lan:8765/mcp"),
])
def test_urls_put_ipv6_addresses_in_brackets(host, url):
    assert endpoint_url(host, 8765, "/mcp") == url


def test_a_remote_ipv6_bind_is_accepted_with_its_brackets():
    assert accepted_hosts("2001:db8::5", 9000) == ["[2001:db8::5]:9000"]


# ------------------------------------------------------------------------------------- tokens
def test_the_operators_token_is_used_as_given_and_a_new_one_is_marked_generated():
    assert resolve_token(TOKEN) == (TOKEN, False)
    token, generated = resolve_token(None)
    assert generated is True and len(token) >= 43 and token != resolve_token("")[0]


def test_the_verifier_says_the_token_is_hidden():
    assert repr(StaticTokenVerifier(TOKEN)) == "StaticTokenVerifier(token hidden)"


# ------------------------------------------------------------------------------------- notice
def test_the_remote_notice_word_for_word():
    options = HttpOptions(host="0.0.0.0", port=0, allow_remote=True, allowed_hosts=("proxy.example",))
    assert startup_notice(options, 4321, TOKEN, False) == (
        "binance-spot-mcp: streamable HTTP on http://0.0.0.0:4321/mcp\n"
        f"  bearer token: taken from {HTTP_TOKEN_ENV}; send it as:  Authorization: Bearer <token>\n"
        "warning: listening on 0.0.0.0, beyond this machine. This server speaks plain HTTP: put a TLS-terminating "
        "reverse proxy in front of it.\n"
        "warning: accepted Host headers: 0.0.0.0:4321, proxy.example, proxy.example:4321 (add the proxy's public "
        "name with --allowed-host)\n"
    )


# ------------------------------------------------------------------------------ socket, uvicorn
def test_the_socket_is_bound_to_the_port_asked_for_and_speaks_tcp():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sock = bind_socket("127.0.0.1", port)
    try:
        assert bound_port(sock) == port
        # asyncio sets TCP_NODELAY on accepted connections only for a socket made with IPPROTO_TCP
        assert sock.proto == socket.IPPROTO_TCP
    finally:
        sock.close()


def test_an_ipv6_address_in_brackets_can_be_bound():
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError as exc:  # IPv6 present but ::1 not configured
        pytest.skip(f"::1 cannot be bound here: {exc}")
    sock = bind_socket("[::1]", 0)
    try:
        assert sock.family == socket.AF_INET6 and bound_port(sock) > 0
    finally:
        sock.close()


def test_uvicorn_logs_through_the_root_logger_and_stops_waiting_for_open_streams():
    names = ("uvicorn", "uvicorn.error", "uvicorn.access")
    before = {name: (list(logging.getLogger(name).handlers), logging.getLogger(name).propagate) for name in names}
    server = uvicorn_server(transport.Starlette())
    assert server.config.timeout_graceful_shutdown == GRACEFUL_SHUTDOWN_S
    # uvicorn installs no handlers of its own: its lines go where the server's logging sends them
    # (through the redacting filter)
    after = {name: (list(logging.getLogger(name).handlers), logging.getLogger(name).propagate) for name in names}
    assert after == before


def test_responses_do_not_name_the_server_software(world):
    with serving(world) as served:
        response = _post(served.url, {"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200 and "server" not in response.headers


# --------------------------------------------------------------------------- serve_http in-process
def test_serve_http_serves_the_options_path_hosts_and_token_then_closes_the_runtime(world, monkeypatch):
    environ = loopback_environ(world.base_url, world.tools_file.parent)
    runtime = Runtime(settings=load_settings(tools_file=str(world.tools_file), environ=environ))
    closed: list[str] = []
    real_aclose = runtime.aclose

    async def counting_aclose() -> None:
        closed.append("closed")
        await real_aclose()

    runtime.aclose = counting_aclose  # type: ignore[method-assign]
    servers = []
    real_server = transport.uvicorn_server

    def recording(app):
        servers.append(real_server(app))
        return servers[-1]

    monkeypatch.setattr(transport, "uvicorn_server", recording)
    sock = bind_socket("127.0.0.1", 0)
    port = bound_port(sock)
    options = HttpOptions(port=port, path="/other", allowed_hosts=("proxy.example",))
    thread = threading.Thread(target=lambda: anyio.run(transport.serve_http, runtime, sock, options, TOKEN), daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + WAIT_S
        while not (servers and servers[0].started):
            assert thread.is_alive() and time.monotonic() < deadline, "serve_http did not start"
            time.sleep(0.01)
        url = f"http://127.0.0.1:{port}/other"
        auth = {"Authorization": f"Bearer {TOKEN}"}
        with httpx.Client(timeout=10.0) as http:
            statuses = [
                http.post(url, json=INITIALIZE, headers={**MCP_HEADERS, **auth}).status_code,
                http.post(url, json=INITIALIZE, headers={**MCP_HEADERS, **auth, "Host": "proxy.example"}).status_code,
                http.post(url, json=INITIALIZE, headers={**MCP_HEADERS, "Authorization": "Bearer x"}).status_code,
                http.post(f"http://127.0.0.1:{port}/mcp", json=INITIALIZE, headers={**MCP_HEADERS, **auth}).status_code,
            ]
    finally:
        if servers:
            servers[0].should_exit = True
        thread.join(WAIT_S)
        sock.close()
    assert not thread.is_alive(), "serve_http did not stop"
    assert statuses == [200, 200, 401, 404]
    assert closed == ["closed"]  # the app's lifespan closed the runtime
