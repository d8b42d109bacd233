"""Tests of the fake Binance exchange itself (tests/fake_binance), including independent client libraries against it."""
