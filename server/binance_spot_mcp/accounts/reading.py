"""Reading TOOLS.md's ``## Binance Accounts`` section into ``Account`` values (no I/O here).

The file format extends the Binance skill's::

    ## Binance Accounts

    ### main
    - API Key: ...
    - Secret: ...                        (HMAC)
    - Private Key File: keys/main.pem    (instead of Secret; RSA or Ed25519, detected)
    - Private Key Passphrase: ...        (optional)
    - Environment: mainnet | testnet | demo   (or the skill's "Testnet: true|false")
    - Base URL: http://127.0.0.1:9000    (optional; Binance hosts or loopback only)
    - Chat Confirm: true                 (optional opt-in: CONFIRM typed in the chat approves)
    - Description: ...
    - Max Order Value / Max Daily Value / Allowed Symbols / Denied Symbols / Dry Run / Confirm
                                         (optional guard rails; see ``policy``)

A Binance base URL must belong to the account's environment (api*.binance.com is mainnet whatever
the label says); a loopback base URL keeps the label.

A problem in one account (or one line) is recorded with its line number and leaves the other
accounts usable. An unknown field in an account's block (``- Allowed Symbol: ...``) may be a
misspelt rule, so it is kept on the account (``field_problems``, with the field it most resembles)
and the guard refuses that account's state-changing requests until it is fixed; reads still work.
An account name is ``NAME_RULE``; a heading that is not one (a key pasted onto it) makes the block
unusable under a stand-in name, and no message repeats it. Keys and secrets are registered with the ``Redactor`` as soon as they are read.
Reading the file, and re-reading it when it changes, is ``store``'s job.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from binance_spot_mcp.accounts.model import (
    Account,
    AccountSet,
    BrokenAccount,
    fingerprint,
)
from binance_spot_mcp.config import (
    ACCOUNT_ENVIRONMENTS,
    MAINNET,
    PAPER,
    TESTNET,
    base_url_problem,
    environment_conflict,
)
from binance_spot_mcp.exchange.signing import (
    HmacSigner,
    KeyLoadError,
    Signer,
    signer_from_key_file,
)
from binance_spot_mcp.paper.settings import (
    PaperSettings,
    PaperSigner,
    parse_balances,
    parse_commission,
)
from binance_spot_mcp.policy import (
    POLICY_FIELDS,
    Rules,
    effective_policy,
    parse_rules,
)
from binance_spot_mcp.redact import Redactor, looks_like_key_material, mask_secret

SECTION_TITLE = "binance accounts"
DEFAULT_ACCOUNT = "main"
ACCOUNT_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z")  # \Z: no trailing newline
API_KEY_RE = re.compile(r"^[\x21-\x7e]{8,256}$")
MAX_TOOLS_FILE_BYTES = 1024 * 1024
_FIELD_RE = re.compile(r"^\s*[-*]\s+([A-Za-z][A-Za-z ]*?)\s*:\s*(.*?)\s*$")
_FIELDS = {
    "api key": "api_key",
    "secret": "secret",
    "secret key": "secret",
    "private key file": "key_file",
    "private key passphrase": "passphrase",
    "environment": "environment",
    "testnet": "testnet",
    "base url": "base_url",
    "chat confirm": "chat_confirm",
    "description": "description",
    "paper balances": "paper_balances",
    "paper commission": "paper_commission",
    **POLICY_FIELDS,  # Max Order Value, Max Daily Value, Allowed/Denied Symbols, Dry Run, Confirm
}
KNOWN_FIELDS = frozenset(_FIELDS)  # lower case
_YES, _NO = frozenset({"true", "yes"}), frozenset({"false", "no"})
_SPELLED = {"api key": "API Key", "base url": "Base URL"}  # how a field is written (else title case)
NAME_RULE = "1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"


def field_label(label: str) -> str:
    """A known field as the documentation spells it (``allowed symbols`` -> ``Allowed Symbols``)."""
    return _SPELLED.get(label, label.title())


def unknown_field_problem(where: str, number: int, label: str) -> str:
    """What an unknown field line is: named, with the known field it most resembles, if any."""
    close = difflib.get_close_matches(label.lower(), list(_FIELDS), n=1, cutoff=0.75)
    if close:
        guess = f"did you mean '{field_label(close[0])}'?"
    else:
        guess = "known fields: " + ", ".join(sorted(field_label(k) for k in _FIELDS))
    return f"{where} line {number}: unknown field '{label}' ({guess})"


@dataclass
class _Draft:
    name: str
    line: int
    fields: dict[str, tuple[str, int]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)  # unknown fields: the account refuses changes
    bad_name: bool = False  # the heading is not a valid name: it is never repeated (it may hold a secret)


def _invalid_name(number: int) -> str:
    """The stand-in name of an account whose heading is not a valid name (it cannot be a valid one)."""
    return f"(invalid name on line {number})"


def _clean_value(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "`'\"":
        value = value[1:-1].strip()
    return value


def clean_value(value: str) -> str:
    """A field value as the reader sees it: stripped, one pair of matching quotes/backticks removed."""
    return _clean_value(value)


def is_section_heading(line: str) -> bool:
    """True for the ``## Binance Accounts`` heading line (any case; no line ending; after a byte
    order mark too, as an editor may save the first line)."""
    line = line.removeprefix("\ufeff")
    return bool(re.match(r"^##\s+", line)) and line.lstrip("#").strip().lower() == SECTION_TITLE


def ends_section(line: str) -> bool:
    """True for a ``#``/``##`` heading line, which ends the accounts section."""
    return bool(re.match(r"^#{1,2}\s", line))


