"""``python -m tests.fake_binance --try-out DIR``: the README's try-out in one command.

It starts the fake exchange, registers a fresh throwaway HMAC account on it, writes
``DIR/TOOLS.md`` (mode 0600, whatever the umask) naming that account ``main`` on testnet, and
prints the complete host configuration: the server's command line and every URL variable the
server reads (REST, market streams and WebSocket API, for mainnet, testnet, demo and paper), each
pointing at this fake, so nothing the assistant does leaves the machine.

The fake never imports the package, so the variable names are spelt out here;
``tests/project/test_try_out.py`` checks them against the server's own list.
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import sys
from pathlib import Path
from typing import TextIO

ENVIRONMENTS = ("mainnet", "testnet", "demo")
MARKER = "<!-- written by `python -m tests.fake_binance --try-out`: throwaway keys for the fake exchange -->"
SERVER_NAME = "binance-fake"
SCRIPT = "binance-spot-mcp"


class TryOutError(Exception):
    """The try-out cannot use the directory it was given (the message says why)."""


def url_variables(base_url: str, stream_url: str, ws_api_url: str) -> dict[str, str]:
    """Every URL variable the server reads, each environment pointed at the fake."""
    out: dict[str, str] = {}
    for environment in ENVIRONMENTS:
        prefix = f"BINANCE_SPOT_MCP_{environment.upper()}"
        out[f"{prefix}_BASE_URL"] = base_url
        out[f"{prefix}_STREAM_URL"] = stream_url
        out[f"{prefix}_WS_API_URL"] = ws_api_url
    # paper accounts read public market data (REST and streams) from URLs of their own
    out["BINANCE_SPOT_MCP_PAPER_BASE_URL"] = base_url
    out["BINANCE_SPOT_MCP_PAPER_STREAM_URL"] = stream_url
    return out


def new_credentials() -> tuple[str, str]:
    """A throwaway API key and secret, the shape of Binance's (64 characters each)."""
    return secrets.token_hex(32), secrets.token_hex(32)


def tools_md(api_key: str, secret: str, base_url: str) -> str:
    return (
        f"{MARKER}\n\n## Binance Accounts\n\n### main\n- API Key: {api_key}\n- Secret: {secret}\n"
        f"- Environment: testnet\n- Base URL: {base_url}\n"
        "- Description: a throwaway account on the fake exchange (python -m tests.fake_binance --try-out)\n"
    )


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` with mode 0600 from the start (no window under umask 022),
    atomically, never following a symlink at ``path``."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(partial, 0o600)  # a umask never widens a mode, but be explicit
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def prepare_directory(directory: Path) -> Path:
    """Create ``directory`` (0700) when missing; refuse a TOOLS.md the try-out did not write."""
    directory = directory.expanduser().absolute()
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    target = directory / "TOOLS.md"
    if target.is_symlink():
        raise TryOutError(f"{target} is a symbolic link: give the try-out a directory of its own")
    if target.exists():
        try:
            first = target.read_text(encoding="utf-8").splitlines()[:1]
        except (OSError, UnicodeDecodeError) as exc:
            raise TryOutError(f"{target} exists and cannot be read ({type(exc).__name__})") from None
        if first != [MARKER]:
            raise TryOutError(f"{target} exists and was not written by --try-out: give the try-out an empty directory")
    return target


def server_command() -> str:
    """The console script installed next to this Python (a checkout's .venv), else the bare name."""
    beside = Path(sys.executable).parent / SCRIPT
    return str(beside.absolute()) if beside.exists() else SCRIPT


def host_configuration(tools_file: Path, variables: dict[str, str], journal: Path) -> tuple[str, dict[str, object]]:
    """The ``claude mcp add`` line and the ``mcpServers`` JSON for the same server."""
    env = {**variables, "BINANCE_SPOT_MCP_JOURNAL": str(journal)}
    command = server_command()
    args = ["--tools-file", str(tools_file)]
    words = ["claude", "mcp", "add", SERVER_NAME]
    for name, value in env.items():
        words += ["-e", f"{name}={value}"]
    words += ["--", command, *args]
    return shlex.join(words), {"mcpServers": {SERVER_NAME: {"command": command, "args": args, "env": env}}}


def announce(out: TextIO, *, tools_file: Path, base_url: str, stream_url: str, ws_api_url: str) -> None:
    """Print what was written and the complete host configuration."""
    variables = url_variables(base_url, stream_url, ws_api_url)
    line, config = host_configuration(tools_file, variables, tools_file.parent / "journal.jsonl")
    out.write(
        f"Fake Binance Spot on {base_url} (market streams {stream_url}, WebSocket API {ws_api_url}).\n"
        f"Wrote {tools_file} (mode 600): the account main, testnet, a throwaway key funded on this fake.\n\n"
        "Add the server to Claude Code:\n\n"
        f"{line}\n\n"
        "or to any MCP host (Claude Desktop: claude_desktop_config.json):\n\n"
        f"{json.dumps(config, indent=2)}\n\n"
        "Every Binance URL (REST, market streams, WebSocket API; mainnet, testnet, demo, paper) points at\n"
        "this fake, so nothing leaves the machine. Then ask: \"What is the BTCUSDT price?\",\n"
        "\"What are my balances?\", \"Buy 0.001 BTC at market and tell me when it fills.\"\n"
        "Ctrl-C stops the fake and forgets its state; run the command again for a fresh one (same\n"
        "directory: TOOLS.md gets a new key, so update the host's configuration too).\n"
    )
    out.flush()
