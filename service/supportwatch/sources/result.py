"""What a source is and what a poll of it returns — pure values (no HTTP client, no database).

A source is a name, where it reads from, and one method, ``poll(state, now)``. The parsers
(``feed``, ``helm``, ``astro_updates``) import only this module: they turn bytes into
``Parsed``; ``http_source.HttpSource`` fetches the bytes and hands them over.

``accept`` is the one gate between what a source answered and the store: every text is
cleaned of terminal controls, a release with a value longer than its column or a release day
outside ``MIN_RELEASE_DAY`` .. ``now`` + ``MAX_DAYS_AHEAD`` is refused (the others are kept),
an over-long validator or moved URL is dropped, and each of these is said in ``notes``.
``check_plausible`` rejects an answer as a whole when it is empty or lost most of what the
source listed before.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Protocol

from supportwatch.errors import SourceError, SourceRejected
from supportwatch.sources.urls import display
from supportwatch.values import (
    ERROR_MAX,
    ETAG_MAX,
    LAST_MODIFIED_MAX,
    URL_MAX,
    Release,
    SourceState,
    storable,
)

# The plausible release days: the product line is younger than 2020, and a vendor announces
# no release more than a year ahead. A day outside them is a source's error (Helm's 0001-01-01,
# a feed's 9999-12-31), never a reason to move a known release.
MIN_RELEASE_DAY = date(2020, 1, 1)
MAX_DAYS_AHEAD = 366
_NOTES_SHOWN = 5


class SourceGone(SourceError):
    """The source answered 410 Gone: it is disabled until its configured URL changes."""


@dataclass(frozen=True, slots=True)
class Validators:
    """What a server said to identify its answer, sent back on the next conditional GET."""

    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True, slots=True)
class Parsed:
    """A parser's answer: the releases, and how many entries it skipped as unreadable."""

    releases: tuple[Release, ...]
    skipped: int = 0


Parser = Callable[[bytes], Parsed]


def add_earliest(found: dict[str, Release], release: Release) -> None:
    """Add ``release`` to ``found`` (by version); a version listed twice keeps its earliest date.

    A version is released once: a later duplicate is a re-publication, and the answer must
    not depend on the order the source lists its entries in.
    """
    known = found.get(release.version)
    if known is None or (
        release.released_on is not None
        and (known.released_on is None or release.released_on < known.released_on)
    ):
        found[release.version] = release


@dataclass(frozen=True, slots=True)
class SourceResult:
    """One poll's result. ``releases`` is None when the server said 304 Not Modified.

    ``url`` is where the source is read next time (None: nothing is fetched). ``skipped``
    counts the entries not recorded: unreadable ones, and the ``refused`` ones that ``accept``
    turned away; ``notes`` says what ``accept`` refused or dropped, and why. ``complete``
    says the answer is the source's whole truth (the config's own releases): a claim it no
    longer makes is withdrawn, and an empty or smaller answer is meant, not implausible.
    """

    url: str | None
    releases: tuple[Release, ...] | None
    skipped: int = 0
    validators: Validators = field(default_factory=Validators)
    requests: int = 1
    refused: int = 0
    notes: tuple[str, ...] = ()
    complete: bool = False

    @property
    def not_modified(self) -> bool:
        return self.releases is None

    @property
    def note(self) -> str | None:
        """``notes`` as one line for the source's health (``last_error``), or None."""
        if not self.notes:
            return None
        count = len(self.notes)
        return _bounded(f"accepted with {count} problem{'s' if count != 1 else ''}: {_listed(self.notes)}")


class Source(Protocol):
    """A release source: ``name``, the ``url`` it reads (None: its releases are at hand, in
    the config), and ``poll``, which raises ``SourceError`` (or a subclass) when it fails."""

    @property
    def name(self) -> str: ...

    @property
    def url(self) -> str | None: ...

    def poll(self, state: SourceState, now: datetime) -> SourceResult:
        """Read the source (conditionally, using ``state``'s URL and validators) as of ``now``."""
        ...


