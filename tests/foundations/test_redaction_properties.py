"""Invariant 1 under fire: random arguments, an exchange that echoes whole requests back, and
malformed accounts files. No secret and no full API key may come out of any result or log line."""

from __future__ import annotations

import io
import json
import logging
import os
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from binance_spot_mcp.accounts.reading import parse_accounts
from binance_spot_mcp.accounts.store import AccountStore
from binance_spot_mcp.catalog.endpoints import load_catalog
from binance_spot_mcp.cli.commands import configure_logging
from binance_spot_mcp.config import OFFICIAL_BASE_URLS, load_settings
from binance_spot_mcp.redact import Redactor
from binance_spot_mcp.server import Runtime
from tests.e2e_support import loopback_environ, random_token

pytestmark = pytest.mark.anyio

API_KEY = "K" + random_token(63)
SECRET = "S" + random_token(63)
LIVE_KEY = "L" + random_token(63)
LIVE_SECRET = "T" + random_token(63)
PASSPHRASE = "pass-" + random_token(20)
SENSITIVE = [API_KEY, SECRET, LIVE_KEY, LIVE_SECRET]
CATALOG = load_catalog()
TOOL_NAMES = [e.tool for e in CATALOG.endpoints] + ["list_accounts", "show_account", "add_account"]


def _echo_everything(request: httpx.Request) -> httpx.Response:
    """A hostile exchange: its error message repeats the URL, every header and the body."""
    echoed = f"{request.method} {request.url} {dict(request.headers)} {request.content.decode()}"
    return httpx.Response(400, json={"code": -1100, "msg": f"Illegal characters found in: {echoed}"})


