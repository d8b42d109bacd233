"""Checks on what the MCP Inspector CLI printed (``--format json``), for ``.ci/inspector``.

    inspector_check.py tools-list OUT [--min-count N] [--expect NAME ...]
    inspector_check.py call OUT [--key KEY ...] [--decimal KEY ...] [--true KEY ...]
    inspector_check.py no-secrets --secrets-file KEYS FILE ...
    inspector_check.py show --secrets-file KEYS FILE      (print FILE's tail with secrets masked)

OUT is the Inspector's stdout: one JSON object, ``{"result": ...}`` or ``{"error": ...}``. A call's
first text content is parsed as JSON and KEY is looked up anywhere in it. KEYS is the file handed to
the fake exchange: one ``API_KEY:SECRET`` per line. Prints one line; exits 1 on a failed check.
Standard library only; never prints a secret.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

MASK = "***"
SHOW_LINES = 40


class CheckFailed(Exception):
    """A check did not hold; the message says why (and holds no secret)."""


def load_result(text: str) -> Any:
    """The ``result`` of an Inspector ``--format json`` run; its error envelope is a failure."""
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CheckFailed(f"output is not one JSON object ({exc.msg} at char {exc.pos})") from None
    if not isinstance(payload, dict):
        raise CheckFailed("output is not a JSON object")
    if "error" in payload:
        raise CheckFailed(f"the Inspector reported an error: {json.dumps(payload['error'])[:300]}")
    if "result" not in payload:
        raise CheckFailed(f"no 'result' in the output (keys: {sorted(payload)})")
    return payload["result"]


def check_tools_list(text: str, expected: list[str], min_count: int) -> str:
    result = load_result(text)
    tools = result.get("tools") if isinstance(result, dict) else None
    if not isinstance(tools, list):
        raise CheckFailed("result has no 'tools' list")
    names = [tool.get("name") for tool in tools if isinstance(tool, dict)]
    missing = [name for name in expected if name not in names]
    if missing:
        raise CheckFailed(f"tools missing from tools/list: {', '.join(missing)}")
    if len(names) < min_count:
        raise CheckFailed(f"only {len(names)} tools listed, expected at least {min_count}")
    if len(set(names)) != len(names):
        raise CheckFailed("tools/list has duplicate names")
    no_schema = [tool.get("name") for tool in tools if not isinstance(tool.get("inputSchema"), dict)]
    if no_schema:
        raise CheckFailed(f"tools without an inputSchema: {', '.join(map(str, no_schema[:5]))}")
    return f"{len(names)} tools, including {', '.join(expected)}"


def _find(value: Any, key: str) -> Iterator[Any]:
    if isinstance(value, dict):
        for k, v in value.items():
            if k == key:
                yield v
            yield from _find(v, key)
    elif isinstance(value, list):
        for item in value:
            yield from _find(item, key)


def call_payload(text: str) -> Any:
    """The JSON inside a successful tools/call result's first text content."""
    result = load_result(text)
    if not isinstance(result, dict) or result.get("isError"):
        detail = json.dumps(result)[:300] if isinstance(result, dict) else type(result).__name__
        raise CheckFailed(f"tool result is an error: {detail}")
    texts = [c.get("text") for c in result.get("content") or [] if isinstance(c, dict) and c.get("type") == "text"]
    if not texts:
        raise CheckFailed("tool result has no text content")
    try:
        return json.loads(texts[0])
    except json.JSONDecodeError:
        raise CheckFailed(f"tool result text is not JSON: {texts[0][:200]!r}") from None


def check_call(text: str, keys: list[str], decimals: list[str], trues: list[str]) -> str:
    payload = call_payload(text)
    seen = []
    for key in [*keys, *decimals, *trues]:
        if next(_find(payload, key), None) is None:
            raise CheckFailed(f"no {key!r} in the tool result")
    for key in decimals:
        value = next(_find(payload, key))
        try:
            ok = isinstance(value, str) and Decimal(value) > 0
        except InvalidOperation:
            ok = False
        if not ok:
            raise CheckFailed(f"{key!r} is not a positive decimal string: {value!r}")
        seen.append(f"{key}={value}")
    for key in trues:
        if next(_find(payload, key)) is not True:
            raise CheckFailed(f"{key!r} is not true")
        seen.append(f"{key}=true")
    for key in keys:
        value = next(_find(payload, key))
        seen.append(f"{key}: {len(value)} items" if isinstance(value, (list, dict)) else f"{key} present")
    return ", ".join(seen) or "ok"


def read_secrets(path: Path) -> list[str]:
    """Every API key and secret in a ``API_KEY:SECRET`` per line file."""
    values = []
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            values.extend(part for part in line.strip().split(":", 1) if part)
    if not values:
        raise CheckFailed("the secrets file holds no keys")
    return values


def check_no_secrets(secrets: list[str], files: dict[str, str]) -> str:
    leaks = [name for name, text in files.items() if any(secret in text for secret in secrets)]
    if leaks:
        raise CheckFailed(f"a full API key or secret appears in: {', '.join(leaks)}")
    return f"no full API key or secret in {len(files)} outputs"


def mask(text: str, secrets: list[str]) -> str:
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("tools-list")
    listing.add_argument("output")
    listing.add_argument("--expect", nargs="+", default=[])
    listing.add_argument("--min-count", type=int, default=1)
    call = commands.add_parser("call")
    call.add_argument("output")
    call.add_argument("--key", nargs="+", default=[])
    call.add_argument("--decimal", nargs="+", default=[])
    call.add_argument("--true", nargs="+", default=[])
    clean = commands.add_parser("no-secrets")
    clean.add_argument("--secrets-file", required=True)
    clean.add_argument("files", nargs="+")
    show = commands.add_parser("show")
    show.add_argument("--secrets-file", required=True)
    show.add_argument("file")
    args = parser.parse_args(argv)
    try:
        if args.command == "tools-list":
            message = check_tools_list(Path(args.output).read_text(), args.expect, args.min_count)
        elif args.command == "call":
            message = check_call(Path(args.output).read_text(), args.key, args.decimal, args.true)
        elif args.command == "no-secrets":
            files = {name: Path(name).read_text(errors="replace") for name in args.files}
            message = check_no_secrets(read_secrets(Path(args.secrets_file)), files)
        else:
            lines = Path(args.file).read_text(errors="replace").splitlines()[-SHOW_LINES:]
            print(mask("\n".join(lines), read_secrets(Path(args.secrets_file))))
            return 0
    except (CheckFailed, OSError) as exc:
        print(f"  check failed: {exc}")
        return 1
    print(f"  {message}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
