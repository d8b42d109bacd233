"""accounts wing (docstring to write)."""
