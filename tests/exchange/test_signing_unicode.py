"""A request with a non-ASCII symbol is percent-encoded *before* it is signed, and exactly the
signed bytes are sent (rest-api.md, "SIGNED Endpoint Examples for POST /api/v3/order"; required
on REST since 2026-01-15, CHANGELOG 2025-12-17).

The HMAC case is Binance's own documented vector (symbol ``１２３４５６``). The docs give no usable
Ed25519 or RSA vector (their private keys are not published), so those are checked with throwaway
keys: the signature verifies over the documented percent-encoded payload, and the fake exchange,
which rebuilds the payload from the raw request the way Binance does, accepts it.
"""

from __future__ import annotations

import base64
from types import SimpleNamespace

import pytest
from binance_spot_mcp.accounts.reading import Account
from binance_spot_mcp.catalog.endpoints import load_catalog
from binance_spot_mcp.exchange.client import prepare_request
from binance_spot_mcp.exchange.signing import Ed25519Signer, HmacSigner, RsaSigner
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from tests.fake_binance.auth import (
    ApiKey,
    load_public_key,
    signature_payload,
    verify_signature,
)

BASE = "http://127.0.0.1:9"
PLACE_ORDER = load_catalog().get("place_order")
# rest-api.md, HMAC keys: the documented example key pair, parameters and results.
DOC_API_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
DOC_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
DOC_TIMESTAMP = 1499827319559
DOC_PARAMS = [("symbol", "１２３４５６"), ("side", "BUY"), ("type", "LIMIT"), ("timeInForce", "GTC"),
              ("quantity", "1"), ("price", "0.1"), ("recvWindow", "5000")]
DOC_PAYLOAD = (
    "symbol=%EF%BC%91%EF%BC%92%EF%BC%93%EF%BC%94%EF%BC%95%EF%BC%96&side=BUY&type=LIMIT&timeInForce=GTC"
    "&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"
)
DOC_SIGNATURE = "e1353ec6b14d888f1164ae9af8228a3dbd508bc82eb867db8ab6046442f33ef3"
TESTNET_SYMBOL = "这是测试币456"


def _account(signer) -> Account:
    return Account(name="doc", environment="testnet", api_key=DOC_API_KEY, signer=signer, base_url=BASE)


def _fake_view(request) -> SimpleNamespace:
    """The request as the fake exchange's auth code reads it: raw query and body bytes."""
    query = request.url.split("?", 1)[1].encode() if "?" in request.url else b""
    return SimpleNamespace(method=request.method, query=query, body=request.body or b"")


def test_the_documented_non_ascii_hmac_vector_is_what_we_sign_and_send():
    request = prepare_request(PLACE_ORDER, DOC_PARAMS, base_url=BASE, account=_account(HmacSigner(DOC_SECRET)),
                              now_ms=DOC_TIMESTAMP)
    assert request.signed_payload == DOC_PAYLOAD.encode()
    # the body is what rest-api.md's curl example sends: the signed payload, then the signature
    assert request.body == f"{DOC_PAYLOAD}&signature={DOC_SIGNATURE}".encode()
    assert request.body.isascii() and request.headers["X-MBX-APIKEY"] == DOC_API_KEY


def test_a_get_carries_the_percent_encoded_symbol_in_the_signed_query():
    endpoint = load_catalog().get("get_open_orders")
    request = prepare_request(endpoint, [("symbol", TESTNET_SYMBOL)], base_url=BASE,
                              account=_account(HmacSigner(DOC_SECRET)), now_ms=DOC_TIMESTAMP)
    encoded = "%E8%BF%99%E6%98%AF%E6%B5%8B%E8%AF%95%E5%B8%81456"  # 这是测试币456 as UTF-8, percent-encoded
    assert request.signed_payload == f"symbol={encoded}&timestamp={DOC_TIMESTAMP}".encode()
    assert request.url.startswith(f"{BASE}/api/v3/openOrders?symbol={encoded}&timestamp=") and request.url.isascii()
    payload, signature = signature_payload(_fake_view(request))
    assert payload == request.signed_payload
    assert verify_signature(ApiKey(DOC_API_KEY, hmac_secret=DOC_SECRET), payload, signature)


def _public_pem(key) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


@pytest.mark.parametrize("kind", ["ed25519", "rsa"])
def test_asymmetric_signatures_cover_the_percent_encoded_payload(kind):
    if kind == "ed25519":
        key = ed25519.Ed25519PrivateKey.generate()
        signer = Ed25519Signer(key)

        def check(signature: bytes, payload: bytes) -> None:
            key.public_key().verify(signature, payload)
    else:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        signer = RsaSigner(key)

        def check(signature: bytes, payload: bytes) -> None:
            key.public_key().verify(signature, payload, padding.PKCS1v15(), hashes.SHA256())

    request = prepare_request(PLACE_ORDER, DOC_PARAMS, base_url=BASE, account=_account(signer), now_ms=DOC_TIMESTAMP)
    assert request.signed_payload == DOC_PAYLOAD.encode()
    payload, signature = signature_payload(_fake_view(request))
    check(base64.b64decode(signature), DOC_PAYLOAD.encode())
    assert verify_signature(ApiKey(DOC_API_KEY, public_key=load_public_key(_public_pem(key))), payload, signature)


def test_the_fake_refuses_a_signature_over_the_raw_utf8_payload():
    """Binance's rule since 2026-01-15: signing the UTF-8 text instead of its percent-encoding is -1022."""
    unencoded = DOC_PAYLOAD.replace("%EF%BC%91%EF%BC%92%EF%BC%93%EF%BC%94%EF%BC%95%EF%BC%96", "１２３４５６")
    wrong = HmacSigner(DOC_SECRET).sign(unencoded.encode())
    request = SimpleNamespace(method="POST", query=b"", body=f"{DOC_PAYLOAD}&signature={wrong}".encode())
    payload, signature = signature_payload(request)
    assert not verify_signature(ApiKey(DOC_API_KEY, hmac_secret=DOC_SECRET), payload, signature)
    assert verify_signature(ApiKey(DOC_API_KEY, hmac_secret=DOC_SECRET), payload, DOC_SIGNATURE)
