"""Order placement rules: client order ids, and finding out what happened when the reply is lost.

Every order-placing request carries a client order id, so that an order whose outcome is
unknown (timeout, dropped connection, HTTP 5xx, -1006/-1007) can be looked up instead of
being sent again (invariant 4):

* no id given: ``agent-`` + 18 random letters and digits;
* an id without the ``agent-`` prefix gets it; the result must still fit Binance's rule
  (letters, digits and ``. : / _ -``, at most ``MAX_CLIENT_ORDER_ID_LENGTH`` characters).

So that the prefix can never hide an order, a tool that names an existing order (or order list)
by client id (``origClientOrderId``, ``cancelOrigClientOrderId``, ``listClientOrderId`` of a
cancel) finds it with or without the prefix: when no order has the id as given, the prefixed
one is tried (``resolve_client_id``), and the reply says which id was used.

Which parameter carries the id is derived from the endpoint, not typed per tool: order lists
use ``listClientOrderId``, every other order-placing POST uses ``newClientOrderId``.
"""

from __future__ import annotations

import re
import secrets
import string
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from binance_spot_mcp.catalog.endpoints import Endpoint
from binance_spot_mcp.errors import ToolInputError

CLIENT_ID_PREFIX = "agent-"
GENERATED_ID_LENGTH = 18
MAX_CLIENT_ORDER_ID_LENGTH = 36
CLIENT_ORDER_ID_RE = re.compile(r"^[.A-Za-z0-9:/_-]{1,36}$")
LIST_ID_PARAM = "listClientOrderId"
ORDER_ID_PARAM = "newClientOrderId"
# Parameters that name an existing order by its client id (listClientOrderId only off POST).
EXISTING_ORDER_ID_PARAMS = ("origClientOrderId", "cancelOrigClientOrderId")
# Binance's "no such order / order list" codes (errors.md): -2013 for queries, -2011 for cancels.
NOT_FOUND_CODES = frozenset({-2013, -2011})
# Binance codes that leave the execution status unknown (errors.md).
UNKNOWN_OUTCOME_CODES = frozenset({-1006, -1007})
# Replies to a look-up that mean "no such order (list)": -2013 for orders, -2011 for order lists.
# Any other failure (rate limit, ban, key rejected, clock, 5xx) says nothing about the order.
NOT_FOUND_CODES = frozenset({-2013, -2011})
_ALPHANUMERIC = string.ascii_letters + string.digits


def client_id_param(endpoint: Endpoint) -> str | None:
    """The parameter that names the order(s) this endpoint places, or None if it places none."""
    if endpoint.method != "POST" or not endpoint.changes_state:
        return None
    if LIST_ID_PARAM in endpoint.params:
        return LIST_ID_PARAM
    if ORDER_ID_PARAM in endpoint.params:
        return ORDER_ID_PARAM
    return None


def existing_id_param(endpoint: Endpoint) -> str | None:
    """The parameter by which this endpoint names an existing order or order list, or None."""
    for name in EXISTING_ORDER_ID_PARAMS:
        if name in endpoint.params:
            return name
    if endpoint.method != "POST" and LIST_ID_PARAM in endpoint.params:
        return LIST_ID_PARAM
    return None


def names_order_list(endpoint: Endpoint) -> bool:
    """True when the endpoint's existing-id parameter names an order list, not an order."""
    return endpoint.path.startswith("/api/v3/orderList")


def prefixed(client_id: str) -> str | None:
    """The id this server would have placed an order under, when that differs from ``client_id``."""
    if client_id.startswith(CLIENT_ID_PREFIX):
        return None
    candidate = CLIENT_ID_PREFIX + client_id
    return candidate if CLIENT_ORDER_ID_RE.match(candidate) else None


def generate_client_id() -> str:
    return CLIENT_ID_PREFIX + "".join(secrets.choice(_ALPHANUMERIC) for _ in range(GENERATED_ID_LENGTH))


