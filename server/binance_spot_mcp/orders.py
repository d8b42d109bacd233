"""Order placement rules: client order ids, and finding out what happened when the reply is lost.

Every order-placing request carries a client order id, so that an order whose outcome is
unknown (timeout, dropped connection, HTTP 5xx, -1006/-1007) can be looked up instead of
being sent again (invariant 4):

* no id given: ``agent-`` + 18 random letters and digits;
* an id without the ``agent-`` prefix gets it; the result must still fit Binance's rule
  (letters, digits and ``. : / _ -``, at most ``MAX_CLIENT_ORDER_ID_LENGTH`` characters).

Which parameter carries the id is derived from the endpoint, not typed per tool: order lists
use ``listClientOrderId``, every other order-placing POST uses ``newClientOrderId``.
"""

from __future__ import annotations

import re
import secrets
import string
from dataclasses import dataclass
from typing import Any

from binance_spot_mcp.catalog import Endpoint
from binance_spot_mcp.errors import ToolInputError

CLIENT_ID_PREFIX = "agent-"
GENERATED_ID_LENGTH = 18
MAX_CLIENT_ORDER_ID_LENGTH = 36
CLIENT_ORDER_ID_RE = re.compile(r"^[.A-Za-z0-9:/_-]{1,36}$")
LIST_ID_PARAM = "listClientOrderId"
ORDER_ID_PARAM = "newClientOrderId"
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
