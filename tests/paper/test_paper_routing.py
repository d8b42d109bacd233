"""The routing client: a paper account's signed requests are answered by the desk and never reach
the network; its public reads go out with no key; every other account's requests are untouched."""

from __future__ import annotations

from decimal import Decimal as D
from types import SimpleNamespace

import httpx
import pytest
from binance_spot_mcp.catalog.endpoints import load_catalog
from binance_spot_mcp.exchange.signing import HmacSigner
from binance_spot_mcp.paper.routing import PaperRoutingClient, is_paper
from binance_spot_mcp.paper.settings import PaperSettings, PaperSigner

pytestmark = pytest.mark.anyio
CATALOG = load_catalog()
BASE = "http://127.0.0.1:9"


def _client(tmp_path, seen: list[httpx.Request]) -> PaperRoutingClient:
    def reply(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/api/v3/ticker/price":
            return httpx.Response(200, json={"symbol": "BTCUSDT", "price": "60000.00"})
        return httpx.Response(200, json={"balances": [], "real": True})

    return PaperRoutingClient(catalog=CATALOG, state_dir=tmp_path, skill_version="1.0",
                              transport=httpx.MockTransport(reply))


PAPER = SimpleNamespace(name="p", base_url=BASE, signer=PaperSigner(), api_key="paper:p",
                        paper=PaperSettings(balances=(("USDT", D(5)),)))
REAL = SimpleNamespace(name="r", base_url=BASE, signer=HmacSigner("s" * 64), api_key="k" * 64, paper=None)


async def test_a_paper_accounts_signed_request_is_answered_by_the_desk_and_never_sent(tmp_path):
    seen: list[httpx.Request] = []
    client = _client(tmp_path, seen)
    try:
        reply = await client.call(CATALOG.get("get_account"), [], base_url=BASE, account=PAPER)
    finally:
        await client.aclose()
    assert reply.status == 200 and reply.data["environment"] == "paper"
    assert isinstance(reply.headers, httpx.Headers)  # the Reply contract every caller may read
    assert reply.data["balances"] == [{"asset": "USDT", "free": "5.00000000", "locked": "0.00000000"}]
    assert seen == []  # nothing left this computer


async def test_a_paper_accounts_public_read_goes_out_without_a_key(tmp_path):
    seen: list[httpx.Request] = []
    client = _client(tmp_path, seen)
    try:
        reply = await client.call(CATALOG.get("get_ticker_price"), [("symbol", "BTCUSDT")], base_url=BASE, account=PAPER)
        price = await client._public_read("get_ticker_price", [("symbol", "BTCUSDT")], BASE)
        with pytest.raises(RuntimeError, match="only public endpoints"):
            await client._public_read("get_account", [], BASE)
        with pytest.raises(RuntimeError, match="only public endpoints"):
            await client._public_read("no_such_tool", [], BASE)
    finally:
        await client.aclose()
    assert reply.data["price"] == "60000.00" and price["price"] == "60000.00"
    assert [r.url.path for r in seen] == ["/api/v3/ticker/price", "/api/v3/ticker/price"]
    assert all("x-mbx-apikey" not in r.headers and "signature" not in str(r.url) for r in seen)


async def test_every_other_account_is_signed_and_sent_as_before(tmp_path):
    seen: list[httpx.Request] = []
    client = _client(tmp_path, seen)
    try:
        reply = await client.call(CATALOG.get("get_account"), [], base_url=BASE, account=REAL)
    finally:
        await client.aclose()
    assert reply.data == {"balances": [], "real": True}
    (request,) = seen
    assert request.url.path == "/api/v3/account" and request.headers["x-mbx-apikey"] == "k" * 64
    assert "signature=" in str(request.url)
    assert is_paper(PAPER) and not is_paper(REAL) and not is_paper(None)
