"""add_account over MCP: key and credentials files only from where the operator keeps them.

A model can name any path. These tests show, through a real MCP client, that a file outside
TOOLS.md's directory and the server's config directory is never read (the answer is the same
whether it exists or not), that a file of the wrong shape shows no fragment of itself, and that
a FIFO cannot freeze the server."""

from __future__ import annotations

import os
from pathlib import Path

import anyio
import pytest

from tests.e2e_support import memory_client, random_token, result_json, transcript

pytestmark = pytest.mark.anyio


def _config_env(tmp_path: Path) -> dict[str, str]:
    return {"XDG_CONFIG_HOME": str(tmp_path / "xdg")}


def _config_dir(tmp_path: Path) -> Path:
    path = tmp_path / "xdg" / "binance-spot-mcp"
    path.mkdir(parents=True, exist_ok=True)
    return path


async def _add(world, tmp_path, **arguments):
    async with memory_client(world.tools_file, "auto", world.base_url, extra_env=_config_env(tmp_path)) as client:
        return await client.call_tool("add_account", {"name": "fresh", "environment": "testnet", **arguments})


async def test_files_outside_the_allowed_directories_are_never_read(world, tmp_path_factory):
    outside = tmp_path_factory.mktemp("elsewhere")
    secret_lines = outside / "foreign.txt"
    secret_lines.write_text(f"{random_token()}\n{random_token()}\n")
    before = world.tools_file.read_text()
    answers = {}
    for label, path in {
        "existing": secret_lines,
        "missing": outside / "nothing-here.txt",
        "dotdot": world.tools_file.parent / ".." / outside.name / "foreign.txt",
    }.items():
        answers[label] = await _add(world, world.tools_file.parent, credentials_file=str(path))
    link = world.tools_file.parent / "link.txt"
    link.symlink_to(secret_lines)
    answers["symlink"] = await _add(world, world.tools_file.parent, credentials_file=str(link))
    for label, result in answers.items():
        body = result_json(result)
        assert result.is_error and body["parameter"] == "credentials_file", label
        assert "must name a file in" in body["message"], label
    # the same words whether the file exists or not: no probing of paths
    messages = {result_json(r)["message"].replace(str(outside), "X") for k, r in answers.items() if k != "symlink"}
    assert len(messages) == 1
    assert world.tools_file.read_text() == before


async def test_an_ssh_key_outside_cannot_become_a_signing_key(world, tmp_path_factory):
    home_ssh = tmp_path_factory.mktemp("ssh")
    (home_ssh / "id_rsa").write_bytes(world.keys.rsa_pem)  # a PEM key that would load
    result = await _add(world, world.tools_file.parent, api_key=random_token(), private_key_file=str(home_ssh / "id_rsa"))
    assert result.is_error and result_json(result)["parameter"] == "private_key_file"
    assert "fresh" not in world.tools_file.read_text()


async def test_files_in_the_config_directory_are_accepted(world):
    config = _config_dir(world.tools_file.parent)
    api_key, secret = random_token(), random_token()
    world.exchange.add_account(api_key, hmac_secret=secret)
    creds = config / "fresh.txt"
    creds.write_text(f"{api_key}\n{secret}\n")
    result = await _add(world, world.tools_file.parent, credentials_file=str(creds))
    assert not result.is_error and result_json(result)["usable_now"] is True


async def test_a_credentials_file_must_be_0600(world):
    creds = world.tools_file.parent / "creds.txt"
    creds.write_text(f"{random_token()}\n{random_token()}\n")
    os.chmod(creds, 0o640)
    result = await _add(world, world.tools_file.parent, credentials_file=str(creds))
    assert result.is_error and "readable by other users" in result_json(result)["message"]


async def test_a_file_that_is_not_a_key_shows_nothing_of_itself(world):
    other = world.tools_file.parent / "notes.txt"
    lines = [random_token(40), random_token(40), random_token(40)]
    other.write_text("\n".join(lines) + "\n")
    two = world.tools_file.parent / "two.txt"
    two.write_text(f"short\n{lines[0]}\n")
    for path in (other, two):
        result = await _add(world, world.tools_file.parent, credentials_file=str(path))
        message = result_json(result)["message"]
        assert result.is_error and "is not a Binance key file" in message
        assert "line" not in message.replace("two lines", "")  # no line count
        text = transcript([result])
        for line in lines:
            assert line[:5] not in text and line[-4:] not in text and line[-5:] not in text


async def test_a_private_key_file_that_is_not_a_key_is_refused_before_writing(world):
    bogus = world.tools_file.parent / "bogus.pem"
    bogus.write_text("-----BEGIN PRIVATE KEY-----\nnot really\n-----END PRIVATE KEY-----\n")
    result = await _add(world, world.tools_file.parent, api_key=random_token(), private_key_file="bogus.pem")
    assert result.is_error and result_json(result)["parameter"] == "private_key_file"
    assert "### fresh" not in world.tools_file.read_text()
    good = await _add(world, world.tools_file.parent, api_key=random_token(), private_key_file="ed.pem")
    assert not good.is_error and "### fresh" in world.tools_file.read_text()


async def test_a_fifo_credentials_file_cannot_freeze_the_server(world):
    fifo = world.tools_file.parent / "fifo.txt"
    os.mkfifo(fifo)
    async with memory_client(world.tools_file, "auto", world.base_url) as client:
        with anyio.fail_after(20):
            async with anyio.create_task_group() as group:
                results = {}

                async def add() -> None:
                    results["add"] = await client.call_tool(
                        "add_account", {"name": "fresh", "environment": "testnet", "credentials_file": str(fifo)}
                    )

                async def listing() -> None:
                    results["list"] = await client.call_tool("list_accounts", {})

                group.start_soon(add)
                group.start_soon(listing)
    assert results["add"].is_error and "not a regular file" in result_json(results["add"])["message"]
    assert not results["list"].is_error
