"""How counts of days are said in every message: "1 day", "today", "in 3 days" — pure."""

from __future__ import annotations


def days(count: int) -> str:
    """``1`` -> "1 day", ``3`` -> "3 days"."""
    return f"{count} day" if abs(count) == 1 else f"{count} days"


def until(count: int) -> str:
    """Days until a day: "today", "tomorrow", "in 3 days", "2 days ago"."""
    if count == 0:
        return "today"
    if count == 1:
        return "tomorrow"
    return f"in {days(count)}" if count > 0 else f"{days(-count)} ago"


def since(count: int) -> str:
    """Days since a day: "today", "yesterday", "3 days ago"."""
    return until(-count) if count != 1 else "yesterday"


def count(number: int, noun: str) -> str:
    """``count(1, "message")`` -> "1 message", ``count(3, "message")`` -> "3 messages"."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"
