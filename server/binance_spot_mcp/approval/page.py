"""The one-time approval page behind URL-mode elicitation.

The server listens on a random loopback port, on its own thread, from the first URL approval on.
Each pending approval has one unguessable path, ``/approve/<id>/<secret>``; the host shows that
link to the human (the model never sees it), the human reads the preview there and types CONFIRM.

Defences, each tested:
* only ``Host: 127.0.0.1:<port>`` (or ``localhost:<port>``) is served (DNS rebinding);
* a POST must carry the page's own ``Origin`` and the CSRF token embedded in the form;
* no CORS headers are ever sent, the page cannot be framed, and nothing is cached;
* a decision is taken once; afterwards the path only says what was decided, when, and what
  happened to the request (``page_view.decided``), until ``APPROVAL_TTL_S``; then it is dead.
The page is plain HTML with no JavaScript (``page_view``).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from urllib.parse import parse_qs

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from binance_spot_mcp.approval import page_view
from binance_spot_mcp.approval.book import (
    WRONG_TEXT_NOTE,
    ApprovalBook,
    Channel,
    PendingApproval,
)
from binance_spot_mcp.approval.confirm import is_confirm_text
from binance_spot_mcp.approval.page_view import clock_time

__all__ = ["ApprovalPage", "clock_time"]

logger = logging.getLogger(__name__)

PAGE_HOST = "127.0.0.1"
MAX_FORM_BYTES = 4096
START_TIMEOUT_S = 10.0
_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # same-origin: the browser still sends Origin on our own POST (no-referrer would make it "null")
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def _page(document: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(document, status_code=status, headers=_SECURITY_HEADERS)


def _gone() -> HTMLResponse:
    return _page(page_view.gone(), status=404)


def _refused(message: str, status: int) -> HTMLResponse:
    return _page(page_view.refused(message), status)


def _decided(pending: PendingApproval, status: int = 200) -> HTMLResponse:
    document, _waiting = page_view.decided(pending)
    return _page(document, status)


class ApprovalPage:
    """Serves the approval pages of ``book`` on a loopback port, started on first use."""

    def __init__(self, book: ApprovalBook) -> None:
        self._book = book
        self._lock = threading.Lock()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port: int | None = None

    def __repr__(self) -> str:
        return f"ApprovalPage(port={self.port})"

    @property
    def origin(self) -> str:
        return f"http://{PAGE_HOST}:{self.port}"

    def url_for(self, pending: PendingApproval) -> str:
        """The one-time link for ``pending`` (starting the page server if needed)."""
        self.start()
        return f"{self.origin}/approve/{pending.approval_id}/{pending.secret}"

    def start(self) -> None:
        with self._lock:
            if self._server is not None:
                return
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
            sock.bind((PAGE_HOST, 0))
            self.port = int(sock.getsockname()[1])
            config = uvicorn.Config(self._app(), log_config=None, lifespan="off", server_header=False, access_log=False)
            server = uvicorn.Server(config)
            started = threading.Event()

            def run() -> None:
                async def serve() -> None:
                    task = asyncio.ensure_future(server.serve(sockets=[sock]))
                    while not server.started and not task.done():
                        await asyncio.sleep(0.01)
                    started.set()
                    await task

                try:
                    asyncio.run(serve())
                finally:
                    started.set()
                    sock.close()

            thread = threading.Thread(target=run, name="approval-page", daemon=True)
            thread.start()
            if not started.wait(START_TIMEOUT_S) or not server.started:
                raise OSError("the approval page could not be started")
            self._server, self._thread = server, thread

    def close(self) -> None:
        with self._lock:
            server, thread = self._server, self._thread
            self._server = self._thread = None
        if server is not None and thread is not None:
            server.should_exit = True
            thread.join(START_TIMEOUT_S)

    # -- the web app -------------------------------------------------------------------------

    def _own_host(self, request: Request) -> bool:
        host = request.headers.get("host", "")
        return host in {f"{PAGE_HOST}:{self.port}", f"localhost:{self.port}"}

    def _app(self) -> Starlette:
        async def page(request: Request) -> Response:
            if not self._own_host(request):
                return Response("unknown host", status_code=421, headers=_SECURITY_HEADERS)
            approval_id, secret = request.path_params["approval_id"], request.path_params["secret"]
            if request.method == "GET":
                pending = self._book.lookup(approval_id, secret, Channel.URL)
                if pending is not None:
                    return _page(page_view.question(pending))
                decided = self._book.seen(approval_id, secret, Channel.URL)
                return _decided(decided) if decided is not None else _gone()
            return await self._post(request, approval_id, secret)

        async def anything(request: Request) -> Response:
            return _gone()

        return Starlette(
            routes=[
                Route("/approve/{approval_id}/{secret}", page, methods=["GET", "POST"]),
                Route("/{rest:path}", anything, methods=["GET", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"]),
            ]
        )

    async def _post(self, request: Request, approval_id: str, secret: str) -> Response:
        allowed_origins = {f"http://{PAGE_HOST}:{self.port}", f"http://localhost:{self.port}"}
        if request.headers.get("origin") not in allowed_origins:
            return _refused("This form may only be sent from its own page. Nothing was approved.", 403)
        if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            return _refused("Unexpected form encoding. Nothing was approved.", 415)
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_FORM_BYTES:
                return _refused("Form too large. Nothing was approved.", 413)
        try:
            fields = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace"), max_num_fields=8).items()}
        except ValueError:
            return _refused("Malformed form. Nothing was approved.", 400)
        csrf = fields.get("csrf", "")
        if self._book.lookup(approval_id, secret, Channel.URL) is None:
            decided = self._book.seen(approval_id, secret, Channel.URL)  # a second answer changes nothing
            return _decided(decided, status=409) if decided is not None else _gone()
        approve = fields.get("decision") == "approve" and is_confirm_text(fields.get("confirm"))
        note = "" if approve or fields.get("decision") != "approve" else WRONG_TEXT_NOTE
        status = self._book.decide(approval_id, secret, channel=Channel.URL, approve=approve, csrf=csrf, note=note)
        if status is None:
            return _refused("This form is stale or was tampered with. Nothing was approved.", 403)
        decided = self._book.seen(approval_id, secret, Channel.URL)
        return _decided(decided) if decided is not None else _gone()
