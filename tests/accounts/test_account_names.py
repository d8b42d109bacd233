"""Account names have a safe character set, and a heading outside it is never repeated (issue 22,
item 14).

A secret pasted onto an account heading (``### main - Secret: ...``) used to come back in the
account tools, ``accounts list/show`` and ``doctor``, because the heading was the broken
account's name. Now such a block goes by a stand-in name and no message repeats the heading.
"""

from __future__ import annotations

import json

import pytest

from binance_spot_mcp.accounts.reading import ACCOUNT_NAME_RE
from binance_spot_mcp.accounts.writing import AccountEntry
from binance_spot_mcp.cli.commands import main
from binance_spot_mcp.errors import AccountsFileError
from tests.e2e_support import loopback_environ, memory_client, random_token, result_json

# a secret that does not look like a key (words and symbols) as well as one that does
PROSE_SECRET = "hunter2 is my pass-phrase!"
TOKEN_SECRET = random_token()
HEADINGS = {
    "token after the name": f"main - Secret: {TOKEN_SECRET}",
    "prose after the name": f"main - Secret: {PROSE_SECRET}",
    "glued with a colon": f"main:{PROSE_SECRET.replace(' ', '')}",
}
SECRETS = {"token after the name": TOKEN_SECRET, "prose after the name": PROSE_SECRET,
           "glued with a colon": PROSE_SECRET.replace(" ", "")}


def _append(world, heading: str) -> None:
    body = (f"\n### {heading}\n- API Key: {world.keys.hmac_api_key}\n- Secret: {world.keys.hmac_secret}\n"
            f"- Environment: testnet\n- Base URL: {world.base_url}\n")
    world.tools_file.write_text(world.tools_file.read_text() + body)


def _fragments(secret: str) -> list[str]:
    """The secret, and its words long enough to recognise it by."""
    return [secret, *(w for w in secret.replace(":", " ").split() if len(w) >= 6)]


@pytest.mark.anyio
@pytest.mark.parametrize("case", sorted(HEADINGS), ids=sorted(HEADINGS))
async def test_account_tools_never_repeat_a_heading_outside_the_name_set(world, case):
    _append(world, HEADINGS[case])
    async with memory_client(world.tools_file, "auto", world.base_url) as client:
        listed = await client.call_tool("list_accounts", {})
        shown = await client.call_tool("show_account", {"account": "main"})
        status = await client.call_tool("get_safety_status", {})
    text = json.dumps([result_json(listed), result_json(shown), result_json(status)])
    for fragment in _fragments(SECRETS[case]):
        assert fragment not in text, (case, fragment)
    unusable = result_json(listed)["unusable"]
    assert [u["name"] for u in unusable] == [f"(invalid name on line {len(world.tools_file.read_text().splitlines()) - 4})"]
    assert "an account name is 1-64 letters, digits" in unusable[0]["problem"]
    assert result_json(shown)["account"] == "main"  # the real 'main' is unaffected


@pytest.mark.parametrize("case", sorted(HEADINGS), ids=sorted(HEADINGS))
def test_cli_list_show_and_doctor_never_repeat_it(world, case, capsys, monkeypatch, cli_isolation):
    for name, value in loopback_environ(world.base_url, world.tools_file.parent).items():
        monkeypatch.setenv(name, value)
    _append(world, HEADINGS[case])
    tools = ["--tools-file", str(world.tools_file)]
    outputs = []
    assert main([*tools, "accounts", "list"]) == 0
    outputs.append(capsys.readouterr())
    line = len(world.tools_file.read_text().splitlines()) - 4
    assert main([*tools, "accounts", "show", f"(invalid name on line {line})"]) != 0
    outputs.append(capsys.readouterr())
    assert main([*tools, "doctor", "--offline"]) == 1
    outputs.append(capsys.readouterr())
    text = "".join(o.out + o.err for o in outputs)
    assert f"(invalid name on line {line})" in text and "an account name is 1-64 letters" in text
    for fragment in _fragments(SECRETS[case]):
        assert fragment not in text, (case, fragment)


@pytest.mark.parametrize(
    "name",
    ["main\n", "main\u2028", "ma in", "-main", ".hidden", "main/x", "mäin", "main:x", "x" * 65, "", "main\x00"],
    ids=["trailing newline", "line separator", "space", "leading dash", "leading dot", "slash", "non-ascii",
         "colon", "too long", "empty", "nul"],
)
def test_names_outside_the_set_are_refused_everywhere(name):
    assert not ACCOUNT_NAME_RE.match(name)
    with pytest.raises(AccountsFileError) as info:
        AccountEntry(name, "testnet", random_token(), secret=random_token())
    assert name not in info.value.message or not name


@pytest.mark.parametrize("name", ["main", "a", "testnet-hmac", "rsa_live.2", "X" * 64], ids=str)
def test_names_inside_the_set_are_accepted(name):
    assert ACCOUNT_NAME_RE.match(name)
    AccountEntry(name, "testnet", random_token(), secret=random_token())