def _listed(notes: tuple[str, ...]) -> str:
    more = len(notes) - _NOTES_SHOWN
    return "; ".join(notes[:_NOTES_SHOWN]) + (f"; and {more} more" if more > 0 else "")


def _bounded(text: str) -> str:
    return text if len(text) <= ERROR_MAX else text[: ERROR_MAX - 3] + "..."


def accept(result: SourceResult, *, now: datetime, fetched_from: str) -> SourceResult:
    """``result`` bounded to what may be stored, as of ``now`` (see the module docstring).

    ``fetched_from`` is the URL the poll started from: it stays the stored URL when the server
    moved the source somewhere too long to store.
    """
    notes = list(result.notes)
    url = result.url
    if url is not None and len(url) > URL_MAX:
        notes.append(
            f"the server moved the source to a url of {len(url)} characters (max {URL_MAX}); "
            f"kept {display(fetched_from)}"
        )
        url = fetched_from
    validators = Validators(
        _validator("ETag", result.validators.etag, ETAG_MAX, notes),
        _validator("Last-Modified", result.validators.last_modified, LAST_MODIFIED_MAX, notes),
    )
    if result.releases is None:
        return replace(result, url=url, validators=validators, notes=tuple(notes))
    latest = now.astimezone(UTC).date() + timedelta(days=MAX_DAYS_AHEAD)
    kept: dict[tuple[str, str], Release] = {}
    refused = 0
    for release in result.releases:
        checked = storable(release)
        problem = checked if isinstance(checked, str) else _implausible_day(checked, latest)
        if problem is not None:
            refused += 1
            notes.append(f"refused {problem}")
            continue
        assert not isinstance(checked, str)
        if len(checked.image_tags) < len(release.image_tags):
            dropped = len(release.image_tags) - len(checked.image_tags)
            notes.append(f"{checked.component} {checked.version}: dropped {dropped} unusable image tag(s)")
        known = kept.get((checked.component, checked.version))
        if known is None or (
            checked.released_on is not None
            and (known.released_on is None or checked.released_on < known.released_on)
        ):
            kept[(checked.component, checked.version)] = checked
    return replace(
        result,
        url=url,
        releases=tuple(kept.values()),
        skipped=result.skipped + refused,
        validators=validators,
        refused=result.refused + refused,
        notes=tuple(notes),
    )


def _implausible_day(release: Release, latest: date) -> str | None:
    day = release.released_on
    if day is None or MIN_RELEASE_DAY <= day <= latest:
        return None
    return (
        f"{release.component} {release.version}: release date {day.isoformat()} is implausible "
        f"(before {MIN_RELEASE_DAY.isoformat()} or after {latest.isoformat()})"
    )


def _validator(name: str, value: str | None, limit: int, notes: list[str]) -> str | None:
    if value is None:
        return None
    if len(value) > limit:
        notes.append(f"the server's {name} is {len(value)} characters (max {limit}); not kept")
        return None
    if not value.isprintable():
        notes.append(f"the server's {name} holds control characters; not kept")
        return None
    return value


def check_plausible(name: str, url: str | None, result: SourceResult, previous_count: int) -> None:
    """Reject an answer that is empty or lost more than half of what the source listed last time.

    A ``complete`` answer (the config's own releases) is taken as meant, whatever its size.
    """
    if result.complete:
        return
    count = len(result.releases or ())
    where = f"source {name!r}" + (f" ({display(url)})" if url else "")
    if count == 0:
        unreadable = result.skipped - result.refused
        why = [f"{unreadable} entries had no readable version"] if unreadable else []
        why += [f"{result.refused} refused: {_listed(result.notes)}"] if result.refused else []
        raise SourceRejected(
            f"{where} answered no releases"
            + (f" ({'; '.join(why)})" if why else "")
            + "; kept the last good data. Check its url, kind and version_pattern"
        )
    if count * 2 < previous_count:
        raise SourceRejected(
            f"{where} lists {count} versions, down from {previous_count} last time; "
            "an answer that lost more than half is rejected and the last good data kept; if the source "
            f"really dropped them, accept it once with `supportwatch poll --source {name} --accept-shrink`"
        )
