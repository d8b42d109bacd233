"""What ``BinanceClient`` puts on the wire and which recoveries it makes on its own.

The headers, timestamp, signature and timeouts a request carries; the clock offset measured from
``/api/v3/time`` and used by later requests; the one -1021 re-sync; which reads are tried again
and after which delays; what replies teach the rate limiter. ``httpx.MockTransport`` plays
Binance (no network); keys are made per test run. Several of these were prompted by mutation
testing (``mutation/run.py client``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import anyio
import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from binance_spot_mcp.accounts.reading import Account
from binance_spot_mcp.catalog.endpoints import load_catalog, parse_skill
from binance_spot_mcp.config import DEFAULT_CONNECT_TIMEOUT_S, DEFAULT_HTTP_TIMEOUT_S
from binance_spot_mcp.errors import ExchangeError, TransportError
from binance_spot_mcp.exchange.client import BinanceClient, encode_params, prepare_request
from binance_spot_mcp.exchange.limits import RateLimited
from binance_spot_mcp.exchange.signing import Ed25519Signer, HmacSigner
from tests.e2e_support import random_token
from tests.mini_skill import MINI_SKILL

pytestmark = pytest.mark.anyio

BASE = "http://127.0.0.1:9"
OTHER = "http://127.0.0.1:10"
CATALOG = parse_skill(MINI_SKILL)
KEY, SECRET = random_token(), random_token()
ACCOUNT = Account(name="t", environment="testnet", api_key=KEY, signer=HmacSigner(SECRET), base_url=BASE)
ORDER = [("symbol", "BTCUSDT"), ("side", "BUY"), ("type", "MARKET"), ("quantity", "0.001")]
SERVER_TIME_FAILED = "The local clock seems off; check the machine's time sync and the network."


def _sign(payload: str) -> str:
    return hmac.new(SECRET.encode(), payload.encode(), hashlib.sha256).hexdigest()


def _client(handler: Callable[[httpx.Request], httpx.Response], **kwargs: Any) -> BinanceClient:
    return BinanceClient(skill_version="2.3.4", transport=httpx.MockTransport(handler), **kwargs)


class Recorder:
    """A scripted exchange: answers ``/api/v3/time`` with ``server_ms``, everything else from ``replies``."""

    def __init__(self, *replies: httpx.Response, server_ms: int = 0) -> None:
        self.replies = list(replies)
        self.server_ms = server_ms
        self.seen: list[httpx.Request] = []
        self.time_calls = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v3/time":
            self.time_calls += 1
            return httpx.Response(200, json={"serverTime": self.server_ms})
        self.seen.append(request)
        return self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]


# ------------------------------------------------------------------------- what reaches Binance


async def test_a_signed_read_carries_key_timestamp_signature_and_the_clients_headers():
    exchange = Recorder(httpx.Response(200, json={"balances": []}))
    client = _client(exchange, clock_ms=lambda: 1_700_000_000_123)
    try:
        reply = await client.call(CATALOG.get("get_account"), [("omitZeroBalances", "true")], base_url=BASE, account=ACCOUNT)
    finally:
        await client.aclose()
    assert reply.data == {"balances": []}
    (request,) = exchange.seen
    payload = "omitZeroBalances=true&timestamp=1700000000123"
    assert request.method == "GET" and request.content == b""
    assert str(request.url) == f"{BASE}/api/v3/account?{payload}&signature={_sign(payload)}"
    assert request.headers["X-MBX-APIKEY"] == KEY
    assert request.headers["User-Agent"] == "binance-spot/2.3.4 (Skill)"
    assert request.headers["Accept"] == "application/json"
    assert request.extensions["timeout"] == {
        "connect": DEFAULT_CONNECT_TIMEOUT_S, "read": DEFAULT_HTTP_TIMEOUT_S,
        "write": DEFAULT_HTTP_TIMEOUT_S, "pool": DEFAULT_HTTP_TIMEOUT_S,
    }


async def test_a_change_travels_in_a_form_body_and_the_timeout_is_the_one_configured():
    exchange = Recorder(httpx.Response(200, json={"orderId": 1}))
    client = _client(exchange, clock_ms=lambda: 42, timeout_s=2.5)
    try:
        await client.call(CATALOG.get("place_order"), ORDER, base_url=BASE, account=ACCOUNT)
    finally:
        await client.aclose()
    (request,) = exchange.seen
    payload = "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.001&timestamp=42"
    assert request.method == "POST" and str(request.url) == f"{BASE}/api/v3/order"
    assert request.content == f"{payload}&signature={_sign(payload)}".encode()
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.extensions["timeout"]["read"] == 2.5 and request.extensions["timeout"]["connect"] == DEFAULT_CONNECT_TIMEOUT_S


async def test_a_public_request_carries_no_key():
    exchange = Recorder(httpx.Response(200, json={"bids": [], "asks": []}))
    client = _client(exchange)
    try:
        await client.call(CATALOG.get("get_order_book"), [("symbol", "BTCUSDT")], base_url=BASE, account=ACCOUNT)
    finally:
        await client.aclose()
    (request,) = exchange.seen
    assert str(request.url) == f"{BASE}/api/v3/depth?symbol=BTCUSDT" and "X-MBX-APIKEY" not in request.headers
    unsigned = prepare_request(CATALOG.get("get_order_book"), [("symbol", "BTCUSDT")], base_url=BASE, account=ACCOUNT, now_ms=1)
    assert unsigned.signed_payload is None  # nothing was signed


async def test_a_signed_request_without_parameters_carries_only_timestamp_and_signature():
    exchange = Recorder(httpx.Response(200, json={}))
    client = _client(exchange, clock_ms=lambda: 77)
    try:
        await client.call(CATALOG.get("get_account"), [], base_url=BASE, account=ACCOUNT)
    finally:
        await client.aclose()
    assert str(exchange.seen[0].url) == f"{BASE}/api/v3/account?timestamp=77&signature={_sign('timestamp=77')}"


async def test_without_an_injected_clock_the_timestamp_is_the_current_time_in_milliseconds():
    exchange = Recorder(httpx.Response(200, json={}))
    client = _client(exchange)
    try:
        before = int(time.time() * 1000)
        await client.call(CATALOG.get("get_account"), [], base_url=BASE, account=ACCOUNT)
        after = int(time.time() * 1000)
    finally:
        await client.aclose()
    (timestamp,) = parse_qs(exchange.seen[0].url.query.decode())["timestamp"]
    assert before <= int(timestamp) <= after


def test_names_are_percent_encoded_like_values():
    assert encode_params([("a/b c", "d/e")]) == "a%2Fb%20c=d%2Fe"


def test_a_base64_signature_is_percent_encoded_so_binance_reads_it_back_unchanged():
    signer = Ed25519Signer(ed25519.Ed25519PrivateKey.generate())
    account = Account(name="ed", environment="testnet", api_key=KEY, signer=signer, base_url=BASE)
    for now_ms in range(1, 1000):  # find a signature with the characters that need encoding
        signature = signer.sign(f"timestamp={now_ms}".encode())
        if "/" in signature and "+" in signature:
            break
    request = prepare_request(CATALOG.get("get_account"), [], base_url=BASE, account=account, now_ms=now_ms)
    sent = request.url.split("&signature=", 1)[1]
    assert sent == quote(signature, safe="") and "/" not in sent and "+" not in sent
    assert parse_qs(urlsplit(request.url).query)["signature"] == [signature]


def test_a_prepared_requests_repr_shows_neither_parameters_nor_signature():
    request = prepare_request(CATALOG.get("get_account"), [("recvWindow", "5000")], base_url=BASE, account=ACCOUNT, now_ms=7)
    assert repr(request) == f"PreparedRequest(GET {BASE}/api/v3/account)"


async def test_the_log_names_the_endpoint_and_the_clock_offset_but_no_credentials(caplog):
    caplog.set_level(logging.DEBUG, logger="binance_spot_mcp.exchange.client")
    ticks = iter([1_000, 1_200, 5_000])
    exchange = Recorder(httpx.Response(200, json={}), server_ms=61_100)
    client = _client(exchange, clock_ms=lambda: next(ticks))
    try:
        await client.sync_clock(BASE)
        await client.call(CATALOG.get("get_account"), [], base_url=BASE, account=ACCOUNT)
    finally:
        await client.aclose()
    lines = [record.getMessage() for record in caplog.records if record.name == "binance_spot_mcp.exchange.client"]
    assert lines == [f"clock offset to {BASE} is now 60000 ms", "sending GET /api/v3/account"]
    signature = parse_qs(exchange.seen[0].url.query.decode())["signature"][0]
    for secret in (KEY, SECRET, signature):
        assert secret not in caplog.text


class _Loopback(BaseHTTPRequestHandler):
    """Answers every request with JSON naming the request target it saw (absolute form = proxied)."""

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        body = json.dumps({"target": self.path}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # keep stderr quiet
        pass


@pytest.fixture
def loopback_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Loopback)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


async def test_a_proxy_set_in_the_environment_is_never_given_the_request(loopback_server, monkeypatch):
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, loopback_server)  # were it used, the server would see an absolute-form target
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    client = BinanceClient(skill_version="1", clock_ms=lambda: 5)
    try:
        reply = await client.call(CATALOG.get("get_account"), [], base_url=loopback_server, account=ACCOUNT)
    finally:
        await client.aclose()
    assert reply.data["target"].startswith("/api/v3/account?timestamp=5&signature=")


# ------------------------------------------------------------------------------- the clock


async def test_the_measured_offset_is_kept_per_base_url_and_used_for_the_timestamp():
    ticks = iter([1_000, 1_200, 5_000])  # sync sent at 1000, read at 1200; the order is signed at 5000
    exchange = Recorder(httpx.Response(200, json={"orderId": 1}), server_ms=61_100)
    client = _client(exchange, clock_ms=lambda: next(ticks))
    try:
        assert client.clock_offset_ms(BASE) == 0
        assert await client.sync_clock(BASE) == 60_000
        assert client.clock_offset_ms(BASE) == 60_000 and client.clock_offset_ms(OTHER) == 0
        await client.call(CATALOG.get("place_order"), ORDER, base_url=BASE, account=ACCOUNT)
    finally:
        await client.aclose()
    assert b"&timestamp=65000&" in exchange.seen[0].content


async def test_an_offset_measured_for_one_base_url_is_not_used_for_another():
    exchange = Recorder(httpx.Response(200, json={}), server_ms=500_000)
    client = _client(exchange, clock_ms=lambda: 100_000)
    try:
        await client.sync_clock(OTHER)
        await client.call(CATALOG.get("get_account"), [], base_url=BASE, account=ACCOUNT)
    finally:
        await client.aclose()
    assert "timestamp=100000&" in str(exchange.seen[0].url)


@pytest.mark.parametrize(
    "answer",
    [
        lambda: httpx.Response(200, json={"time": 5}),  # no serverTime
        lambda: httpx.Response(200, text="<html>"),  # not JSON
        lambda: httpx.Response(200, json={"serverTime": "soon"}),  # not a number
        lambda: httpx.Response(200, json=[1, 2]),  # not an object
        lambda: httpx.Response(200, json={"serverTime": None}),
    ],
    ids=["missing", "not-json", "not-a-number", "a-list", "null"],
)
async def test_an_unreadable_server_time_is_a_transport_error_and_keeps_the_old_offset(answer):
    client = _client(lambda request: answer(), clock_ms=lambda: 0)
    try:
        with pytest.raises(TransportError) as caught:
            await client.sync_clock(BASE)
        assert client.clock_offset_ms(BASE) == 0
    finally:
        await client.aclose()
    assert caught.value.sent is False
    assert caught.value.message == f"could not read Binance's server time from {BASE}"
    assert caught.value.hint == SERVER_TIME_FAILED


async def test_a_server_time_that_cannot_be_fetched_is_a_transport_error():
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    client = _client(refuse)
    try:
        with pytest.raises(TransportError) as caught:
            await client.sync_clock(BASE)
    finally:
        await client.aclose()
    assert caught.value.sent is False and caught.value.hint == SERVER_TIME_FAILED


TIMESTAMP_REJECTED = httpx.Response(400, json={"code": -1021, "msg": "Timestamp for this request is outside of the recvWindow."})


async def test_a_change_rejected_for_its_timestamp_is_re_signed_with_the_new_offset_and_sent_once_more():
    exchange = Recorder(TIMESTAMP_REJECTED, httpx.Response(200, json={"orderId": 9}), server_ms=90_000)
    client = _client(exchange, clock_ms=lambda: 10_000)
    try:
        reply = await client.call(CATALOG.get("place_order"), ORDER, base_url=BASE, account=ACCOUNT)
    finally:
        await client.aclose()
    assert reply.data == {"orderId": 9} and exchange.time_calls == 1
    first, second = exchange.seen
    assert b"timestamp=10000&" in first.content and b"timestamp=90000&" in second.content


async def test_a_timestamp_error_on_an_unsigned_request_does_not_touch_the_clock():
    exchange = Recorder(TIMESTAMP_REJECTED)
    client = _client(exchange)
    client.read_retry_delays_s = ()
    try:
        with pytest.raises(ExchangeError) as caught:
            await client.call(CATALOG.get("get_order_book"), [("symbol", "BTCUSDT")], base_url=BASE, account=None)
    finally:
        await client.aclose()
    assert caught.value.code == -1021 and exchange.time_calls == 0 and len(exchange.seen) == 1


# ------------------------------------------------------------------------------ read retries


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The client's waits between read attempts, recorded instead of slept."""
    waited: list[float] = []

    async def record(seconds: float) -> None:
        waited.append(seconds)

    monkeypatch.setattr(anyio, "sleep", record)
    return waited