def account_heading(line: str) -> str | None:
    """The account name of a ``### name`` line, else None."""
    match = re.match(r"^###\s+(.*?)\s*$", line)
    return _clean_value(match.group(1)) if match else None


_SECRET_FIELDS = {"api_key": "add_api_key", "secret": "add_secret", "passphrase": "add_opaque"}


def _register(redactor: Redactor, key: str | None, value: str) -> None:
    """Before any check: a key, secret or passphrase is registered with the redactor, and so is
    key material pasted into another line (a heading, a key-file path, an unknown field)."""
    if key in _SECRET_FIELDS:
        getattr(redactor, _SECRET_FIELDS[key])(value)
    elif looks_like_key_material(value):
        redactor.add_opaque(value)


def _drafts(text: str, where: str, problems: list[str], redactor: Redactor) -> list[_Draft]:
    lines = text.splitlines()
    start = None
    for i, line in enumerate(lines):
        if is_section_heading(line):
            start = i + 1
            break
    if start is None:
        return []
    drafts: list[_Draft] = []
    orphans: list[str] = []  # field lines before the first heading: every account refuses changes
    current: _Draft | None = None
    for i in range(start, len(lines)):
        number, line = i + 1, lines[i]
        if ends_section(line):
            break
        stripped = line.strip()
        if not stripped or stripped.startswith("```") or stripped.startswith("<!--") or stripped == "---":
            continue
        heading = account_heading(line)
        if heading is not None:
            _register(redactor, None, heading)
            for word in heading.replace(":", " ").split():
                _register(redactor, None, word.strip("`'\""))
            if ACCOUNT_NAME_RE.match(heading):
                current = _Draft(heading, number)
            else:
                current = _Draft(_invalid_name(number), number, bad_name=True)
            drafts.append(current)
            continue
        match = _FIELD_RE.match(line)
        if match:
            _register(redactor, _FIELDS.get(match.group(1).lower()), _clean_value(match.group(2)))
        else:
            for word in stripped.replace(":", " ").split():
                _register(redactor, None, word.strip("`'\""))
        if current is None:
            problems.append(f"{where} line {number}: text before the first '### name' heading is ignored")
            if match and _looks_like_a_field(match.group(1)):  # a rule meant for every account, perhaps
                orphans.append(f"{where} line {number}: field '{match.group(1)}' stands before the first "
                               "'### name' heading, in no account's block (move it into the block it is for)")
            continue
        if not match:
            current.problems.append(f"{where} line {number}: not a '- Field: value' line")
            continue
        label, value = match.group(1).lower(), _clean_value(match.group(2))
        key = _FIELDS.get(label)
        if key is None:
            problem = unknown_field_problem(where, number, match.group(1))
            current.unknown.append(problem)
            problems.append(f"{problem}; account '{current.name}' refuses every change until the line is fixed")
            continue
        if key in current.fields:
            current.problems.append(f"{where} line {number}: '{match.group(1)}' given twice for '{current.name}'")
            continue
        current.fields[key] = (value, number)
    for draft in drafts:
        draft.unknown.extend(orphans)
    return drafts


def _near_miss_heading(text: str) -> int | None:
    """The line number of a heading that looks meant as the section's (``## Binance Accounts:``,
    ``### Binance Accounts``, ``## Binance Acounts``) but is not it, else None. Beside a real
    section only a ``#``/``##`` heading counts (a ``###`` one there is an account heading or notes)."""
    lines = text.splitlines()
    has_section = any(is_section_heading(line) for line in lines)
    for number, line in enumerate(lines, start=1):
        title = line.removeprefix("\ufeff")
        if title.startswith("#") and not is_section_heading(line) and not (has_section and title.startswith("###")):
            title = title.lstrip("#").strip().rstrip(":").strip().lower()
            if difflib.SequenceMatcher(None, title, SECTION_TITLE).ratio() >= 0.9:
                return number
    return None


