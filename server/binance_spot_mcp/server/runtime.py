"""The call pipeline and the MCP server: tools from the catalog, one call handler, nothing
endpoint-specific.

``tools/call`` runs the same pipeline for every endpoint tool:
catalog lookup -> argument validation -> account choice (asking the human when ambiguous) ->
local filter checks (``exchange.market_facts``) -> guard -> approval for mainnet changes ->
journaled send (``sending``) -> result.
Every failure becomes an ``isError`` result; only an unknown tool is a protocol error.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

import anyio
import httpx
from mcp.server import Server, ServerRequestContext
from mcp.server.request_state import RequestStateBoundary, RequestStateSecurity
from mcp.shared.exceptions import MCPError
from mcp.types import (
    CallToolRequestParams,
    CallToolResult,
    ElicitRequestFormParams,
    InputRequiredResult,
    ListResourcesResult,
    ListToolsResult,
    PaginatedRequestParams,
    ReadResourceRequestParams,
    ReadResourceResult,
    Tool,
)

from binance_spot_mcp import __version__
from binance_spot_mcp.accounts.reading import Account
from binance_spot_mcp.accounts.store import AccountStore, market_data_source
from binance_spot_mcp.accounts.tools import ADD_ACCOUNT, AccountTools, AddPlan
from binance_spot_mcp.accounts.tools import CHANGES_STATE as ACCOUNT_TOOLS_CHANGING_STATE
from binance_spot_mcp.accounts.tools import NAMES as ACCOUNT_TOOL_NAMES
from binance_spot_mcp.approval.book import Channel, Grant, request_digest
from binance_spot_mcp.approval.card import (
    APPROVE_TOOL,
    APPROVE_TOOL_DEF,
    CARD_RESOURCE,
    CARD_URI,
    EXTENSION_ID,
    card_contents,
    with_card,
)
from binance_spot_mcp.approval.confirm import (
    ACCOUNT_INPUT_KEY,
    STATE_TTL_S,
    PendingState,
    is_confirm_text,
)
from binance_spot_mcp.approval.gate import (
    DECLINED,
    INVALID,
    WRONG_TEXT,
    ApprovalGate,
    ApprovalRequest,
    Asker,
    RefusalRecorder,
    question,
)
from binance_spot_mcp.approval.summary import Summary, describe, journal_headline, summarize_add
from binance_spot_mcp.catalog import skill_resources
from binance_spot_mcp.catalog.endpoints import Catalog, Endpoint, load_catalog
from binance_spot_mcp.catalog.schema import PreparedCall, prepare_arguments
from binance_spot_mcp.catalog.toolsets import Selection
from binance_spot_mcp.config import Settings, state_dir
from binance_spot_mcp.errors import (
    AccountError,
    BinanceSpotError,
    FundsShort,
    NotConfirmed,
    ToolInputError,
)
from binance_spot_mcp.exchange.client import BinanceClient
from binance_spot_mcp.exchange.filter_cache import ExchangeInfoCache
from binance_spot_mcp.exchange.funds import CHECKED_TOOLS as FUNDS_CHECKED
from binance_spot_mcp.exchange.funds import shortfall
from binance_spot_mcp.exchange.labels import shaped
from binance_spot_mcp.exchange.market_facts import MarketFacts
from binance_spot_mcp.exchange.order_legs import ORDER_TOOLS
from binance_spot_mcp.exchange.orders import with_client_id
from binance_spot_mcp.guard.enforce import Guard
from binance_spot_mcp.guard.safety import SAFETY_STATUS, describe_channel, safety_status
from binance_spot_mcp.journal import NOT_APPROVED, Journal
from binance_spot_mcp.paper.desk import NOT_SIMULATED
from binance_spot_mcp.paper.routing import PaperRoutingClient
from binance_spot_mcp.policy import requires_approval
from binance_spot_mcp.portfolio.tool import NAMES as PORTFOLIO_TOOL_NAMES
from binance_spot_mcp.portfolio import card as portfolio_card
from binance_spot_mcp.portfolio.tool import PortfolioTools, progress_reporter
from binance_spot_mcp.redact import Redactor
from binance_spot_mcp.results import failure, json_result, narrowing_hint, success
from binance_spot_mcp.server.sending import OrderSender
from binance_spot_mcp.server.tool_list import SERVER_TOOL_NAMES, offered_tools
from binance_spot_mcp.streams.tools import NAMES as STREAM_TOOL_NAMES
from binance_spot_mcp.streams.tools import StreamTools

logger = logging.getLogger(__name__)

SERVER_NAME = "binance-spot-mcp"
INVALID_PARAMS = -32602
INSTRUCTIONS = (
    "Binance Spot REST API as tools. Public market-data tools need no key; give them 'environment' "
    "or 'account' so prices come from the environment you trade in. All tools use the account named in "
    "'account', else 'main', else the only one; for signed tools, if that is ambiguous, ask the user. "
    "Decimals are strings. Never show API keys or secrets. A change that can reach mainnet is sent only "
    "after the human approves it in a prompt, page or card the host shows them; never type or relay "
    "CONFIRM for them. Never re-send an order whose reply was lost: look it up by its agent- client "
    "order id with get_order. The server also enforces the operator's per-order and 24-hour value caps, "
    "allowed/denied symbols, dry-run accounts and the kill switch (only cancels pass): a refusal names "
    "its rule; tell the user and never split or reshape an order to slip under a limit "
    "(get_safety_status shows the limits). Read the guide first: "
    f"resource {skill_resources.GUIDE_URI} or prompt {skill_resources.GUIDE_PROMPT}."
)
READ_ONLY_NOTE = " This server is read-only: it cannot place, cancel or change anything."


def needs_approval(endpoint: Endpoint, account: Account | None) -> bool:
    """A human approves every state change that can reach real money (label or destination), and
    every one on an account the operator marked ``Confirm: always``."""
    return endpoint.changes_state and account is not None and (account.is_mainnet or requires_approval(account))


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
    chat_tools: list[Tool] = field(init=False, repr=False)  # the same, with the chat approval arguments
    selection: Selection = field(init=False)
    enabled: frozenset[str] = field(init=False, repr=False)
    gate: ApprovalGate = field(init=False, repr=False)
    account_tools: AccountTools = field(init=False, repr=False)
    stream_tools: StreamTools = field(init=False, repr=False)
    portfolio_tools: PortfolioTools = field(init=False, repr=False)
    journal: Journal = field(init=False)
    filter_cache: ExchangeInfoCache = field(init=False, repr=False)
    guard: Guard = field(init=False, repr=False)
    facts: MarketFacts = field(init=False, repr=False)
    sender: OrderSender = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.accounts = AccountStore(self.settings, self.redactor)
        self.client = PaperRoutingClient(  # a paper account's requests never leave this computer
            catalog=self.catalog, state_dir=state_dir(self.settings),
            filters_prechecked=self.settings.local_filter_checks,
            skill_version=self.catalog.version, timeout_s=self.settings.http_timeout_s, transport=self.transport,
        )
        self.selection = Selection(self.settings.toolsets, self.settings.read_only)
        self.tools = offered_tools(self.catalog, self.selection)
        self.chat_tools = offered_tools(self.catalog, self.selection, chat_confirm=True)
        self.enabled = frozenset(t.name for t in self.tools)
        self.account_tools = AccountTools(self.accounts, self.redactor)
        self.stream_tools = StreamTools(self.settings, self.accounts, self.client, self.catalog, self.redactor)
        self.journal = Journal(self.settings.journal_file, redactor=self.redactor)
        self.portfolio_tools = PortfolioTools(
            accounts=self.accounts, client=self.client, catalog=self.catalog, redactor=self.redactor,
            journal=self.journal, state_dir=state_dir(self.settings),
            extra_symbols=self.settings.portfolio_symbols,
        )
        self.filter_cache = ExchangeInfoCache()
        self.gate = ApprovalGate(redactor=self.redactor, require_elicitation=self.settings.require_elicitation)
        self.guard = Guard(self.settings, self.accounts, self.journal, self.client, self.catalog, self.filter_cache, self.redactor)
        self.facts = MarketFacts(self.client, self.catalog, self.filter_cache)
        self.sender = OrderSender(self.settings, self.catalog, self.client, self.journal, self.guard, self.stream_tools)

    async def workable(self, tools: list[Tool]) -> list[Tool]:
        """The tools that can work with the accounts there are: when every account is a paper account
        (the built-in one with no TOOLS.md, say), what paper cannot simulate is not offered."""
        accounts = (await self.accounts.refresh()).accounts
        if accounts and all(a.paper is not None for a in accounts.values()):
            return [t for t in tools if t.name not in NOT_SIMULATED]
        return tools

    async def aclose(self) -> None:
        await self.gate.journal_open_cards()  # an Apps card left unanswered is a refusal too
        self.gate.close()
        await self.stream_tools.aclose()
        await self.client.aclose()

    async def call(
        self,
        name: str,
        arguments: dict[str, Any] | None,
        *,
        asker: Asker | None = None,
        grant: Grant | None = None,
    ) -> CallToolResult | InputRequiredResult:
        """Run one tool call to a result. Raises only for an unknown or disabled tool.

        ``grant`` is set only when the MCP Apps card approved this exact call (``approve_from_card``)."""
        if name not in self.enabled and (name in SERVER_TOOL_NAMES or self.catalog.get(name) is not None):
            raise MCPError(
                code=INVALID_PARAMS,
                message=f"Tool {name} is not enabled on this server ({self.selection.describe()}).",
            )
        asker = asker or Asker(None, None)
        if name == ADD_ACCOUNT:
            return await self._add_account(arguments, asker, grant)
        endpoint = self.catalog.get(name)
        if endpoint is not None or name in ACCOUNT_TOOL_NAMES:
            await self.accounts.refresh()  # TOOLS.md and key files are read off the event loop
        if endpoint is None and name in ACCOUNT_TOOL_NAMES:
            return await self.account_tools.call(name, arguments)
        if endpoint is None and name == SAFETY_STATUS:
            return await self._safety_status(asker or Asker(None, None))
        if endpoint is None and name in PORTFOLIO_TOOL_NAMES:
            await self.accounts.refresh()
            return await self.portfolio_tools.call(name, arguments, progress=progress_reporter(asker.ctx))
        if endpoint is None and name in STREAM_TOOL_NAMES:
            return await self.stream_tools.call(name, arguments, session=asker.session)  # each session's own
        if endpoint is None:
            raise MCPError(code=INVALID_PARAMS, message=self.redactor.redact(f"Unknown tool: {name[:80]}"))
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
            id_choice = None
            if account is not None:
                prepared, id_choice = await self.sender.existing_client_id(endpoint, prepared, account)
            if account is not None and endpoint.tool in ORDER_TOOLS and self.settings.local_filter_checks:
                await self.facts.check_filters(endpoint, prepared.as_dict(), account.base_url)
            if account is not None:
                with_client_id(endpoint, prepared.params)  # the id with its prefix must fit before anyone is asked
            early = await self.guard.before_approval(endpoint, account, prepared.params)  # policy check before approval
            if early is not None:
                return early  # a dry run: the preview, the value and the verdict; nothing sent
            approval: Grant | None = None
            if needs_approval(endpoint, account):
                assert account is not None
                await self._funds_before_asking(endpoint, account, prepared)
                request = self._approval_request(endpoint, account, prepared, asker, arguments or {})
                decided = await self.gate.approve(request, asker, grant=grant)
                if not isinstance(decided, Grant):
                    return decided
                # the journal keeps the words the human approved, beside how and when
                approval = replace(decided, summary=(await journal_headline(request.preview)).get("summary", ""))
                # TOOLS.md may have changed while the human was reading: the approval covers the
                # account as it was shown, so a changed entry (key, destination) voids it.
                account = self.accounts.resolve(account.name)
                if self._approval_request(endpoint, account, prepared, asker, arguments or {}).digest != request.digest:
                    assert request.on_refused is not None
                    await request.on_refused(INVALID, approval.via.value)
                    raise NotConfirmed(
                        f"Account '{account.name}' changed in the accounts file while the approval was pending."
                    )
            try:
                if endpoint.changes_state and account is not None:  # its outcome is kept for the page and the card
                    data = await self.gate.watch(approval, self.sender.send(endpoint, prepared, account, approval))
                else:
                    data = (await self.client.call(endpoint, prepared.params, base_url=base_url, account=account)).data
            except BinanceSpotError as exc:  # an unknown symbol: "did you mean ...?"
                await self.facts.suggest_symbols(exc, prepared.as_dict(), base_url)
                raise
            return success(
                prepared.with_spelling(id_choice.wrap(data) if id_choice else shaped(endpoint.tool, data, prepared.raw)),
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

    async def _funds_before_asking(self, endpoint: Endpoint, account: Account, prepared: PreparedCall) -> None:
        """A person is never asked to approve an order the account certainly cannot pay for."""
        params = prepared.as_dict()
        if endpoint.tool not in FUNDS_CHECKED:
            return
        info = await self.facts.symbol_info(account.base_url, params.get("symbol", "")) if params.get("symbol") else None
        reader = self.catalog.get("get_account")
        assert reader is not None

        async def read_account() -> Any:
            args = [("omitZeroBalances", "true")]
            return (await self.client.call(reader, args, base_url=account.base_url, account=account)).data

        problem = await shortfall(endpoint.tool, params, info, read_account)
        if problem:
            raise FundsShort(f"{problem}; no one was asked to approve it and nothing was sent")

    def _approval_request(
        self, endpoint: Endpoint, account: Account, prepared: PreparedCall, asker: Asker, arguments: dict[str, Any]
    ) -> ApprovalRequest:
        digest = request_digest(tool=endpoint.tool, params=prepared.params, session=asker.session, **account.binding())

        shown: list[Summary] = []  # written once per call: what the person reads, journaled with a refusal

        async def render() -> Summary:  # the one summary a human reads (page, card, prompt)
            if not shown:
                shown.append(await describe(self.facts, endpoint, account, prepared.params))
            return shown[-1]

        return ApprovalRequest(
            tool=endpoint.tool,
            arguments={k: v for k, v in arguments.items() if k not in ("confirm", "confirmation_token")},
            digest=digest,
            account=account.name,
            chat_allowed=self.settings.allow_chat_confirm or account.chat_confirm,
            preview=render,
            confirm=prepared.confirm,
            token=prepared.confirmation_token,
            on_refused=self._refusal_journal(
                render, tool=endpoint.tool, account=account.name, environment=account.environment,
                method=endpoint.method, path=endpoint.path, params=dict(prepared.params),
            ),
        )

    def _refusal_journal(self, summary: Callable[[], Awaitable[Summary]] | None = None, **intent: Any) -> RefusalRecorder:
        """Journals a change the human did not approve: an intent marked refused and an outcome
        ``not_sent`` (either one keeps it out of every daily total)."""

        async def record(reason: str, channel: str) -> None:
            entry = await self.journal.intent(
                **intent,
                approval={"approved_via": NOT_APPROVED},
                policy={"refused": "human_approval", "reason": reason, "channel": channel,
                        **(await journal_headline(summary))},
            )
            await self.journal.outcome(entry, ok=False, status=None, summary={"not_sent": reason, "channel": channel})

        return record

    def chat_path_open(self) -> bool:
        """True when CONFIRM relayed through the chat can approve something here (operator opt-in)."""
        if self.settings.require_elicitation:
            return False
        return self.settings.allow_chat_confirm or any(a.chat_confirm for a in self.accounts.current().accounts.values())

    async def approve_from_card(self, arguments: dict[str, Any] | None, asker: Asker) -> CallToolResult:
        """The MCP Apps card's ``approve_request``: decide, then re-run the approved call."""
        args = arguments or {}
        approval_id, secret = args.get("approval_id"), args.get("secret")
        decision, typed = args.get("decision"), args.get("confirm")
        if not isinstance(approval_id, str) or not isinstance(secret, str) or decision not in ("approve", "decline"):
            return failure(ToolInputError("approval_id, secret and decision (approve|decline) are required"), redactor=self.redactor)
        approve = decision == "approve"
        if approve and not is_confirm_text(typed):
            approve = False  # wrong text: the request is declined, once and for all
        reason = WRONG_TEXT if decision == "approve" and not approve else DECLINED
        pending = await self.gate.decide_from_card(
            approval_id, secret, approve=approve, session=asker.session, reason=reason
        )
        if pending is None:
            reason = "declined" if decision == "decline" else "not approved (unknown, spent, expired, foreign or wrong text)"
            return self.gate.card_outcome(approval_id, failure(NotConfirmed(f"The request was {reason}."), redactor=self.redactor))
        result = await self.call(pending.tool, dict(pending.arguments), asker=asker, grant=Grant(Channel.APP, approval_id))
        return self.gate.card_outcome(approval_id, result)  # the card shows what happened, in the server's words

    async def _add_account(self, arguments: dict[str, Any] | None, asker: Asker, grant: Grant | None) -> CallToolResult | InputRequiredResult:
        """add_account over MCP: a new mainnet account, or any replacement, needs a human's approval."""
        try:
            # reads key files (and, below, writes TOOLS.md with flock and fsync): never on the event loop
            plan = await anyio.to_thread.run_sync(self.account_tools.plan_add, arguments)
            approval: Grant | None = None
            if plan.needs_approval:
                request = self._add_request(plan, asker)
                decided = await self.gate.approve(request, asker, grant=grant)
                if not isinstance(decided, Grant):
                    return decided
                approval = decided
                plan = await anyio.to_thread.run_sync(self.account_tools.plan_add, arguments)  # the file may have changed
                if self._add_request(plan, asker).digest != request.digest:
                    raise NotConfirmed("The accounts file changed while the approval was pending.")
            return await anyio.to_thread.run_sync(self.account_tools.apply_add, plan, approval, self.journal)
        except BinanceSpotError as exc:
            return failure(exc, redactor=self.redactor)

    def _add_request(self, plan: AddPlan, asker: Asker) -> ApprovalRequest:
        digest = request_digest(tool=ADD_ACCOUNT, params=plan.bound_fields(), session=asker.session, **plan.binding())

        async def render() -> Summary:
            return summarize_add(plan)

        return ApprovalRequest(
            tool=ADD_ACCOUNT,
            arguments=plan.arguments,
            digest=digest,
            account=plan.entry.name,
            chat_allowed=self.settings.allow_chat_confirm,
            preview=render,
            confirm=plan.confirm,
            token=plan.confirmation_token,
            on_refused=self._refusal_journal(
                render, tool=ADD_ACCOUNT, account=plan.entry.name, environment=plan.entry.environment,
                method="MCP", path="TOOLS.md", params={},
            ),
        )

    async def _safety_status(self, asker: Asker) -> CallToolResult:
        current = self.accounts.current()

        def channel(account: Account) -> str:
            chat = self.settings.allow_chat_confirm or account.chat_confirm
            return describe_channel(account, self.gate.channel_for(asker, chat))

        payload = await safety_status(
            self.settings, self.selection, list(current.accounts.values()), self.guard.status,
            channel=channel, problems=current.problems,
        )
        return json_result(payload, error=False, redactor=self.redactor)

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
                ask = ElicitRequestFormParams(message=message, requested_schema=schema)
                return question(ACCOUNT_INPUT_KEY, ask, PendingState("account", self.gate.nonces.issue(STATE_TTL_S)))
            if not self.gate.nonces.spend(state.nonce):
                raise AccountError("that account question has expired or was already answered; nothing was sent")
            answer = asker.answer(ACCOUNT_INPUT_KEY)
        else:
            answer = await asker.push(message, schema, self.gate.elicitation_timeout_s)
        picked = (answer.content or {}).get(ACCOUNT_INPUT_KEY) if answer and answer.action == "accept" else None
        if picked not in choices:
            raise AccountError(
                "no account was chosen, so nothing was sent",
                hint="Ask the user which account to use and call again with 'account'.",
            )
        return self.accounts.resolve(picked)


