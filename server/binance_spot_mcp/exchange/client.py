"""The HTTP side: one pooled async client that builds, signs and sends Binance requests.

Wire rules (rest-api.md, "SIGNED Endpoint Examples"):

* every name and value is percent-encoded as UTF-8 per RFC 3986 (only ``A-Z a-z 0-9 - _ . ~``
  stay as they are) *before* signing, and exactly the signed bytes are sent;
* GET and DELETE carry the parameters in the query string, POST and PUT in an
  ``application/x-www-form-urlencoded`` body; the signature payload is query + body;
* signed requests add ``timestamp`` (ms) and then ``signature``, and send ``X-MBX-APIKEY``.

Keys only ever travel to URLs that ``config.base_url_problem`` accepts (invariant 3).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote

import anyio
import httpx

from binance_spot_mcp.catalog.endpoints import Endpoint
from binance_spot_mcp.config import (
    DEFAULT_CONNECT_TIMEOUT_S,
    DEFAULT_HTTP_TIMEOUT_S,
    MAX_CONNECTIONS,
    MAX_KEEPALIVE_CONNECTIONS,
    base_url_problem,
)
from binance_spot_mcp.errors import ExchangeError, PolicyError, TransportError, hint_for
from binance_spot_mcp.exchange.limits import RateLimiter
from binance_spot_mcp.exchange.signing import Signer

logger = logging.getLogger(__name__)

API_KEY_HEADER = "X-MBX-APIKEY"
SERVER_TIME_PATH = "/api/v3/time"
TIMESTAMP_ERROR = -1021
# Replies after which a read is simply tried again (errors.md: unknown/busy/timeout on Binance's side).
RETRYABLE_READ_CODES = frozenset({-1000, -1001, -1006, -1007, -1008})
READ_RETRY_DELAYS_S = (0.25, 1.0)
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
BODY_METHODS = frozenset({"POST", "PUT"})


def user_agent(skill_version: str) -> str:
    return f"binance-spot/{skill_version} (Skill)"


def encode_params(params: Sequence[tuple[str, str]]) -> str:
    """``k=v&k2=v2`` with RFC 3986 percent-encoding of names and values."""
    return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in params)


@dataclass(frozen=True)
class PreparedRequest:
    method: str
    url: str
    body: bytes | None
    headers: dict[str, str]
    signed_payload: bytes | None = None

    def __repr__(self) -> str:  # headers hold the API key: never print them
        return f"PreparedRequest({self.method} {self.url.split('?')[0]})"


@dataclass(frozen=True)
class Reply:
    status: int
    headers: httpx.Headers
    data: Any


class Credentials(Protocol):
    """What signing a request takes from an account: its API key and its signer. The accounts
    wing's ``Account`` has both; this wing never imports it (accounts sit above the exchange)."""

    @property
    def api_key(self) -> str: ...

    @property
    def signer(self) -> Signer: ...


def prepare_request(
    endpoint: Endpoint,
    params: Sequence[tuple[str, str]],
    *,
    base_url: str,
    account: Credentials | None,
    now_ms: int,
) -> PreparedRequest:
    """Build the exact request: encoded parameters, timestamp and signature for signed endpoints."""
    problem = base_url_problem(base_url)
    if problem:
        raise PolicyError(f"refusing to send to {base_url}: {problem}")
    headers: dict[str, str] = {}
    payload = encode_params(params)
    signed_payload = None
    if endpoint.signed:
        if account is None:
            raise PolicyError(f"{endpoint.tool} is a signed endpoint and needs an account")
        payload = f"{payload}&timestamp={now_ms}" if payload else f"timestamp={now_ms}"
        signed_payload = payload.encode("ascii")
        signature = account.signer.sign(signed_payload)
        payload = f"{payload}&signature={quote(signature, safe='')}"
        headers[API_KEY_HEADER] = account.api_key
    url = f"{base_url}{endpoint.path}"
    body = None
    if endpoint.method in BODY_METHODS:
        body = payload.encode("ascii")
        headers["Content-Type"] = FORM_CONTENT_TYPE
    elif payload:
        url = f"{url}?{payload}"
    return PreparedRequest(endpoint.method, url, body, headers, signed_payload)


