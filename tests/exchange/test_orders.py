"""Client order ids: generated, prefixed, refused when too long; and where recovery looks."""

from __future__ import annotations

import re

import pytest

from binance_spot_mcp.catalog.endpoints import load_catalog
from binance_spot_mcp.errors import ToolInputError
from binance_spot_mcp.exchange.orders import client_id_param, lookup_for, verdict, with_client_id

CATALOG = load_catalog()


def test_which_endpoints_place_orders_and_which_id_they_carry():
    placing = {e.tool: client_id_param(e) for e in CATALOG.endpoints if client_id_param(e)}
    assert placing["place_order"] == placing["place_sor_order"] == placing["cancel_replace_order"] == "newClientOrderId"
    for tool in ("place_oco_deprecated", "place_order_list_oco", "place_order_list_oto", "place_order_list_otoco",
                 "place_order_list_opo", "place_order_list_opoco"):
        assert placing[tool] == "listClientOrderId"
    for tool in ("cancel_order", "amend_order_keep_priority", "test_order", "get_order", "cancel_order_list"):
        assert tool not in placing


def test_generated_and_prefixed_ids():
    order = CATALOG.get("place_order")
    params, generated = with_client_id(order, (("symbol", "BTCUSDT"),))
    assert re.fullmatch(r"agent-[A-Za-z0-9]{18}", generated) and dict(params)["newClientOrderId"] == generated
    _, other = with_client_id(order, (("symbol", "BTCUSDT"),))
    assert other != generated
    params, prefixed = with_client_id(order, (("newClientOrderId", "my-1"), ("symbol", "X")))
    assert prefixed == "agent-my-1" and params == (("newClientOrderId", "agent-my-1"), ("symbol", "X"))
    _, kept = with_client_id(order, (("newClientOrderId", "agent-abc"),))
    assert kept == "agent-abc"
    assert with_client_id(CATALOG.get("get_order"), (("symbol", "X"),)) == ((("symbol", "X"),), None)


def test_ids_too_long_after_the_prefix_are_refused():
    order = CATALOG.get("place_order")
    with_client_id(order, (("newClientOrderId", "x" * 30),))  # 6 + 30 = 36: fits
    with pytest.raises(ToolInputError, match="at most 36") as info:
        with_client_id(order, (("newClientOrderId", "x" * 31),))
    assert info.value.parameter == "newClientOrderId"
    with pytest.raises(ToolInputError):
        with_client_id(order, (("newClientOrderId", "bad id!"),))


def test_lookups_and_verdicts():
    order = CATALOG.get("place_order")
    assert lookup_for(order, (("symbol", "BTCUSDT"),), "agent-1").describe() == "get_order symbol=BTCUSDT origClientOrderId=agent-1"
    oco = CATALOG.get("place_order_list_oco")
    assert lookup_for(oco, (("symbol", "BTCUSDT"),), "agent-2").describe() == "get_order_list origClientOrderId=agent-2"
    assert verdict({"status": "FILLED"}) == "placed, FILLED"
    assert verdict({"listOrderStatus": "EXECUTING"}) == "placed, EXECUTING"


def _run_resolve(tool, params, known):
    """resolve_client_id against a pretend exchange holding the client ids in ``known``."""
    import anyio

    from binance_spot_mcp.exchange.orders import resolve_client_id

    asked = []

    async def exists(lookup):
        asked.append(lookup.describe())
        return dict(lookup.arguments)["origClientOrderId"] in known

    return anyio.run(resolve_client_id, CATALOG.get(tool), params, exists), asked


