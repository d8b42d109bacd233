"""Streamable HTTP transport: the same MCP server, served over HTTP by uvicorn.

Three gates stand in front of every request (the SDK applies them in this order):

1. a static bearer token (``Authorization: Bearer ...``), compared in constant time -> 401;
2. the ``Host`` header must name the address the server is bound to (DNS-rebinding
   protection; loopback spellings and ``--allowed-host`` values are accepted) -> 421;
3. an ``Origin`` header, when present, must be one of those hosts -> 403.

Sessions are stateful, so a handshake-era client can be asked for CONFIRM in the middle of a
call; a modern-era client gets the question as an ``InputRequiredResult`` as over any transport.
Binding anything but a loopback address is the operator's explicit choice (``allow_remote``),
and TLS is then the job of a reverse proxy. The token is registered with the redactor, so no
log line can carry it; the CLI shows a generated token once, and an operator's token never.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import socket
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette

from binance_spot_mcp.config import HTTP_TOKEN_ENV, is_loopback_host
from binance_spot_mcp.errors import ConfigError
from binance_spot_mcp.server import Runtime, build_server

logger = logging.getLogger(__name__)

DEFAULT_HTTP_HOST = "127.0.0.1"
DEFAULT_HTTP_PORT = 8765
DEFAULT_HTTP_PATH = "/mcp"
GENERATED_TOKEN_BYTES = 32
HTTP_CLIENT_ID = "binance-spot-mcp-http"
# Open SSE streams would otherwise hold a shutdown forever.
GRACEFUL_SHUTDOWN_S = 5.0
_LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


def _host_for_url(host: str) -> str:
    """An address as it appears in a URL or a Host header (IPv6 in brackets)."""
    bare = host.strip("[]")
    return f"[{bare}]" if ":" in bare else bare


@dataclass(frozen=True)
class HttpOptions:
    """Where and how to listen; ``check()`` refuses a non-loopback bind without ``allow_remote``."""

    host: str = DEFAULT_HTTP_HOST
    port: int = DEFAULT_HTTP_PORT
    path: str = DEFAULT_HTTP_PATH
    allow_remote: bool = False
    allowed_hosts: tuple[str, ...] = ()

    @property
    def remote(self) -> bool:
        return not is_loopback_host(self.host)

    def check(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"--port must be between 0 and 65535 (0 picks a free port), not {self.port}")
        if not self.path.startswith("/") or any(c in self.path for c in "?# "):
            raise ConfigError(f"--path must be a URL path starting with '/', not {self.path!r}")
        for value in self.allowed_hosts:
            if not value or any(c in value for c in "/ @"):
                raise ConfigError(f"--allowed-host takes host[:port] as a Host header carries it, not {value!r}")
        if self.remote and not self.allow_remote:
            raise ConfigError(
                f"refusing to listen on {self.host}, which is not a loopback address: anyone who can reach it "
                "could try the token. Add --allow-remote to do it anyway (behind a TLS reverse proxy), "
                "or use --host 127.0.0.1"
            )


def accepted_hosts(host: str, port: int, extra: Sequence[str] = ()) -> list[str]:
    """``Host`` header values the server answers to: the bound address (every loopback spelling
    when it is loopback) with its port, plus each ``extra`` value as given and with the port."""
    names = list(_LOOPBACK_NAMES) if is_loopback_host(host) else [_host_for_url(host)]
    hosts = [f"{name}:{port}" for name in names]
    for value in extra:
        hosts.append(value)
        if not value.endswith("]") and ":" not in value.rsplit("]", 1)[-1]:
            hosts.append(f"{value}:{port}")
    return list(dict.fromkeys(hosts))


def transport_security(host: str, port: int, extra: Sequence[str] = ()) -> TransportSecuritySettings:
    """DNS-rebinding protection for the bound address: exact hosts, and origins on those hosts."""
    hosts = accepted_hosts(host, port, extra)
    origins = [f"{scheme}://{h}" for h in hosts for scheme in ("http", "https")]
    return TransportSecuritySettings(enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins)


class StaticTokenVerifier:
    """The SDK's ``TokenVerifier`` for one shared bearer token, compared in constant time."""

    def __init__(self, token: str) -> None:
        self._expected = token.encode()

    async def verify_token(self, token: str) -> AccessToken | None:
        # the whole token, in constant time: a prefix, an extension or an empty token is refused
        if not hmac.compare_digest(token.encode(), self._expected):
            return None
        # The request context never needs the token itself, so it does not carry it.
        return AccessToken(token="static-bearer", client_id=HTTP_CLIENT_ID, scopes=[])

    def __repr__(self) -> str:
        return "StaticTokenVerifier(token hidden)"