def _looks_like_a_field(label: str) -> bool:
    """A known field, or one misspelt (``Max Order Valu``), not a prose bullet such as ``Note``."""
    return label.lower() in _FIELDS or bool(difflib.get_close_matches(label.lower(), list(_FIELDS), n=1, cutoff=0.75))


def _environment(draft: _Draft, where: str) -> str:
    env_value = draft.fields.get("environment")
    testnet_value = draft.fields.get("testnet")
    environment = None
    if env_value:
        environment = env_value[0].lower()
        if environment not in ACCOUNT_ENVIRONMENTS:
            raise ValueError(
                f"{where} line {env_value[1]}: Environment must be mainnet, testnet, demo or paper"
            )
    if testnet_value:
        flag = testnet_value[0].lower()
        if flag not in {"true", "false", "yes", "no"}:
            raise ValueError(f"{where} line {testnet_value[1]}: Testnet must be true or false")
        from_flag = TESTNET if flag in {"true", "yes"} else MAINNET
        if environment and environment != from_flag:
            raise ValueError(
                f"{where} line {testnet_value[1]}: Testnet: {testnet_value[0]} contradicts Environment: {environment}"
            )
        environment = from_flag
    if environment is None:
        raise ValueError(
            f"{where} line {draft.line}: account '{draft.name}' has no 'Environment: mainnet|testnet|demo|paper' line"
        )
    return environment


def _build(
    draft: _Draft, where: str, base_dir: Path, base_urls: Mapping[str, str], redactor: Redactor, allow_readable: bool
) -> Account:
    """The account, or ValueError naming every problem found in its block (joined by '; ')."""
    if draft.fields.get("environment", ("", 0))[0].lower() == PAPER:
        return _build_paper(draft, where, base_urls)
    problems = list(draft.problems)
    if draft.bad_name:
        problems.append(
            f"{where} line {draft.line}: an account name is {NAME_RULE}; this heading is not one "
            "(not repeated here, in case a key was pasted into it)"
        )
    api_key_field = draft.fields.get("api_key")
    api_key = api_key_field[0] if api_key_field else ""
    if not api_key:
        problems.append(f"{where} line {draft.line}: account '{draft.name}' has no 'API Key' line")
    else:
        redactor.add_api_key(api_key)
    secret, key_file = draft.fields.get("secret"), draft.fields.get("key_file")
    passphrase = draft.fields.get("passphrase")
    if secret and secret[0]:
        redactor.add_secret(secret[0])
    if passphrase and passphrase[0]:
        redactor.add_opaque(passphrase[0])
    if api_key and not API_KEY_RE.match(api_key):
        assert api_key_field is not None
        problems.append(f"{where} line {api_key_field[1]}: the API key has unexpected characters or length")
    environment = None
    try:
        environment = _environment(draft, where)
    except ValueError as exc:
        problems.append(str(exc))
    rules = Rules()
    try:
        rules = parse_rules(draft.fields, where)
    except ValueError as exc:
        problems.append(str(exc))
    signer: Signer | None = None
    path: Path | None = None
    secret_display = ""
    if secret and key_file:
        problems.append(
            f"{where} line {key_file[1]}: give either 'Secret' (HMAC) or 'Private Key File' (RSA/Ed25519), not both"
        )
    elif secret and secret[0]:
        signer = HmacSigner(secret[0])
        secret_display = mask_secret(secret[0])
        material = fingerprint(signer.kind, secret[0])
    elif key_file and key_file[0]:
        path = Path(key_file[0]).expanduser()
        if not path.is_absolute():
            path = base_dir / path
        try:
            signer = signer_from_key_file(path, passphrase[0] if passphrase else None, allow_readable=allow_readable)
            material = fingerprint(signer.kind, signer.identity())
        except KeyLoadError as exc:
            problems.append(f"{where} line {key_file[1]}: {exc}")
        except OSError as exc:
            problems.append(f"{where} line {key_file[1]}: cannot read the key file ({type(exc).__name__})")
        secret_display = f"private key file {path}"
    else:
        problems.append(f"{where} line {draft.line}: account '{draft.name}' has neither 'Secret' nor 'Private Key File'")
    base_url = base_urls[environment] if environment else ""
    if "base_url" in draft.fields:
        value, number = draft.fields["base_url"]
        value = value.rstrip("/")
        problem = base_url_problem(value) or (environment_conflict(value, environment) if environment else None)
        if problem:
            problems.append(f"{where} line {number}: Base URL refused: {problem}")
        base_url = value
    chat_confirm = False
    if "chat_confirm" in draft.fields:
        value, number = draft.fields["chat_confirm"]
        if value.lower() not in _YES | _NO:
            problems.append(f"{where} line {number}: Chat Confirm must be true or false")
        chat_confirm = value.lower() in _YES
    if problems or signer is None or environment is None:
        raise ValueError("; ".join(problems))
    return Account(
        name=draft.name,
        environment=environment,
        api_key=api_key,
        signer=signer,
        base_url=base_url,
        description=draft.fields.get("description", ("", 0))[0],
        source=f"{where} line {draft.line}",
        secret_display=secret_display,
        key_file=path,
        signer_fingerprint=material,
        chat_confirm=chat_confirm,
        rules=rules,
        policy=effective_policy(Rules(), rules),
        field_problems=tuple(draft.unknown),
    )


