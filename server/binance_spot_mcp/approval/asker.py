"""How a tool call can reach the human: what the host declared (form or URL elicitation, MCP
Apps), which protocol era the call is in, and the answers it already carries (modern era).
``gate`` picks a channel from it; ``question`` builds a modern-era question.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import anyio
from mcp.server import ServerRequestContext
from mcp.server.apps import client_supports_apps
from mcp.types import (
    CallToolRequestParams,
    ElicitRequest,
    ElicitRequestFormParams,
    ElicitRequestURLParams,
    ElicitResult,
    InputRequiredResult,
)
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from binance_spot_mcp.approval.book import session_key
from binance_spot_mcp.approval.confirm import PendingState


@dataclass
class Asker:
    """How this call can reach the human: what the host declared, and the call's own answers."""

    ctx: ServerRequestContext | None
    params: CallToolRequestParams | None

    def _elicitation(self) -> Any:
        if self.ctx is None:
            return None
        caps = self.ctx.session.client_capabilities
        return caps.elicitation if caps is not None else None

    @property
    def can_form(self) -> bool:
        elicitation = self._elicitation()
        # a bare `elicitation: {}` (older shape) means form support
        return elicitation is not None and (elicitation.form is not None or elicitation.url is None)

    can_elicit = can_form  # the account question is a form

    @property
    def can_url(self) -> bool:
        elicitation = self._elicitation()
        return elicitation is not None and elicitation.url is not None

    @property
    def can_apps(self) -> bool:
        if self.ctx is None:
            return False
        try:
            return client_supports_apps(self.ctx)
        except Exception:  # noqa: BLE001 - an odd capability shape means: no apps
            return False

    @property
    def modern(self) -> bool:
        return self.ctx is not None and self.ctx.protocol_version in MODERN_PROTOCOL_VERSIONS

    @property
    def session(self) -> str | None:
        return session_key(self.ctx, modern=self.modern) if self.ctx is not None else None

    @property
    def state(self) -> PendingState | None:
        return PendingState.decode(self.params.request_state) if self.modern and self.params else None

    def answer(self, key: str) -> ElicitResult | None:
        responses = (self.params.input_responses or {}) if self.params else {}
        answer = responses.get(key)
        return answer if isinstance(answer, ElicitResult) else None

    async def push(self, message: str, schema: dict[str, Any], timeout_s: float) -> ElicitResult | None:
        """Handshake era: ask mid-call; None when no answer came within the time limit."""
        assert self.ctx is not None
        with anyio.move_on_after(timeout_s):
            return await self.ctx.session.elicit_form(message, schema, related_request_id=self.ctx.request_id)
        return None


def question(key: str, request: ElicitRequestFormParams | ElicitRequestURLParams, state: PendingState) -> InputRequiredResult:
    return InputRequiredResult(input_requests={key: ElicitRequest(params=request)}, request_state=state.encode())