def build_server(runtime: Runtime) -> Server:
    card_tools = [with_card(t) if _changes_state(runtime, t.name) else portfolio_card.with_card(t) for t in runtime.tools]
    if not runtime.selection.read_only:
        card_tools.append(APPROVE_TOOL_DEF)

    async def list_tools(ctx: ServerRequestContext, params: PaginatedRequestParams | None) -> ListToolsResult:
        # Hosts that declared MCP Apps get the confirmation card and its app-only tool; others never see
        # them. confirm/confirmation_token are advertised only where the operator opened the chat path.
        asker = Asker(ctx, None)
        if asker.can_apps:
            return ListToolsResult(tools=await runtime.workable(card_tools))
        return ListToolsResult(tools=await runtime.workable(runtime.chat_tools if runtime.chat_path_open() else runtime.tools))

    async def call_tool(ctx: ServerRequestContext, params: CallToolRequestParams) -> CallToolResult | InputRequiredResult:
        asker = Asker(ctx, params)
        if params.name == APPROVE_TOOL and asker.can_apps and not runtime.selection.read_only:
            return await runtime.approve_from_card(params.arguments, asker)
        return await runtime.call(params.name, params.arguments, asker=asker)

    async def list_resources(ctx: ServerRequestContext, params: PaginatedRequestParams | None) -> ListResourcesResult:
        card = [CARD_RESOURCE, portfolio_card.CARD_RESOURCE] if Asker(ctx, None).can_apps else []
        return ListResourcesResult(resources=skill_resources.resources() + card)

    async def read_resource(ctx: ServerRequestContext, params: ReadResourceRequestParams) -> ReadResourceResult:
        if str(params.uri) == CARD_URI:
            return ReadResourceResult(contents=[card_contents()])
        if str(params.uri) == portfolio_card.CARD_URI:
            return ReadResourceResult(contents=[portfolio_card.card_contents()])
        return skill_resources.read(str(params.uri))  # the skill's guide; MCPError for anything else

    server = Server(
        SERVER_NAME,
        version=__version__,
        instructions=INSTRUCTIONS + (READ_ONLY_NOTE if runtime.selection.read_only else ""),
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        **{**skill_resources.handlers(), "on_list_resources": list_resources, "on_read_resource": read_resource},
    )
    server.extensions[EXTENSION_ID] = {}
    # Seal request_state (AES-GCM, per-process key) so a client cannot invent or alter a question.
    security = RequestStateSecurity(keys=[secrets.token_bytes(32)], ttl=STATE_TTL_S)
    server.middleware.append(RequestStateBoundary(security, default_audience=server.name))
    return server


def _changes_state(runtime: Runtime, name: str) -> bool:
    endpoint = runtime.catalog.get(name)
    return endpoint.changes_state if endpoint is not None else name in ACCOUNT_TOOLS_CHANGING_STATE
