"""One summary of a request in plain words, written by the server, shown everywhere a human
decides (the approval page, the MCP Apps card, the form prompt) and journaled with a refusal.

``Summary`` holds, in this order: a headline ("Buy 0.002 BTC at 50,000 USDT -- you pay about
100 USDT + fee"), one line per order of an order list, the value and the estimated fee in the
quote asset, the distance from the market price where the server knows one, the account and
whether it is MAINNET, the values the assistant chose (``Supplied``: each in a cell of its own,
escaped and shortened, never part of a line of the server's), and the technical details (tool,
path, every parameter: ``confirm.preview``) folded below.

Only numbers the schema checked as decimals and symbols ``policy.is_symbol`` accepted enter the
server's own lines; every other value the model chose is a ``Supplied`` cell.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

import anyio

from binance_spot_mcp.accounts.reading import Account
from binance_spot_mcp.accounts.tools import AddPlan
from binance_spot_mcp.approval.confirm import preview
from binance_spot_mcp.catalog.endpoints import Endpoint
from binance_spot_mcp.config import MAINNET
from binance_spot_mcp.errors import BinanceSpotError
from binance_spot_mcp.exchange.market_facts import PRICE_LOOKUP_TIMEOUT_S, MarketFacts
from binance_spot_mcp.exchange.order_legs import (
    ORDER_LIST_TOOLS,
    ORDER_TOOLS,
    Leg,
    order_legs,
    wire_decimal,
)
from binance_spot_mcp.redact import escape_text, mask_api_key

STANDARD_FEE = Decimal("0.001")  # Binance's standard spot rate (0.1 %); BNB and VIP rates are lower
MAX_CELL_CHARS = 80  # a longer value the assistant chose is shortened, with a note of its length
AT_MARKET_PERCENT = Decimal("0.05")  # closer than this to the last price reads "at the market"
# values the assistant chose that are free text (not numbers or enums): each gets its own cell
_SUPPLIED_SUFFIXES = ("ClientOrderId", "clientOrderId")
_SUPPLIED_NAMES = {"newClientOrderId": "Client order id", "listClientOrderId": "List client order id",
                   "origClientOrderId": "Order's client id", "cancelOrigClientOrderId": "Cancelled order's client id",
                   "cancelNewClientOrderId": "Cancel request's id"}
_LIST_KINDS = {
    "place_oco_deprecated": "OCO", "place_order_list_oco": "OCO", "place_order_list_oto": "OTO",
    "place_order_list_otoco": "OTOCO", "place_order_list_opo": "OPO", "place_order_list_opoco": "OPOCO",
}


@dataclass(frozen=True)
class Supplied:
    """A value the assistant chose, shown as data in a labelled cell of its own."""

    label: str
    value: str  # escaped (one visible line) and shortened

    @classmethod
    def of(cls, label: str, raw: Any) -> Supplied:
        text = escape_text(raw)
        if len(text) > MAX_CELL_CHARS:
            text = f"{text[:MAX_CELL_CHARS]}… ({len(text)} characters in all)"
        return cls(label, text)


@dataclass(frozen=True)
class Summary:
    """What a human reads before deciding. See the module docstring."""

    headline: str
    account: str  # the account's name, escaped
    mainnet: bool
    environment: str  # "MAINNET · real money" or "TESTNET · not real money"
    legs: tuple[str, ...] = ()
    facts: tuple[tuple[str, str], ...] = ()  # (label, server's words): value, fee, market
    supplied: tuple[Supplied, ...] = ()
    details: str = ""  # the technical details, folded below
    plain_text: str | None = None  # a request described only by a text: shown as it is

    @classmethod
    def plain(cls, text: str) -> Summary:
        """A summary for a request described only by a text (its first line is the headline)."""
        first, _, _rest = text.partition("\n")
        return cls(headline=first, account="", mainnet="MAINNET" in text, environment="", details=text, plain_text=text)

    def lines(self) -> list[str]:
        """The summary as the server's lines (form prompt, card fallback, journal)."""
        out = [f"[{self.environment}] {self.headline}" if self.environment else self.headline]
        out += [f"{n}. {leg}" for n, leg in enumerate(self.legs, 1)]
        out += [f"{label}: {value}" for label, value in self.facts]
        if self.account:
            out.append(f"Account: {self.account}")
        return out

    def text(self) -> str:
        """The whole summary as text, the assistant's values and the details set apart below."""
        if self.plain_text is not None:
            return self.plain_text
        parts = ["\n".join(self.lines())]
        if self.supplied:
            parts.append("Chosen by the assistant (shown as typed):\n" + "\n".join(
                f"  {cell.label} = «{cell.value}»" for cell in self.supplied))
        if self.details:
            parts.append("Details:\n" + self.details)
        return "\n\n".join(parts)

    def as_dict(self) -> dict[str, Any]:
        return {
            "headline": self.headline, "account": self.account, "mainnet": self.mainnet,
            "environment": self.environment, "legs": list(self.legs),
            "facts": [{"label": k, "value": v} for k, v in self.facts],
            "supplied": [{"label": c.label, "value": c.value} for c in self.supplied],
            "details": self.details,
        }


