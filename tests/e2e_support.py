"""Shared set-up for end-to-end tests: throwaway keys, a TOOLS.md pointing at the fake exchange,
and MCP clients (in memory and over stdio, both protocol eras) talking to the real server."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import string
import sys
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.types import CallToolResult

from binance_spot_mcp.config import load_settings
from binance_spot_mcp.server import Runtime, build_server

ERAS = ["legacy", "auto"]  # legacy: 2025-11-25 handshake; auto: 2026-07-28 where both sides speak it
_ALPHABET = string.ascii_letters + string.digits


def random_token(length: int = 64) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


@dataclass(frozen=True)
class KeySet:
    """One set of throwaway credentials per key type, made fresh for the test session."""

    hmac_api_key: str
    hmac_secret: str
    rsa_api_key: str
    rsa_pem: bytes = field(repr=False)
    rsa_public_pem: bytes = field(repr=False)
    ed_api_key: str = ""
    ed_pem: bytes = field(default=b"", repr=False)
    ed_public_pem: bytes = field(default=b"", repr=False)
    live_api_key: str = ""
    live_secret: str = ""

    def sensitive(self) -> list[str]:
        """Strings that must never appear in any output: full keys, secrets, private key bodies."""
        values = [self.hmac_api_key, self.hmac_secret, self.rsa_api_key, self.ed_api_key,
                  self.live_api_key, self.live_secret]
        for pem in (self.rsa_pem, self.ed_pem):
            body = [line for line in pem.decode().splitlines() if "-----" not in line]
            values.extend(line for line in body if len(line) >= 20)
        return values


def make_keys() -> KeySet:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ed_key = ed25519.Ed25519PrivateKey.generate()

    def private(key: Any) -> bytes:
        return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())

    def public(key: Any) -> bytes:
        return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    return KeySet(
        hmac_api_key=random_token(),
        hmac_secret=random_token(),
        rsa_api_key=random_token(),
        rsa_pem=private(rsa_key),
        rsa_public_pem=public(rsa_key),
        ed_api_key=random_token(),
        ed_pem=private(ed_key),
        ed_public_pem=public(ed_key),
        live_api_key=random_token(),
        live_secret=random_token(),
    )


@dataclass
class World:
    """A TOOLS.md with four accounts, all pointing at one running fake exchange."""

    tools_file: Path
    base_url: str
    exchange: Any
    keys: KeySet
    fake: Any = None  # the RunningFake: its REST base URL and WebSocket URLs


def write_world(directory: Path, fake: Any, keys: KeySet) -> World:
    (directory / "rsa.pem").write_bytes(keys.rsa_pem)
    (directory / "ed.pem").write_bytes(keys.ed_pem)
    base = fake.base_url
    text = f"""# Notes kept by the user

## Binance Accounts

### main
- API Key: {keys.hmac_api_key}
- Secret: {keys.hmac_secret}
- Environment: testnet
- Base URL: {base}
- Description: HMAC testnet account

### rsa
- API Key: {keys.rsa_api_key}
- Private Key File: rsa.pem
- Environment: testnet
- Base URL: {base}

### ed
- API Key: {keys.ed_api_key}
- Private Key File: ed.pem
- Environment: demo
- Base URL: {base}

### live
- API Key: {keys.live_api_key}
- Secret: {keys.live_secret}
- Testnet: false
- Base URL: {base}
"""
    tools_file = directory / "TOOLS.md"
    tools_file.write_text(text)
    os.chmod(tools_file, 0o600)
    exchange = fake.exchange
    exchange.add_account(keys.hmac_api_key, hmac_secret=keys.hmac_secret)
    exchange.add_account(keys.rsa_api_key, public_key_pem=keys.rsa_public_pem)
    exchange.add_account(keys.ed_api_key, public_key_pem=keys.ed_public_pem)
    exchange.add_account(keys.live_api_key, hmac_secret=keys.live_secret)
    return World(tools_file=tools_file, base_url=base, exchange=exchange, keys=keys, fake=fake)


def loopback_environ(base_url: str | None, state_dir: Path | None = None) -> dict[str, str]:
    """Point every environment's default base URL at the fake, so no test can reach the internet,
    and the audit journal into the test's own folder (never the real home)."""
    env = {"BINANCE_SPOT_MCP_JOURNAL": str((state_dir or Path(tempfile.mkdtemp(prefix="journal-"))) / "journal.jsonl")}
    if base_url is not None:
        env.update({f"BINANCE_SPOT_MCP_{name}_BASE_URL": base_url for name in ("MAINNET", "TESTNET", "DEMO")})
    return env


