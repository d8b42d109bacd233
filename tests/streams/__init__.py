"""Tests of the streams wing: buffers, the reconnecting WebSocket, market and user streams end to end."""
