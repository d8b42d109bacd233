"""binance-spot-mcp: every Binance Spot REST endpoint as an MCP tool.

The tools are generated at start-up from the tables in the bundled SKILL.md;
see ``catalog`` for the parser and ``server`` for the MCP wiring.
"""

__version__ = "0.1.0"
