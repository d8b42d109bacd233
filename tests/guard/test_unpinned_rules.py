"""Guard-rail rules no test pinned before issue 22 (each was broken on purpose to see its test fail),
and item 7: every refusal names the switch that actually set it.

* at send the account's rules are read again (cap, dry run, key, base URL, environment);
* the kill switch stops every state-changing method, an amend included; an empty, unreadable or
  directory halt file halts; the halt file named by its variable is the one honoured;
* symbol lists: a deny list alone, server and account deny lists together, exact symbols,
  the stricter dry run and Confirm;
* approval follows the destination host as well as the label.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import pytest
from binance_spot_mcp.accounts.reading import Account
from binance_spot_mcp.catalog.endpoints import load_catalog
from binance_spot_mcp.config import HALT_FILE_ENV, HALT_FILE_NAME, load_settings
from binance_spot_mcp.exchange.signing import HmacSigner
from binance_spot_mcp.guard import killswitch
from binance_spot_mcp.policy import Rules, effective_policy, parse_rules, parse_symbols
from binance_spot_mcp.server.runtime import needs_approval
from mcp.types import ElicitResult

from tests.e2e_support import memory_client, result_json
from tests.guard.test_guard_rails import (
    GTC,
    OVER_CAP,
    SMALL_BUY,
    journal,
    refused,
    set_rules,
    with_account,
    writes,
)

anyio_mark = pytest.mark.anyio


# -- item 7: each refusal names its switch --------------------------------------------------------


@anyio_mark
async def test_trading_off_by_the_server_does_not_send_the_model_to_resume(world):
    env = {"BINANCE_SPOT_MCP_TRADING": "off"}
    async with memory_client(world.tools_file, "legacy", world.base_url, extra_env=env) as client:
        body = refused(await client.call_tool("place_order", SMALL_BUY), "kill switch")
    assert "BINANCE_SPOT_MCP_TRADING=off" in body["hint"] and "restarting the server" in body["hint"]
    assert "binance-spot-mcp resume)" not in body["hint"]


@anyio_mark
async def test_a_halt_file_refusal_names_resume(world):
    (world.tools_file.parent / HALT_FILE_NAME).write_text("")
    async with memory_client(world.tools_file, "legacy", world.base_url) as client:
        body = refused(await client.call_tool("place_order", SMALL_BUY), "kill switch")
    assert "binance-spot-mcp resume" in body["hint"] and "halt file" in body["message"]


@anyio_mark
async def test_a_server_wide_dry_run_names_the_server_switch_not_tools_md(world):
    env = {"BINANCE_SPOT_MCP_DRY_RUN": "1"}
    async with memory_client(world.tools_file, "legacy", world.base_url, extra_env=env) as client:
        body = result_json(await client.call_tool("place_order", SMALL_BUY))
    assert body["dry_run"] is True and "--dry-run or BINANCE_SPOT_MCP_DRY_RUN" in body["note"]
    assert "TOOLS.md" not in body["note"] and writes(world) == []


@anyio_mark
async def test_an_account_dry_run_names_tools_md(world):
    with_account(world, "rehearsal", "Dry Run: true")
    async with memory_client(world.tools_file, "legacy", world.base_url) as client:
        body = result_json(await client.call_tool("place_order", {**SMALL_BUY, "account": "rehearsal"}))
    assert "this account has 'Dry Run: true' in TOOLS.md" in body["note"] and "--dry-run" not in body["note"]


# -- at send, the account's rules are read again ---------------------------------------------------


def _replace_line(world, prefix: str, new: str) -> None:
    """Change the first line of the 'careful' block that starts with ``prefix``."""
    text = world.tools_file.read_text()
    head, _, block = text.partition("### careful\n")
    lines = block.splitlines(keepends=True)
    index = next(i for i, line in enumerate(lines) if line.startswith(prefix))
    lines[index] = new + "\n"
    world.tools_file.write_text(head + "### careful\n" + "".join(lines))


CHANGES = {
    "dry run switched on": ("dry run", lambda w: set_rules(w, "careful", "Confirm: always", "Dry Run: true")),
    "key swapped": ("account", "key"),
    "base url swapped": ("account", lambda w: _replace_line(w, "- Base URL:", "- Base URL: http://127.0.0.1:9")),
    "environment swapped": ("account", lambda w: _replace_line(w, "- Environment:", "- Environment: demo")),
}


@anyio_mark
@pytest.mark.parametrize("change", list(CHANGES))
async def test_a_change_made_while_the_human_reads_the_approval_takes_effect_at_send(world, change):
    with_account(world, "careful", "Confirm: always")
    rule, edit = CHANGES[change]
    if edit == "key":
        api_key, secret = secrets.token_hex(32), secrets.token_hex(32)
        world.exchange.add_account(api_key, hmac_secret=secret)

        def edit(w: Any) -> None:
            _replace_line(w, "- API Key:", f"- API Key: {api_key}")
            _replace_line(w, "- Secret:", f"- Secret: {secret}")

    asked: list[str] = []

    async def approve(ctx: Any, params: Any) -> Any:
        asked.append(params.message)
        edit(world)
        return ElicitResult(action="accept", content={"confirm": "CONFIRM"})

    async with memory_client(world.tools_file, "legacy", world.base_url, elicitation_callback=approve) as client:
        result = await client.call_tool("place_order", {**SMALL_BUY, "account": "careful"})
    assert len(asked) == 1 and writes(world) == []
    body = result_json(result)
    if rule == "dry run":
        refused(result, rule)
        assert "'Dry Run: true' in TOOLS.md" in body["hint"]
        assert [e["policy"]["stage"] for e in journal(world) if e["phase"] == "intent"] == ["at send"]
    else:  # the approval covered the entry as shown: a changed entry voids it (then the guard checks too)
        assert result.is_error and body["error"] == "not_confirmed" and "changed" in body["message"], body


@anyio_mark
@pytest.mark.parametrize("change", list(CHANGES))
async def test_the_send_time_check_itself_reads_the_account_again(world, change):
    """The guard's own check at send, below the approval's: an account object from before the
    change is refused (dry run, key, base URL, environment)."""
    from binance_spot_mcp.errors import PolicyRefused

    with_account(world, "careful", "Confirm: always")
    rule, edit = CHANGES[change]
    if edit == "key":
        api_key, secret = secrets.token_hex(32), secrets.token_hex(32)

        def edit(w: Any) -> None:
            _replace_line(w, "- API Key:", f"- API Key: {api_key}")
            _replace_line(w, "- Secret:", f"- Secret: {secret}")

    runtimes: list[Any] = []
    async with memory_client(world.tools_file, "legacy", world.base_url, on_runtime=runtimes.append):
        runtime = runtimes[0]
        stale = runtime.accounts.resolve("careful")
        edit(world)
        endpoint = runtime.catalog.get("place_order")
        with pytest.raises(PolicyRefused) as caught:
            async with runtime.guard.at_send(endpoint, stale, tuple((k, str(v)) for k, v in SMALL_BUY.items())):
                pytest.fail("the send-time check let a stale account through")
    assert caught.value.rule == rule and writes(world) == []


# -- the kill switch ------------------------------------------------------------------------------

WRITES = {
    "place_order": SMALL_BUY,
    "place_sor_order": SMALL_BUY,
    "cancel_replace_order": {**SMALL_BUY, "cancelReplaceMode": "ALLOW_FAILURE", "cancelOrderId": 1},
    "place_order_list_oto": OVER_CAP["oto (working + pending)"][1],
    "place_order_list_oco": {**OVER_CAP["oco (the larger leg)"][1], "quantity": "0.001"},
    "amend_order_keep_priority": {"symbol": "BTCUSDT", "orderId": 1, "newQty": "0.0005"},
}


@anyio_mark
@pytest.mark.parametrize("tool", list(WRITES))
async def test_an_empty_halt_file_stops_every_state_changing_method(world, tool):
    async with memory_client(world.tools_file, "legacy", world.base_url) as client:
        resting = result_json(await client.call_tool("place_order", SMALL_BUY))
        (world.tools_file.parent / HALT_FILE_NAME).touch()  # `touch HALT`
        args = {**WRITES[tool], **({"orderId": resting["orderId"]} if "orderId" in WRITES[tool] else {})}
        refused(await client.call_tool(tool, args), "kill switch")
        cancel = await client.call_tool("cancel_order", {"symbol": "BTCUSDT", "orderId": resting["orderId"]})
        assert not cancel.is_error, cancel  # cancels still pass
    assert [r.method for r in writes(world)] == ["POST", "DELETE"]


def _settings(tmp_path: Path, **env: str) -> Any:
    return load_settings(tools_file=str(tmp_path / "TOOLS.md"),
                         environ={"BINANCE_SPOT_MCP_JOURNAL": str(tmp_path / "j" / "journal.jsonl"), **env})


def test_a_halt_file_that_cannot_be_read_halts(tmp_path):
    settings = _settings(tmp_path)
    assert killswitch.state(settings).trading
    killswitch.halt_path(settings).mkdir(parents=True)  # a directory where the file should be
    state = killswitch.state(settings)
    assert not state.trading and "unreadable" in state.reason and "resume" in state.hint


def test_an_unreadable_halt_file_halts(tmp_path, monkeypatch):
    settings = _settings(tmp_path)
    path = killswitch.halt_path(settings)
    path.parent.mkdir(parents=True)
    path.write_text("{}")
    original = Path.read_text

    def deny(self: Path, *args: Any, **kwargs: Any) -> str:
        if self == path:
            raise PermissionError(13, "Permission denied")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", deny)  # root reads any file: simulate a 000 file
    assert not killswitch.state(settings).trading


def test_the_halt_file_named_by_its_variable_is_the_one_honoured(tmp_path):
    named = tmp_path / "elsewhere" / "STOP"
    settings = _settings(tmp_path, **{HALT_FILE_ENV: str(named)})
    (tmp_path / "j").mkdir()
    (tmp_path / "j" / HALT_FILE_NAME).write_text("")  # the default place: not the switch now
    assert killswitch.state(settings).trading
    named.parent.mkdir()
    named.write_text("")
    state = killswitch.state(settings)
    assert not state.trading and str(named) in state.reason


# -- symbol lists, dry run and Confirm: the stricter wins ---------------------------------------------


@anyio_mark
async def test_a_deny_list_alone_is_enforced_and_adds_to_the_servers(world):
    with_account(world, "denied", "Denied Symbols: BNB*")
    env = {"BINANCE_SPOT_MCP_DENIED_SYMBOLS": "ETH*"}
    eth = {"symbol": "ETHUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.01", "price": "2700", **GTC}
    async with memory_client(world.tools_file, "legacy", world.base_url, extra_env=env) as client:
        refused(await client.call_tool("place_order", {**eth, "account": "denied"}), "symbol list")  # the server's
        refused(await client.call_tool("place_order", {**eth, "symbol": "BNBUSDT", "price": "540", "account": "denied"}),
                "symbol list")  # the account's
        assert not (await client.call_tool("place_order", {**SMALL_BUY, "account": "denied"})).is_error
    assert len(writes(world)) == 1


def test_an_allowed_symbol_is_that_symbol_only():
    policy = effective_policy(Rules(), Rules(allowed_symbols=parse_symbols("BTCUSDT")))
    assert policy.symbol_problem("BTCUSDT") is None
    for other in ("BTCUSDTDOWN", "XBTCUSDT", "BTCUSD"):
        assert "not in the allowed symbols" in (policy.symbol_problem(other) or "")


def test_a_deny_list_alone_restricts_and_server_and_account_deny_lists_add_up():
    policy = effective_policy(Rules(denied_symbols=("ETH*",)), Rules(denied_symbols=("BNB*",)))
    assert policy.restricts_symbols
    assert policy.symbol_problem("ETHUSDT") and policy.symbol_problem("BNBUSDT") and not policy.symbol_problem("BTCUSDT")


def test_an_account_cannot_undo_a_server_wide_dry_run_or_confirm_always():
    account = parse_rules({"dry_run": ("false", 1), "confirm": ("mainnet", 2)}, "TOOLS.md")
    policy = effective_policy(Rules(dry_run=True, confirm="always"), account)
    assert policy.dry_run and policy.confirm_always and policy.dry_run_by == ("server",)


# -- approval follows the destination host -------------------------------------------------------------


def test_approval_is_decided_by_the_destination_host_as_well_as_the_label():
    place = load_catalog().get("place_order")
    assert place is not None

    def account(environment: str, base_url: str) -> Account:
        return Account(name="a", environment=environment, api_key="k" * 64, signer=HmacSigner("s" * 64),
                       base_url=base_url)

    assert needs_approval(place, account("testnet", "https://api.binance.com"))  # label says testnet, host is mainnet
    assert needs_approval(place, account("mainnet", "http://127.0.0.1:9"))
    assert not needs_approval(place, account("testnet", "https://testnet.binance.vision"))
