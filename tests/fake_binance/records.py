"""What passes through the request pipeline of :class:`~.exchange.Exchange`.

:class:`RequestRecord` is one entry of the request log, :class:`Ctx` the per-request context a
handler receives, and :class:`Reply` what :meth:`Exchange.handle` returns for the transport
(``app.py``) to send.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from .endpoints import Endpoint
from .engine import Account


@dataclass
class RequestRecord:
    """One logged request."""

    method: str
    path: str
    query: str
    body: str
    headers: dict[str, str]
    params: dict[str, str]
    status: int = 0
    response: Any = None


@dataclass
class Reply:
    """Response produced by :meth:`Exchange.handle`."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False  # transport: close the connection instead of replying (drop_after fault)
    delay_s: float = 0.0  # transport: wait this long before replying (delay_after fault)


@dataclass
class Ctx:
    """Per-request context handed to handlers."""

    endpoint: Endpoint
    params: dict[str, Any]
    account: Optional[Account]
    now: int


__all__ = ["Ctx", "Reply", "RequestRecord"]
