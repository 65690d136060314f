"""The few error types supportwatch raises on purpose.

    SupportwatchError            base; its message names the bad value and the fix
     +-- ConfigError             bad config: key path, value, expectation (CLI exit 2)
     +-- StoreError              the database is not at this version's schema (CLI exit 2)
     +-- SchedulerLocked         another scheduler already runs on this SQLite database (exit 2)
     +-- VersionError            a version, Runtime or image reference that does not parse
     |    (also a ValueError)
     +-- SourceError             a release source failed or answered malformed data
     |    +-- SourceRejected     the answer parsed but is implausible; last good data kept
     +-- DeliveryError           a notification could not be sent
          +-- PermanentDeliveryError   retrying cannot help (bad token, unknown channel)

Messages never contain secrets: callers pass redacted values only.
"""

from __future__ import annotations


class SupportwatchError(Exception):
    """Base of every error supportwatch raises on purpose."""


class ConfigError(SupportwatchError):
    """The configuration is invalid; `path` is the key path, e.g. ``deployments[2].image``."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        self.message = message
        super().__init__(f"{path}: {message}" if path else message)


class StoreError(SupportwatchError):
    """The database cannot be used as it is, e.g. it needs ``supportwatch db upgrade``."""


class SchedulerLocked(SupportwatchError):
    """Another process holds the scheduler lock of this SQLite database; one scheduler per file."""


class VersionError(SupportwatchError, ValueError):
    """A version string, Runtime version or image reference is not in a known format."""


class SourceError(SupportwatchError):
    """A release source could not be fetched or parsed."""


class SourceRejected(SourceError):
    """A source answer parsed but looks implausible (empty, shrunk); the last good data stays."""


class DeliveryError(SupportwatchError):
    """A notification could not be delivered; may be retried."""


class PermanentDeliveryError(DeliveryError):
    """A notification can never be delivered as configured; it is dead-lettered."""
