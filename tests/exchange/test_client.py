"""Request building: encoding, signing payload, where parameters travel, and where keys may go."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from binance_spot_mcp.accounts.reading import Account
from binance_spot_mcp.catalog.endpoints import parse_skill
from binance_spot_mcp.errors import PolicyError
from binance_spot_mcp.exchange.client import encode_params, prepare_request, user_agent
from binance_spot_mcp.exchange.signing import HmacSigner
from tests.exchange.test_signing import DOC_SECRET, DOC_SIGNATURE, DOC_SIGNATURE_UNICODE
from tests.mini_skill import MINI_SKILL

CATALOG = parse_skill(MINI_SKILL)
DOC_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
DOC_ACCOUNT = Account(name="doc", environment="testnet", api_key=DOC_KEY, signer=HmacSigner(DOC_SECRET))
DOC_PARAMS = [("side", "BUY"), ("type", "LIMIT"), ("timeInForce", "GTC"), ("quantity", "1"), ("price", "0.1"), ("recvWindow", "5000")]


def test_rfc3986_encoding():
    assert encode_params([("symbols", '["BTCUSDT","ETHUSDT"]')]) == "symbols=%5B%22BTCUSDT%22%2C%22ETHUSDT%22%5D"
    assert encode_params([("a", "x y+z~-_.")]) == "a=x%20y%2Bz~-_."
    assert encode_params([("symbol", "１２３")]) == "symbol=%EF%BC%91%EF%BC%92%EF%BC%93"


@pytest.mark.parametrize(("symbol", "signature"), [("LTCBTC", DOC_SIGNATURE), ("１２３４５６", DOC_SIGNATURE_UNICODE)])
def test_post_is_signed_like_binance_documents(symbol, signature):
    request = prepare_request(
        CATALOG.get("place_order"),
        [("symbol", symbol), *DOC_PARAMS],
        base_url="http://127.0.0.1:1",
        account=DOC_ACCOUNT,
        now_ms=1499827319559,
    )
    assert request.method == "POST" and request.url == "http://127.0.0.1:1/api/v3/order"
    assert request.headers["X-MBX-APIKEY"] == DOC_KEY
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    expected_payload = f"symbol={quote(symbol, safe='')}&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"
    assert request.signed_payload == expected_payload.encode()
    assert request.body == f"{expected_payload}&signature={signature}".encode()
    assert DOC_KEY not in repr(request)


def test_get_and_delete_use_the_query_string_public_gets_no_key():
    cancel = prepare_request(
        CATALOG.get("cancel_order"), [("symbol", "BTCUSDT"), ("orderId", "7")],
        base_url="https://api.binance.com", account=DOC_ACCOUNT, now_ms=5,
    )
    assert cancel.body is None
    assert cancel.url.startswith("https://api.binance.com/api/v3/order?symbol=BTCUSDT&orderId=7&timestamp=5&signature=")
    public = prepare_request(CATALOG.get("get_order_book"), [("symbol", "BTCUSDT")], base_url="https://api.binance.com", account=None, now_ms=5)
    assert public.url == "https://api.binance.com/api/v3/depth?symbol=BTCUSDT" and public.headers == {}


@pytest.mark.parametrize(
    "base_url",
    ["https://evil.example.com", "http://api.binance.com", "https://api.binance.com.evil.io", "http://10.0.0.5:80",
     "https://api.binance.com/proxy", "http://user:pw@127.0.0.1:9"],
)
def test_keys_never_go_to_foreign_hosts(base_url):
    with pytest.raises(PolicyError, match="refusing to send"):
        prepare_request(CATALOG.get("get_account"), [], base_url=base_url, account=DOC_ACCOUNT, now_ms=1)


def test_signed_endpoint_without_account_is_refused():
    with pytest.raises(PolicyError, match="needs an account"):
        prepare_request(CATALOG.get("get_account"), [], base_url="http://127.0.0.1:1", account=None, now_ms=1)


def test_user_agent_carries_the_skill_version():
    assert user_agent("1.0.1") == "binance-spot/1.0.1 (Skill)"