def _decode(response: httpx.Response) -> Any:
    if not response.content:
        return {}
    try:
        return json.loads(response.content, parse_float=str, parse_int=int)
    except ValueError:
        return None


def midpoint_offset_ms(server_ms: int, sent_ms: int, received_ms: int) -> int:
    """Binance's clock minus ours, taking the server's time as read half-way through the round trip."""
    return server_ms - (sent_ms + received_ms) // 2


class BinanceClient:
    """One ``httpx.AsyncClient`` for the whole process, reused across calls and accounts."""

    def __init__(
        self,
        *,
        skill_version: str,
        timeout_s: float = DEFAULT_HTTP_TIMEOUT_S,
        transport: httpx.AsyncBaseTransport | None = None,
        clock_ms: Callable[[], int] | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        # Made on first use: building its TLS context (the CA bundle) is a good share of a cold
        # start, and a host waits for tools/list, not for the first request to Binance.
        self._http_options: dict[str, Any] = {
            "timeout": httpx.Timeout(timeout_s, connect=DEFAULT_CONNECT_TIMEOUT_S),
            "limits": httpx.Limits(max_connections=MAX_CONNECTIONS, max_keepalive_connections=MAX_KEEPALIVE_CONNECTIONS),
            "headers": {"User-Agent": user_agent(skill_version), "Accept": "application/json"},
            "transport": transport,
            "follow_redirects": False,
            "trust_env": False,
        }
        self._http_client: httpx.AsyncClient | None = None
        self._closed = False
        self._clock_ms = clock_ms or (lambda: int(time.time() * 1000))
        self._offsets_ms: dict[str, int] = {}
        self.limiter = limiter or RateLimiter()
        self.read_retry_delays_s: tuple[float, ...] = READ_RETRY_DELAYS_S

    @property
    def _http(self) -> httpx.AsyncClient:
        if self._http_client is None:
            if self._closed:
                raise RuntimeError("the Binance client is closed")
            self._http_client = httpx.AsyncClient(**self._http_options)
        return self._http_client

    async def aclose(self) -> None:
        self._closed = True
        if self._http_client is not None:
            await self._http_client.aclose()

    def clock_offset_ms(self, base_url: str) -> int:
        """Binance's clock minus ours, as last measured for this base URL (0 until measured)."""
        return self._offsets_ms.get(base_url, 0)

    async def sync_clock(self, base_url: str) -> int:
        """Measure the offset to Binance's server time (GET /api/v3/time) and keep it."""
        before = self._clock_ms()
        try:
            response = await self._http.get(f"{base_url}{SERVER_TIME_PATH}")
            server_ms = int(response.json()["serverTime"])
        except (httpx.HTTPError, ValueError, KeyError, TypeError):
            raise TransportError(
                f"could not read Binance's server time from {base_url}",
                sent=False,
                hint="The local clock seems off; check the machine's time sync and the network.",
            ) from None
        offset = midpoint_offset_ms(server_ms, before, self._clock_ms())
        self._offsets_ms[base_url] = offset
        logger.info("clock offset to %s is now %d ms", base_url, offset)
        return offset

    async def call(
        self,
        endpoint: Endpoint,
        params: Sequence[tuple[str, str]],
        *,
        base_url: str,
        account: Credentials | None,
    ) -> Reply:
        """Send one request, with the recoveries that are always safe:

        * -1021 (timestamp outside recvWindow) is rejected before the matching engine, so the
          clock offset is re-measured and the request signed and sent once more;
        * a read (never a state change) that failed in transit or on Binance's side is tried again
          after ``read_retry_delays_s``.
        """
        retries = list(self.read_retry_delays_s) if not endpoint.changes_state else []
        clock_fixed = False
        while True:
            try:
                return await self._send_once(endpoint, params, base_url=base_url, account=account)
            except ExchangeError as exc:
                if exc.code == TIMESTAMP_ERROR and endpoint.signed and not clock_fixed:
                    clock_fixed = True
                    await self.sync_clock(base_url)
                    continue
                if not retries or not (exc.status >= 500 or exc.code in RETRYABLE_READ_CODES):
                    raise
            except TransportError:
                if not retries:
                    raise
            await anyio.sleep(retries.pop(0))

    async def _send_once(
        self,
        endpoint: Endpoint,
        params: Sequence[tuple[str, str]],
        *,
        base_url: str,
        account: Credentials | None,
    ) -> Reply:
        await self.limiter.acquire(base_url, endpoint.weight_for(params), orders=endpoint.orders)
        now_ms = self._clock_ms() + self._offsets_ms.get(base_url, 0)
        request = prepare_request(endpoint, params, base_url=base_url, account=account, now_ms=now_ms)
        logger.debug("sending %s %s", endpoint.method, endpoint.path)
        try:
            response = await self._http.request(
                request.method, request.url, content=request.body, headers=request.headers
            )
        except httpx.ConnectError as exc:
            raise TransportError(
                f"could not connect to {base_url}: {type(exc).__name__}",
                sent=False,
                hint="Check the network and the base URL; nothing reached Binance.",
            ) from None
        except httpx.TimeoutException as exc:
            sent = not isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout)
            raise TransportError(
                f"no reply from {base_url} in time ({type(exc).__name__})",
                sent=sent,
                hint=_unknown_outcome_hint(endpoint) if sent else "Nothing reached Binance; try again later.",
            ) from None
        except httpx.HTTPError as exc:
            raise TransportError(
                f"the connection to {base_url} failed: {type(exc).__name__}",
                sent=True,
                hint=_unknown_outcome_hint(endpoint),
            ) from None
        self.limiter.observe(base_url, response.status_code, response.headers)
        if response.status_code < 200 or 300 <= response.status_code < 400:
            # 1xx/3xx: not an answer Binance gives. Redirects are never followed (they would carry
            # the API key elsewhere); for a change the request may still have executed.
            raise TransportError(
                f"Binance answered with an unexpected HTTP {response.status_code}",
                sent=True,
                hint=_unknown_outcome_hint(endpoint),
            )
        data = _decode(response)
        if isinstance(data, dict) and isinstance(data.get("rateLimits"), list):
            self.limiter.configure(base_url, data["rateLimits"])  # exchangeInfo tells the real limits
        if response.status_code >= 400 or (isinstance(data, dict) and _is_error_payload(data)):
            code = data.get("code") if isinstance(data, dict) and isinstance(data.get("code"), int) else None
            msg = str(data.get("msg", "")) if isinstance(data, dict) else ""
            if not msg:
                msg = response.reason_phrase or "error"
            hint = hint_for(response.status_code, code, endpoint.tool)
            if response.status_code >= 500 and endpoint.changes_state:
                hint = _unknown_outcome_hint(endpoint)
            retry_after = response.headers.get("Retry-After")
            if retry_after and response.status_code in (418, 429):
                hint = f"{hint} Retry after {retry_after} s."
            extra = data.get("data") if isinstance(data, dict) else None
            raise ExchangeError(status=response.status_code, code=code, msg=msg, hint=hint, data=extra)
        if data is None:
            raise TransportError(
                f"Binance answered HTTP {response.status_code} with a body that is not JSON",
                sent=True,
                hint=_unknown_outcome_hint(endpoint),
            )
        return Reply(response.status_code, response.headers, data)


def _is_error_payload(data: dict[str, Any]) -> bool:
    code = data.get("code")
    return isinstance(code, int) and code < 0 and "msg" in data


def _unknown_outcome_hint(endpoint: Endpoint) -> str:
    if not endpoint.changes_state:
        return "The read failed in transit; it is safe to call it again."
    return (
        "The outcome is UNKNOWN: the request may have been executed. Do not repeat it blindly; "
        "check with get_open_orders / get_order (origClientOrderId) first."
    )