@dataclass(frozen=True)
class Market:
    """What the server knows of the symbol's market: its assets and its last price."""

    base: str | None = None
    quote: str | None = None
    last: Decimal | None = None
    symbol: str = ""  # as checked by the schema (no spaces, controls or invisible characters)


def number(value: Decimal) -> str:
    """A decimal as a person reads it: digits grouped, no exponent, no trailing zeros."""
    value = value.normalize()
    if value == value.to_integral():
        value = value.quantize(Decimal(1))
    return f"{value:,f}"


def money(value: Decimal, quote: str | None) -> str:
    rounded = value.quantize(Decimal("0.00000001")) if value.as_tuple().exponent < -8 else value  # type: ignore[operator]
    return f"{number(rounded)} {quote}" if quote else number(rounded)


def environment_words(account: Account) -> tuple[bool, str]:
    mainnet = MAINNET in (account.destination, account.environment)
    return mainnet, "MAINNET · real money" if mainnet else f"{account.destination.upper()} · not real money"


# ---------------------------------------------------------------------------------- one order
def _price_of(leg: Leg) -> Decimal | None:
    return leg.price if leg.price is not None else leg.stop_price


def leg_value(leg: Leg, market: Market, fallback_qty: Decimal | None = None) -> Decimal | None:
    """What the leg trades, in the quote asset: quantity x its price (or the last price)."""
    if leg.quote_qty is not None:
        return leg.quote_qty
    quantity = leg.quantity if leg.quantity is not None else fallback_qty
    price = _price_of(leg) if not leg.pegged else None
    price = price if price is not None else market.last
    return quantity * price if quantity is not None and price is not None else None


def _distance(price: Decimal | None, market: Market) -> str:
    if price is None or market.last is None or market.last <= 0:
        return ""
    percent = (price - market.last) / market.last * 100
    if abs(percent) < AT_MARKET_PERCENT:
        return " (at the market price)"
    where = "above" if percent > 0 else "below"
    return f" ({number(abs(percent).quantize(Decimal('0.1')))} % {where} the market)"


def leg_words(leg: Leg, market: Market, fallback_qty: Decimal | None = None) -> str:
    """One order in plain words: "Buy 0.002 BTC at 50,000 USDT (2.0 % below the market)"."""
    verb = {"BUY": "Buy", "SELL": "Sell"}.get(leg.side, "Trade")
    quote = f" {market.quote}" if market.quote else ""
    base = market.base or f"units of {market.symbol}"
    quantity = leg.quantity if leg.quantity is not None else fallback_qty
    if leg.quote_qty is not None:
        amount = f"{verb} {base} for {number(leg.quote_qty)}{quote}"
    elif quantity is not None:
        amount = f"{verb} {number(quantity)} {base}" if leg.quantity is not None else f"{verb} the filled {base}"
    else:
        amount = f"{verb} {base}"
    kind = leg.type
    stop = leg.stop_price
    if leg.pegged:
        where = " at a pegged price (set by the order book)"
    elif kind == "MARKET":
        where = " at the market price"
    elif leg.price is not None:
        where = f" at {number(leg.price)}{quote}" + _distance(leg.price, market)
    elif stop is not None:
        where = " at the market price"
    else:
        where = ""
    if stop is not None:
        where += f" once the price reaches {number(stop)}{quote}" + _distance(stop, market)
    if leg.trailing_delta is not None:
        where += f" (trailing: follows the price by {number(leg.trailing_delta)} basis points)"
    if kind == "LIMIT_MAKER":
        where += " (maker only: refused if it would fill at once)"
    return amount + where


