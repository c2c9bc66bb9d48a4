"""Fuzz harnesses: each module has ``check(data)`` (the invariant) and runs under atheris as a script."""
