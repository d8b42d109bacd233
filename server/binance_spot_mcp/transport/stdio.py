"""Serving MCP over stdio: finish every request already read when stdin closes; stop on Ctrl-C;
say what is going on when a person starts the server on a terminal.

A host (or a shell pipe) may write its requests and close stdin at once. The SDK's dispatcher
treats end of input as "the client is gone" and cancels the handlers still running, so requests
that were read but not yet answered would be dropped. Here the read side reports end of input
only once every request read so far has been answered (``Ledger``), or once only requests that
wait on the (gone) client remain, or after ``EOF_DRAIN_TIMEOUT_S`` at the latest.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from contextlib import ExitStack
from types import TracebackType
from typing import Any

import anyio
import anyio.abc
from mcp_types import JSONRPCError, JSONRPCNotification, JSONRPCRequest, JSONRPCResponse

logger = logging.getLogger(__name__)

# Longest wait, after stdin closed, for the answers to requests already read. A tool call is
# bounded by the HTTP timeout plus the lost-reply look-ups, well below this.
EOF_DRAIN_TIMEOUT_S = 60.0
CANCELLED_NOTIFICATION = "notifications/cancelled"
INTERRUPTED_EXIT_CODE = 130  # 128 + SIGINT, what shells report for Ctrl-C
INTERRUPT_CLEANUP_S = 2.0


def _key(request_id: Any) -> str:
    return str(request_id)


class Ledger:
    """Which client requests still wait for an answer, and which server requests wait on the client."""

    def __init__(self) -> None:
        self.unanswered: set[str] = set()
        self.asking: set[str] = set()
        self._changed = anyio.Event()

    def _touch(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    def inbound(self, message: Any) -> None:
        if isinstance(message, JSONRPCRequest):
            self.unanswered.add(_key(message.id))
        elif isinstance(message, JSONRPCResponse | JSONRPCError) and message.id is not None:
            self.asking.discard(_key(message.id))
        elif isinstance(message, JSONRPCNotification) and message.method == CANCELLED_NOTIFICATION:
            request_id = (message.params or {}).get("requestId")
            if request_id is not None:
                self.unanswered.discard(_key(request_id))  # a cancelled request is never answered
        self._touch()

    def outbound(self, message: Any) -> None:
        if isinstance(message, JSONRPCResponse | JSONRPCError) and message.id is not None:
            self.unanswered.discard(_key(message.id))
        elif isinstance(message, JSONRPCRequest):
            self.asking.add(_key(message.id))
        self._touch()

    @property
    def settled(self) -> bool:
        """Nothing left that could still be answered: all answered, or the rest waits on the client."""
        return not self.unanswered or bool(self.asking)

    async def drained(self, timeout_s: float) -> None:
        with anyio.move_on_after(timeout_s) as scope:
            while not self.settled:
                await self._changed.wait()
        if scope.cancelled_caught:
            logger.warning("stdin closed; %d request(s) still unanswered after %.0f s", len(self.unanswered), timeout_s)


class DrainingReadStream:
    """The transport's read stream, whose end of input waits until the ledger is settled."""

    def __init__(self, inner: Any, ledger: Ledger, timeout_s: float = EOF_DRAIN_TIMEOUT_S) -> None:
        self._inner = inner
        self._ledger = ledger
        self._timeout_s = timeout_s

    @property
    def last_context(self) -> Any:  # the SDK reads the sender's context from context streams
        return getattr(self._inner, "last_context", None)

    async def receive(self) -> Any:
        try:
            item = await self._inner.receive()
        except anyio.EndOfStream:
            await self._ledger.drained(self._timeout_s)
            raise
        message = getattr(item, "message", None)
        if message is not None:
            self._ledger.inbound(message)
        return item

    async def aclose(self) -> None:
        await self._inner.aclose()

    def __aiter__(self) -> DrainingReadStream:
        return self

    async def __anext__(self) -> Any:
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    async def __aenter__(self) -> DrainingReadStream:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


class RecordingWriteStream:
    """The transport's write stream, telling the ledger what was answered or asked."""

    def __init__(self, inner: Any, ledger: Ledger) -> None:
        self._inner = inner
        self._ledger = ledger

    async def send(self, item: Any) -> None:
        await self._inner.send(item)
        message = getattr(item, "message", None)
        if message is not None:
            self._ledger.outbound(message)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def __aenter__(self) -> RecordingWriteStream:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


def draining(read_stream: Any, write_stream: Any, timeout_s: float = EOF_DRAIN_TIMEOUT_S) -> tuple[Any, Any]:
    """Wrap a transport's stream pair so that end of input waits for the answers owed."""
    ledger = Ledger()
    return DrainingReadStream(read_stream, ledger, timeout_s), RecordingWriteStream(write_stream, ledger)


def terminal_notice() -> str:
    """The one line shown when stdin is a terminal: a person, not an MCP host, started the server."""
    return (
        "binance-spot-mcp: waiting for an MCP host on stdin/stdout (this is an MCP server, started by a "
        "host such as Claude Desktop; see README). Ctrl-C stops it.\n"
    )


async def _stop_on_interrupt(runtime: Any, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
    """Ctrl-C (SIGINT) ends the process at once.

    Where stdin is not a pipe (a terminal, say), the SDK reads it in a worker thread that nothing
    can wake but input or end of input, so a cancelled server would wait for Ctrl-D. Here the
    HTTP client is closed (briefly), stderr is flushed, and the process exits with the shell's
    code for an interrupt."""
    with ExitStack() as stack:
        try:
            signals = stack.enter_context(anyio.open_signal_receiver(signal.SIGINT))
        except NotImplementedError:  # an event loop without signal handlers (e.g. Windows): Ctrl-C as before
            task_status.started()
            return
        task_status.started()
        async for _ in signals:
            logger.info("interrupted (Ctrl-C): stopping")
            with anyio.move_on_after(INTERRUPT_CLEANUP_S):
                await runtime.aclose()
            sys.stderr.flush()
            os._exit(INTERRUPTED_EXIT_CODE)


async def serve_stdio(runtime: Any) -> None:
    """Run the MCP server for ``runtime`` over stdin/stdout until stdin closes and all is answered."""
    from mcp.server.stdio import stdio_server

    from binance_spot_mcp.server import build_server
    from binance_spot_mcp.transport.stdio_pipes import PipeMessageStream, pipes_for_stdio

    server = build_server(runtime)
    if sys.stdin is not None and sys.stdin.isatty():
        sys.stderr.write(terminal_notice())
        sys.stderr.flush()
    try:
        async with anyio.create_task_group() as group:
            await group.start(_stop_on_interrupt, runtime)
            with pipes_for_stdio() as pipes:  # pipes from a host: served on the event loop
                async with stdio_server(*(pipes or ())) as (read_stream, write_stream):
                    if pipes is not None:  # replies go straight to the pipe, not through the SDK's writer task
                        await write_stream.aclose()
                        write_stream = PipeMessageStream(pipes[1])
                    reads, writes = draining(read_stream, write_stream)
                    await server.run(reads, writes, server.create_initialization_options())
            group.cancel_scope.cancel()
    finally:
        await runtime.aclose()
