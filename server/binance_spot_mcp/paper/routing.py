"""The one place a paper account's request turns away from the network.

``PaperRoutingClient`` is the process's ``BinanceClient`` with one change: a request made for a
paper account (its signer is a ``PaperSigner``) is answered by the ``PaperDesk`` on this computer.
Public market data for the desk goes out unsigned, with no account, through the normal client.
So nothing a paper account does can ever send a signed request.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from binance_spot_mcp.catalog.endpoints import Catalog, Endpoint
from binance_spot_mcp.exchange.client import BinanceClient, Credentials, Reply
from binance_spot_mcp.paper.desk import PaperDesk
from binance_spot_mcp.paper.settings import PaperSigner
from binance_spot_mcp.paper.views import ENVIRONMENT
from binance_spot_mcp.store import open_store


def is_paper(account: Any) -> bool:
    """Any sign of paper (its signer, its paper settings, its environment) keeps it on this computer."""
    return (isinstance(getattr(account, "signer", None), PaperSigner) or getattr(account, "paper", None) is not None
            or getattr(account, "environment", None) == ENVIRONMENT)


class PaperRoutingClient(BinanceClient):
    """A ``BinanceClient`` that hands paper accounts' requests to the paper desk."""

    def __init__(self, *, catalog: Catalog, state_dir: Path, filters_prechecked: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._catalog = catalog
        self._state_dir = state_dir
        self._filters_prechecked = filters_prechecked  # the server's local filter check runs before the desk
        self._desk: PaperDesk | None = None

    @property
    def desk(self) -> PaperDesk:
        if self._desk is None:  # the database is opened on a paper account's first request
            self._desk = PaperDesk(open_store(self._state_dir), self._public_read, filters_prechecked=self._filters_prechecked)
        return self._desk

    async def _public_read(self, tool: str, params: Sequence[tuple[str, str]], base_url: str) -> Any:
        endpoint = self._catalog.get(tool)
        if endpoint is None or endpoint.signed:
            raise RuntimeError(f"the paper desk reads only public endpoints, not {tool}")
        reply = await super().call(endpoint, params, base_url=base_url, account=None)
        return reply.data

    async def call(
        self,
        endpoint: Endpoint,
        params: Sequence[tuple[str, str]],
        *,
        base_url: str,
        account: Credentials | None,
    ) -> Reply:
        if is_paper(account):
            if not endpoint.signed:
                return await super().call(endpoint, params, base_url=base_url, account=None)
            data = await self.desk.handle(endpoint, params, account)  # type: ignore[arg-type]
            return Reply(200, httpx.Headers(), data)
        return await super().call(endpoint, params, base_url=base_url, account=account)
