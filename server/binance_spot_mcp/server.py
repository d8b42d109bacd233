"""MCP wiring: tools from the catalog, one call handler, nothing endpoint-specific.

``tools/call`` runs the same pipeline for every endpoint tool:
catalog lookup -> argument validation -> account choice (asking the human when ambiguous) ->
CONFIRM for mainnet changes -> sign and send -> result.
Every failure becomes an ``isError`` result; only an unknown tool is a protocol error.
"""

from __future__ import annotations

import logging
import secrets
from decimal import Decimal
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx
from mcp.server import Server, ServerRequestContext
from mcp.server.request_state import RequestStateBoundary, RequestStateSecurity
from mcp.shared.exceptions import MCPError
from mcp.types import (
    CallToolRequestParams,
    CallToolResult,
    ElicitRequest,
    ElicitRequestFormParams,
    ElicitResult,
    InputRequiredResult,
    ListToolsResult,
    PaginatedRequestParams,
    Tool,
    ToolAnnotations,
)
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from binance_spot_mcp import __version__
from binance_spot_mcp.account_tools import CHANGES_STATE as ACCOUNT_TOOLS_CHANGING_STATE
from binance_spot_mcp.account_tools import NAMES as ACCOUNT_TOOL_NAMES
from binance_spot_mcp.account_tools import TOOLS as ACCOUNT_TOOLS
from binance_spot_mcp.account_tools import AccountTools
from binance_spot_mcp.accounts import Account, AccountStore, market_data_source
from binance_spot_mcp.catalog import Catalog, Endpoint, load_catalog
from binance_spot_mcp.client import BinanceClient
from binance_spot_mcp.confirm import (
    ACCOUNT_INPUT_KEY,
    CONFIRM_INPUT_KEY,
    CONFIRM_SCHEMA,
    ELICITATION_TIMEOUT_S,
    STATE_TTL_S,
    TOKEN_TTL_S,
    ConfirmationTokens,
    NonceBook,
    PendingState,
    binding,
    is_confirm_text,
    needs_confirmation,
    preview,
)
from binance_spot_mcp.config import Settings
from binance_spot_mcp.errors import (
    AccountError,
    BinanceSpotError,
    ExchangeError,
    NotConfirmed,
    OutcomeError,
    TransportError,
)
from binance_spot_mcp.filters import ORDER_TOOLS, ExchangeInfoCache, check_order, needs_avg_price
from binance_spot_mcp.journal import Journal
from binance_spot_mcp.orders import UNKNOWN_OUTCOME_CODES, lookup_for, verdict, with_client_id
from binance_spot_mcp.redact import Redactor
from binance_spot_mcp.results import failure, json_result, narrowing_hint, success
from binance_spot_mcp.schema import PreparedCall, prepare_arguments, tool_schema
from binance_spot_mcp.stream_tools import NAMES as STREAM_TOOL_NAMES
from binance_spot_mcp.stream_tools import TOOLS as STREAM_TOOLS
from binance_spot_mcp.stream_tools import StreamTools
from binance_spot_mcp.toolsets import SizeRow, Selection, check_server_tools, select_tools, size_table

logger = logging.getLogger(__name__)

SERVER_NAME = "binance-spot-mcp"
INVALID_PARAMS = -32602
PRICE_LOOKUP_TIMEOUT_S = 3.0
INSTRUCTIONS = (
    "Binance Spot REST API as tools. Public market-data tools need no account. Signed tools use "
    "the account named in 'account', else 'main', else the only one; if that is ambiguous, ask the "
    "user. Decimals are strings. Never show API keys or secrets. State changes on mainnet "
    "accounts need the human's typed CONFIRM. See the binance-spot skill (SKILL.md) for details."
)
READ_ONLY_NOTE = " This server is read-only: it cannot place, cancel or change anything."


def annotations_for(endpoint: Endpoint) -> ToolAnnotations:
    """Hints from the method and path. Spec defaults are left out: openWorldHint is true, and
    destructive/idempotent hints only mean something for tools that are not read-only."""
    if not endpoint.changes_state:
        return ToolAnnotations(read_only_hint=True)
    return ToolAnnotations(read_only_hint=False, destructive_hint=endpoint.destructive)


