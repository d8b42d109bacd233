"""Tests of the command line: accounts, doctor, usability."""
