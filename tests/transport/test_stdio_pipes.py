"""stdio over pipes on the event loop (stdio_pipes): whole lines in, whole messages out, stray
output kept off the wire, descriptors and flags given back, and other kinds of stdin left to the SDK."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Awaitable, Callable

import anyio
import pytest
from mcp.shared.message import SessionMessage
from mcp_types import JSONRPCResponse

from binance_spot_mcp.transport.stdio_pipes import PipeLines, PipeMessageStream, PipeWriter

pytestmark = pytest.mark.anyio

BOUND_S = 20.0


def _pipe() -> tuple[int, int]:
    read_end, write_end = os.pipe()
    os.set_blocking(read_end, False)
    os.set_blocking(write_end, False)
    return read_end, write_end


async def test_lines_split_across_reads_arrive_whole_and_a_last_line_without_newline_is_kept():
    read_end, write_end = _pipe()
    lines = PipeLines(read_end)
    accented = "prix: 1.5 €\n".encode()
    try:
        with anyio.fail_after(BOUND_S):
            os.write(write_end, b'{"id":1}\n{"id":')
            assert await lines.__anext__() == '{"id":1}\n'
            os.write(write_end, b"2}\n" + accented[:-3])  # the euro sign cut in the middle
            assert await lines.__anext__() == '{"id":2}\n'
            os.write(write_end, accented[-3:] + b"tail")
            assert await lines.__anext__() == "prix: 1.5 €\n"
            os.close(write_end)
            write_end = -1
            assert await lines.__anext__() == "tail"
            with pytest.raises(StopAsyncIteration):
                await lines.__anext__()
    finally:
        os.close(read_end)
        if write_end >= 0:
            os.close(write_end)


async def test_bytes_that_are_not_utf8_become_replacement_characters():
    read_end, write_end = _pipe()
    try:
        os.write(write_end, b'{"x":"\xff\xfe"}\n')
        os.close(write_end)
        with anyio.fail_after(BOUND_S):
            assert [line async for line in PipeLines(read_end)] == ['{"x":"\ufffd\ufffd"}\n']
    finally:
        os.close(read_end)


async def _through_a_pipe(write: Callable[[int], Awaitable[None]]) -> list[str]:
    """The lines a reader draining the pipe received while ``write(fd)`` wrote into it."""
    read_end, write_end = _pipe()
    received: list[str] = []

    async def drain() -> None:
        async for line in PipeLines(read_end):
            received.append(line)

    try:
        with anyio.fail_after(BOUND_S):
            async with anyio.create_task_group() as tg:
                tg.start_soon(drain)
                await write(write_end)
                os.close(write_end)
                write_end = -1
    finally:
        os.close(read_end)
        if write_end >= 0:
            os.close(write_end)
    return received


async def test_a_message_larger_than_the_pipe_buffer_arrives_whole_and_in_order():
    message = "".join(f"{i:07d}," for i in range(250_000)) + "\n"  # 2 MB: the pipe holds 64 KiB

    async def write(fd: int) -> None:
        await PipeWriter(fd).write(message)
        await PipeWriter(fd).write("second\n")

    assert await _through_a_pipe(write) == [message, "second\n"]


CHILD = textwrap.dedent(
    """
    import fcntl, os, subprocess, sys
    import anyio
    from binance_spot_mcp.transport.stdio_pipes import pipes_for_stdio

    async def main():
        with pipes_for_stdio() as pipes:
            if pipes is None:
                print("threads", flush=True)
                return
            lines, writer = pipes
            print("stray print")                      # buffered Python output
            os.write(1, b"stray fd 1\\n")             # a C library writing to fd 1
            subprocess.run(["echo", "stray child"])  # a child inheriting fd 1
            line = await lines.__anext__()
            await writer.write("echo " + line)
            if sys.stderr is not None:  # None when the process started without stderr
                sys.stderr.write("stdin now reads %r\\n" % os.read(0, 10))
        nonblocking = [bool(fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_NONBLOCK) for fd in (0, 1)]
        print("after", nonblocking, flush=True)

    anyio.run(main)
    """
)


def _run_child(stdin: object, input_bytes: bytes | None = None, *, without_stderr: bool = False
               ) -> subprocess.CompletedProcess[bytes]:
    command = [sys.executable, "-c", CHILD]
    if without_stderr:  # started the way some launchers do: fd 2 closed from the outset
        command = ["sh", "-c", 'exec "$0" -c "$1" 2>&-', *command[::2]]
    return subprocess.run(command, stdin=stdin, input=input_bytes, capture_output=True, timeout=60, check=True)


def test_stray_output_goes_to_stderr_and_the_descriptors_are_given_back():
    done = _run_child(None, b'{"jsonrpc":"2.0"}\n')
    assert done.stdout == b'echo {"jsonrpc":"2.0"}\nafter [False, False]\n'
    for stray in (b"stray print", b"stray fd 1", b"stray child"):
        assert stray in done.stderr
    assert b"stdin now reads b''" in done.stderr  # fd 0 is the null device while serving


def test_stdin_from_a_regular_file_keeps_the_sdk_transport(tmp_path):
    source = tmp_path / "requests.jsonl"
    source.write_text('{"jsonrpc":"2.0"}\n')
    with source.open("rb") as stdin:
        done = _run_child(stdin)
    assert done.stdout == b"threads\n"


def test_with_stderr_closed_stray_output_is_dropped_and_the_wire_stays_clean():
    done = _run_child(None, b'{"jsonrpc":"2.0"}\n', without_stderr=True)
    assert done.stdout == b'echo {"jsonrpc":"2.0"}\nafter [False, False]\n'


# -- replies written by the task that sends them (PipeMessageStream) ----------------------------------


def _reply(request_id: int, text: str = "ok") -> SessionMessage:
    return SessionMessage(message=JSONRPCResponse(jsonrpc="2.0", id=request_id, result={"text": text}))


def _ids(lines: list[str]) -> list[int]:
    return [json.loads(line)["id"] for line in lines]


async def test_a_reply_is_on_the_pipe_when_send_returns_without_passing_through_another_task():
    read_end, write_end = _pipe()
    stream = PipeMessageStream(PipeWriter(write_end))
    others_ran = anyio.Event()

    async def other() -> None:  # runs only once the sender yields to the event loop
        others_ran.set()

    try:
        with anyio.fail_after(BOUND_S):
            async with anyio.create_task_group() as tg:
                tg.start_soon(other)
                await stream.send(_reply(7, "é"))
                assert not others_ran.is_set()
                line = os.read(read_end, 1 << 16).decode()
    finally:
        os.close(read_end)
        os.close(write_end)
    assert line.endswith("\n") and line.count("\n") == 1
    assert json.loads(line) == {"jsonrpc": "2.0", "id": 7, "result": {"text": "é"}}


async def test_replies_larger_than_the_pipe_from_concurrent_senders_never_interleave():
    big = "".join(f"{i:07d}," for i in range(100_000))  # 800 kB each: the pipe holds 64 KiB

    async def write(fd: int) -> None:
        stream = PipeMessageStream(PipeWriter(fd))
        async with anyio.create_task_group() as senders:
            for request_id in range(1, 5):
                senders.start_soon(stream.send, _reply(request_id, big + str(request_id)))
            senders.start_soon(stream.send, _reply(5))

    received = await _through_a_pipe(write)
    assert sorted(_ids(received)) == [1, 2, 3, 4, 5]
    for line in received:
        message = json.loads(line)  # each line one whole message
        assert message["result"]["text"] in ("ok", big + str(message["id"]))


async def test_a_sender_cancelled_mid_reply_still_finishes_the_line():
    read_end, write_end = _pipe()
    stream = PipeMessageStream(PipeWriter(write_end))
    big = "x" * 500_000
    received: list[str] = []
    try:
        with anyio.fail_after(BOUND_S):
            async with anyio.create_task_group() as tg:
                sender = anyio.CancelScope()

                async def send_big() -> None:
                    with sender:
                        await stream.send(_reply(1, big))

                tg.start_soon(send_big)
                await anyio.wait_readable(read_end)  # the first 64 KiB are out; the rest waits for room
                sender.cancel()
                async for line in PipeLines(read_end):
                    received.append(line)
                    if len(received) == 1:
                        await stream.send(_reply(2))
                    else:
                        break
    finally:
        os.close(read_end)
        os.close(write_end)
    assert _ids(received) == [1, 2]
    assert json.loads(received[0])["result"]["text"] == big


async def test_a_reader_that_stops_reading_breaks_the_stream_after_the_bound():
    read_end, write_end = _pipe()
    stream = PipeMessageStream(PipeWriter(write_end))
    stream.FINISH_TIMEOUT_S = 0.2
    try:
        with anyio.fail_after(BOUND_S):
            with pytest.raises(anyio.BrokenResourceError):
                await stream.send(_reply(1, "y" * 500_000))  # nobody reads: the line can never finish
            with pytest.raises(anyio.BrokenResourceError):  # a torn line: nothing more goes out
                await stream.send(_reply(2))
    finally:
        os.close(read_end)
        os.close(write_end)


async def test_a_reader_that_went_away_or_a_closed_stream_refuses_the_reply():
    read_end, write_end = _pipe()
    os.close(read_end)
    stream = PipeMessageStream(PipeWriter(write_end))
    try:
        with anyio.fail_after(BOUND_S):
            with pytest.raises(anyio.BrokenResourceError):
                await stream.send(_reply(1))
            async with PipeMessageStream(PipeWriter(write_end)) as other:
                pass
            with pytest.raises(anyio.ClosedResourceError):
                await other.send(_reply(2))
    finally:
        os.close(write_end)
