"""Approval rules that no test pinned before issue 22, each with a test that fails when the rule
breaks: the approval page checks Host on POST as on GET, the chat token's MAC key is random per
process, and where --require-elicitation closes the chat path no tool offers its arguments.
"""

from __future__ import annotations

import httpx
import pytest
from binance_spot_mcp.approval.book import ApprovalBook, Channel, Status
from binance_spot_mcp.approval.confirm import ConfirmationTokens, NonceBook, TokenCheck
from binance_spot_mcp.approval.page import ApprovalPage

from tests.approval_support import host, open_page, runtime_for
from tests.e2e_support import ERAS

pytestmark = pytest.mark.anyio
DIGEST = "d" * 64


@pytest.fixture
def page():
    book = ApprovalBook()
    server = ApprovalPage(book)
    yield book, server
    server.close()


@pytest.mark.parametrize("bad_host", ["evil.example:{port}", "attacker.test", "127.0.0.1:{other}", "", "localhost"])
async def test_a_post_with_another_host_approves_nothing_even_with_origin_csrf_and_confirm(page, bad_host):
    """DNS rebinding: a page served under another name posts everything right but the Host."""
    book, server = page
    pending = book.create(channel=Channel.URL, tool="cancel_open_orders", arguments={}, digest=DIGEST,
                          preview="Cancel all open orders", session=None)
    opened = await open_page(server.url_for(pending))
    form = {"csrf": opened.csrf, "confirm": "CONFIRM", "decision": "approve"}
    async with httpx.AsyncClient() as http:
        posted = await http.post(
            opened.url, data=form,
            headers={"Origin": opened.origin, "Host": bad_host.format(port=server.port, other=server.port + 1)},
        )
    assert posted.status_code == 421
    assert book.status(pending.approval_id) is Status.PENDING
    assert (await opened.submit(confirm="CONFIRM")).status_code == 200  # the real page still works
    assert book.status(pending.approval_id) is Status.APPROVED


def test_the_chat_token_key_is_random_per_process():
    """Two servers (processes, or Runtime instances) never share the key that signs chat tokens:
    with the same run id and the same nonces, one's token still fails at the other."""
    shared = NonceBook()
    first, second = ConfirmationTokens(shared), ConfirmationTokens(shared)
    second._run = first._run
    token = first.issue(DIGEST)
    assert second.check(token, DIGEST) is TokenCheck.INVALID
    assert first.check(token, DIGEST) is TokenCheck.OK


async def test_two_runtimes_sign_the_same_request_with_different_keys(world):
    one, two = runtime_for(world, allow_chat_confirm=True), runtime_for(world, allow_chat_confirm=True)
    try:
        a, b = one.gate.tokens, two.gate.tokens
        b._run = a._run
        assert a._mac("nonce", DIGEST) != b._mac("nonce", DIGEST)
    finally:
        await one.aclose()
        await two.aclose()


@pytest.mark.parametrize("mode", ERAS)
@pytest.mark.parametrize("opt_in", ["server", "account"])
async def test_require_elicitation_hides_the_chat_arguments_from_tools_list(world, monkeypatch, mode, opt_in):
    if opt_in == "account":
        text = world.tools_file.read_text().replace("- Testnet: false", "- Testnet: false\n- Chat Confirm: true")
        world.tools_file.write_text(text)
        opened, locked = runtime_for(world), runtime_for(world, require_elicitation=True)
    else:
        opened = runtime_for(world, allow_chat_confirm=True)
        locked = runtime_for(world, allow_chat_confirm=True, require_elicitation=True)
    try:
        offered = {}
        for label, runtime in (("opened", opened), ("locked", locked)):
            async with host(runtime, "none", mode, None, monkeypatch) as client:
                tools = (await client.list_tools()).tools
            offered[label] = {
                t.name for t in tools if {"confirm", "confirmation_token"} & set(t.input_schema.get("properties", {}))
            }
    finally:
        await opened.aclose()
        await locked.aclose()
    assert {"place_order", "cancel_order", "add_account"} <= offered["opened"]  # the opt-in shows them
    assert offered["locked"] == set()
