"""``feed``: RSS 2.0 and Atom release-notes feeds — pure (``bytes -> Parsed``).

The version comes from the entry title (default: the last semver in it, so "Remote Execution
Agent 1.8.2", "Helm chart 2.3.3", "0.34.2" and "v0.28.8" all work). The release day is the
date written in the entry ("Release date: May 16, 2024") when there is one: the vendor's
feeds put ``pubDate`` on the evening before the release day (23:00 GMT), so the written date
wins. Otherwise the entry's published/updated date, on the day its own offset says.
Entries without a version are skipped and counted; a version listed twice keeps its earliest day.
Titles are read with terminal controls removed (``clean_text``): an escape sequence neither
hides a version nor reaches what is stored.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import feedparser

from supportwatch.errors import SourceError, VersionError
from supportwatch.sources.result import Parsed, add_earliest
from supportwatch.values import Component, Release, clean_text
from supportwatch.versions import AgentVersion, RuntimeVersion

SEMVER_IN_TEXT = r"(?<![\w.])v?\d+\.\d+\.\d+(?:-[0-9A-Za-z]+(?:\.[0-9A-Za-z]+)*)?(?![\w.])"
RUNTIME_IN_TEXT = r"(?<![\w.])\d+\.\d+-\d+(?![\w.-])"
_MONTHS = {
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
    "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12,
}  # fmt: skip
_WRITTEN = (
    r"(?P<month>Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?"
    r"|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?\s+(?P<day>\d{1,2})(?:st|nd|rd|th)?,?"
    r"\s+(?P<year>\d{4})"
    r"|(?P<iso>\d{4}-\d{2}-\d{2})"
)
_WRITTEN_DATE = re.compile(_WRITTEN, re.IGNORECASE)
_LABELLED_DATE = re.compile(r"release(?:d|\s+date)\s*(?:on)?\s*:?\s*(?:" + _WRITTEN + ")", re.IGNORECASE)
_TAG = re.compile(r"<[^>]*>")
# entity declarations have no business in a release feed; they are how billion-laughs works
_ENTITY_DECL = re.compile(rb"<!\s*ENTITY", re.IGNORECASE)


def default_version_pattern(component: Component) -> str:
    """The last semver in the title (for Runtime feeds also ``3.1-9``-style versions)."""
    return f"{RUNTIME_IN_TEXT}|{SEMVER_IN_TEXT}" if component == "runtime" else SEMVER_IN_TEXT


def parse_feed(
    body: bytes,
    *,
    component: Component,
    version_pattern: str | None = None,
    date_pattern: str | None = None,
) -> Parsed:
    """Releases of ``component`` from an RSS or Atom document; raises ``SourceError`` if it is not one."""
    if _ENTITY_DECL.search(body[:65536]) or _ENTITY_DECL.search(body.replace(b"\x00", b"")[:131072]):
        raise SourceError("the feed declares XML entities (<!ENTITY>); refused as a possible entity bomb")
    document = feedparser.parse(body, sanitize_html=False, resolve_relative_uris=False)
    entries: list[Any] = list(document.entries)
    if not entries:
        if not document.get("version"):
            reason = document.get("bozo_exception")
            raise SourceError(
                "the answer is not an RSS or Atom feed"
                + (f" ({type(reason).__name__}: {clean_text(str(reason))[:200]})" if reason else "")
                + "; check the source's url points at the feed, not a web page"
            )
        return Parsed(())
    versions = re.compile(version_pattern or default_version_pattern(component))
    dates = re.compile(date_pattern, re.IGNORECASE) if date_pattern else None
    releases: dict[str, Release] = {}
    skipped = 0
    for entry in entries:
        version = _version(clean_text(str(entry.get("title", ""))), versions, component)
        if version is None:
            skipped += 1
            continue
        add_earliest(releases, Release(component, version, _release_day(entry, dates)))
    return Parsed(tuple(releases.values()), skipped)


def _version(title: str, pattern: re.Pattern[str], component: Component) -> str | None:
    matches = list(pattern.finditer(title))
    if not matches:
        return None
    last = matches[-1]
    text = last["version"] if "version" in pattern.groupindex else last[1] if pattern.groups else last[0]
    try:
        if component == "runtime":
            try:
                return str(RuntimeVersion.parse(text))
            except VersionError:
                return str(AgentVersion.parse(text))
        return str(AgentVersion.parse(text))
    except VersionError:
        return None


def _release_day(entry: Any, custom: re.Pattern[str] | None) -> date | None:
    texts = [_plain(entry.get("summary", ""))]
    texts += [_plain(item.get("value", "")) for item in entry.get("content", [])]
    texts.append(clean_text(str(entry.get("title", ""))))
    for text in texts:
        if custom is not None and (match := custom.search(text)):
            found = _written_date(match["date"] if "date" in custom.groupindex else match[0])
            if found:
                return found
        if (match := _LABELLED_DATE.search(text)) and (found := _from_match(match)):
            return found
    for text in texts:
        for match in _WRITTEN_DATE.finditer(text):
            found = _from_match(match)
            if found:
                return found
    return _stamped_day(entry)


def _plain(html: str) -> str:
    return _TAG.sub(" ", html)


def _written_date(text: str) -> date | None:
    match = _WRITTEN_DATE.search(text)
    return _from_match(match) if match else None


def _from_match(match: re.Match[str]) -> date | None:
    try:
        if match["iso"]:
            return date.fromisoformat(match["iso"])
        return date(int(match["year"]), _MONTHS[match["month"][:3].lower()], int(match["day"]))
    except ValueError:
        return None


def _stamped_day(entry: Any) -> date | None:
    """The published/updated day in the stamp's own offset (feedparser would convert to UTC)."""
    for key in ("published", "updated"):
        # dict.get: feedparser's own get maps a missing "updated" to "published" with a warning
        raw = dict.get(entry, key)
        if not raw:
            continue
        try:
            return parsedate_to_datetime(raw).date()
        except (TypeError, ValueError, OverflowError):  # a year past C's int overflows
            pass
        try:
            return datetime.fromisoformat(raw.strip().replace("Z", "+00:00")).date()
        except ValueError:
            pass
        parsed = dict.get(entry, f"{key}_parsed")
        if parsed:
            return date(parsed.tm_year, parsed.tm_mon, parsed.tm_mday)
    return None