def build_tool(endpoint: Endpoint) -> Tool:
    """One MCP tool, derived entirely from its catalog entry."""
    return Tool(
        name=endpoint.tool,
        description=endpoint.description,
        input_schema=tool_schema(endpoint),
        annotations=annotations_for(endpoint),
    )


def build_tools(catalog: Catalog) -> list[Tool]:
    """The whole tool list: one tool per endpoint, then the account and stream tools."""
    return [build_tool(e) for e in catalog.endpoints] + list(ACCOUNT_TOOLS) + list(STREAM_TOOLS)


def offered_tools(catalog: Catalog, selection: Selection) -> list[Tool]:
    """The tools a server with this toolset choice offers (raises ConfigError for unknown toolsets)."""
    check_server_tools(catalog, ACCOUNT_TOOLS + STREAM_TOOLS)
    return select_tools(catalog, build_tools(catalog), selection, changes_state=ACCOUNT_TOOLS_CHANGING_STATE)


def tool_list_sizes(catalog: Catalog) -> list[SizeRow]:
    """What each toolset, read-only mode and the whole list cost (``tools --sizes``, the README table)."""
    return size_table(catalog, build_tools(catalog), changes_state=ACCOUNT_TOOLS_CHANGING_STATE)


_SUMMARY_KEYS = ("symbol", "orderId", "orderListId", "clientOrderId", "listClientOrderId", "status",
                 "listOrderStatus", "executedQty", "cummulativeQuoteQty", "cancelResult", "newOrderResult")


def outcome_summary(data: Any) -> dict[str, Any]:
    """The identifying fields of an order reply, for the journal."""
    if isinstance(data, list):
        return {"items": len(data)}
    if not isinstance(data, dict):
        return {}
    return {k: data[k] for k in _SUMMARY_KEYS if k in data and not isinstance(data[k], dict | list)}


@dataclass
class Asker:
    """How this call can reach the human: by pushing a form, by returning a question, or not at all."""

    ctx: ServerRequestContext | None
    params: CallToolRequestParams | None

    @property
    def can_elicit(self) -> bool:
        if self.ctx is None:
            return False
        caps = self.ctx.session.client_capabilities
        elicitation = caps.elicitation if caps is not None else None
        # a bare `elicitation: {}` (older shape) means form support
        return elicitation is not None and (elicitation.form is not None or elicitation.url is None)

    @property
    def modern(self) -> bool:
        return self.ctx is not None and self.ctx.protocol_version in MODERN_PROTOCOL_VERSIONS

    @property
    def state(self) -> PendingState | None:
        return PendingState.decode(self.params.request_state) if self.modern and self.params else None

    def answer(self, key: str) -> ElicitResult | None:
        responses = (self.params.input_responses or {}) if self.params else {}
        answer = responses.get(key)
        return answer if isinstance(answer, ElicitResult) else None

    async def push(self, message: str, schema: dict[str, Any]) -> ElicitResult | None:
        """Handshake era: ask mid-call; None when no answer came within the time limit."""
        assert self.ctx is not None
        with anyio.move_on_after(ELICITATION_TIMEOUT_S):
            return await self.ctx.session.elicit_form(message, schema, related_request_id=self.ctx.request_id)
        return None


def _question(key: str, message: str, schema: dict[str, Any], state: PendingState) -> InputRequiredResult:
    return InputRequiredResult(
        input_requests={key: ElicitRequest(params=ElicitRequestFormParams(message=message, requested_schema=schema))},
        request_state=state.encode(),
    )


