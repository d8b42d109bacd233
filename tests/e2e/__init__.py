"""Whole-server tests: a real MCP client drives the real server against the fake exchange."""
