"""``astro_updates``: the vendor's JSON version feeds read by its CLI — pure (``bytes -> Parsed``).

- agent (``https://updates.astronomer.io/astro-agent``): ``clientVersions`` -> version ->
  ``metadata`` {``channel``, ``releaseDate``} and ``imageTags`` [...]; the tags let remedies
  name exact images.
- runtime (``https://updates.astronomer.io/astronomer-runtime``): ``runtimeVersionsV3`` ->
  version -> ``metadata`` {``airflowVersion``, ``channel``, ``releaseDate``, ``pythonVersions``,
  ``yanked``}.

Only versions on ``channels`` (default ``stable``) are recorded. Yanked versions are recorded
as yanked (the catalog never recommends them). Versions or tags that do not parse are skipped
and counted.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, Literal

from supportwatch.errors import SourceError, VersionError
from supportwatch.sources.result import Parsed, add_earliest
from supportwatch.values import Release, clean_text
from supportwatch.versions import AgentVersion, ImageTag, RuntimeVersion

_KEYS = {"agent": "clientVersions", "runtime": "runtimeVersionsV3"}


def parse_astro_updates(
    body: bytes, *, component: Literal["agent", "runtime"], channels: Sequence[str] = ("stable",)
) -> Parsed:
    """Releases from one of the vendor's version feeds; raises ``SourceError`` if malformed."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as exc:
        reason = " ".join(str(exc).split())[:200]
        raise SourceError(f"the version feed is not valid JSON ({reason})") from None
    key = _KEYS[component]
    versions = document.get(key) if isinstance(document, dict) else None
    if not isinstance(versions, dict):
        raise SourceError(
            f"the version feed has no {key!r} mapping; is the url the {component} feed "
            f"(or should the source's component be {'runtime' if component == 'agent' else 'agent'})?"
        )
    releases: dict[str, Release] = {}
    skipped = 0
    for version, item in versions.items():
        release = _release(component, version, item)
        if release is None:
            skipped += 1
        elif release.channel in channels:
            add_earliest(releases, release)  # "1.8.2" and "v1.8.2" are one version
    return Parsed(tuple(releases.values()), skipped)


def _release(component: Literal["agent", "runtime"], version: Any, item: Any) -> Release | None:
    if not isinstance(item, dict):
        return None
    metadata = item.get("metadata")
    if not isinstance(metadata, dict):
        return None
    text = clean_text(version) if isinstance(version, str) else version
    try:
        name = str(AgentVersion.parse(text) if component == "agent" else RuntimeVersion.parse(text))
    except VersionError:
        return None
    return Release(
        component,
        name,
        _day(metadata.get("releaseDate")),
        image_tags=_tags(item.get("imageTags")) if component == "agent" else (),
        channel=clean_text(str(metadata.get("channel") or "stable")).strip() or "stable",
        yanked=_flag(metadata.get("yanked")),
    )


def _flag(value: Any) -> bool:
    """Only a true flag yanks: ``bool("false")`` is True, and a wrong yank is a critical finding."""
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def _tags(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    tags = []
    for item in value:
        tag = clean_text(str(item)).strip()
        try:
            ImageTag.parse(tag)
        except VersionError:
            continue
        tags.append(tag)
    return tuple(sorted(set(tags)))


def _day(value: Any) -> date | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).date()
        except ValueError:
            return None
