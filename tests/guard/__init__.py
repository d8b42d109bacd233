"""Tests of the guard wing: the operator's rules parsed, combined and enforced end to end."""
