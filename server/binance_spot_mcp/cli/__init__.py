"""The command line: ``binance-spot-mcp [serve|tools|accounts|journal|doctor|halt|resume]``.

Owns: argument parsing, logging set-up (once, to stderr, redacted: stdout belongs to MCP) and the
subcommands (``commands``), what ``tools`` and ``journal`` print (``listings``), which journal
entries ``journal --account/--symbol/--since/--until`` shows (``journal_filter``), the ``accounts``
subcommand (``accounts``), and ``doctor`` (``doctor`` for the local checks, ``doctor_network``
for reachability, clock and keys, ``doctor_report`` for verdicts and rendering).

May use: everything; nothing imports it but ``__main__`` and the console script.

Offers: ``main`` (re-exported here: the console script ``binance_spot_mcp.cli:main``).
"""

from binance_spot_mcp.cli.commands import main

__all__ = ["main"]
