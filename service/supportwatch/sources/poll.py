"""The poll state machine: read a source, record what it answered, keep its state.

Per source and poll, as of ``now``:

1. the stored ``SourceState`` applies only while the source's url is the one it began with
   (an edited url starts afresh: validators, a 301's move and a 410 no longer apply);
2. a source disabled by a 410 is not read (``disabled``) until then;
3. the source is read (``Source.poll``); a 304 only refreshes its state (``unchanged``);
4. an answer is checked as a whole (``check_plausible``: empty, or lost over half of what it
   listed last time) and recorded with provenance (``fetched``); a ``complete`` answer (the
   config's own releases) withdraws the claims it no longer makes;
5. any failure — of the source, the check, the record, or an error nothing classified —
   leaves every stored release as it was and is counted on the state (``failed``); a 410
   disables the source.

A version is never deleted here: a source that stops listing one only stops vouching for it.
The store is passed in (anything with ``CatalogStore``'s four methods), so this module needs
no database of its own.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal, Protocol

from supportwatch.errors import ConfigError, SourceError
from supportwatch.sources.result import Source, SourceGone, check_plausible
from supportwatch.values import ERROR_MAX, Release, SourceState

logger = logging.getLogger("supportwatch.sources.poll")


@dataclass(frozen=True, slots=True)
class PollOutcome:
    """What polling one source did: ``fetched`` (parsed and recorded), ``unchanged`` (304),
    ``failed`` (nothing stored was touched) or ``disabled`` (after a 410, until its url changes)."""

    source: str
    status: Literal["fetched", "unchanged", "failed", "disabled"]
    new: int = 0
    changed: int = 0
    seen: int = 0
    skipped: int = 0
    requests: int = 0
    error: str | None = None

    @property
    def failed(self) -> bool:
        return self.status in ("failed", "disabled")


class Recorded(Protocol):
    """What recording an answer changed in the catalog."""

    @property
    def new(self) -> Sequence[object]: ...

    @property
    def changed(self) -> Sequence[object]: ...


class CatalogStore(Protocol):
    """The store as the poller uses it (``supportwatch.store.Store``)."""

    def record(
        self,
        source: str,
        url: str | None,
        releases: Iterable[Release],
        *,
        seen_at: datetime,
        exhaustive: bool = False,
    ) -> Recorded: ...

    def source_state(self, name: str) -> SourceState | None: ...

    def save_source_state(self, state: SourceState) -> None: ...

    def reconcile_all(self, now: datetime) -> int: ...


def poll_sources(
    store: CatalogStore,
    sources: Mapping[str, Source],
    now: datetime,
    *,
    only: str | None = None,
    accept_shrink: bool = False,
) -> list[PollOutcome]:
    """Poll every source (or only the one named), record what is new, and track its health.

    Then every release is reconciled, so an edited source priority reaches versions no source
    touched. ``accept_shrink`` takes an answer that lost more than half of the versions as the
    new baseline (an operator's decision after a source really dropped them; never automatic).
    Raises ``ConfigError`` when ``only`` names none of ``sources``.
    """
    if only is not None and only not in sources:
        known = ", ".join(sources) or "none"
        raise ConfigError("--source", f"{only!r} is not a polled source; polled sources: {known}")
    chosen = [sources[only]] if only is not None else list(sources.values())
    outcomes = [poll_one(store, source, now, accept_shrink=accept_shrink) for source in chosen]
    store.reconcile_all(now)
    return outcomes


def poll_one(
    store: CatalogStore, source: Source, now: datetime, *, accept_shrink: bool = False
) -> PollOutcome:
    """Poll ``source`` once as of ``now`` (the steps in the module docstring)."""
    state = state_for(store, source)
    if state.disabled:
        return PollOutcome(source.name, "disabled", error=state.last_error)
    attempt = replace(state, last_attempt_at=now)
    try:
        result = source.poll(state, now)
        if result.releases is None:
            store.save_source_state(replace(_succeeded(attempt, now, url=result.url), last_error=result.note))
            return PollOutcome(source.name, "unchanged", seen=state.release_count, requests=result.requests)
        check_plausible(source.name, result.url, result, 0 if accept_shrink else state.release_count)
        recorded = store.record(
            source.name, result.url, result.releases, seen_at=now, exhaustive=result.complete
        )
    except SourceError as exc:
        return _failed(store, source, attempt, str(exc), gone=isinstance(exc, SourceGone))
    except Exception as exc:
        # one source never stops the others, even on an error nothing classified
        logger.error("poll %s failed: %s", source.name, type(exc).__name__)
        return _failed(store, source, attempt, f"unexpected {type(exc).__name__}; see the logs", gone=False)
    valid = result.validators
    store.save_source_state(
        replace(
            _succeeded(attempt, now, url=result.url),
            etag=valid.etag,
            last_modified=valid.last_modified,
            release_count=len(result.releases),
            last_error=result.note,
        )
    )
    return PollOutcome(
        source.name,
        "fetched",
        new=len(recorded.new),
        changed=len(recorded.changed),
        seen=len(result.releases),
        skipped=result.skipped,
        requests=result.requests,
    )


def state_for(store: CatalogStore, source: Source) -> SourceState:
    """``source``'s stored state, or a fresh one when it is new or its url was edited."""
    stored = store.source_state(source.name)
    if stored is None or stored.configured_url != source.url:
        # a new source, or its url was edited: validators, 301 and 410 no longer apply
        return SourceState(name=source.name, configured_url=source.url, url=source.url)
    return stored


def _failed(
    store: CatalogStore, source: Source, attempt: SourceState, message: str, *, gone: bool
) -> PollOutcome:
    failures = attempt.consecutive_failures + 1
    message = message[:ERROR_MAX]
    store.save_source_state(
        replace(attempt, consecutive_failures=failures, last_error=message, disabled=gone)
    )
    return PollOutcome(source.name, "failed", error=message)


def _succeeded(state: SourceState, now: datetime, *, url: str | None) -> SourceState:
    return replace(state, url=url, last_success_at=now, consecutive_failures=0, last_error=None)
