"""What every chapter's exercise checkers share.

A checker returns a message and raises nothing, so a notebook can call it on an unfinished
attempt; ``assert_correct`` turns the verdict into an assertion (the hidden solution cells use it).
"""

from __future__ import annotations

from collections.abc import Callable

PASS = "✓ correct"


def attempt(fn: Callable, *args):
    """(result, None) or (None, a message saying what went wrong)."""
    try:
        return fn(*args), None
    except NotImplementedError:
        return None, "not attempted yet (the function raises NotImplementedError)"
    except Exception as error:  # a student's bug: report it, don't crash the notebook
        return None, f"✗ your function raised {type(error).__name__}: {error}"


def assert_correct(message: str) -> None:
    """Raise AssertionError unless a checker said the answer is correct."""
    assert message == PASS, message
