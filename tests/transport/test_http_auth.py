"""The HTTP bearer token and the Origin gate, rule by rule (issue 22, unpinned rules).

* a prefix of the token, the token plus a character and an empty token all get 401 (a prefix
  comparison would let one guessed character open a session that can answer the approval form);
* the comparison is constant-time (``hmac.compare_digest``);
* the token is registered with the redactor: a result or log line that contains it is masked;
* ``Origin: null`` (a sandboxed frame, a file:// page, a redirect) is refused like any foreign origin.
"""

from __future__ import annotations

import hmac
import http.client
import io
import json
import logging

import pytest
from binance_spot_mcp.errors import ExchangeError
from binance_spot_mcp.redact import RedactingFilter
from binance_spot_mcp.results import failure
from binance_spot_mcp.transport.http import StaticTokenVerifier

from tests.transport.test_http import INITIALIZE, MCP_HEADERS, TOKEN, _post, serving

WRONG = {
    "prefix": TOKEN[:-1],
    "first character": TOKEN[:1],
    "plus a character": TOKEN + "x",
    "twice": TOKEN + TOKEN,
    "other case": TOKEN.upper(),
    "padded": f" {TOKEN} ",
    "empty": "",
}


@pytest.mark.anyio
@pytest.mark.parametrize("name", sorted(WRONG))
async def test_the_verifier_accepts_the_token_and_nothing_near_it(name):
    verifier = StaticTokenVerifier(TOKEN)
    assert await verifier.verify_token(WRONG[name]) is None
    assert await verifier.verify_token(TOKEN) is not None


def test_near_misses_get_401_over_http(world):
    with serving(world) as served:
        # httpx refuses to send a header value that ends in a space; http.client sends it as it is
        statuses = {name: _raw_post(served.port, f"Bearer {value}") for name, value in WRONG.items()}
        bare = _raw_post(served.port, "Bearer")
        good = _raw_post(served.port, f"Bearer {TOKEN}")
    assert statuses == dict.fromkeys(WRONG, 401)
    assert bare == 401 and good == 200


def _raw_post(port: int, authorization: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        headers = {**MCP_HEADERS, "Authorization": authorization, "Host": f"127.0.0.1:{port}"}
        connection.request("POST", "/mcp", body=json.dumps(INITIALIZE), headers=headers)
        return connection.getresponse().status
    finally:
        connection.close()


@pytest.mark.anyio
async def test_the_token_is_compared_in_constant_time(monkeypatch):
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    verifier = StaticTokenVerifier(TOKEN)
    assert await verifier.verify_token(TOKEN[:-1]) is None
    assert await verifier.verify_token(TOKEN) is not None
    assert len(calls) == 2 and all(TOKEN.encode() in pair for pair in calls)


def test_the_token_is_registered_with_the_redactor(world):
    with serving(world) as served:
        redactor = served.runtime.redactor
        result = failure(ExchangeError(status=400, code=-1, msg=f"echo {TOKEN} and {TOKEN[::-1]}"), redactor=redactor)
        stream = io.StringIO()
        handler = logging.StreamHandler(stream)
        handler.addFilter(RedactingFilter(redactor))
        log = logging.getLogger("tests.http_auth")
        log.addHandler(handler)
        try:
            log.warning("request with Authorization: Bearer %s", TOKEN)
        finally:
            log.removeHandler(handler)
    text = result.content[0].text
    assert TOKEN not in text and TOKEN[::-1] not in text and "echo" in text
    assert TOKEN not in stream.getvalue() and "Authorization: Bearer" in stream.getvalue()


def test_origin_null_is_refused(world):
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with serving(world) as served:
        null = _post(served.url, {**auth, "Origin": "null"})
        own = _post(served.url, {**auth, "Origin": f"http://127.0.0.1:{served.port}"})
    assert null.status_code == 403 and own.status_code == 200
