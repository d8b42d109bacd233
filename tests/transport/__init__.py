"""Tests of the transports: stdio (pipes, draining) and streamable HTTP."""
