"""Mutation testing of the safety modules with mutmut: one command, not part of CI (it is slow).

    .venv/bin/python mutation/run.py                 # every module in SAFETY_MODULES
    .venv/bin/python mutation/run.py redact catalog.schema   # only these (dotted, below binance_spot_mcp)
    .venv/bin/python mutation/run.py --jobs 2 redact

mutmut mutates files under ``src/``; this package lives in ``server/``. So the script builds a
scratch project in ``.mutation/`` (git-ignored): ``src/binance_spot_mcp`` (a copy of the
package), ``tests/``, ``bench/``, the docs the tests read, and a ``pyproject.toml`` whose
``[tool.mutmut]`` section names the module(s) to mutate and the tests that exercise them. It runs
``mutmut run`` there, one module at a time, and writes each module's counts and survivors to
``mutation/results/<module>.json``. Survivors can be inspected in ``.mutation/<module>/`` with
``python -m mutmut show NAME``. TESTING.md records the scores and the survivors judged
equivalent.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / ".mutation"
RESULTS = ROOT / "mutation" / "results"  # one <module>.json each
COPIED = ["tests", "bench", "SKILL.md", "README.md", "docs", "TOOLS.md.example", "references", "BENCHMARKS.md"]
# Module (dotted, below binance_spot_mcp) -> the test files that exercise it (fast, in-process ones; the
# stdio/e2e suites are left out).
SAFETY_MODULES: dict[str, list[str]] = {
    "redact": ["tests/foundations/test_redact.py", "tests/foundations/test_redaction_rules.py", "tests/foundations/test_redaction_fast_path.py", "tests/foundations/test_results.py",
               "tests/accounts/test_accounts_rules.py",
               # escape_text (moved here from confirm)
               "tests/approval/test_confirm_unit.py", "tests/approval/test_approval_card.py"],
    "safe_files": ["tests/foundations/test_safe_files.py", "tests/accounts/test_accounts_file.py", "tests/foundations/test_journal.py"],
    "exchange.signing": ["tests/exchange/test_signing.py", "tests/exchange/test_client.py", "tests/foundations/test_safe_files.py"],
    "exchange.orders": ["tests/exchange/test_orders.py", "tests/exchange/test_replies.py"],
    "catalog.schema": ["tests/catalog/test_schema.py", "tests/catalog/test_schema_bounds.py", "tests/catalog/test_hostile_inputs.py",
               "tests/catalog/test_schema_messages.py",
               "tests/catalog/test_order_types.py::test_every_problem_of_a_call_is_reported_at_once_types_before_rules",
               "tests/project/test_cli_and_packaging.py::test_tool_list_matches_the_committed_snapshot"],
    "config": ["tests/foundations/test_config_rules.py", "tests/foundations/test_config.py", "tests/catalog/test_hostile_inputs.py",
               "tests/exchange/test_client.py", "tests/exchange/test_replies.py"],
    "exchange.client": ["tests/exchange/test_client.py", "tests/exchange/test_replies.py", "tests/exchange/test_limits_rules.py",
               "tests/exchange/test_client_errors.py", "tests/exchange/test_client_requests.py"],
    "accounts.reading": ["tests/accounts/test_accounts.py", "tests/accounts/test_accounts_rules.py", "tests/foundations/test_safe_files.py",
                         "tests/accounts/test_accounts_reading.py", "tests/accounts/test_accounts_file_edits.py"],
    "accounts.store": ["tests/accounts/test_accounts.py", "tests/accounts/test_accounts_rules.py",
                       "tests/accounts/test_accounts_reading.py"],
    "accounts.writing": ["tests/accounts/test_accounts_file.py", "tests/foundations/test_safe_files.py", "tests/accounts/test_accounts_file_edits.py"],
    "exchange.limits": ["tests/exchange/test_limits.py", "tests/exchange/test_limits_rules.py", "tests/exchange/test_limits_edges.py"],
    "exchange.filters": ["tests/exchange/test_filters.py", "tests/exchange/test_filters_rules.py", "tests/exchange/test_filters_edges.py"],
    "exchange.order_legs": ["tests/exchange/test_filters.py", "tests/exchange/test_filters_rules.py", "tests/exchange/test_filters_edges.py",
                            "tests/exchange/test_pricing.py"],
    "approval.confirm": ["tests/approval/test_confirm_unit.py"],  # test_confirm.py is an end-to-end matrix (40 s a run)
    "approval.book": ["tests/approval/test_approvals_unit.py"],  # test_approvals.py is the slow end-to-end matrix
    # Added for the third review (issue 22): the safety modules added since the last run.
    "guard.killswitch": ["tests/guard/test_mutation_pins.py", "tests/guard/test_unpinned_rules.py", "tests/guard/test_policy.py",
                         "tests/cli/test_doctor.py::test_guard_rails_a_mainnet_account_without_caps_and_the_kill_switch_warn"],
    "guard.daily": ["tests/guard/test_mutation_pins.py", "tests/guard/test_daily_total.py", "tests/guard/test_rules_follow_key.py",
                    "tests/server/test_unknown_outcome_counts.py",
                    "tests/cli/test_doctor.py::test_the_budget_follows_the_api_key_not_the_entry_name"],
    "guard.safety": ["tests/guard/test_mutation_pins.py", "tests/guard/test_daily_total.py", "tests/accounts/test_account_field_typos.py",
                     "tests/guard/test_rules_follow_key.py"],
    "policy": ["tests/guard/test_policy.py", "tests/guard/test_policy_unicode.py", "tests/guard/test_mutation_pins.py",
               "tests/guard/test_unpinned_rules.py", "tests/accounts/test_account_field_typos.py",
               "tests/foundations/test_config_rules.py",
               "tests/attacks/test_third_review_attacks.py::test_a_decimal_comma_in_a_cap_is_refused_not_read_as_a_bigger_cap",
               "tests/attacks/test_third_review_attacks.py::test_thousands_separators_still_read",
               "tests/attacks/test_third_review_attacks.py::test_a_symbol_list_entry_with_look_alike_letters_is_refused_not_silently_void",
               "tests/attacks/test_third_review_attacks.py::test_symbol_lists_still_take_unicode_symbols",
               "tests/attacks/test_third_review_attacks.py::test_a_deny_list_holds_against_other_spellings_of_the_symbol",
               "tests/attacks/test_third_review_attacks.py::test_an_allow_list_is_not_widened_by_other_spellings"],
    "guard.enforce": ["tests/guard/test_mutation_pins.py", "tests/guard/test_guard_rails.py", "tests/guard/test_unpinned_rules.py",
                      "tests/guard/test_daily_total.py", "tests/guard/test_rules_follow_key.py", "tests/guard/test_bad_quotes.py",
                      "tests/server/test_unknown_outcome_counts.py"],
    "exchange.pricing": ["tests/exchange/test_pricing.py", "tests/guard/test_bad_quotes.py", "tests/exchange/test_pricing_edges.py"],
    "transport.http": ["tests/transport/test_http_edges.py", "tests/transport/test_http.py", "tests/transport/test_http_auth.py"],
    "server.sending": ["tests/server/test_sending_journal.py", "tests/server/test_lost_replies.py",
                       "tests/server/test_unknown_outcome_counts.py", "tests/exchange/test_replies.py",
                       "tests/guard/test_daily_total.py"],
    # in-memory end-to-end (mcp.Client); test_e2e.py and test_confirm_every_channel.py are left out for time (30-60 s a run)
    "server.runtime": ["tests/server/test_runtime_paths.py", "tests/server/test_sending_journal.py", "tests/e2e/test_messages.py",
                       "tests/approval/test_approval_card.py", "tests/approval/test_approval_rules.py",
                       "tests/guard/test_rules_follow_key.py", "tests/approval/test_approval_accounts.py",
                       "tests/approval/test_human_refusals_journaled.py::"
                       "test_a_refusal_by_the_human_is_journaled_and_never_counted[apps-legacy-cancel-approval_cancelled]",
                       "tests/approval/test_human_refusals_journaled.py::"
                       "test_a_refusal_by_the_human_is_journaled_and_never_counted[apps-legacy-wrong_text-approval_wrong_text]",
                       "tests/approval/test_human_refusals_journaled.py::"
                       "test_a_refusal_by_the_human_is_journaled_and_never_counted[apps-legacy-decline-approval_declined]",
                       "tests/server/test_runtime_pins.py", "tests/streams/test_stream_sessions.py",
                       "tests/approval/test_approvals.py::test_card_approval_is_bound_to_key_session_and_single_use[legacy]",
                       "tests/catalog/test_toolsets.py::test_client_sees_only_the_chosen_toolsets[legacy]"],
    # (a test id with a backslash cannot be selected by mutmut: pytest escapes it again in each in-process
    # session, the id is "not found" and every mutant it covers counts as killed; see test_confirm_every_channel)
    "approval.card": ["tests/approval/test_approval_card.py", "tests/approval/test_approval_rules.py",
                      "tests/approval/test_human_refusals_journaled.py"],
    "approval.page": ["tests/approval/test_approval_page.py", "tests/approval/test_approval_rules.py",
                      "tests/approval/test_approval_page_words.py"],
    # the gate's own unit tests (fake host, stub page) plus the journaling matrix and a few end-to-end cases
    "approval.gate": ["tests/approval/test_gate_unit.py", "tests/approval/test_gate_url_card.py",
                      "tests/approval/test_human_refusals_journaled.py", "tests/approval/test_approval_rules.py",
                      "tests/approval/test_approvals.py::test_card_approval_is_bound_to_key_session_and_single_use",
                      "tests/approval/test_approvals.py::test_url_approval_state_cannot_be_replayed_or_moved_to_other_arguments",
                      "tests/approval/test_confirm.py::test_modern_state_cannot_be_tampered_with_or_reused"],
    # the end-to-end user-stream files (test_user_stream.py, test_wait_confirms.py) take 15 s a run: left out
    "streams.user": ["tests/streams/test_user_stream_unit.py", "tests/streams/test_hostile_frames.py",
                     "tests/streams/test_stream_rules.py"],
    "streams.tools": ["tests/streams/test_stream_tools_unit.py", "tests/streams/test_stream_rules.py",
                      "tests/catalog/test_toolsets.py"],
    # Paper trading (issue 24): nothing a paper account does may be signed; balances never negative.
    "paper.routing": ["tests/paper/test_paper_routing.py", "tests/paper/test_paper_e2e.py", "tests/paper/test_paper_tools.py"],
    "paper.matching": ["tests/paper/test_matching_pins.py", "tests/paper/test_matching_property.py", "tests/paper/test_paper_desk_units.py", "tests/paper/test_paper_desk_edges.py",
                       "tests/paper/test_paper_oco.py"],
}
# Tests that spawn subprocesses or bind sockets for minutes are not worth running per mutant.
DESELECT = ["-p", "no:cacheprovider", "-x", "-q",
            "--deselect", "tests/accounts/test_accounts_file.py::test_two_processes_adding_at_once_both_land"]


def _scratch(module: str) -> Path:
    where = WORK / module
    if where.exists():
        shutil.rmtree(where)
    (where / "src").mkdir(parents=True)
    shutil.copytree(ROOT / "server" / "binance_spot_mcp", where / "src" / "binance_spot_mcp",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, where / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif source.exists():
            shutil.copy2(source, where / name)
    tests = SAFETY_MODULES[module]
    also = [name for name in COPIED if (ROOT / name).exists() and name != "tests"]
    (where / "pyproject.toml").write_text(
        "[tool.mutmut]\n"
        'source_paths = ["src/binance_spot_mcp"]\n'
        f'only_mutate = ["src/binance_spot_mcp/{module.replace(".", "/")}.py"]\n'
        f"pytest_add_cli_args_test_selection = {json.dumps(tests)}\n"
        f"pytest_add_cli_args = {json.dumps(DESELECT)}\n"
        f"also_copy = {json.dumps(also)}\n"
        "\n[tool.pytest.ini_options]\n"
        'addopts = "-ra --strict-markers"\n'
    )
    return where


def _counts(where: Path) -> dict[str, int]:
    """mutmut's per-mutant verdicts, counted (from ``mutmut results --all true``)."""
    done = subprocess.run(
        [sys.executable, "-m", "mutmut", "results", "--all", "true"],
        cwd=where, capture_output=True, text=True, check=False,
    )
    counts: dict[str, int] = {}
    survivors: list[str] = []
    for line in done.stdout.splitlines():
        if ":" not in line:
            continue
        name, verdict = (part.strip() for part in line.rsplit(":", 1))
        counts[verdict] = counts.get(verdict, 0) + 1
        if verdict == "survived":
            survivors.append(name)
    counts_out: dict[str, object] = dict(counts)
    counts_out["survivors"] = survivors  # type: ignore[assignment]
    return counts_out  # type: ignore[return-value]


def run(module: str, jobs: int) -> dict[str, object]:
    where = _scratch(module)
    env = {k: v for k, v in os.environ.items() if not k.startswith("BINANCE_")}
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "mutmut", "run", "--max-children", str(jobs)], cwd=where, env=env, check=False)
    result: dict[str, object] = {"module": module, "seconds": round(time.monotonic() - started)}
    result.update(_counts(where))
    killed = int(result.get("killed", 0)) + int(result.get("timeout", 0))  # type: ignore[arg-type]
    survived = int(result.get("survived", 0))  # type: ignore[arg-type]
    judged = killed + survived
    result["score"] = round(100 * killed / judged, 1) if judged else None
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", help=f"default: {' '.join(SAFETY_MODULES)}")
    parser.add_argument("--jobs", type=int, default=2, help="mutants tested at once (default 2)")
    args = parser.parse_args(argv)
    modules = args.modules or list(SAFETY_MODULES)
    unknown = [m for m in modules if m not in SAFETY_MODULES]
    if unknown:
        parser.error(f"unknown module(s): {', '.join(unknown)}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    for module in modules:
        result = run(module, args.jobs)
        (RESULTS / f"{module}.json").write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
        summary = {k: v for k, v in result.items() if k != "survivors"}
        print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