@dataclass
class Runtime:
    """Everything a running server shares across calls."""

    settings: Settings
    catalog: Catalog = field(default_factory=load_catalog)
    redactor: Redactor = field(default_factory=Redactor)
    transport: httpx.AsyncBaseTransport | None = None
    accounts: AccountStore = field(init=False)
    client: BinanceClient = field(init=False)
    tools: list[Tool] = field(init=False)
    selection: Selection = field(init=False)
    enabled: frozenset[str] = field(init=False, repr=False)
    nonces: NonceBook = field(init=False, repr=False)
    tokens: ConfirmationTokens = field(init=False, repr=False)
    account_tools: AccountTools = field(init=False, repr=False)
    stream_tools: StreamTools = field(init=False, repr=False)
    journal: Journal = field(init=False)
    filter_cache: ExchangeInfoCache = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.accounts = AccountStore(self.settings, self.redactor)
        self.client = BinanceClient(
            skill_version=self.catalog.version, timeout_s=self.settings.http_timeout_s, transport=self.transport
        )
        self.selection = Selection(self.settings.toolsets, self.settings.read_only)
        self.tools = offered_tools(self.catalog, self.selection)
        self.enabled = frozenset(t.name for t in self.tools)
        self.account_tools = AccountTools(self.accounts, self.redactor)
        self.stream_tools = StreamTools(self.settings, self.accounts, self.client, self.catalog, self.redactor)
        self.journal = Journal(self.settings.journal_file, redactor=self.redactor)
        self.filter_cache = ExchangeInfoCache()
        self.nonces = NonceBook()
        self.tokens = ConfirmationTokens(self.nonces, ttl_s=TOKEN_TTL_S)

    async def aclose(self) -> None:
        await self.stream_tools.aclose()
        await self.client.aclose()

    async def call(
        self, name: str, arguments: dict[str, Any] | None, *, asker: Asker | None = None
    ) -> CallToolResult | InputRequiredResult:
        """Run one tool call to a result. Raises only for an unknown or disabled tool."""
        own_tools = ACCOUNT_TOOL_NAMES | STREAM_TOOL_NAMES
        if name not in self.enabled and (name in own_tools or self.catalog.get(name) is not None):
            raise MCPError(
                code=INVALID_PARAMS,
                message=f"Tool {name} is not enabled on this server ({self.selection.describe()}).",
            )
        endpoint = self.catalog.get(name)
        if endpoint is None and name in ACCOUNT_TOOL_NAMES:
            return await self.account_tools.call(name, arguments)
        if endpoint is None and name in STREAM_TOOL_NAMES:
            return await self.stream_tools.call(name, arguments)
        if endpoint is None:
            raise MCPError(code=INVALID_PARAMS, message=self.redactor.redact(f"Unknown tool: {name[:80]}"))
        asker = asker or Asker(None, None)
        try:
            prepared = prepare_arguments(endpoint, arguments)
            if endpoint.signed:
                chosen = await self._choose_account(prepared, asker)
                if isinstance(chosen, InputRequiredResult):
                    return chosen
                account, base_url = chosen, chosen.base_url
            else:
                account = None
                source = market_data_source(self.accounts, account=prepared.account, environment=prepared.environment)
                base_url = source.base_url
            if account is not None and endpoint.tool in ORDER_TOOLS and self.settings.local_filter_checks:
                await self._check_filters(endpoint, prepared.as_dict(), account)
            if needs_confirmation(endpoint, account):
                assert account is not None
                pending = await self._confirm(endpoint, account, prepared, asker)
                if pending is not None:
                    return pending
            if endpoint.changes_state and account is not None:
                data = await self._send_journaled(endpoint, prepared, account)
            else:
                data = (await self.client.call(endpoint, prepared.params, base_url=base_url, account=account)).data
            return success(
                data,
                redactor=self.redactor,
                max_chars=self.settings.max_result_chars,
                hint=narrowing_hint(list(endpoint.params)),
            )
        except BinanceSpotError as exc:
            logger.info("%s failed: %s", name, exc.message)
            return failure(exc, redactor=self.redactor)
        except Exception as exc:  # noqa: BLE001 - the boundary: never let a raw exception out
            logger.exception("internal error in %s", name)
            error = BinanceSpotError(f"internal error: {type(exc).__name__}", hint="This is a bug; please report it.")
            return failure(error, redactor=self.redactor)

    async def _send_journaled(self, endpoint: Endpoint, prepared: PreparedCall, account: Account) -> Any:
        """Send a state-changing request: client order id set, intent on disk first, outcome after.

        When the reply of an order-placing request is lost (timeout, dropped connection, 5xx,
        -1006/-1007) the request is never sent again: the order is looked up by its client id.
        """
        params, client_id = with_client_id(endpoint, prepared.params)
        entry = self.journal.record_intent(
            tool=endpoint.tool,
            account=account.name,
            environment=account.environment,
            method=endpoint.method,
            path=endpoint.path,
            params=dict(params),
        )
        try:
            reply = await self.client.call(endpoint, params, base_url=account.base_url, account=account)
        except ExchangeError as exc:
            if client_id and (exc.status >= 500 or exc.code in UNKNOWN_OUTCOME_CODES):
                return await self._resolve_outcome(endpoint, params, account, client_id, entry, f"{exc.msg} (HTTP {exc.status})")
            self.journal.record_outcome(entry, ok=False, status=exc.status, summary={"code": exc.code, "msg": exc.msg})
            raise
        except TransportError as exc:
            if client_id and exc.sent:
                return await self._resolve_outcome(endpoint, params, account, client_id, entry, exc.message)
            summary = {"error": exc.message, "may_have_executed": exc.sent}
            self.journal.record_outcome(entry, ok=False, status=None, summary=summary)
            raise
        except BinanceSpotError as exc:  # refused before sending (rate limit, ban, policy)
            self.journal.record_outcome(entry, ok=False, status=None, summary={"not_sent": exc.kind, "error": exc.message})
            raise
        self.journal.record_outcome(entry, ok=True, status=reply.status, summary=outcome_summary(reply.data))
        return reply.data

    async def _resolve_outcome(
        self,
        endpoint: Endpoint,
        params: tuple[tuple[str, str], ...],
        account: Account,
        client_id: str,
        entry: str,
        cause: str,
    ) -> Any:
        """Find out, by client id, whether an order whose reply was lost exists. Never re-sends it."""
        lookup = lookup_for(endpoint, params, client_id)
        lookup_endpoint = self.catalog.get(lookup.tool)
        assert lookup_endpoint is not None
        not_found = 0
        delays = self.settings.outcome_lookup_delays_s
        for delay in delays:
            await anyio.sleep(delay)
            seen = self.stream_tools.order_seen(account, lookup.tool, lookup.arguments)
            if seen is not None:  # the account's user data stream already reported it: no look-up needed
                outcome = verdict(seen)
                self.journal.record_outcome(entry, ok=True, status=None, summary={"recovered": outcome, **outcome_summary(seen)})
                return {
                    "outcome": outcome,
                    "note": f"The reply was lost ({cause}); the request was NOT sent again. The account's order "
                    f"events (user data stream) reported it by its client id {client_id}.",
                    "result": seen,
                }
            try:
                found = await self.client.call(lookup_endpoint, lookup.arguments, base_url=account.base_url, account=account)
            except ExchangeError as exc:
                if 400 <= exc.status < 500 and exc.status not in (418, 429):
                    not_found += 1  # Binance says: no such order (yet)
                continue
            except BinanceSpotError:
                continue  # transport trouble or a local rate limit: ask again later
            outcome = verdict(found.data)
            self.journal.record_outcome(entry, ok=True, status=None, summary={"recovered": outcome, **outcome_summary(found.data)})
            return {
                "outcome": outcome,
                "note": f"The reply was lost ({cause}); the request was NOT sent again. It was found by its client id {client_id}.",
                "result": found.data,
            }
        waited = sum(delays)
        if not_found == len(delays):
            self.journal.record_outcome(entry, ok=False, status=None, summary={"recovered": "not placed", "cause": cause})
            raise OutcomeError(
                f"Outcome: not placed. The reply was lost ({cause}); Binance had no order with client id "
                f"{client_id} in {len(delays)} look-ups over {waited:.1f} s. It was not sent again.",
                hint=f"It is safe to place it again. To double-check first: {lookup.describe()}",
            )
        self.journal.record_outcome(entry, ok=False, status=None, summary={"recovered": "unknown", "cause": cause})
        raise OutcomeError(
            f"Outcome: UNKNOWN. The reply was lost ({cause}) and Binance could not be asked reliably "
            f"within {waited:.1f} s. It was not sent again.",
            hint=f"Do not repeat the order; check with {lookup.describe()}",
        )

    async def _public_read(self, tool: str, args: list[tuple[str, str]], account: Account) -> Any:
        endpoint = self.catalog.get(tool)
        assert endpoint is not None
        return (await self.client.call(endpoint, args, base_url=account.base_url, account=None)).data

    async def _check_filters(self, endpoint: Endpoint, params: dict[str, str], account: Account) -> None:
        """Refuse locally an order the symbol's filters would reject (raises ``FilterRejected``).

        Filters come from exchangeInfo, cached per base URL and symbol; when they cannot be
        fetched the order is not held up: Binance still checks it."""
        symbol = params.get("symbol")
        if not symbol:
            return

        async def fetch() -> Any:
            return await self._public_read("get_exchange_info", [("symbol", symbol)], account)

        info = await self.filter_cache.get(account.base_url, symbol, fetch)
        if info is None:
            return
        avg_price = None
        if needs_avg_price(endpoint.tool, params, info):
            try:
                reply = await self._public_read("get_avg_price", [("symbol", symbol)], account)
                avg_price = Decimal(str(reply["price"]))
            except (BinanceSpotError, KeyError, TypeError, ArithmeticError):
                avg_price = None  # unknown: the checks that need it are skipped
        check_order(endpoint.tool, params, info, avg_price=avg_price)

    # -- account choice -------------------------------------------------------------------

    async def _choose_account(self, prepared: PreparedCall, asker: Asker) -> Account | InputRequiredResult:
        try:
            return self.accounts.resolve(prepared.account)
        except AccountError as exc:
            if not exc.choices or not asker.can_elicit:
                raise
            choices = exc.choices
        message = "Several Binance accounts are configured and none is called 'main'. Which one should be used?"
        schema = {
            "type": "object",
            "properties": {ACCOUNT_INPUT_KEY: {"type": "string", "title": "Account", "enum": list(choices)}},
            "required": [ACCOUNT_INPUT_KEY],
        }
        if asker.modern:
            state = asker.state
            if state is not None and state.step == "confirm" and state.account in choices:
                return self.accounts.resolve(state.account)  # chosen in an earlier round; CONFIRM checks the rest
            if state is None or state.step != "account":
                return _question(ACCOUNT_INPUT_KEY, message, schema, PendingState("account", self.nonces.issue(STATE_TTL_S)))
            if not self.nonces.spend(state.nonce):
                raise AccountError("that account question has expired or was already answered; nothing was sent")
            answer = asker.answer(ACCOUNT_INPUT_KEY)
        else:
            answer = await asker.push(message, schema)
        picked = (answer.content or {}).get(ACCOUNT_INPUT_KEY) if answer and answer.action == "accept" else None
        if picked not in choices:
            raise AccountError(
                "no account was chosen, so nothing was sent",
                hint="Ask the user which account to use and call again with 'account'.",
            )
        return self.accounts.resolve(picked)

    # -- CONFIRM ----------------------------------------------------------------------------

    async def _last_price(self, account: Account, params: dict[str, str]) -> str | None:
        """The symbol's last price for the preview's notional, when the order itself has none."""
        if "symbol" not in params or params.get("price") or params.get("quoteOrderQty"):
            return None
        with anyio.move_on_after(PRICE_LOOKUP_TIMEOUT_S):
            try:
                data = await self._public_read("get_ticker_price", [("symbol", params["symbol"])], account)
            except BinanceSpotError:
                return None
            return str(data["price"]) if isinstance(data, dict) and data.get("price") else None
        return None

    async def _confirm(
        self, endpoint: Endpoint, account: Account, prepared: PreparedCall, asker: Asker
    ) -> CallToolResult | InputRequiredResult | None:
        """None when the human typed CONFIRM for exactly this request; else what to return instead."""
        digest = binding(endpoint, account, prepared.params)
        if asker.can_elicit:
            if asker.modern:
                state = asker.state
                if state is None or state.step != "confirm":
                    last = await self._last_price(account, prepared.as_dict())
                    question = PendingState("confirm", self.nonces.issue(STATE_TTL_S), account.name, digest)
                    return _question(CONFIRM_INPUT_KEY, preview(endpoint, account, prepared.params, last_price=last), CONFIRM_SCHEMA, question)
                if state.digest != digest or state.account != account.name:
                    raise NotConfirmed("The confirmation was given for a different request (account or arguments changed).")
                if not self.nonces.spend(state.nonce):
                    raise NotConfirmed("That confirmation was already used or has expired (5 minutes).")
                answer = asker.answer(CONFIRM_INPUT_KEY)
            else:
                last = await self._last_price(account, prepared.as_dict())
                try:
                    answer = await asker.push(preview(endpoint, account, prepared.params, last_price=last), CONFIRM_SCHEMA)
                except Exception as exc:  # noqa: BLE001 - any failure to ask means: not confirmed
                    raise NotConfirmed(f"The confirmation prompt failed ({type(exc).__name__}).") from None
                if answer is None:
                    raise NotConfirmed("No answer to the confirmation prompt within 5 minutes.")
            if answer is None:
                raise NotConfirmed("No answer to the confirmation question came back.")
            if answer.action != "accept":
                raise NotConfirmed(f"The human did not confirm (they chose {answer.action}).")
            if not is_confirm_text((answer.content or {}).get(CONFIRM_INPUT_KEY)):
                raise NotConfirmed("The confirmation text was not CONFIRM.")
            return None
        if self.settings.require_elicitation:
            raise NotConfirmed(
                "This server is set to require a confirmation prompt, and this host cannot show one.",
                hint="Use an MCP host that supports elicitation, or place the order yourself on binance.com.",
            )
        if prepared.confirmation_token is not None:
            if not is_confirm_text(prepared.confirm):
                raise NotConfirmed("'confirm' must be CONFIRM, exactly as the human typed it.")
            if not self.tokens.redeem(prepared.confirmation_token, digest):
                raise NotConfirmed(
                    "The confirmation token is invalid, already used, expired (2 minutes) or was issued for other arguments.",
                    hint="Call the tool again without confirm/confirmation_token to get a fresh preview.",
                )
            return None
        last = await self._last_price(account, prepared.as_dict())
        token = self.tokens.issue(digest)
        payload = {
            "status": "confirmation_required",
            "sent": False,
            "preview": preview(endpoint, account, prepared.params, last_price=last),
            "confirmation_token": token,
            "expires_in_seconds": int(TOKEN_TTL_S),
            "next_step": (
                "Show the preview to the user word for word and ask them to type CONFIRM. Only if they type it, "
                f"call {endpoint.tool} again with exactly the same arguments plus confirm='CONFIRM' and this "
                "confirmation_token. The token works once."
            ),
        }
        return json_result(payload, error=True, redactor=self.redactor)


def build_server(runtime: Runtime) -> Server:
    async def list_tools(ctx: ServerRequestContext, params: PaginatedRequestParams | None) -> ListToolsResult:
        return ListToolsResult(tools=runtime.tools)

    async def call_tool(ctx: ServerRequestContext, params: CallToolRequestParams) -> CallToolResult | InputRequiredResult:
        return await runtime.call(params.name, params.arguments, asker=Asker(ctx, params))

    server = Server(
        SERVER_NAME,
        version=__version__,
        instructions=INSTRUCTIONS + (READ_ONLY_NOTE if runtime.selection.read_only else ""),
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )
    # Seal request_state (AES-GCM, per-process key) so a client cannot invent or alter a question.
    security = RequestStateSecurity(keys=[secrets.token_bytes(32)], ttl=STATE_TTL_S)
    server.middleware.append(RequestStateBoundary(security, default_audience=server.name))
    return server