@pytest.fixture(scope="module")
def tools_file(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("redact")
    path = directory / "TOOLS.md"
    path.write_text(
        f"""## Binance Accounts

### main
- API Key: {API_KEY}
- Secret: {SECRET}
- Environment: testnet
- Base URL: http://127.0.0.1:9

### live
- API Key: {LIVE_KEY}
- Secret: {LIVE_SECRET}
- Environment: mainnet
- Base URL: http://127.0.0.1:9
"""
    )
    os.chmod(path, 0o600)
    return path


@pytest.fixture(scope="module")
def log_buffer():
    redactor = Redactor()
    configure_logging("DEBUG", redactor)
    buffer = io.StringIO()
    handler = logging.getLogger().handlers[0]
    handler.setStream(buffer)  # type: ignore[attr-defined]
    yield redactor, buffer
    logging.getLogger().handlers.clear()


_fragment = st.sampled_from(SENSITIVE + ["BTCUSDT", "BUY", "LIMIT", "0.1", "", " ", "CONFIRM", "main", "live"])
_value = st.one_of(
    _fragment,
    st.builds(lambda a, b: f"{a}{b}", _fragment, _fragment),
    st.integers(),
    st.floats(allow_nan=True),
    st.booleans(),
    st.lists(_fragment, max_size=3),
    st.none(),
)
_arguments = st.dictionaries(
    st.one_of(st.sampled_from(["symbol", "side", "type", "quantity", "price", "account", "environment", "symbols",
                               "orderId", "recvWindow", "confirm", "confirmation_token", "api_key", "secret", "name"]),
              _fragment),
    _value,
    max_size=6,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tool=st.sampled_from(TOOL_NAMES + ["no_such_tool"]), arguments=_arguments)
async def test_random_calls_against_an_echoing_exchange_leak_nothing(tools_file, log_buffer, tool, arguments):
    redactor, buffer = log_buffer
    runtime = Runtime(
        settings=load_settings(tools_file=str(tools_file), environ=loopback_environ(None, tools_file.parent)),
        redactor=redactor,
        transport=httpx.MockTransport(_echo_everything),
    )
    runtime.accounts.current()  # registers the keys, as start-up does
    try:
        try:
            result = await runtime.call(tool, arguments)
            text = result.model_dump_json(by_alias=True)
        except Exception as exc:  # unknown tool -> protocol error: its message counts too
            text = str(exc)
    finally:
        await runtime.aclose()
    output = text + buffer.getvalue()
    for secret in SENSITIVE:
        assert secret not in output
    assert "signature=" not in output.replace("signature=***", "")


async def test_echoed_signed_request_is_masked_not_dropped(tools_file):
    runtime = Runtime(
        settings=load_settings(tools_file=str(tools_file), environ=loopback_environ(None, tools_file.parent)),
        transport=httpx.MockTransport(_echo_everything),
    )
    try:
        result = await runtime.call("get_account", {})
    finally:
        await runtime.aclose()
    body = json.loads(result.content[0].text)
    assert body["code"] == -1100
    assert API_KEY not in body["msg"] and f"{API_KEY[:5]}...{API_KEY[-4:]}" in body["msg"]


_lines = st.lists(
    st.one_of(
        st.sampled_from([
            "## Binance Accounts", "### main", "### other", "## Other", "- Environment: mainnet", "- Testnet: maybe",
            "- Base URL: https://example.org", "- Private Key File: missing.pem", "random words", "```",
        ]),
        st.builds(lambda label, s: f"- {label}: {s}", st.sampled_from(
            ["API Key", "Secret", "Secret Key", "Private Key Passphrase", "Environment", "Description", "Base URL",
             "Apikey", "Secrt", "Private Key File"]), st.sampled_from(SENSITIVE + [PASSPHRASE])),
        st.sampled_from(SENSITIVE),
    ),
    max_size=25,
)


@settings(max_examples=200, deadline=None)
@given(lines=_lines)
def test_malformed_accounts_files_never_echo_a_secret(lines):
    redactor = Redactor()
    result = parse_accounts(
        "\n".join(lines), where="TOOLS.md", base_dir=Path("/nonexistent"), base_urls=OFFICIAL_BASE_URLS, redactor=redactor
    )
    shown = "\n".join(result.problems) + repr(result) + "".join(repr(a) for a in result.accounts.values())
    for secret in SENSITIVE + [PASSPHRASE]:
        assert secret not in shown


def test_account_store_problems_are_redacted(tmp_path):
    path = tmp_path / "TOOLS.md"
    path.write_text(f"## Binance Accounts\n### x\n- API Key: {API_KEY}\n- Secret: {SECRET}\n- Environment: {SECRET}\n")
    os.chmod(path, 0o600)
    store = AccountStore(load_settings(tools_file=str(path), environ={}), Redactor())
    problems = "\n".join(store.current().problems)
    assert "Environment must be" in problems and SECRET not in problems


_symbol = st.builds(lambda a, b: f"{a}{b}", _fragment, _fragment).filter(lambda s: s.strip() != "")


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(symbol=_symbol, account=st.sampled_from(["main", "live", None]))
async def test_requests_that_reach_the_echoing_exchange_leak_nothing(tools_file, log_buffer, symbol, account):
    redactor, buffer = log_buffer
    runtime = Runtime(
        settings=load_settings(tools_file=str(tools_file), environ=loopback_environ(None, tools_file.parent)),
        redactor=redactor,
        transport=httpx.MockTransport(_echo_everything),
    )
    # symbols must match Binance's characters now (checked first), so the hostile text travels in
    # a free-text parameter that does reach the exchange (timeZone); signed calls carry the key
    # and the signature, which the exchange echoes too
    args = {"symbol": "BTCUSDT"} | ({"account": account} if account else {})
    try:
        results = [
            await runtime.call("get_open_orders", args),
            await runtime.call("test_order", {**args, "side": "BUY", "type": "MARKET", "quantity": "1"}),
            await runtime.call("get_klines", {"symbol": "BTCUSDT", "interval": "1m", "timeZone": symbol}),
        ]
    finally:
        await runtime.aclose()
    assert any("binance_error" in r.content[0].text for r in results)  # the echo path was exercised
    output = "".join(r.model_dump_json() for r in results) + buffer.getvalue()
    for secret in SENSITIVE:
        assert secret not in output
    assert "signature=" not in output.replace("signature=***", "")
