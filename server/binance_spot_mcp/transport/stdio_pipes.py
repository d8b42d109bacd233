"""stdin and stdout served on the event loop when the host connects them as pipes.

The SDK's stdio transport reads and writes through worker threads (``anyio.wrap_file``): every
message out costs two hand-offs between the event loop and a thread (write, then flush), and on
a busy machine waiting for those threads to be scheduled is most of what a reply spends between
the handler and the host. An MCP host starts its server with pipes (or a socket pair) on both
standard streams; for those, this module gives the SDK's ``stdio_server`` a reader and a writer
that use non-blocking descriptors and ``anyio.wait_readable`` / ``wait_writable`` instead. The
SDK keeps the reading, parsing and everything above it; replies bypass its writer task
(``PipeMessageStream``: the answering task writes its own line, one event-loop hop less).

Like the SDK's own transport, while serving, fd 0 reads the null device and fd 1 writes to
stderr, so stray output from a library or a child process never lands in the JSON-RPC stream;
the descriptors and their flags are restored on exit. A terminal, a regular file or anything
else keeps the SDK's threaded transport (``pipes_for_stdio`` returns None).
"""

from __future__ import annotations

import fcntl
import logging
import os
import stat
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import anyio

logger = logging.getLogger(__name__)

READ_CHUNK = 256 * 1024


def _is_pipe_or_socket(fd: int) -> bool:
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


class PipeLines:
    """Lines read from a non-blocking descriptor, as the SDK's reader iterates a text file."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._buffer = bytearray()
        self._start = 0  # where the next line begins in _buffer
        self._eof = False

    def __aiter__(self) -> PipeLines:
        return self

    def _take(self, end: int) -> str:
        line = bytes(self._buffer[self._start:end])
        self._start = end
        if self._start > READ_CHUNK:  # drop what was consumed, now and then rather than per line
            del self._buffer[: self._start]
            self._start = 0
        return line.decode("utf-8", errors="replace")

    async def __anext__(self) -> str:
        while True:
            newline = self._buffer.find(b"\n", self._start)
            if newline >= 0:
                return self._take(newline + 1)
            if self._eof:
                if self._start < len(self._buffer):
                    return self._take(len(self._buffer))  # a last line without its newline
                raise StopAsyncIteration
            try:
                chunk = os.read(self._fd, READ_CHUNK)
            except BlockingIOError:
                await anyio.wait_readable(self._fd)
                continue
            except InterruptedError:
                continue
            if chunk:
                self._buffer += chunk
            else:
                self._eof = True


class PipeWriter:
    """Whole messages written to a non-blocking descriptor; ``flush`` has nothing left to do."""

    def __init__(self, fd: int) -> None:
        self._fd = fd

    async def write(self, text: str) -> None:
        await self._write(memoryview(text.encode("utf-8")))

    async def write_whole(self, text: str, finish_timeout_s: float) -> None:
        """Write ``text``; once part of it is out, finish it even if the caller is cancelled (up to
        ``finish_timeout_s``, then ``TimeoutError``), so a cancellation never tears a line."""
        data = memoryview(text.encode("utf-8"))
        written = self._write_some(data)
        while not written and data:  # nothing out yet: a cancellation while waiting loses nothing
            await anyio.wait_writable(self._fd)
            written = self._write_some(data)
        if written == len(data):
            return
        with anyio.move_on_after(finish_timeout_s, shield=True) as scope:
            await self._write(data[written:])
        if scope.cancelled_caught:
            raise TimeoutError(f"the reader took no output for {finish_timeout_s:.0f} s")

    def _write_some(self, data: memoryview) -> int:
        try:
            return os.write(self._fd, data)
        except (BlockingIOError, InterruptedError):
            return 0

    async def _write(self, data: memoryview) -> None:
        while data:
            written = self._write_some(data)
            if not written:
                await anyio.wait_writable(self._fd)
            data = data[written:]

    async def flush(self) -> None:
        return None


class PipeMessageStream:
    """The server's write stream over a ``PipeWriter``: each message is serialised and written by
    the task that sends it, so a reply reaches the pipe without first being handed to a writer
    task (the SDK's ``stdio_server`` passes every message through a memory stream to one).

    Messages never interleave: a message the pipe cannot take at once holds the lock until its
    last byte is written, and once its first byte is out it is finished even if the sender is
    cancelled (bounded by ``FINISH_TIMEOUT_S``; a reader that stalls longer than that leaves a
    torn line, and the stream is then broken). A reader that went away is ``BrokenResourceError``,
    as for the SDK's streams."""

    FINISH_TIMEOUT_S = 30.0

    def __init__(self, writer: PipeWriter) -> None:
        self._writer = writer
        self._lock = anyio.Lock(fast_acquire=True)  # no yield when free: the usual reply never waits
        self._closed = False
        self._broken = False

    async def send(self, item: Any) -> None:
        if self._closed:
            raise anyio.ClosedResourceError
        line = item.message.model_dump_json(by_alias=True, exclude_unset=True) + "\n"
        async with self._lock:
            if self._broken:
                raise anyio.BrokenResourceError
            try:
                await self._writer.write_whole(line, self.FINISH_TIMEOUT_S)
            except (OSError, TimeoutError) as exc:
                self._broken = True
                raise anyio.BrokenResourceError from exc

    async def aclose(self) -> None:
        self._closed = True

    async def __aenter__(self) -> PipeMessageStream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


def _stderr_or_null() -> int:
    """Where stray output goes: stderr, or the null device when the process started without one
    (then fd 2 may since have been reused by a file, a socket or the event loop's own descriptors)."""
    stderr = sys.__stderr__
    try:
        if stderr is not None and stderr.fileno() == 2:
            return os.dup(2)
    except (OSError, ValueError):
        pass
    return os.open(os.devnull, os.O_WRONLY | os.O_CLOEXEC)


def _null_reader() -> int:
    return os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)


@contextmanager
def _claim(fd: int, diversion: Callable[[], int]) -> Iterator[int]:
    """A private non-blocking duplicate of ``fd``, with ``fd`` itself pointed at ``diversion()``."""
    private = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)
    status = fcntl.fcntl(private, fcntl.F_GETFL)
    try:
        divert = diversion()
        try:
            os.dup2(divert, fd)
        finally:
            os.close(divert)
        try:
            fcntl.fcntl(private, fcntl.F_SETFL, status | os.O_NONBLOCK)
            yield private
        finally:
            fcntl.fcntl(private, fcntl.F_SETFL, status)  # the description may be shared with the host
            os.dup2(private, fd)
    finally:
        os.close(private)


@contextmanager
def pipes_for_stdio() -> Iterator[tuple[PipeLines, PipeWriter] | None]:
    """The reader and writer for ``stdio_server(stdin=..., stdout=...)``, or None to keep the SDK's."""
    if sys.platform == "win32" or not (_is_pipe_or_socket(0) and _is_pipe_or_socket(1)):
        yield None
        return
    sys.stdout.flush()
    stack = ExitStack()
    try:
        reads = stack.enter_context(_claim(0, _null_reader))
        writes = stack.enter_context(_claim(1, _stderr_or_null))
    except OSError as exc:  # descriptors could not be duplicated or diverted: the SDK's transport then
        stack.close()
        logger.warning("stdio: serving through the SDK's threaded transport (%s)", exc.strerror or exc)
        yield None
        return
    with stack:
        stack.callback(sys.stdout.flush)  # stray prints still buffered go to stderr, not the wire
        yield PipeLines(reads), PipeWriter(writes)
