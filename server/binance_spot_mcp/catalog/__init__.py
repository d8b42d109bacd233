"""The catalog wing: the tools as SKILL.md describes them.

Owns: parsing the skill's tables (SKILL.md's links: ``references/endpoints.md``) into endpoints (``endpoints``, ``skill_tables``, ``model``,
``weight_rules``), argument schemas and their checks (``schema``, ``order_types``), toolsets and
what each costs in context (``toolsets``), and the skill offered to an agent as MCP resources and
a prompt (``skill_resources``). Nothing here performs I/O beyond reading the bundled skill files
(SKILL.md, references/endpoints.md).

May use: the foundations only (and ``mcp``: tool and resource types, the resource handlers' context). The composed
tool list (endpoint tools plus the server's own) is the server wiring's ``tool_list``, since it
needs the other wings' tool definitions.

Offers: ``endpoints.load_catalog`` / ``Catalog`` / ``Endpoint``, ``schema.prepare_arguments`` /
``PreparedCall`` / ``tool_schema``, ``toolsets.Selection``, ``skill_resources.GUIDE_URI`` and the
resource handlers.
"""