def stream_environ(fake: Any) -> dict[str, str]:
    """Point every environment's market-stream and WebSocket API URLs at the fake's WebSocket side."""
    env = {}
    for name in ("MAINNET", "TESTNET", "DEMO"):
        env[f"BINANCE_SPOT_MCP_{name}_STREAM_URL"] = fake.stream_url
        env[f"BINANCE_SPOT_MCP_{name}_WS_API_URL"] = fake.ws_api_url
    return env


@asynccontextmanager
async def memory_client(
    tools_file: Path,
    mode: str,
    base_url: str | None = None,
    extra_env: dict[str, str] | None = None,
    on_runtime: Callable[[Runtime], None] | None = None,
    **client_kwargs: Any,
) -> AsyncIterator[Client]:
    """A client of the real server in this process; ``on_runtime`` may adjust the server first."""
    environ = {**loopback_environ(base_url, tools_file.parent), **(extra_env or {})}
    runtime = Runtime(settings=load_settings(tools_file=str(tools_file), environ=environ))
    if on_runtime is not None:
        on_runtime(runtime)
    try:
        async with Client(build_server(runtime), mode=mode, **client_kwargs) as client:
            yield client
    finally:
        await runtime.aclose()


def console_script() -> str:
    """The installed ``binance-spot-mcp`` next to this interpreter."""
    candidate = Path(sys.executable).parent / "binance-spot-mcp"
    found = str(candidate) if candidate.exists() else shutil.which("binance-spot-mcp")
    assert found, "the console script binance-spot-mcp is not installed (pip install -e .)"
    return found


@asynccontextmanager
async def stdio_client_for(
    tools_file: Path | None,
    mode: str,
    extra_env: dict[str, str] | None = None,
    workdir: Path | None = None,
    base_url: str | None = None,
    extra_args: list[str] | None = None,
    **client_kwargs: Any,
) -> AsyncIterator[tuple[Client, Path]]:
    """A client driving the console script over stdio; yields it and the server's stderr file.

    ``tools_file=None`` starts the server with no ``--tools-file`` in ``workdir``."""
    cwd = workdir if tools_file is None else tools_file.parent
    assert cwd is not None
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(cwd), "PYTHONUNBUFFERED": "1",
           "BINANCE_SPOT_MCP_LOG_LEVEL": "INFO"}
    env.update(loopback_environ(base_url, cwd))
    env.update(extra_env or {})
    args = [] if tools_file is None else ["--tools-file", str(tools_file)]
    args += extra_args or []
    params = StdioServerParameters(command=console_script(), args=args, env=env, cwd=str(cwd))
    err_path = Path(tempfile.mkstemp(prefix="mcp-stderr-", dir=cwd)[1])
    with err_path.open("w") as errlog:
        async with Client(stdio_client(params, errlog=errlog), mode=mode, **client_kwargs) as client:
            yield client, err_path


def result_json(result: CallToolResult) -> Any:
    assert result.content and result.content[0].type == "text", result
    return json.loads(result.content[0].text)


def transcript(results: list[Any]) -> str:
    """Everything the client saw, as one string, for leak checks."""
    parts = []
    for item in results:
        if hasattr(item, "model_dump_json"):
            parts.append(item.model_dump_json(by_alias=True))
        else:
            parts.append(str(item))
    return "\n".join(parts)