# ---------------------------------------------------------------------------------- whole request
def _order_summary(tool: str, values: Mapping[str, str], market: Market) -> tuple[str, list[str], list[tuple[str, str]]]:
    legs = order_legs(tool, values)
    quote = market.quote
    first_qty = legs[0].quantity if legs else None
    values_per_leg = [leg_value(leg, market, first_qty) for leg in legs]
    if tool not in ORDER_LIST_TOOLS:
        leg, value = legs[0], values_per_leg[0]
        headline = leg_words(leg, market)
        if value is not None:
            paid = "you pay about" if leg.side == "BUY" else "you receive about"
            fee = "+ fee" if leg.side == "BUY" else "minus fee"
            headline += f" — {paid} {money(value, quote)} {fee}"
        if tool == "cancel_replace_order":
            old = values.get("cancelOrderId")
            which = f"order {escape_text(old)}" if old else "an order"
            headline = f"Cancel {which} and instead: " + headline[0].lower() + headline[1:]
        facts = _value_facts(value, value, market)
        return headline, [], facts
    kind = _LIST_KINDS[tool]
    lines: list[str] = []
    for n, (leg, value) in enumerate(zip(legs, values_per_leg, strict=True)):
        words = leg_words(leg, market, first_qty if kind.startswith("OP") else None)
        if value is not None:
            words += f" — about {money(value, quote)}"
        if kind == "OCO":
            prefix = "" if n == 0 else "Or, whichever comes first: "
        elif n == 1:
            prefix = "When it has filled in part or whole: " if kind.startswith("OP") else "When it has filled: "
        elif n == 2:
            prefix = "Or, whichever comes first: "
        else:
            prefix = ""
        lines.append(prefix + (words[0].lower() + words[1:] if prefix else words))
    known = [v for v in values_per_leg if v is not None]
    if kind == "OCO":
        headline = f"{kind} on {escape_text(values.get('symbol', ''))}: two orders, the one that fills first cancels the other"
        worst = max(known) if len(known) == len(legs) else None
    else:
        follow = "a follow-up order" if len(legs) == 2 else "two follow-up orders, one cancels the other"
        headline = f"{leg_words(legs[0], market)}, then {follow} ({kind})"
        rest = [v for v in values_per_leg[1:] if v is not None]
        worst = (values_per_leg[0] + max(rest)) if values_per_leg[0] is not None and len(rest) == len(legs) - 1 else None
    return headline, lines, _value_facts(None, worst, market)


def _value_facts(first: Decimal | None, most: Decimal | None, market: Market) -> list[tuple[str, str]]:
    facts: list[tuple[str, str]] = []
    if most is not None:
        label = "Value" if first == most else "Value, at most"
        facts.append((label, f"about {money(most, market.quote)}"))
        fee = money(most * STANDARD_FEE, market.quote)
        facts.append(("Estimated fee", f"about {fee} (0.1 %, Binance's standard rate; yours may be lower)"))
    if market.last is not None:
        facts.append(("Market price", f"{number(market.last)}{' ' + market.quote if market.quote else ''} (last trade)"))
    return facts


def _other_headline(tool: str, values: Mapping[str, str], description: str) -> str:
    symbol = escape_text(values.get("symbol", ""))
    order = values.get("orderId") or values.get("orderListId")
    ref = f" {escape_text(order)}" if order else ""
    if tool == "cancel_open_orders":
        return f"Cancel EVERY open order on {symbol} (order lists included)"
    if tool == "cancel_order":
        return f"Cancel order{ref} on {symbol}"
    if tool == "cancel_order_list":
        return f"Cancel order list{ref} on {symbol}"
    if tool == "amend_order_keep_priority":
        qty = wire_decimal(values.get("newQty"))
        to = f" to {number(qty)}" if qty is not None else ""
        return f"Reduce the quantity of order{ref} on {symbol}{to}, keeping its place in the queue"
    return description.rstrip(".")


def supplied_cells(params: Sequence[tuple[str, str]]) -> tuple[Supplied, ...]:
    """The free-text values the assistant chose (client order ids and the like), one cell each."""
    cells = []
    for key, raw in params:
        if key in _SUPPLIED_NAMES:
            cells.append(Supplied.of(_SUPPLIED_NAMES[key], raw))
        elif key.endswith(_SUPPLIED_SUFFIXES):
            cells.append(Supplied.of(f"Client order id ({escape_text(key)})", raw))
    return tuple(cells)


