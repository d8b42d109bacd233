"""Runtime.call paths the mutation run of ``server.runtime`` left unpinned: a direct call with no
asker, a changed accounts file re-read off the event loop, the unknown tool's name cut at 80
characters, chat confirmation (orders and add_account), add_account refused when the file changes
mid-approval, the account question (no way to ask, an earlier round's answer, nobody answering),
and where public data comes from."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from types import SimpleNamespace
from typing import Any

import anyio
import httpx
import pytest
from binance_spot_mcp import __version__
from binance_spot_mcp.approval.card import CARD_URI
from binance_spot_mcp.approval.confirm import ACCOUNT_INPUT_KEY, STATE_TTL_S
from binance_spot_mcp.catalog.endpoints import load_catalog
from binance_spot_mcp.config import load_settings
from binance_spot_mcp.results import narrowing_hint
from binance_spot_mcp.server import Runtime, build_server
from binance_spot_mcp.server.runtime import INSTRUCTIONS, READ_ONLY_NOTE
from mcp import Client
from mcp.server import request_state
from mcp.shared.exceptions import MCPError
from mcp.types import ElicitResult, InputRequiredResult

from tests.approval_support import Human, host, runtime_for
from tests.e2e_support import (
    loopback_environ,
    memory_client,
    random_token,
    result_json,
    stream_environ,
    write_world,
)
from tests.guard.test_guard_rails import journal, with_account, writes

pytestmark = pytest.mark.anyio


async def test_a_direct_call_without_an_asker_still_runs(world):
    runtimes: list[Runtime] = []
    async with memory_client(world.tools_file, "legacy", world.base_url, on_runtime=runtimes.append):
        price = await runtimes[0].call("get_ticker_price", {"symbol": "BTCUSDT"})
    assert not price.is_error and result_json(price)["symbol"] == "BTCUSDT"


def _record_loads(runtime: Runtime, threads: list[int]) -> None:
    load = runtime.accounts._load

    def recording(stamp: Any) -> Any:
        threads.append(threading.get_ident())
        return load(stamp)

    runtime.accounts._load = recording  # type: ignore[method-assign]


@pytest.mark.parametrize("tool, arguments", [
    pytest.param("get_account", {"account": "renamed"}, id="endpoint-tool"),
    pytest.param("list_accounts", {}, id="account-tool"),
])
async def test_a_changed_accounts_file_is_read_again_off_the_event_loop(world, tool, arguments):
    threads: list[int] = []
    async with memory_client(world.tools_file, "legacy", world.base_url,
                             on_runtime=lambda runtime: _record_loads(runtime, threads)) as client:
        assert not (await client.call_tool("list_accounts", {})).is_error
        world.tools_file.write_text(world.tools_file.read_text().replace("### main", "### renamed"))
        del threads[:]
        result = await client.call_tool(tool, arguments)
    assert not result.is_error, result
    assert "renamed" in str(result_json(result)) or tool == "get_account"
    loop_thread = threading.get_ident()
    assert threads and loop_thread not in threads  # TOOLS.md and key files never read on the event loop


async def test_an_unknown_tools_name_is_cut_at_80_characters(world):
    name = "x" * 79 + "yz"
    async with memory_client(world.tools_file, "legacy", world.base_url) as client:
        with pytest.raises(MCPError) as unknown:
            await client.call_tool(name, {})
    assert str(unknown.value) == "Unknown tool: " + "x" * 79 + "y"


# ------------------------------------------------------------------------- chat confirmation
_ORDER = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001", "account": "live"}
_CHAT = {"BINANCE_SPOT_MCP_ALLOW_CHAT_CONFIRM": "1"}


async def test_a_chat_confirmed_order_is_sent_once_with_its_token(world):
    async with memory_client(world.tools_file, "legacy", world.base_url, extra_env=_CHAT) as client:
        asked = await client.call_tool("place_order", _ORDER)
        token = result_json(asked)["confirmation_token"]
        sent = await client.call_tool("place_order", {**_ORDER, "confirm": "CONFIRM", "confirmation_token": token})
    assert not sent.is_error, sent
    assert len(writes(world)) == 1


async def test_a_chat_confirmed_add_account_is_written_only_in_its_own_session(world):
    environ = {**loopback_environ(world.base_url, world.tools_file.parent), **_CHAT}
    runtime = Runtime(settings=load_settings(tools_file=str(world.tools_file), environ=environ))
    entry = {"name": "fresh-live", "environment": "mainnet", "api_key": random_token(), "secret": random_token()}
    try:
        async with Client(build_server(runtime), mode="legacy") as first, Client(build_server(runtime), mode="legacy") as second:
            token = result_json(await first.call_tool("add_account", entry))["confirmation_token"]
            other = await second.call_tool("add_account", {**entry, "confirm": "CONFIRM", "confirmation_token": token})
            assert result_json(other)["error"] == "not_confirmed"
            assert "fresh-live" not in world.tools_file.read_text()
            token = result_json(await first.call_tool("add_account", entry))["confirmation_token"]
            added = await first.call_tool("add_account", {**entry, "confirm": "CONFIRM", "confirmation_token": token})
    finally:
        await runtime.aclose()
    assert not added.is_error, added
    assert "fresh-live" in world.tools_file.read_text()


async def test_add_account_is_refused_when_the_file_changes_while_the_human_reads(world):
    async def human(ctx: Any, params: Any) -> ElicitResult:
        text = world.tools_file.read_text()  # someone adds the same name meanwhile: now it would replace it
        world.tools_file.write_text(text + "\n" + text[text.index("### live"):].replace("### live", "### fresh-live", 1))
        return ElicitResult(action="accept", content={"confirm": "CONFIRM"})

    entry = {"name": "fresh-live", "environment": "mainnet", "api_key": random_token(), "secret": random_token(),
             "replace": True}
    async with memory_client(world.tools_file, "legacy", world.base_url, elicitation_callback=human) as client:
        result = await client.call_tool("add_account", entry)
    assert result.is_error and result_json(result)["error"] == "not_confirmed", result
    assert result_json(result)["message"] == "The accounts file changed while the approval was pending. Nothing was sent."
    assert entry["api_key"] not in world.tools_file.read_text()


async def test_without_a_way_to_ask_an_ambiguous_account_is_an_error_naming_the_choices(tmp_path, fake_exchange, keys):
    world = write_world(tmp_path, fake_exchange, keys)
    world.tools_file.write_text(world.tools_file.read_text().replace("### main", "### first"))
    async with memory_client(world.tools_file, "legacy", world.base_url) as client:  # no elicitation
        result = await client.call_tool("get_account", {})
    body = result_json(result)
    assert result.is_error and body["error"] == "account_error"
    assert body["message"] != "no account was chosen, so nothing was sent" and "first" in str(body), body
    assert world.exchange.requests_to("/api/v3/account") == []


async def test_an_account_chosen_in_an_earlier_round_is_kept_through_the_approval(tmp_path, fake_exchange, keys):
    """Modern era: the account question, then the approval form, each a round; the second round
    uses the account picked in the first and the order goes out once."""
    world = write_world(tmp_path, fake_exchange, keys)
    world.tools_file.write_text(world.tools_file.read_text().replace("### main", "### first"))
    human = Human("approve")
    order = {k: v for k, v in _ORDER.items() if k != "account"}
    with anyio.fail_after(20):
        async with memory_client(world.tools_file, "auto", world.base_url, elicitation_callback=human.callback) as client:
            result = await client.call_tool("place_order", order)
    assert not result.is_error, result
    assert len(human.asked) == 2 and "live" in human.asked[1]  # the account, then the approval naming it
    assert len(writes(world)) == 1


async def test_an_account_question_nobody_answers_ends_with_nothing_sent(tmp_path, fake_exchange, keys):
    world = write_world(tmp_path, fake_exchange, keys)
    world.tools_file.write_text(world.tools_file.read_text().replace("### main", "### first"))

    def short_wait(runtime: Runtime) -> None:
        runtime.gate.elicitation_timeout_s = 0.2

    async def away(ctx: Any, params: Any) -> ElicitResult:
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    with anyio.fail_after(20):  # the hang guard: the server's own time limit must end the question
        async with memory_client(world.tools_file, "legacy", world.base_url, on_runtime=short_wait,
                                 elicitation_callback=away) as client:
            result = await client.call_tool("get_account", {})
    assert result.is_error and result_json(result)["message"] == "no account was chosen, so nothing was sent"
    assert world.exchange.requests_to("/api/v3/account") == []


async def test_public_data_comes_from_the_named_accounts_or_environments_exchange(world):
    """One environment's URL points nowhere: a public read goes where its 'account' (its own Base
    URL) or 'environment' says, never to a default source."""
    dead = {"BINANCE_SPOT_MCP_TESTNET_BASE_URL": "http://127.0.0.1:9"}
    async with memory_client(world.tools_file, "legacy", world.base_url, extra_env=dead) as client:
        by_account = await client.call_tool("get_ticker_price", {"symbol": "BTCUSDT", "account": "live"})
        by_environment = await client.call_tool("get_ticker_price", {"symbol": "BTCUSDT", "environment": "mainnet"})
        before = len(world.exchange.requests)
        testnet = await client.call_tool("get_ticker_price", {"symbol": "BTCUSDT", "environment": "testnet"})
    assert not by_account.is_error and not by_environment.is_error
    assert testnet.is_error and len(world.exchange.requests) == before
    # and with the account 'live' pointing nowhere, a read for it fails though 'main' would answer
    text = world.tools_file.read_text()
    head, live = text[:text.index("### live")], text[text.index("### live"):]
    world.tools_file.write_text(head + live.replace(f"- Base URL: {world.base_url}", "- Base URL: http://127.0.0.1:9"))
    async with memory_client(world.tools_file, "legacy", world.base_url) as client:
        before = len(world.exchange.requests)
        by_account = await client.call_tool("get_ticker_price", {"symbol": "BTCUSDT", "account": "live"})
        reached = len(world.exchange.requests) - before
        by_default = await client.call_tool("get_ticker_price", {"symbol": "BTCUSDT"})
    assert by_account.is_error and reached == 0 and not by_default.is_error


# ------------------------------------------------------------------------- server, results, logs
async def test_the_server_names_its_version_and_says_when_it_is_read_only(world):
    async with memory_client(world.tools_file, "legacy", world.base_url) as client:
        normal, info = client.instructions, client.server_info
    async with memory_client(world.tools_file, "legacy", world.base_url,
                             extra_env={"BINANCE_SPOT_MCP_READ_ONLY": "1"}) as client:
        read_only = client.instructions
    assert info is not None and info.version == __version__
    assert normal == INSTRUCTIONS and read_only == INSTRUCTIONS + READ_ONLY_NOTE


async def test_a_cut_result_says_how_to_ask_for_less_with_the_tools_own_parameters(world):
    async with memory_client(world.tools_file, "legacy", world.base_url,
                             extra_env={"BINANCE_SPOT_MCP_MAX_RESULT_CHARS": "2000"}) as client:
        result = await client.call_tool("get_exchange_info", {})
    assert not result.is_error
    endpoint = load_catalog().get("get_exchange_info")
    assert narrowing_hint(list(endpoint.params)) in result.content[0].text


async def test_a_signed_read_is_not_journaled(world):
    async with memory_client(world.tools_file, "legacy", world.base_url) as client:
        result = await client.call_tool("get_account", {"account": "main"})
    journal_file = world.tools_file.parent / "journal.jsonl"
    assert not result.is_error and (not journal_file.exists() or journal(world) == [])


async def test_failures_and_crashes_are_logged_with_the_tools_name(world, caplog):
    def crash(runtime: Runtime) -> None:
        async def boom(*args: Any, **kwargs: Any) -> None:
            raise RuntimeError("unexpected")

        runtime.facts.check_filters = boom  # type: ignore[method-assign]

    caplog.set_level(logging.INFO, logger="binance_spot_mcp.server.runtime")
    async with memory_client(world.tools_file, "legacy", world.base_url, on_runtime=crash) as client:
        failed = await client.call_tool("get_account", {"account": "nobody"})
        crashed = await client.call_tool("place_order", {**_ORDER, "account": "main"})
    assert failed.is_error and crashed.is_error
    messages = [r.getMessage() for r in caplog.records if r.name == "binance_spot_mcp.server.runtime"]
    assert f"get_account failed: {result_json(failed)['message']}" in messages
    assert "internal error in place_order" in messages


async def test_an_account_changed_while_the_human_reads_voids_the_approval_and_is_journaled(world):
    async def human(ctx: Any, params: Any) -> ElicitResult:
        text = world.tools_file.read_text()
        head, live = text[:text.index("### live")], text[text.index("### live"):]
        key_line = next(line for line in live.splitlines() if line.startswith("- API Key: "))
        world.tools_file.write_text(head + live.replace(key_line, f"- API Key: {random_token()}"))  # a new key
        return ElicitResult(action="accept", content={"confirm": "CONFIRM"})

    async with memory_client(world.tools_file, "legacy", world.base_url, elicitation_callback=human) as client:
        result = await client.call_tool("place_order", _ORDER)
    body = result_json(result)
    assert result.is_error and body["error"] == "not_confirmed", body
    assert body["message"].startswith("Account 'live' changed in the accounts file while the approval was pending.")
    assert writes(world) == []
    intent = journal(world)[-2]
    assert intent["policy"]["reason"] == "approval_invalid" and intent["policy"]["channel"] == "form"


async def test_mcp_apps_hosts_get_the_card_on_account_tools_that_change_state_only(world, monkeypatch):
    runtime = runtime_for(world)
    try:
        async with host(runtime, "apps", "legacy", None, monkeypatch) as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
    finally:
        await runtime.aclose()
    assert tools["add_account"].meta["ui"]["resourceUri"] == CARD_URI
    assert "ui" not in (tools["list_accounts"].meta or {})


# ------------------------------------------------------------------------- what __post_init__ wires
_BUY = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001", "account": "main"}


async def test_wait_for_order_asks_binance_for_the_order(world):
    async with memory_client(world.tools_file, "legacy", world.base_url, extra_env=stream_environ(world.fake)) as client:
        placed = result_json(await client.call_tool("place_order", _BUY))
        waited = await client.call_tool("wait_for_order", {"account": "main", "symbol": "BTCUSDT",
                                                           "orderId": placed["orderId"], "wait_seconds": 2})
    body = result_json(waited)
    assert not waited.is_error and body["reached"] is True, body
    assert body["source"] == "get_order" and body["order"]["status"] == "FILLED"


async def test_a_key_an_exchange_error_echoes_is_masked_in_the_journal(world):
    key = world.keys.hmac_api_key
    world.exchange.inject("error_before", path="/api/v3/order", method="POST", status=400, code=-2010,
                          msg=f"Order refused for API key {key}")
    async with memory_client(world.tools_file, "legacy", world.base_url) as client:
        result = await client.call_tool("place_order", _BUY)
    assert result.is_error and result_json(result)["code"] == -2010
    text = (world.tools_file.parent / "journal.jsonl").read_text()
    assert "Order refused for API key" in text and key not in text


async def test_require_elicitation_closes_the_chat_path_the_operator_opened(world):
    env = {"BINANCE_SPOT_MCP_REQUIRE_ELICITATION": "1", **_CHAT}
    async with memory_client(world.tools_file, "legacy", world.base_url, extra_env=env) as client:  # cannot prompt
        result = await client.call_tool("place_order", _ORDER)
    body = result_json(result)
    assert result.is_error and "--require-elicitation" in body["message"], body
    assert "confirmation_token" not in body and writes(world) == []


async def test_a_market_order_is_priced_from_the_exchange_for_an_account_cap(world):
    with_account(world, "capped", "Max Order Value: 100 USDT")
    async with memory_client(world.tools_file, "legacy", world.base_url) as client:
        small = await client.call_tool("place_order", {**_BUY, "account": "capped"})  # about 60 USDT
        big = await client.call_tool("place_order", {**_BUY, "quantity": "0.01", "account": "capped"})
    assert not small.is_error, small
    body = result_json(big)
    assert big.is_error and body["error"] == "policy_refused" and body["rule"] == "max order value", body
    assert body["cap"] == "100 USDT" and "600.3" in body["message"]
    assert len(writes(world)) == 1


async def test_requests_name_the_skill_version_in_their_user_agent(world):
    async with memory_client(world.tools_file, "legacy", world.base_url) as client:
        assert not (await client.call_tool("get_ticker_price", {"symbol": "BTCUSDT"})).is_error
    assert world.exchange.requests[-1].headers.get("user-agent") == f"binance-spot/{load_catalog().version} (Skill)"


async def test_the_http_timeout_setting_bounds_a_read(world):
    environ = loopback_environ(world.base_url, world.tools_file.parent)
    settings = dataclasses.replace(load_settings(tools_file=str(world.tools_file), environ=environ), http_timeout_s=0.2)
    runtime = Runtime(settings=settings)
    runtime.client.read_retry_delays_s = ()
    world.exchange.inject("delay", path="/api/v3/ticker/price", method="GET", delay_s=1.5)  # longer than 0.2 s
    try:
        with anyio.fail_after(10):
            result = await runtime.call("get_ticker_price", {"symbol": "BTCUSDT"})
    finally:
        await runtime.aclose()
    body = result_json(result)
    assert result.is_error and "price" not in body, body


async def test_the_runtime_sends_through_the_transport_it_is_given(world):
    paths: list[str] = []

    def exchange(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.path)
        return httpx.Response(200, json={"symbol": "BTCUSDT", "price": "1.23"})

    environ = loopback_environ("http://127.0.0.1:9", world.tools_file.parent)  # nothing listens there
    runtime = Runtime(settings=load_settings(tools_file=str(world.tools_file), environ=environ),
                      transport=httpx.MockTransport(exchange))
    try:
        result = await runtime.call("get_ticker_price", {"symbol": "BTCUSDT", "environment": "testnet"})
    finally:
        await runtime.aclose()
    assert not result.is_error and result_json(result)["price"] == "1.23", result
    assert paths == ["/api/v3/ticker/price"]


async def test_an_order_the_symbols_filters_reject_is_refused_before_it_leaves(world):
    """The filters come from the account's own exchange (its Base URL), not the environment's default."""
    dead = {"BINANCE_SPOT_MCP_TESTNET_BASE_URL": "http://127.0.0.1:9"}
    async with memory_client(world.tools_file, "legacy", world.base_url, extra_env=dead) as client:
        result = await client.call_tool("place_order", {**_BUY, "quantity": "0.001005"})  # step 0.00001
    body = result_json(result)
    assert result.is_error and body["error"] == "filter_rejected" and body["filter"] == "LOT_SIZE", body
    assert writes(world) == [] and world.exchange.requests_to("/api/v3/exchangeInfo")


# ------------------------------------------------------------------------- the account question's state
_PICK = {ACCOUNT_INPUT_KEY: ElicitResult(action="accept", content={ACCOUNT_INPUT_KEY: "rsa"})}


async def _never_asked(ctx: Any, params: Any) -> ElicitResult:
    raise AssertionError("answers are sent with the call here")


def _ambiguous(tmp_path: Any, fake_exchange: Any, keys: Any) -> Any:
    world = write_world(tmp_path, fake_exchange, keys)
    world.tools_file.write_text(world.tools_file.read_text().replace("### main", "### first"))
    return world


async def test_an_account_question_answered_twice_is_refused_the_second_time(tmp_path, fake_exchange, keys):
    world = _ambiguous(tmp_path, fake_exchange, keys)
    async with memory_client(world.tools_file, "auto", world.base_url, elicitation_callback=_never_asked) as client:
        session = client.session
        asked = await session.call_tool("get_account", {}, allow_input_required=True)
        assert isinstance(asked, InputRequiredResult)
        first = await session.call_tool("get_account", {}, allow_input_required=True, input_responses=_PICK,
                                        request_state=asked.request_state)
        again = await session.call_tool("get_account", {}, allow_input_required=True, input_responses=_PICK,
                                        request_state=asked.request_state)
    assert not first.is_error, first
    assert again.is_error
    assert result_json(again)["message"] == "that account question has expired or was already answered; nothing was sent"
    assert len(world.exchange.requests_to("/api/v3/account")) == 1


async def test_an_account_question_older_than_its_time_limit_is_refused_by_its_seal(tmp_path, fake_exchange, keys,
                                                                                   monkeypatch):
    """The sealed state lives STATE_TTL_S (the approval wait), less than the SDK's default of 600 s."""
    world = _ambiguous(tmp_path, fake_exchange, keys)
    async with memory_client(world.tools_file, "auto", world.base_url, elicitation_callback=_never_asked) as client:
        session = client.session
        asked = await session.call_tool("get_account", {}, allow_input_required=True)
        assert isinstance(asked, InputRequiredResult)
        later = time.time() + STATE_TTL_S + 60
        assert later < time.time() + 600
        monkeypatch.setattr(request_state, "time", SimpleNamespace(time=lambda: later))  # the seal's clock only
        with pytest.raises(MCPError):
            await session.call_tool("get_account", {}, allow_input_required=True, input_responses=_PICK,
                                    request_state=asked.request_state)
    assert world.exchange.requests_to("/api/v3/account") == []
