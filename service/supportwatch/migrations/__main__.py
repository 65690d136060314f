"""``python -m supportwatch.migrations``: bring the database named by ``SUPPORTWATCH_DATABASE_URL``
to the head revision, then exit (0: at the head; 1: failed, the reason on stderr, password hidden).

``supportwatch run`` migrates through this short-lived child (``upgrade_in_child``), so Alembic
and the revision scripts (12 MiB resident once loaded) never stay in the serving process. The
URL comes in the environment, where only this user can read it, never on the command line.
"""

from __future__ import annotations

import os
import sys

from supportwatch.engine import create_engine_for
from supportwatch.migrations import URL_VARIABLE, upgrade


def main() -> int:
    url = os.environ.get(URL_VARIABLE, "")
    if not url.strip():
        print(f"{URL_VARIABLE} is not set: name the database to migrate", file=sys.stderr)
        return 1
    try:
        engine = create_engine_for(url)
        try:
            upgrade(engine)
        finally:
            engine.dispose()
    except Exception as exc:  # any failure is reported as one line, never a traceback
        print(_reason(exc, url), file=sys.stderr)
        return 1
    return 0


def _reason(exc: BaseException, url: str) -> str:
    """The error's first line (of the driver's error when SQLAlchemy wraps one), with every
    password of ``url`` hidden as the rest of the service hides it."""
    # only a failure needs the config's redaction (the package loads pydantic: 0.2 s)
    from supportwatch.config import hide_database_password, redact_url  # noqa: PLC0415

    cause = getattr(exc, "orig", None) or exc
    lines = str(cause).strip().splitlines()
    return hide_database_password(redact_url(lines[0] if lines else type(cause).__name__), url)


if __name__ == "__main__":
    sys.exit(main())