def summarize(
    tool: str,
    description: str,
    account: Account,
    params: Sequence[tuple[str, str]],
    market: Market,
    details: str,
) -> Summary:
    """The summary of one exchange request (see the module docstring)."""
    values = dict(params)
    market = replace(market, symbol=escape_text(values.get("symbol", "")))
    mainnet, environment = environment_words(account)
    if tool in ORDER_TOOLS and tool not in ("test_order", "test_sor_order"):
        headline, legs, facts = _order_summary(tool, values, market)
    else:
        headline, legs, facts = _other_headline(tool, values, description), [], []
    return Summary(
        headline=headline,
        account=f"{escape_text(account.name)} (API key {account.masked_api_key})",
        mainnet=mainnet,
        environment=environment,
        legs=tuple(legs),
        facts=tuple(facts),
        supplied=supplied_cells(params),
        details=details,
    )


async def market_view(facts: MarketFacts, base_url: str, tool: str, symbol: str | None) -> Market:
    """The symbol's assets (cached exchangeInfo) and, for orders, its last price. What cannot be
    fetched within ``PRICE_LOOKUP_TIMEOUT_S`` stays unknown: the summary then says less."""
    if not symbol:
        return Market()
    base = quote = None
    last: Decimal | None = None
    with anyio.move_on_after(PRICE_LOOKUP_TIMEOUT_S):
        info = await facts.symbol_info(base_url, symbol)
        if isinstance(info, Mapping):
            base, quote = info.get("baseAsset"), info.get("quoteAsset")
    if tool in ORDER_TOOLS:
        with anyio.move_on_after(PRICE_LOOKUP_TIMEOUT_S):
            try:
                data = await facts.public_read("get_ticker_price", [("symbol", symbol)], base_url)
            except BinanceSpotError:
                data = None
            last = wire_decimal(data.get("price")) if isinstance(data, Mapping) else None
    return Market(
        base=escape_text(base) if isinstance(base, str) and base else None,
        quote=escape_text(quote) if isinstance(quote, str) and quote else None,
        last=last if last else None,
    )


def summarize_add(plan: AddPlan) -> Summary:
    """The summary of an ``add_account`` over MCP: every value the assistant chose in a cell."""
    entry = plan.entry
    mainnet = MAINNET in (entry.environment, plan.destination)
    action = "Replace" if plan.existing is not None else "Add"
    where = "MAINNET, real money" if mainnet else "not real money"
    cells = [Supplied.of("Account name", entry.name), Supplied.of("Environment", entry.environment)]
    if entry.private_key_file:
        cells.append(Supplied.of("Private key file", entry.private_key_file))
    if entry.description:
        cells.append(Supplied.of("Description", entry.description))
    return Summary(
        headline=f"{action} a Binance account in TOOLS.md ({where}); orders under its name are then signed with this key",
        account="",
        mainnet=mainnet,
        environment="MAINNET · real money" if mainnet else "not real money",
        facts=(("API key", mask_api_key(entry.api_key)),),
        supplied=tuple(cells),
        details=plan.preview(),
    )


async def describe(facts: MarketFacts, endpoint: Endpoint, account: Account, params: Sequence[tuple[str, str]]) -> Summary:
    """The summary of an exchange request, its technical details (``confirm.preview``) folded in."""
    values = dict(params)
    market = await market_view(facts, account.base_url, endpoint.tool, values.get("symbol"))
    own_price = values.get("price") or values.get("quoteOrderQty")
    # an order list's legs are valued one by one in the summary: no single "notional" in the details
    single = endpoint.tool not in ORDER_LIST_TOOLS
    last = str(market.last) if market.last is not None and not own_price and single else None
    title = f"{endpoint.description.rstrip('.')} ({endpoint.tool}: {endpoint.method} {endpoint.path})"
    details = preview(title, account, params, last_price=last, quote_asset=market.quote)
    return summarize(endpoint.tool, endpoint.description, account, params, market, details)


async def journal_headline(render: Callable[[], Awaitable[Summary]] | None) -> dict[str, str]:
    """``{"summary": headline}`` for a refusal's journal line; empty if it cannot be written (a
    refusal is journaled whatever happens here)."""
    if render is None:
        return {}
    try:
        return {"summary": (await render()).headline}
    except Exception:  # noqa: BLE001 - the journal line matters more than its summary
        return {}