def resolve_token(configured: str | None) -> tuple[str, bool]:
    """The token to require and whether it was generated here (the operator's one otherwise)."""
    if configured:
        return configured, False
    return secrets.token_urlsafe(GENERATED_TOKEN_BYTES), True


def build_http_app(
    runtime: Runtime, *, host: str, port: int, path: str = DEFAULT_HTTP_PATH, token: str, allowed_hosts: Sequence[str] = ()
) -> Starlette:
    """The ASGI app serving ``build_server(runtime)`` at ``path``. ``port`` is the bound port (the
    Host check needs it). The runtime is closed when the app's lifespan ends."""
    runtime.redactor.add_opaque(token)
    server = build_server(runtime)
    base = f"http://{_host_for_url(host)}:{port}"
    app = server.streamable_http_app(
        streamable_http_path=path,
        stateless_http=False,  # handshake-era CONFIRM prompts are server->client requests in a session
        json_response=False,
        transport_security=transport_security(host, port, allowed_hosts),
        host=host,
        # Resource-server mode without metadata: a static token has no authorization server to advertise.
        auth=AuthSettings(issuer_url=base, resource_server_url=None),
        token_verifier=StaticTokenVerifier(token),
    )
    sessions = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[Any]:
        try:
            async with sessions(app) as state:
                yield state
        finally:
            await runtime.aclose()

    app.router.lifespan_context = lifespan
    return app


SOCKET_BACKLOG = 2048  # uvicorn's default


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening-ready TCP socket on ``host:port`` (port 0: a free one). Raises ``OSError``."""
    family, _, _, _, address = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)[0]
    # IPPROTO_TCP so asyncio sets TCP_NODELAY on accepted connections
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        # listening before the URL is announced: a client that connects at once waits in the
        # backlog until uvicorn accepts, instead of being refused
        sock.listen(SOCKET_BACKLOG)
    except OSError:
        sock.close()
        raise
    return sock


def bound_port(sock: socket.socket) -> int:
    return int(sock.getsockname()[1])


def endpoint_url(host: str, port: int, path: str) -> str:
    return f"http://{_host_for_url(host)}:{port}{path}"


def uvicorn_server(app: Starlette) -> uvicorn.Server:
    """uvicorn for ``app``, logging through the root logger (and so through the redacting filter)."""
    config = uvicorn.Config(
        app,
        log_config=None,
        lifespan="on",
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
        server_header=False,
    )
    return uvicorn.Server(config)


async def serve_http(runtime: Runtime, sock: socket.socket, options: HttpOptions, token: str) -> None:
    """Serve until interrupted on an already bound socket; the runtime is closed when the app stops."""
    app = build_http_app(
        runtime,
        host=options.host,
        port=bound_port(sock),
        path=options.path,
        token=token,
        allowed_hosts=options.allowed_hosts,
    )
    await uvicorn_server(app).serve(sockets=[sock])  # the app's lifespan closes the runtime


def startup_notice(options: HttpOptions, port: int, token: str, generated: bool) -> str:
    """What the CLI tells the operator on stderr: the URL, how to authenticate, and warnings.
    A generated token is shown here, once; an operator's own token never is."""
    lines = [f"binance-spot-mcp: streamable HTTP on {endpoint_url(options.host, port, options.path)}"]
    if generated:
        lines += [
            f"  bearer token (generated for this run, shown once): {token}",
            f"  send it as:  Authorization: Bearer <token>   (set {HTTP_TOKEN_ENV} to choose your own)",
        ]
    else:
        lines.append(f"  bearer token: taken from {HTTP_TOKEN_ENV}; send it as:  Authorization: Bearer <token>")
    if options.remote:
        hosts = ", ".join(accepted_hosts(options.host, port, options.allowed_hosts))
        lines += [
            f"warning: listening on {options.host}, beyond this machine. This server speaks plain HTTP: "
            "put a TLS-terminating reverse proxy in front of it.",
            f"warning: accepted Host headers: {hosts} (add the proxy's public name with --allowed-host)",
        ]
    return "\n".join(lines) + "\n"