async def test_a_read_that_keeps_failing_is_tried_three_times_after_the_default_delays(sleeps):
    exchange = Recorder(httpx.Response(503, json={"code": -1008, "msg": "Server is currently overloaded."}))
    client = _client(exchange)
    try:
        with pytest.raises(ExchangeError) as caught:
            await client.call(CATALOG.get("get_account"), [], base_url=BASE, account=ACCOUNT)
    finally:
        await client.aclose()
    assert caught.value.code == -1008 and len(exchange.seen) == 3
    assert sleeps == [0.25, 1.0]


@pytest.mark.parametrize("code", [-1000, -1001, -1006, -1007, -1008])
async def test_a_read_answered_with_a_retryable_code_is_tried_again(sleeps, code):
    exchange = Recorder(httpx.Response(400, json={"code": code, "msg": "busy"}), httpx.Response(200, json={"ok": 1}))
    client = _client(exchange)
    try:
        reply = await client.call(CATALOG.get("get_account"), [], base_url=BASE, account=ACCOUNT)
    finally:
        await client.aclose()
    assert reply.data == {"ok": 1} and len(exchange.seen) == 2 and sleeps == [0.25]


@pytest.mark.parametrize(
    "answer",
    [httpx.Response(400, json={"code": -1013, "msg": "Filter failure"}), httpx.Response(499, json={"code": -1100, "msg": "bad"})],
    ids=["400", "499"],
)
async def test_a_read_rejected_for_its_content_is_not_tried_again(sleeps, answer):
    exchange = Recorder(answer, httpx.Response(200, json={"ok": 1}))
    client = _client(exchange)
    try:
        with pytest.raises(ExchangeError):
            await client.call(CATALOG.get("get_account"), [], base_url=BASE, account=ACCOUNT)
    finally:
        await client.aclose()
    assert len(exchange.seen) == 1 and sleeps == []


