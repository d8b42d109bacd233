"""What a new user meets at the command line (issue 11, item 6): options after the subcommand,
Ctrl-C stops the stdio server, a notice on a terminal, plain warning lines."""

from __future__ import annotations

import json
import os
import pty
import selectors
import signal
import subprocess
import time
from pathlib import Path

import pytest

from binance_spot_mcp.cli.commands import main
from tests.e2e_support import console_script

BOUND_S = 60.0
INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}


@pytest.mark.usefixtures("cli_isolation")
def test_global_options_work_after_the_subcommand(tmp_path, capsys):
    missing = tmp_path / "elsewhere" / "TOOLS.md"
    assert main(["doctor", "--tools-file", str(missing), "--offline"]) == 1
    out = capsys.readouterr().out
    assert f"{missing} does not exist" in out
    assert main(["accounts", "list", "--tools-file", str(missing), "--log-level", "ERROR"]) == 0
    captured = capsys.readouterr()
    # Until the named TOOLS.md exists, the built-in paper account is there (and says why)
    assert f"paper  paper  (built in: {missing} does not exist yet)" in captured.out and captured.err == ""
    assert main(["journal", "--tools-file", str(missing), "-n", "1"]) == 0
    assert main(["tools", "--read-only", "--tools-file", str(missing)]) == 0
    assert "place_order" not in capsys.readouterr().out
    assert main(["--tools-file", str(missing), "accounts", "list"]) == 0  # before it, as always


@pytest.mark.usefixtures("cli_isolation")
def test_cli_warnings_are_plain_lines(tmp_path, capsys):
    missing = tmp_path / "TOOLS.md"
    main(["accounts", "list", "--tools-file", str(missing)])
    err = capsys.readouterr().err
    assert err == f"binance-spot-mcp: warning: accounts file {missing} does not exist\n"


def _env(tmp_path: Path) -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path),
            "BINANCE_SPOT_MCP_JOURNAL": str(tmp_path / "journal.jsonl")}


def _read_until(fd: int, needle: bytes, deadline: float) -> bytes:
    """Bytes from ``fd`` up to and including a chunk holding ``needle`` (bounded by ``deadline``)."""
    seen = b""
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        while needle not in seen:
            left = deadline - time.monotonic()
            assert left > 0, f"no {needle!r} in time; got {seen[-400:]!r}"
            if sel.select(timeout=left):
                chunk = os.read(fd, 65536)
                assert chunk, f"stream closed before {needle!r}; got {seen[-400:]!r}"
                seen += chunk
    return seen


def _initialize(stdin_fd: int, stdout_fd: int, deadline: float) -> None:
    """Once the server answers initialize, it is serving (and its Ctrl-C handler is installed)."""
    os.write(stdin_fd, (json.dumps(INIT) + "\n").encode())
    _read_until(stdout_fd, b'"id":1', deadline)


def test_ctrl_c_stops_the_stdio_server_while_stdin_stays_open(tmp_path):
    deadline = time.monotonic() + BOUND_S
    proc = subprocess.Popen([console_script(), "--tools-file", str(tmp_path / "TOOLS.md")], cwd=tmp_path,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(tmp_path))
    try:
        _initialize(proc.stdin.fileno(), proc.stdout.fileno(), deadline)
        proc.send_signal(signal.SIGINT)  # stdin stays open: only Ctrl-C can stop it
        assert proc.wait(timeout=max(1.0, deadline - time.monotonic())) == 130
        assert b"waiting for an MCP host" not in proc.stderr.read()  # not a terminal: no notice
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            stream.close()


def test_on_a_terminal_the_server_says_it_waits_for_a_host(tmp_path):
    deadline = time.monotonic() + BOUND_S
    master, slave = pty.openpty()
    proc = subprocess.Popen([console_script(), "--tools-file", str(tmp_path / "TOOLS.md")], cwd=tmp_path,
                            stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(tmp_path))
    os.close(slave)
    try:
        err = _read_until(proc.stderr.fileno(), b"Ctrl-C stops it.\n", deadline)
        notices = [line for line in err.decode().splitlines() if "waiting for an MCP host" in line]
        assert len(notices) == 1 and notices[0].startswith("binance-spot-mcp: ")
        _initialize(master, proc.stdout.fileno(), deadline)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=max(1.0, deadline - time.monotonic())) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        os.close(master)
        proc.stdout.close()
        proc.stderr.close()
