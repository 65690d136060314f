"""The config's value types: pydantic ``Annotated`` types that check or parse a setting at load.

``Semver``, ``Runtime``, ``AgentImage`` and ``Specifiers`` hold the domain value
(``AgentVersion``, ``RuntimeVersion``, ``ImageRef``, ``SpecifierSet``) parsed once when the file
is loaded, so nothing downstream parses a setting again; they are written back as their text.
The text types (``Name``, ``Namespace``, ...) are strings checked at load. A bad value raises
``ValueError`` naming the value and the expected form; the loader adds the key path.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from pydantic import AfterValidator, BaseModel, ConfigDict, PlainSerializer, PlainValidator
from pydantic_core import PydanticCustomError

from supportwatch.versions import AgentVersion, ImageRef, ImageTag, RuntimeVersion

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
# Kubernetes DNS-1123 label; Helm release names use the same characters (max 53)
_DNS_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?")
AGENT_REPOSITORY_NAME = "astro-remote-execution-agent"
AGENT_REPOSITORY = f"images.astronomer.cloud/baseimages/{AGENT_REPOSITORY_NAME}"

T = TypeVar("T")


class ConfigModel(BaseModel):
    """The base of every settings section: unknown keys refused, values frozen."""

    # inf and nan are refused everywhere: a bound like le=... must hold for every float setting
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def _parsed(kind: type[T], parse: Callable[[str], T], check: Callable[[T], T] | None = None) -> Any:
    """A validator taking a string through ``parse`` (then ``check``); a ``kind`` is only checked.

    Anything else is refused as pydantic refuses a non-string for a ``str`` field, so an
    unquoted YAML number still gets its "quote it" hint.
    """

    def validate(value: object) -> T:
        if isinstance(value, str):
            parsed = parse(value)
        elif isinstance(value, kind):
            parsed = value
        else:
            raise PydanticCustomError("string_type", "Input should be a valid string")
        return parsed if check is None else check(parsed)

    return PlainValidator(validate, json_schema_input_type=str)


_AS_TEXT = PlainSerializer(str, return_type=str)


def _agent_repository(ref: ImageRef) -> ImageRef:
    """``ref`` if its repository's last path segment is the agent's."""
    if ref.repository.rsplit("/", 1)[-1] != AGENT_REPOSITORY_NAME:
        raise ValueError(
            f"repository {ref.repository!r} is not an agent image repository; agent images live in a "
            f"repository named {AGENT_REPOSITORY_NAME!r}: use {AGENT_REPOSITORY} or a mirror whose "
            f"path ends in /{AGENT_REPOSITORY_NAME}"
        )
    return ref


def specifiers(value: str) -> SpecifierSet:
    """``value`` as PEP 440 specifiers; ValueError naming it otherwise."""
    try:
        return SpecifierSet(value)
    except InvalidSpecifier:
        raise ValueError(
            f"{value!r} is not a version specifier; expected e.g. '==1.5.0' or '>=2.0.0'"
        ) from None


# an agent or chart version, semver: 1.3.1, 2.0.0-rc.1
Semver = Annotated[AgentVersion, _parsed(AgentVersion, AgentVersion.parse), _AS_TEXT]
# an Astro Runtime version: 3.1-9
Runtime = Annotated[RuntimeVersion, _parsed(RuntimeVersion, RuntimeVersion.parse), _AS_TEXT]
# an agent image: a tag in the vendor's formats in an astro-remote-execution-agent repository
AgentImage = Annotated[ImageRef, _parsed(ImageRef, ImageRef.parse, _agent_repository), _AS_TEXT]
# PEP 440 specifiers: ==1.5.0, >=2.0.0
Specifiers = Annotated[SpecifierSet, _parsed(SpecifierSet, specifiers), _AS_TEXT]


def _name(value: str) -> str:
    if not NAME.fullmatch(value):
        raise ValueError(f"{value!r} is not a valid name; use letters, digits, '.', '_' and '-' (max 128)")
    return value


def _dns_label(what: str, max_length: int) -> Callable[[str], str]:
    """Refuse what is not a DNS-1123 label: the value is pasted into kubectl and helm commands."""

    def check(value: str) -> str:
        if not (len(value) <= max_length and _DNS_LABEL.fullmatch(value)):
            raise ValueError(
                f"must be {what}: lower-case letters, digits and '-', starting and ending with a letter "
                f"or digit, at most {max_length} characters"
            )
        return value

    return check


def _image_tag(value: str) -> str:
    ImageTag.parse(value)  # the catalog stores tags as text: checked here, kept as written
    return value


def _email_address(value: str) -> str:
    """A plain ``local@domain`` address; an international domain is stored in its ASCII form."""
    if not re.fullmatch(r"[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+", value):
        raise ValueError(f"{value!r} is not an email address; expected local@domain")
    local, _, domain = value.rpartition("@")
    if not local.isascii():
        raise ValueError(f"{value!r} has a non-ASCII local part, which needs SMTPUTF8; use an ASCII address")
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        raise ValueError(f"{value!r} has a domain that is not a valid host name") from None
    return f"{local}@{ascii_domain}"


# a name of a deployment, team, source or receiver
Name = Annotated[str, AfterValidator(_name)]
Namespace = Annotated[
    str, AfterValidator(_dns_label("a Kubernetes namespace (a DNS-1123 label)", max_length=63))
]
HelmRelease = Annotated[str, AfterValidator(_dns_label("a Helm release name", max_length=53))]
# an agent image tag, kept as text (a static release's image_tags)
ImageTagText = Annotated[str, AfterValidator(_image_tag)]
EmailAddress = Annotated[str, AfterValidator(_email_address)]
