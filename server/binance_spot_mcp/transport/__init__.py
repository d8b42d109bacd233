"""The transport wing: how an MCP host reaches the server.

Owns: stdio (``stdio``: finish what was read when stdin closes, stop on Ctrl-C, say so on a
terminal; ``stdio_pipes``: stdin and stdout served on the event loop when they are pipes) and
streamable HTTP (``http``: bearer token, Host and Origin checks, then the SDK's app under uvicorn).

May use: the server wiring (``server.build_server``) and the foundations. Nothing below the
server knows which transport carries it.

Offers: ``stdio.serve_stdio``, ``http.HttpOptions`` / ``serve_http``.
"""
