"""``helm``: a Helm repository index (``index.yaml`` or its JSON twin) — pure (``bytes -> Parsed``).

Records the tracked chart's versions with ``created`` as the release day and ``appVersion``
as the agent it ships by default. Indexes are large (every chart of the repository, every
version, long annotations), so the tracked chart is read without parsing the rest:

1. a JSON index (Helm publishes those too) is read with ``json``;
2. a YAML index in Helm's own layout is checked for its top-level keys (``apiVersion``,
   ``entries``, ``generated`` — a truncated file lacks the last) and scanned for tags, anchors
   and aliases; then only the tracked chart's slice is parsed with PyYAML's C loader;
3. anything else gets a full parse with the C safe loader, refusing tags and aliases.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from typing import Any

import yaml

from supportwatch.errors import SourceError, SourceRejected, VersionError
from supportwatch.sources.result import Parsed, add_earliest
from supportwatch.values import APP_VERSION_MAX, Release, clean_text
from supportwatch.versions import AgentVersion

_TOP_KEY = re.compile(rb"^([A-Za-z_][\w-]*):", re.MULTILINE)
# A tag (!), anchor (&) or alias (*) where block-style YAML (Helm's only style) puts a node:
# after indentation, ": " or "- ". A hit sends the index down the checked slow path; a false
# positive (a "- *bold*" line in an annotation) only costs time. The slice is checked exactly.
_NODE_PROPERTY = re.compile(rb"(?:^[ \t]*|: |- )[!&*][^\s]", re.MULTILINE)
_UNKNOWN_DAY = date(1, 1, 1)  # Helm writes 0001-01-01T00:00:00Z for "never set"


class _Loader(yaml.CSafeLoader):
    """The C safe loader; tags and aliases are refused before construction."""


def parse_helm_index(body: bytes, *, chart: str) -> Parsed:
    """The versions of ``chart`` in a Helm index; raises ``SourceError`` for a malformed index."""
    if body.lstrip()[:1] == b"{":
        return _from_document(_json(body), chart)
    fast = _fast_slice(body, chart)
    if fast is not None:
        return _from_document(_load(fast, check_events=True), chart)
    return _from_document(_load(body, check_events=True), chart)


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise SourceError(f"the Helm index is not valid JSON ({str(exc)[:200]})") from None


def _fast_slice(body: bytes, chart: str) -> bytes | None:
    """Helm's layout with the chart's entries cut out, or None when the layout is not Helm's own."""
    top = {match[1] for match in _TOP_KEY.finditer(body)}
    if not {b"apiVersion", b"entries", b"generated"} <= top or _NODE_PROPERTY.search(body):
        return None
    api = re.search(rb"^apiVersion:[ \t]*(.*)$", body, re.MULTILINE)
    header = b"apiVersion: " + (api[1].strip() if api else b"") + b"\nentries:\n"
    name = re.escape(chart.encode())
    start = re.search(rb"^  (?:" + name + rb"|\"" + name + rb"\"|'" + name + rb"'):[ \t]*\r?$", body, re.M)
    if start is None:
        return None  # the full parse names the charts that are there
    end = re.compile(rb"^(?:  )?[^\s-]", re.MULTILINE).search(body, start.end() + 1)
    return header + body[start.start() : end.start() if end else len(body)]


def _load(text: bytes, *, check_events: bool = False) -> Any:
    try:
        if check_events:
            _refuse_properties(text)
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - a safe loader subclass
    except yaml.YAMLError as exc:
        raise SourceError(f"the Helm index is not valid YAML ({_first_line(exc)})") from None


def _refuse_properties(text: bytes) -> None:
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise SourceRejected("the Helm index uses YAML anchors/aliases; Helm never writes them, refused")
        tag = getattr(event, "tag", None)
        implicit = getattr(event, "implicit", True)
        if tag is not None and not (implicit is True or (isinstance(implicit, tuple) and any(implicit))):
            raise SourceRejected(f"the Helm index uses the YAML tag {tag!r}; Helm never writes tags, refused")


def _first_line(exc: Exception) -> str:
    return " ".join(str(exc).split())[:200]


def _from_document(document: Any, chart: str) -> Parsed:
    if not isinstance(document, dict):
        raise SourceError("the Helm index is not a mapping; expected apiVersion and entries")
    for key in ("apiVersion", "entries"):
        if key not in document:
            raise SourceError(f"the Helm index has no {key!r}; is the source url a Helm repository index?")
    entries = document["entries"]
    if not isinstance(entries, dict):
        raise SourceError("the Helm index's 'entries' is not a mapping of chart names to versions")
    versions = entries.get(chart)
    if not isinstance(versions, list):
        known = ", ".join(sorted(clean_text(str(name)) for name in entries)[:10]) or "none"
        raise SourceRejected(
            f"the Helm index has no chart {chart!r} (charts: {known}); check the source's chart"
        )
    releases: dict[str, Release] = {}
    skipped = 0
    for item in versions:
        release = _release(item)
        if release is None:
            skipped += 1
        else:
            add_earliest(releases, release)
    return Parsed(tuple(releases.values()), skipped)


def _release(item: Any) -> Release | None:
    if not isinstance(item, dict):
        return None
    try:
        version = str(AgentVersion.parse(clean_text(str(item.get("version", "")))))
    except VersionError:
        return None
    released_on = _created_day(item.get("created"))
    return Release("chart", version, released_on, app_version=_app(item.get("appVersion")))


def _app(value: Any) -> str | None:
    """``appVersion`` as text without terminal controls; a version is normalised (``v1.8.2``)."""
    if value is None or isinstance(value, (dict, list)):
        return None
    text = clean_text(str(value)).strip()
    if not text:
        return None
    try:
        return str(AgentVersion.parse(text))
    except VersionError:
        return text[:APP_VERSION_MAX]


def _created_day(value: Any) -> date | None:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):  # an unquoted YAML date without a time
        return None if value == _UNKNOWN_DAY else value
    elif isinstance(value, str) and value:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    day = moment.date()
    return None if day == _UNKNOWN_DAY else day
