"""The server wiring: where the wings meet. Nothing endpoint-specific lives here.

Owns: the ``Runtime`` every call shares and the call pipeline (``runtime``: schema check ->
account -> local filter checks -> guard -> approval -> send -> result), the MCP handlers
(``runtime.build_server``), the send path with its journal and lost-reply recovery
(``sending``), and the composed tool list (``tool_list``: endpoint tools plus the account,
safety and stream tools, filtered by toolsets).

May use: every wing below it (approval, guard, streams, accounts, exchange, catalog) and the
foundations. Only the transports and the command line import it.

Offers: ``Runtime`` and ``build_server`` (re-exported here), ``tool_list.offered_tools``.
"""

from binance_spot_mcp.server.runtime import Runtime, build_server

__all__ = ["Runtime", "build_server"]
