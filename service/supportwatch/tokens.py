"""Feed and read tokens: made once, kept as a SHA-256 only, compared in constant time.

A team's calendar feed token (``supportwatch calendar-token TEAM``) is ``secrets.token_urlsafe``
of 32 random bytes. It is shown once, when it is made; the ``calendar_token`` table keeps only
its SHA-256, so the database, a backup or a query log never holds a usable token. A presented
token is hashed and compared with ``hmac.compare_digest``: how long the comparison takes says
nothing about how much of it was right. Nothing here logs.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

from sqlalchemy import Engine, select

from supportwatch.tables import calendar_token_table, insert_for

TOKEN_BYTES = 32
# compared against when a team has no token, so that a missing row costs what a wrong token does
_NO_HASH = "0" * 64


_TABLE = calendar_token_table


def new_token() -> str:
    """A fresh token: 32 random bytes, URL-safe base64 (43 characters)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    """The SHA-256 of ``token`` as 64 hex digits: what is stored in its place."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def hash_matches(token: str | None, expected_hash: str) -> bool:
    """Whether ``token`` hashes to ``expected_hash``, in constant time; a missing token never does."""
    same = hmac.compare_digest(token_hash(token or ""), expected_hash)
    return same and bool(token)


def secret_matches(token: str | None, secret: str) -> bool:
    """Whether ``token`` is ``secret``, in constant time whatever either's length."""
    return hash_matches(token, token_hash(secret)) and bool(secret)


def cookie_value(token: str) -> str:
    """What a browser keeps in place of the read token: a hash of it, good only as the cookie."""
    return token_hash(f"supportwatch read cookie\n{token}")


class TokenExists(Exception):
    """The team already has a feed token; only ``--rotate`` replaces it."""

    def __init__(self, team: str, created_at: datetime | None) -> None:
        when = f" (issued {created_at.isoformat(timespec='seconds')})" if created_at else ""
        super().__init__(
            f"team {team!r} already has a calendar feed token{when}; it is stored hashed and cannot be "
            "shown again: pass --rotate to replace it (feeds subscribed with the old one stop updating)"
        )
        self.team = team


class CalendarTokens:
    """The teams' calendar feed tokens on ``engine`` (hashes only); each method is one transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def issue(self, team: str, *, now: datetime, rotate: bool = False) -> str:
        """A new token for ``team``, returned once; only its hash is stored.

        Without ``rotate`` a team that has a token keeps it (``TokenExists``); with it the old
        token stops matching in the same transaction that stores the new one.
        """
        token = new_token()
        insert = insert_for(self.engine, _TABLE)
        statement = insert.values(team=team, token_hash=token_hash(token), created_at=now)
        if rotate:
            statement = statement.on_conflict_do_update(
                index_elements=["team"],
                set_={
                    "token_hash": statement.excluded.token_hash,
                    "created_at": statement.excluded.created_at,
                },
            )
        else:
            statement = statement.on_conflict_do_nothing(index_elements=["team"])
        with self.engine.begin() as connection:
            stored = connection.execute(statement.returning(_TABLE.c.team)).first()
        if stored is None:
            raise TokenExists(team, self.issued().get(team))
        return token

    def matches(self, team: str, token: str | None) -> bool:
        """Whether ``token`` is ``team``'s current feed token (constant-time compare)."""
        with self.engine.connect() as connection:
            stored = connection.execute(select(_TABLE.c.token_hash).where(_TABLE.c.team == team)).scalar()
        return hash_matches(token, stored or _NO_HASH) and stored is not None

    def issued(self) -> dict[str, datetime]:
        """Each team that has a feed token, with when it was made (or last rotated)."""
        columns = _TABLE.c
        with self.engine.connect() as connection:
            rows = connection.execute(select(columns.team, columns.created_at).order_by(columns.team))
            return {str(team): created for team, created in rows}
