"""Twelve-factor overrides: ``SUPPORTWATCH_<KEY>`` replaces the config file's top-level ``<key>``.

Only the top-level scalars can be set this way (``OVERRIDABLE``); nested settings stay in the
file, where their key paths are checked. The environment's value is taken literally (no
``${ENV}`` expansion), replaces the key and its ``*_file`` twin, and counts as a secret where
the key is one (``database_url``): no message shows it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from supportwatch.config.secrets import SECRET_KEYS, Seen
from supportwatch.errors import ConfigError

PREFIX = "SUPPORTWATCH_"
OVERRIDABLE = ("database_url", "timezone", "default_receiver", "deployments_file")


def variable(key: str) -> str:
    """The environment variable that overrides ``key``: ``SUPPORTWATCH_DATABASE_URL``."""
    return PREFIX + key.upper()


def apply_overrides(raw: dict[str, Any], environ: Mapping[str, str], seen: Seen) -> dict[str, str]:
    """Put each set ``SUPPORTWATCH_<KEY>`` into ``raw``; returns the keys overridden and by which
    variable, so that an error about one can say where its value came from."""
    applied: dict[str, str] = {}
    for key in OVERRIDABLE:
        name = variable(key)
        if name not in environ:
            continue
        value = environ[name]
        if not value.strip():
            raise ConfigError(name, f"is set but empty; unset it to use {key} from the config file")
        if key in SECRET_KEYS:
            seen.secrets.add(value)
        else:
            seen.env.setdefault(value, name)
        raw.pop(f"{key}_file", None)
        raw[key] = value
        applied[key] = name
    return applied


def name_the_origin(exc: ConfigError, applied: Mapping[str, str]) -> ConfigError:
    """``exc`` with its path saying the value came from the environment, where it did."""
    key = exc.path.split(".", 1)[0].split("[", 1)[0]
    if key not in applied:
        return exc
    return ConfigError(f"{exc.path} (from the environment variable {applied[key]})", exc.message)
