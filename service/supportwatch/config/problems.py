"""Pydantic's validation errors as ConfigErrors: the key path, the value (never a secret's), the fix."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from supportwatch.config.paths import DeploymentAt, Loc, deployment_name, format_path
from supportwatch.config.secrets import SECRET_KEYS, Seen, holds_secret, redact_url, shape
from supportwatch.config.sources import SOURCE_KINDS
from supportwatch.errors import ConfigError


def _error_loc(loc: tuple[str | int, ...], deployments_file: str, deployments: Any) -> Loc:
    """Pydantic's error location without source-kind tags; a deployment is named with its file."""
    loc = tuple(part for part in loc if not (isinstance(part, str) and part in SOURCE_KINDS))
    if len(loc) >= 2 and loc[0] == "deployments" and isinstance(loc[1], int):
        at = DeploymentAt(deployments_file, loc[1], deployment_name(deployments, loc[1]))
        return (at, *loc[2:])
    return loc


_STRUCTURE_ERRORS = frozenset(
    {
        "model_type",
        "model_attributes_type",
        "dataclass_type",
        "dataclass_args_type",
        "dict_type",
        "list_type",
        "union_tag_invalid",
        "union_tag_not_found",
    }
)


# what must stand where a section or a list was expected, in the config's words (pydantic's
# would name a class: "a valid dictionary or instance of SmtpSettings")
_MAPPING = "must be a mapping of settings (key: value)"
_SHAPES = {
    "model_type": _MAPPING,
    "model_attributes_type": _MAPPING,
    "dataclass_type": _MAPPING,
    "dataclass_args_type": _MAPPING,
    "dict_type": _MAPPING,
    "list_type": "must be a list (one '- ' item each)",
}


def validation_error(
    exc: ValidationError, deployments_file: str = "", deployments: Any = None, seen: Seen | None = None
) -> ConfigError:
    """The first validation error as a ConfigError; ``deployments`` is the raw list, for names.

    The value is shown only if it is no secret: nothing under a secret key, no mapping or list
    holding one, and no value ``seen`` marks (shown as ``***`` or ``${NAME}``).
    """
    error = exc.errors(include_url=False)[0]
    loc = _error_loc(error["loc"], deployments_file, deployments)
    path = format_path(loc)
    message = _SHAPES.get(error["type"]) or error["msg"].removeprefix("Value error, ")
    # a model says extra_forbidden and missing, a validated dataclass (a deployment) the other two
    if error["type"] in ("extra_forbidden", "unexpected_keyword_argument"):
        return ConfigError(path, "unknown key; check its spelling against the documented config keys")
    if error["type"] in ("missing", "missing_argument"):
        return ConfigError(path, "is required but missing")
    if any(isinstance(part, str) and part in SECRET_KEYS for part in loc):
        return ConfigError(path, message)
    value = error.get("input")
    if holds_secret(value):
        return ConfigError(path, f"{message} (got {shape(value)}; values not shown: they hold a secret)")
    if error["type"] in _STRUCTURE_ERRORS:
        # a mapping or list was expected: what stands there instead may be a secret written one
        # level too high (``slack: "https://hooks.slack.com/..."``), so say only what it is
        return ConfigError(path, f"{message} (got {shape(value)})")
    # a validator may quote the value, e.g. a source URL with user:password@ in it
    message = redact_url(message)
    shown = redact_url((seen or Seen()).scrub(repr(value)))
    shown = shown if len(shown) <= 120 else shown[:117] + "..."
    hint = ""
    if error["type"] == "string_type" and isinstance(value, int | float) and not isinstance(value, bool):
        hint = "; YAML read it as a number: quote it"
    return ConfigError(path, f"{message} (got {shown}){hint}")
