"""Pydantic's validation errors as ConfigErrors: the key path, the value (never a secret's), the fix."""

from __future__ import annotations

from difflib import get_close_matches
from typing import Any, get_args

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


def known_keys(root: Any, loc: tuple[str | int, ...]) -> set[str]:
    """The keys the settings accept at ``loc`` (a path of keys and list indexes from ``root``, a
    settings model): every field of each model or validated dataclass that may stand there."""
    kinds: list[Any] = [root]
    for part in loc:
        if isinstance(part, str):
            kinds = [fields[part] for fields in map(_fields, _sections(kinds)) if part in fields]
    return {name for section in _sections(kinds) for name in _fields(section)}


def _sections(kinds: list[Any]) -> list[type]:
    """The models and validated dataclasses in ``kinds``, unwrapping lists, unions, Annotated."""
    found: list[type] = []
    for kind in kinds:
        if isinstance(kind, type) and (hasattr(kind, "model_fields") or hasattr(kind, "__pydantic_fields__")):
            found.append(kind)
        else:
            found += _sections(list(get_args(kind)))
    return found


def _fields(section: type) -> dict[str, Any]:
    fields = getattr(section, "__pydantic_fields__", None) or getattr(section, "model_fields", {})
    return {name: info.annotation for name, info in fields.items()}


def _unknown_key(loc: tuple[str | int, ...], root: Any) -> str:
    plain = tuple(part for part in loc if not (isinstance(part, str) and part in SOURCE_KINDS))
    close = get_close_matches(str(plain[-1]), sorted(known_keys(root, plain[:-1])), n=1, cutoff=0.75)
    did_you_mean = f"did you mean {close[0]!r}? " if close else ""
    return f"unknown key; {did_you_mean}check its spelling against the documented config keys"


def validation_error(
    exc: ValidationError,
    deployments_file: str = "",
    deployments: Any = None,
    seen: Seen | None = None,
    root: Any = None,
) -> ConfigError:
    """The first validation error as a ConfigError; ``deployments`` is the raw list, for names.

    ``root`` (the settings model) lets an unknown key name the known one it is closest to.
    The value is shown only if it is no secret: nothing under a secret key, no mapping or list
    holding one, and no value ``seen`` marks (shown as ``***`` or ``${NAME}``).
    """
    error = exc.errors(include_url=False)[0]
    loc = _error_loc(error["loc"], deployments_file, deployments)
    path = format_path(loc)
    message = _SHAPES.get(error["type"]) or error["msg"].removeprefix("Value error, ")
    # a model says extra_forbidden and missing, a validated dataclass (a deployment) the other two
    if error["type"] in ("extra_forbidden", "unexpected_keyword_argument"):
        return ConfigError(path, _unknown_key(tuple(error["loc"]), root))
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
