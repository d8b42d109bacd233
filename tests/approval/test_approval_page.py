"""The URL channel's one-time approval page, seen by plain HTTP clients (the browser test is separate).

Whatever a client without the human's page does -- guess the path, replay it, post from another
origin, drop the CSRF token, use another Host -- nothing is approved and nothing is sent.
"""

from __future__ import annotations

import httpx
import pytest

from binance_spot_mcp.approval.book import ApprovalBook, Channel, Status
from binance_spot_mcp.approval.page import ApprovalPage
from tests.approval_support import Human, host, open_page, runtime_for, sends
from tests.e2e_support import result_json

pytestmark = pytest.mark.anyio


@pytest.fixture
def page():
    book = ApprovalBook()
    server = ApprovalPage(book)
    yield book, server
    server.close()


def _pending(book: ApprovalBook, preview: str = "Cancel all open orders\nAccount: live (MAINNET)"):
    return book.create(channel=Channel.URL, tool="cancel_open_orders", arguments={}, digest="d" * 64,
                       preview=preview, session=None)


async def test_the_page_shows_the_preview_and_approves_once(page):
    book, server = page
    pending = _pending(book)
    opened = await open_page(server.url_for(pending))
    assert opened.preview == pending.preview
    assert (await opened.submit(confirm=" CONFIRM ")).status_code == 200
    assert book.status(pending.approval_id) is Status.APPROVED
    replay = await opened.submit(confirm="CONFIRM")  # decides nothing: it says what was decided, and when
    assert replay.status_code == 409 and "Approved at " in replay.text and "Nothing was sent" not in replay.text
    assert book.status(pending.approval_id) is Status.APPROVED
    async with httpx.AsyncClient() as http:
        reopened = await http.get(server.url_for(pending))
    assert reopened.status_code == 200 and "Approved at " in reopened.text and 'name="confirm"' not in reopened.text


@pytest.mark.parametrize("typed", ["confirm", "do NOT CONFIRM", "CONFIRM!", ""])
async def test_anything_but_confirm_declines(page, typed):
    book, server = page
    pending = _pending(book)
    opened = await open_page(server.url_for(pending))
    response = await opened.submit(confirm=typed)
    assert "Nothing was sent" in response.text
    assert book.status(pending.approval_id) is Status.DECLINED


async def test_the_decline_button_declines_even_with_confirm_typed(page):
    book, server = page
    pending = _pending(book)
    opened = await open_page(server.url_for(pending))
    await opened.submit(confirm="CONFIRM", decision="decline")
    assert book.status(pending.approval_id) is Status.DECLINED