def test_an_id_given_without_the_prefix_finds_the_prefixed_order():
    (params, choice), asked = _run_resolve("get_order", (("symbol", "BTCUSDT"), ("origClientOrderId", "myorder1")), {"agent-myorder1"})
    assert params == (("symbol", "BTCUSDT"), ("origClientOrderId", "agent-myorder1"))
    assert choice.used == "agent-myorder1" and choice.given == "myorder1"
    assert asked == ["get_order symbol=BTCUSDT origClientOrderId=myorder1", "get_order symbol=BTCUSDT origClientOrderId=agent-myorder1"]
    wrapped = choice.wrap({"orderId": 1})
    assert wrapped["clientIdUsed"] == "agent-myorder1" and wrapped["result"] == {"orderId": 1}
    assert "'myorder1'" in wrapped["note"] and "agent-" in wrapped["note"]


@pytest.mark.parametrize(
    "tool,param,lookup",
    [
        ("cancel_order", "origClientOrderId", "get_order"),
        ("amend_order_keep_priority", "origClientOrderId", "get_order"),
        ("cancel_replace_order", "cancelOrigClientOrderId", "get_order"),
        ("cancel_order_list", "listClientOrderId", "get_order_list"),
        ("get_order_list", "origClientOrderId", "get_order_list"),
    ],
)
def test_every_tool_naming_an_existing_order_by_client_id_tries_the_prefix(tool, param, lookup):
    (params, choice), asked = _run_resolve(tool, (("symbol", "BTCUSDT"), (param, "x1")), {"agent-x1"})
    assert dict(params)[param] == "agent-x1" and choice.param == param
    assert all(a.startswith(lookup + " ") for a in asked)


def test_an_id_that_exists_as_given_is_kept_and_unknowns_are_left_alone():
    params = (("symbol", "BTCUSDT"), ("origClientOrderId", "web-1"))
    (kept, choice), asked = _run_resolve("cancel_order", params, {"web-1", "agent-web-1"})
    assert kept == params and choice is None and len(asked) == 1  # the literal id wins
    (kept, choice), _ = _run_resolve("cancel_order", params, set())
    assert kept == params and choice is None  # neither exists: Binance reports it as given
    prefixed = (("symbol", "BTCUSDT"), ("origClientOrderId", "agent-1"))
    assert _run_resolve("get_order", prefixed, set()) == ((prefixed, None), [])
    placing = (("symbol", "BTCUSDT"), ("listClientOrderId", "l1"))  # a new list's id is not a lookup
    assert _run_resolve("place_order_list_oco", placing, {"agent-l1"}) == ((placing, None), [])
    too_long = (("symbol", "BTCUSDT"), ("origClientOrderId", "x" * 31))
    assert _run_resolve("get_order", too_long, set()) == ((too_long, None), [])


def test_cannot_tell_means_the_id_is_kept():
    import anyio

    from binance_spot_mcp.exchange.orders import resolve_client_id

    async def unsure(lookup):
        return None

    params = (("symbol", "BTCUSDT"), ("origClientOrderId", "z"))
    assert anyio.run(resolve_client_id, CATALOG.get("cancel_order"), params, unsure) == (params, None)


def test_verdicts_for_every_reply_shape():
    from binance_spot_mcp.exchange.orders import verdict

    assert verdict({"status": "FILLED"}) == "placed, FILLED"
    assert verdict({"listOrderStatus": "EXECUTING"}) == "placed, EXECUTING"
    assert verdict({"listStatusType": "EXEC_STARTED"}) == "placed, EXEC_STARTED"
    assert verdict({}) == "placed, status unknown"
    assert verdict([{"orderId": 1}]) == "placed"


def test_a_too_long_id_says_how_much_room_is_left():
    from binance_spot_mcp.catalog.endpoints import load_catalog
    from binance_spot_mcp.errors import ToolInputError
    from binance_spot_mcp.exchange.orders import with_client_id

    order = load_catalog().get("place_order")
    with pytest.raises(ToolInputError) as caught:
        with_client_id(order, (("newClientOrderId", "x" * 40),))
    assert "(so at most 30 after the prefix)" in caught.value.message
    assert f"'agent-{'x' * 34}'" in caught.value.message  # shown cut to 40 characters