async def test_a_read_answered_by_a_bare_500_is_tried_again(sleeps):
    exchange = Recorder(httpx.Response(500, text="oops"), httpx.Response(200, json={"ok": 1}))
    client = _client(exchange)
    try:
        reply = await client.call(CATALOG.get("get_account"), [], base_url=BASE, account=ACCOUNT)
    finally:
        await client.aclose()
    assert reply.data == {"ok": 1} and len(exchange.seen) == 2


async def test_a_read_lost_in_transit_is_tried_again_but_a_change_never(sleeps):
    attempts = {"GET": 0, "POST": 0}

    def flaky(request: httpx.Request) -> httpx.Response:
        attempts[request.method] += 1
        if attempts[request.method] == 1:
            raise httpx.ReadTimeout("lost")
        return httpx.Response(200, json={"ok": 1})

    client = _client(flaky)
    try:
        reply = await client.call(CATALOG.get("get_account"), [], base_url=BASE, account=ACCOUNT)
        with pytest.raises(TransportError):
            await client.call(CATALOG.get("place_order"), ORDER, base_url=BASE, account=ACCOUNT)
    finally:
        await client.aclose()
    assert reply.data == {"ok": 1} and attempts == {"GET": 2, "POST": 1} and sleeps == [0.25]


async def test_a_change_answered_by_a_retryable_code_is_not_sent_again(sleeps):
    exchange = Recorder(httpx.Response(400, json={"code": -1007, "msg": "Timeout waiting for response."}))
    client = _client(exchange)
    try:
        with pytest.raises(ExchangeError):
            await client.call(CATALOG.get("place_order"), ORDER, base_url=BASE, account=ACCOUNT)
    finally:
        await client.aclose()
    assert len(exchange.seen) == 1 and sleeps == []