def with_client_id(endpoint: Endpoint, params: tuple[tuple[str, str], ...]) -> tuple[tuple[tuple[str, str], ...], str | None]:
    """The parameters with the endpoint's client id set by the rules above, and that id."""
    name = client_id_param(endpoint)
    if name is None:
        return params, None
    values = dict(params)
    given = values.get(name)
    if given is None:
        client_id = generate_client_id()
    else:
        client_id = given if given.startswith(CLIENT_ID_PREFIX) else CLIENT_ID_PREFIX + given
        if not CLIENT_ORDER_ID_RE.match(client_id):
            room = MAX_CLIENT_ORDER_ID_LENGTH - len(CLIENT_ID_PREFIX)
            raise ToolInputError(
                f"'{name}' becomes '{client_id[:40]}' with the '{CLIENT_ID_PREFIX}' prefix; Binance allows at most "
                f"{MAX_CLIENT_ORDER_ID_LENGTH} characters of letters, digits and . : / _ - "
                f"(so at most {room} after the prefix)",
                parameter=name,
            )
    if given is None:
        return params + ((name, client_id),), client_id
    return tuple((k, client_id if k == name else v) for k, v in params), client_id


@dataclass(frozen=True)
class Lookup:
    """How to ask Binance about an order (or order list) by its client id."""

    tool: str
    arguments: tuple[tuple[str, str], ...]

    def describe(self) -> str:
        args = " ".join(f"{k}={v}" for k, v in self.arguments)
        return f"{self.tool} {args}"


def lookup_existing(endpoint: Endpoint, params: tuple[tuple[str, str], ...], client_id: str) -> Lookup:
    """How to ask whether the order (or list) that ``endpoint`` names exists under ``client_id``."""
    if names_order_list(endpoint):
        return Lookup("get_order_list", (("origClientOrderId", client_id),))
    return Lookup("get_order", (("symbol", dict(params).get("symbol", "")), ("origClientOrderId", client_id)))


@dataclass(frozen=True)
class IdChoice:
    """A client id given without the prefix that was found only with it."""

    param: str
    given: str
    used: str

    def note(self) -> str:
        return (
            f"No order has the client id '{self.given}'; it was found as '{self.used}' (this server adds the "
            f"'{CLIENT_ID_PREFIX}' prefix to the ids of the orders it places), and '{self.used}' was used."
        )

    def wrap(self, data: Any) -> dict[str, Any]:
        """The reply, with the id actually used stated above it."""
        return {"note": self.note(), "clientIdUsed": self.used, "result": data}


async def resolve_client_id(
    endpoint: Endpoint,
    params: tuple[tuple[str, str], ...],
    exists: Callable[[Lookup], Awaitable[bool | None]],
) -> tuple[tuple[tuple[str, str], ...], IdChoice | None]:
    """The parameters with the existing-order id that Binance knows: as given, else prefixed.

    ``exists`` answers True (found), False (Binance says no such order) or None (cannot tell).
    The id is changed only when the given one is certainly unknown and the prefixed one is known.
    """
    name = existing_id_param(endpoint)
    given = dict(params).get(name) if name else None
    alternative = prefixed(given) if given else None
    if name is None or given is None or alternative is None:
        return params, None
    if await exists(lookup_existing(endpoint, params, given)) is not False:
        return params, None
    if await exists(lookup_existing(endpoint, params, alternative)) is not True:
        return params, None
    return tuple((k, alternative if k == name else v) for k, v in params), IdChoice(name, given, alternative)


def lookup_for(endpoint: Endpoint, params: tuple[tuple[str, str], ...], client_id: str) -> Lookup:
    values = dict(params)
    if client_id_param(endpoint) == LIST_ID_PARAM:
        return Lookup("get_order_list", (("origClientOrderId", client_id),))
    return Lookup("get_order", (("symbol", values.get("symbol", "")), ("origClientOrderId", client_id)))


def verdict(found: Any) -> str:
    """'placed, FILLED' for an order; 'placed, EXEC_STARTED' style for order lists."""
    if isinstance(found, dict):
        status = found.get("status") or found.get("listOrderStatus") or found.get("listStatusType") or "status unknown"
        return f"placed, {status}"
    return "placed"