async def test_nothing_is_approved_without_the_page_itself(page):
    book, server = page
    pending = _pending(book)
    url = server.url_for(pending)
    opened = await open_page(url)
    async with httpx.AsyncClient() as http:
        # guessed or partial paths
        for wrong in (f"{server.origin}/approve/{pending.approval_id}/guess", f"{server.origin}/approve/{pending.approval_id}",
                      f"{server.origin}/", f"{server.origin}/approve/0000/{pending.secret}"):
            assert (await http.get(wrong)).status_code == 404
            posted = await http.post(wrong, data={"csrf": opened.csrf, "confirm": "CONFIRM", "decision": "approve"},
                                     headers={"Origin": server.origin})
            assert posted.status_code in (404, 405)
        # another Host header (DNS rebinding)
        rebound = await http.get(url, headers={"Host": f"evil.example:{server.port}"})
        assert rebound.status_code == 421
        # a CORS preflight gets no permission
        preflight = await http.options(url, headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
        assert "access-control-allow-origin" not in {k.lower() for k in preflight.headers}
    # another origin, no origin, no or a wrong CSRF token, another encoding
    assert (await opened.submit(confirm="CONFIRM", origin="https://evil.example")).status_code == 403
    assert (await opened.submit(confirm="CONFIRM", origin="null")).status_code == 403
    async with httpx.AsyncClient() as http:
        no_origin = await http.post(url, data={"csrf": opened.csrf, "confirm": "CONFIRM", "decision": "approve"})
        assert no_origin.status_code == 403
        as_json = await http.post(url, json={"csrf": opened.csrf, "confirm": "CONFIRM", "decision": "approve"},
                                  headers={"Origin": server.origin})
        assert as_json.status_code == 415
    assert (await opened.submit(confirm="CONFIRM", csrf="")).status_code == 403
    assert (await opened.submit(confirm="CONFIRM", csrf=opened.csrf[:-2] + "xx")).status_code == 403
    assert book.status(pending.approval_id) is Status.PENDING
    # the human can still approve on the real page
    assert (await opened.submit(confirm="CONFIRM")).status_code == 200
    assert book.status(pending.approval_id) is Status.APPROVED


async def test_the_page_cannot_be_framed_cached_or_scripted(page):
    book, server = page
    async with httpx.AsyncClient() as http:
        response = await http.get(server.url_for(_pending(book)))
    headers = {k.lower(): v for k, v in response.headers.items()}
    assert headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert "script-src" not in headers["content-security-policy"] and "default-src 'none'" in headers["content-security-policy"]
    assert headers["cache-control"] == "no-store"
    assert "access-control-allow-origin" not in headers
    assert "<script" not in response.text.lower()


async def test_an_expired_link_approves_nothing(page):
    book, server = page
    clock = {"now": 0.0}
    book._clock = lambda: clock["now"]  # noqa: SLF001
    pending = _pending(book)
    opened = await open_page(server.url_for(pending))
    clock["now"] += 301
    assert (await opened.submit(confirm="CONFIRM")).status_code == 404
    assert book.status(pending.approval_id) is None


async def test_a_forged_client_id_is_refused_before_anyone_is_asked(world, monkeypatch):
    runtime = runtime_for(world)
    human = Human("approve")
    forged = "x\nAccount: main (TESTNET, not real money)"
    try:
        async with host(runtime, "url", "auto", human, monkeypatch) as client:
            result = await client.call_tool("place_order", {
                "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.01",
                "price": "100", "account": "live", "newClientOrderId": forged})
    finally:
        await runtime.aclose()
    body = result_json(result)
    assert body["error"] == "invalid_arguments" and body["parameter"] == "newClientOrderId"
    assert human.asked == [] and human.pages == [] and sends(world) == 0


async def test_the_page_shows_the_preview_as_text_never_as_html(page):
    book, server = page
    pending = _pending(book, preview='Other parameters: note=<script>alert(1)</script>"&\\x0a')
    async with httpx.AsyncClient() as http:
        raw = (await http.get(server.url_for(pending))).text
    assert "<script>" not in raw and "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&amp;" in raw
    assert (await open_page(server.url_for(pending))).preview == pending.preview


async def test_url_approvals_are_journaled_with_their_channel(world, monkeypatch):
    runtime = runtime_for(world)
    try:
        async with host(runtime, "url", "legacy", Human("approve"), monkeypatch) as client:
            result = await client.call_tool("cancel_open_orders", {"symbol": "BTCUSDT", "account": "live"})
    finally:
        await runtime.aclose()
    assert result_json(result).get("error") != "not_confirmed" and sends(world) == 1
    intent = [e for e in runtime.journal.latest(10) if e["phase"] == "intent"][-1]
    assert intent["approved_via"] == "url" and len(intent["approval_id"]) == 16


def test_a_record_is_decided_only_through_its_own_channel():
    book = ApprovalBook()
    page_record = _pending(book)
    card_record = book.create(channel=Channel.APP, tool="cancel_open_orders", arguments={}, digest="e" * 64,
                              preview="p", session=None)
    assert book.lookup(page_record.approval_id, page_record.secret, Channel.APP) is None
    assert book.decide(page_record.approval_id, page_record.secret, channel=Channel.APP, approve=True) is None
    assert book.decide(card_record.approval_id, card_record.secret, channel=Channel.URL, approve=True,
                       csrf=card_record.csrf) is None
    assert book.status(page_record.approval_id) is book.status(card_record.approval_id) is Status.PENDING


def test_a_full_book_refuses_new_requests_instead_of_pushing_out_a_humans():
    from binance_spot_mcp.approval.book import MAX_OPEN_APPROVALS, TooManyPending

    book = ApprovalBook()
    first = _pending(book)
    book.decide(first.approval_id, first.secret, channel=Channel.URL, approve=True)
    for _ in range(MAX_OPEN_APPROVALS - 1):
        _pending(book)
    with pytest.raises(TooManyPending):
        _pending(book)
    assert book.status(first.approval_id) is Status.APPROVED  # still there, still redeemable
    assert book.redeem(first.approval_id, "d" * 64, None) is not None
    _pending(book)  # its slot is free again


async def test_a_malformed_form_is_refused_with_the_security_headers(page):
    book, server = page
    pending = _pending(book)
    opened = await open_page(server.url_for(pending))
    fields = "&".join(f"f{i}=x" for i in range(20))
    async with httpx.AsyncClient() as http:
        response = await http.post(opened.url, content=fields, headers={
            "Origin": server.origin, "Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 400 and response.headers["x-frame-options"] == "DENY"
    assert book.status(pending.approval_id) is Status.PENDING


async def test_a_cancelled_call_kills_its_approval_link(world, monkeypatch):
    """The host gives up on the tool call while the human has the page open: the link must die with
    the call, so the human cannot approve a request that will never be sent."""
    import anyio
    from mcp.types import ElicitResult

    runtime = runtime_for(world)
    opened = anyio.Event()
    links: list[str] = []

    class Opener(Human):
        async def callback(self, ctx, params):
            links.append(params.url)
            opened.set()
            return ElicitResult(action="accept")  # the page is open; the human is still reading

    try:
        async with host(runtime, "url", "legacy", Opener(), monkeypatch) as client:
            async with anyio.create_task_group() as tg:
                tg.start_soon(client.call_tool, "cancel_open_orders", {"symbol": "BTCUSDT", "account": "live"})
                with anyio.fail_after(30):
                    await opened.wait()
                tg.cancel_scope.cancel()
            approval_id = links[0].split("/approve/")[1].split("/")[0]
            with anyio.fail_after(30):  # the server notices the cancellation; wait on the record, not a clock
                status = await runtime.gate.book.wait_decided(approval_id, 30)
            assert status is not Status.PENDING
            async with httpx.AsyncClient() as http:
                reopened = await http.get(links[0])
            assert reopened.status_code == 200 and 'name="confirm"' not in reopened.text  # it approves nothing now
            assert "Withdrawn at " in reopened.text and "Nothing was sent" in reopened.text
    finally:
        await runtime.aclose()
    assert sends(world) == 0