# ------------------------------------------------------------------------------ rate limits


async def test_each_request_is_counted_with_its_weight_and_orders():
    exchange = Recorder(httpx.Response(200, json={}))
    client = _client(exchange)
    catalog = load_catalog()
    try:
        await client.call(CATALOG.get("get_account"), [], base_url=BASE, account=ACCOUNT)
        await client.call(catalog.get("place_order"), ORDER, base_url=BASE, account=ACCOUNT)
        assert client.limiter.used(BASE) == 21
        assert client.limiter.used(BASE, "ORDERS", 10) == 1
    finally:
        await client.aclose()


async def test_the_rate_limits_in_a_reply_replace_the_defaults():
    limits = [{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 1234}]
    exchange = Recorder(httpx.Response(200, json={"timezone": "UTC", "rateLimits": limits, "symbols": []}))
    client = _client(exchange)
    try:
        before = client.limiter.limits(BASE)
        await client.call(CATALOG.get("get_order_book"), [("symbol", "BTCUSDT")], base_url=BASE, account=None)
        after = client.limiter.limits(BASE)
    finally:
        await client.aclose()
    assert [entry["limit"] for entry in before] != [1234]
    assert [(entry["rateLimitType"], entry["intervalSeconds"], entry["limit"]) for entry in after] == [("REQUEST_WEIGHT", 60, 1234)]


