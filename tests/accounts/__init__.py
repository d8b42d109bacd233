"""Tests of the accounts wing: reading and writing TOOLS.md, key files, the account tools."""