_KEY_FIELDS = ("api_key", "secret", "key_file", "passphrase", "testnet", "chat_confirm")


def _build_paper(draft: _Draft, where: str, base_urls: Mapping[str, str]) -> Account:
    """A paper account: no key and no secret (it never signs), balances and commission of its own."""
    problems = list(draft.problems)
    if draft.bad_name:
        problems.append(f"{where} line {draft.line}: an account name is {NAME_RULE}; this heading is not one")
    for key in _KEY_FIELDS:
        if key in draft.fields:
            problems.append(f"{where} line {draft.fields[key][1]}: a paper account takes no '{field_label(_label_of(key))}' "
                            "(it trades on this computer and never signs a request); remove the line")
    rules, settings = Rules(), PaperSettings()
    try:
        rules = parse_rules(draft.fields, where)
    except ValueError as exc:
        problems.append(str(exc))
    for key, parse in (("paper_balances", parse_balances), ("paper_commission", parse_commission)):
        if key in draft.fields:
            value, number = draft.fields[key]
            try:
                parsed = parse(value)
            except ValueError as exc:
                problems.append(f"{where} line {number}: {field_label(_label_of(key))}: {exc}")
                continue
            settings = replace(settings, balances=parsed) if key == "paper_balances" else replace(
                settings, maker_rate=parsed[0], taker_rate=parsed[1])
    base_url = base_urls[PAPER]
    if "base_url" in draft.fields:
        value, number = draft.fields["base_url"]
        base_url = value.rstrip("/")
        problem = base_url_problem(base_url)
        if problem:
            problems.append(f"{where} line {number}: Base URL (where market data comes from) refused: {problem}")
    if problems:
        raise ValueError("; ".join(problems))
    return paper_account(draft.name, base_url, settings, rules=rules, description=draft.fields.get("description", ("", 0))[0],
                         source=f"{where} line {draft.line}", field_problems=tuple(draft.unknown))


def _label_of(key: str) -> str:
    return next(label for label, name in _FIELDS.items() if name == key)


def paper_account(name: str, base_url: str, settings: PaperSettings | None = None, *, rules: Rules = Rules(),
                  description: str = "", source: str = "", field_problems: tuple[str, ...] = ()) -> Account:
    """A paper account's ``Account``: its signer signs nothing, its 'key' is a name, not a secret."""
    return Account(
        name=name, environment=PAPER, api_key=f"paper:{name}", signer=PaperSigner(), base_url=base_url,
        description=description, source=source, secret_display="none (paper account)",
        signer_fingerprint=fingerprint("paper", name), rules=rules, policy=effective_policy(Rules(), rules),
        field_problems=field_problems, paper=settings or PaperSettings(),
    )


def parse_accounts(
    text: str,
    *,
    where: str,
    base_dir: Path,
    base_urls: Mapping[str, str],
    redactor: Redactor,
    allow_readable: bool = False,
) -> AccountSet:
    """Parse the accounts section of a TOOLS.md text."""
    result = AccountSet()
    drafts = _drafts(text, where, result.problems, redactor)
    near = _near_miss_heading(text)
    # its accounts' rules would be lost while another entry for a key trades (one from the
    # environment, or one add_account wrote into a real section added after it)
    if near is not None:
        result.file_problem = (f"{where} line {near}: the heading is not exactly '## Binance Accounts', so none "
                               "of the file's accounts is read")
        result.file_fix = "write the heading as '## Binance Accounts' (two '#', a space, no colon)"
        result.problems.append(result.file_problem)
        return result
    first: dict[str, _Draft] = {}
    for draft in drafts:  # a second block of a name may hold its rules: the name refuses changes
        if draft.name in first:
            first[draft.name].unknown.append(
                f"{where} line {draft.line}: account '{draft.name}' is defined again and that block is not read "
                "(merge the two blocks)")
        first.setdefault(draft.name, draft)
    for draft in drafts:
        if draft.name in result.accounts or draft.name in result.broken:
            result.problems.append(
                f"{where} line {draft.line}: account '{draft.name}' is defined again; the first one is used"
            )
            continue
        try:
            result.accounts[draft.name] = _build(draft, where, base_dir, base_urls, redactor, allow_readable)
        except ValueError as exc:
            problem = redactor.redact(str(exc))
            result.broken[draft.name] = BrokenAccount(draft.name, problem, draft.fields.get("api_key", ("", 0))[0])
            result.problems.append(problem)
    return result