async def test_rate_limits_that_are_not_a_list_are_ignored():
    exchange = Recorder(httpx.Response(200, json={"rateLimits": {"limit": 1}}))
    client = _client(exchange)
    try:
        before = client.limiter.limits(BASE)
        reply = await client.call(CATALOG.get("get_order_book"), [("symbol", "BTCUSDT")], base_url=BASE, account=None)
        assert client.limiter.limits(BASE) == before
    finally:
        await client.aclose()
    assert reply.data == {"rateLimits": {"limit": 1}}


async def test_after_a_429_the_next_request_is_held_back_without_reaching_binance():
    exchange = Recorder(httpx.Response(429, json={"code": -1003, "msg": "Too many requests."}, headers={"Retry-After": "120"}))
    client = _client(exchange)
    client.read_retry_delays_s = ()
    try:
        with pytest.raises(ExchangeError):
            await client.call(CATALOG.get("get_order_book"), [("symbol", "BTCUSDT")], base_url=BASE, account=None)
        with pytest.raises(RateLimited):
            await client.call(CATALOG.get("get_order_book"), [("symbol", "BTCUSDT")], base_url=BASE, account=None)
    finally:
        await client.aclose()
    assert len(exchange.seen) == 1


# ------------------------------------------------------------------------- the HTTP client's life


async def test_one_http_client_is_made_on_first_use_and_kept_and_none_after_close(monkeypatch):
    opened: list[httpx.AsyncClient] = []

    class Counting(httpx.AsyncClient):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            opened.append(self)

    monkeypatch.setattr(httpx, "AsyncClient", Counting)
    recorder = Recorder(httpx.Response(200, json={"ok": True}))
    client = _client(recorder)
    assert opened == []  # nothing built at start-up (its TLS context is a share of a cold start)
    await client.sync_clock(BASE)
    await client.sync_clock(BASE)
    assert len(opened) == 1 and recorder.time_calls == 2  # one pool, reused
    await client.aclose()
    assert opened[0].is_closed
    with pytest.raises(RuntimeError, match="closed"):
        await client.sync_clock(BASE)
    unused = _client(recorder)
    await unused.aclose()  # never used: nothing to close, and nothing opened
    assert len(opened) == 1
