"""Agent, chart and Runtime versions and agent image references — pure parsing and ordering.

Formats (from the vendor's agent image reference):

- agent / chart versions are semver: ``1.3.1``, ``2.0.0-rc.1`` (a leading ``v`` is accepted);
- Runtime versions are ``<airflow major>.<airflow minor>-<build>``: ``3.1-9`` < ``3.1-10``;
- image tags come in six formats::

      <runtime>-python-<py>-astro-agent-<x.y.z>        fixed (recommended)
      <runtime>-python-<py>-astro-agent-<x.y.z>-base   fixed, base image
      <runtime>                                        floating
      <runtime>-python-<py>                            floating
      <runtime>-base                                   floating, base image
      <runtime>-python-<py>-base                       floating, base image

The base flavour is always written ``-base`` in lower case: ``-BASE`` is refused, never read as a
semver pre-release called ``BASE``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache, total_ordering

from supportwatch.errors import VersionError

_SEMVER = re.compile(
    r"v?(?P<major>0|[1-9]\d*)\.(?P<minor>0|[1-9]\d*)\.(?P<patch>0|[1-9]\d*)"
    r"(?:-(?P<pre>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
    r"(?:\+(?P<build>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
)
_RUNTIME = re.compile(r"(?P<major>[1-9]\d*|0)\.(?P<minor>\d+)-(?P<build>[1-9]\d*|0)")
_PYTHON = re.compile(r"(?P<major>[1-9]\d*|0)\.(?P<minor>\d+)")
_TAG = re.compile(
    r"(?P<runtime>\d+\.\d+-\d+)"
    r"(?:-python-(?P<python>\d+\.\d+))?"
    r"(?:-astro-agent-(?P<agent>\d+\.\d+\.\d+(?:-(?!base$)[0-9A-Za-z.-]+?)?))?"
    r"(?P<base>-base)?"
)
# a "-base" segment in any case: only the lower-case flavour suffix is a valid spelling
_BASE_SEGMENT = re.compile(r"-base(?=$|[-.])", re.IGNORECASE)

TAG_FORMATS = (
    "<runtime>-python-<py>-astro-agent-<x.y.z>",
    "<runtime>-python-<py>-astro-agent-<x.y.z>-base",
    "<runtime>",
    "<runtime>-python-<py>",
    "<runtime>-base",
    "<runtime>-python-<py>-base",
)
_FORMATS_HINT = "expected one of: " + ", ".join(TAG_FORMATS) + " (e.g. 3.1-9-python-3.12-astro-agent-1.3.1)"


def _pre_key(pre: tuple[str, ...]) -> tuple[tuple[int, int | str], ...]:
    if not pre:
        return ()
    # semver §11: numeric identifiers sort numerically and before alphanumeric ones
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in pre)


@dataclass(frozen=True, slots=True, order=False)
class AgentVersion:
    """A semver version of the agent or the Helm chart; ordered by semver precedence."""

    major: int
    minor: int
    patch: int
    prerelease: tuple[str, ...] = ()
    # precomputed: comparisons run millions of times when a fleet is evaluated
    _sort: tuple[int, int, int, int, tuple[tuple[int, int | str], ...]] = field(
        init=False, repr=False, compare=False, hash=False
    )

    _hash: int = field(init=False, repr=False, compare=False, hash=False)
    _text: str = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        # a release sorts after all of its pre-releases
        key = (self.major, self.minor, self.patch, 0 if self.prerelease else 1, _pre_key(self.prerelease))
        object.__setattr__(self, "_sort", key)
        object.__setattr__(self, "_hash", hash(key))
        base = f"{self.major}.{self.minor}.{self.patch}"
        object.__setattr__(self, "_text", f"{base}-{'.'.join(self.prerelease)}" if self.prerelease else base)

    def __hash__(self) -> int:
        # versions key every memo of a fleet's evaluation: hash once, not per lookup
        return self._hash

    @classmethod
    def parse(cls, text: str) -> AgentVersion:
        """Parse ``1.3.1``, ``v2.0.0`` or ``1.8.0-rc.1``; raise VersionError otherwise."""
        # a fleet repeats the same few hundred strings thousands of times: parse each once
        return _cached_agentversion(text) if isinstance(text, str) else cls._parse(text)

    @classmethod
    def _parse(cls, text: str) -> AgentVersion:
        match = _SEMVER.fullmatch(text.strip()) if isinstance(text, str) else None
        if match is None:
            raise VersionError(f"{text!r} is not a semver version; expected MAJOR.MINOR.PATCH such as 1.3.1")
        pre = match["pre"]
        return cls(
            int(match["major"]),
            int(match["minor"]),
            int(match["patch"]),
            tuple(pre.split(".")) if pre else (),
        )

    @property
    def is_prerelease(self) -> bool:
        return bool(self.prerelease)

    @property
    def minor_key(self) -> tuple[int, int]:
        """The (major, minor) pair that a maintenance window belongs to."""
        return (self.major, self.minor)

    def __lt__(self, other: AgentVersion) -> bool:
        return self._sort < other._sort

    def __le__(self, other: AgentVersion) -> bool:
        return self._sort <= other._sort

    def __gt__(self, other: AgentVersion) -> bool:
        return self._sort > other._sort

    def __ge__(self, other: AgentVersion) -> bool:
        return self._sort >= other._sort

    def __str__(self) -> str:
        return self._text


def minor_label(key: tuple[int, int]) -> str:
    """``(1, 3)`` -> ``"1.3"``."""
    return f"{key[0]}.{key[1]}"


@dataclass(frozen=True, slots=True)
class RuntimeVersion:
    """An Astro Runtime version ``3.1-9``: Airflow 3.1, build 9; ordered numerically."""

    airflow_major: int
    airflow_minor: int
    build: int

    @classmethod
    def parse(cls, text: str) -> RuntimeVersion:
        """Parse ``3.1-9``; raise VersionError otherwise."""
        # a fleet repeats the same few hundred strings thousands of times: parse each once
        return _cached_runtimeversion(text) if isinstance(text, str) else cls._parse(text)

    @classmethod
    def _parse(cls, text: str) -> RuntimeVersion:
        match = _RUNTIME.fullmatch(text.strip()) if isinstance(text, str) else None
        if match is None:
            raise VersionError(
                f"{text!r} is not an Astro Runtime version; "
                "expected <airflow major.minor>-<build> such as 3.1-9"
            )
        return cls(int(match["major"]), int(match["minor"]), int(match["build"]))

    def _key(self) -> tuple[int, int, int]:
        return (self.airflow_major, self.airflow_minor, self.build)

    def __lt__(self, other: RuntimeVersion) -> bool:
        return self._key() < other._key()

    def __le__(self, other: RuntimeVersion) -> bool:
        return self._key() <= other._key()

    def __gt__(self, other: RuntimeVersion) -> bool:
        return self._key() > other._key()

    def __ge__(self, other: RuntimeVersion) -> bool:
        return self._key() >= other._key()

    def __str__(self) -> str:
        return f"{self.airflow_major}.{self.airflow_minor}-{self.build}"


@total_ordering
@dataclass(frozen=True, slots=True)
class PythonVersion:
    """A Python ``major.minor`` as written in image tags; ordered numerically (3.9 < 3.14)."""

    major: int
    minor: int

    @classmethod
    def parse(cls, text: str) -> PythonVersion:
        match = _PYTHON.fullmatch(text.strip())
        if match is None:
            raise VersionError(f"{text!r} is not a Python version; expected MAJOR.MINOR such as 3.12")
        return cls(int(match["major"]), int(match["minor"]))

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, PythonVersion):
            return NotImplemented
        return (self.major, self.minor) < (other.major, other.minor)

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"


@dataclass(frozen=True, slots=True)
class ImageTag:
    """An agent image tag classified into one of the vendor's six formats."""

    runtime: RuntimeVersion
    python: PythonVersion | None
    agent: AgentVersion | None
    base: bool
    _hash: int = field(init=False, repr=False, compare=False, hash=False)

    _text: str = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_hash", hash((self.runtime, self.python, self.agent, self.base)))
        text = str(self.runtime)
        if self.python is not None:
            text += f"-python-{self.python}"
        if self.agent is not None:
            text += f"-astro-agent-{self.agent}"
        object.__setattr__(self, "_text", text + ("-base" if self.base else ""))

    def __hash__(self) -> int:
        # tags key the target and plan memos: hash once, not per lookup
        return self._hash

    @property
    def fixed(self) -> bool:
        """Fixed tags name the agent version; floating ones move when the vendor republishes."""
        return self.agent is not None

    @classmethod
    def parse(cls, text: str) -> ImageTag:
        """Parse a tag such as ``3.1-9-python-3.12-astro-agent-1.3.1``; raise VersionError otherwise."""
        # a fleet repeats the same few hundred strings thousands of times: parse each once
        return _cached_imagetag(text) if isinstance(text, str) else cls._parse(text)

    @classmethod
    def _parse(cls, text: str) -> ImageTag:
        if isinstance(text, str):
            _refuse_miscased_base(text.strip())
        match = _TAG.fullmatch(text.strip()) if isinstance(text, str) else None
        if match is None or (match["agent"] and not match["python"]):
            raise VersionError(f"image tag {text!r} is not an agent image tag; {_FORMATS_HINT}")
        return cls(
            runtime=RuntimeVersion.parse(match["runtime"]),
            python=PythonVersion.parse(match["python"]) if match["python"] else None,
            agent=AgentVersion.parse(match["agent"]) if match["agent"] else None,
            base=match["base"] is not None,
        )

    def __str__(self) -> str:
        return self._text


def _refuse_miscased_base(tag: str) -> None:
    """Refuse ``-BASE``/``-Base``: it would otherwise parse as a semver pre-release ``BASE``."""
    miscased = [found[0] for found in _BASE_SEGMENT.finditer(tag) if found[0] != "-base"]
    if not miscased:
        return
    raise VersionError(
        f"image tag {tag!r} writes the base flavour as {miscased[0]!r}; the flavour suffix is "
        f"written -base in lower case, as in {_lower_base(tag)!r}"
    )


def _lower_base(tag: str) -> str:
    """``tag`` with its flavour suffix in lower case if that makes a base tag, else an example."""
    fixed = _BASE_SEGMENT.sub("-base", tag)
    try:
        is_base = ImageTag._parse(fixed).base
    except VersionError:
        is_base = False
    return fixed if is_base else "3.1-9-python-3.12-astro-agent-1.3.1-base"


_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_SPACE = re.compile(r"\s")


@dataclass(frozen=True, slots=True)
class ImageRef:
    """A full image reference ``registry/repository:tag[@sha256:...]``."""

    repository: str
    tag: ImageTag | None
    digest: str | None

    @classmethod
    def parse(cls, text: str) -> ImageRef:
        """Parse an image reference; the tag, if any, must be an agent image tag."""
        # a fleet repeats the same few hundred strings thousands of times: parse each once
        return _cached_imageref(text) if isinstance(text, str) else cls._parse(text)

    @classmethod
    def _parse(cls, text: str) -> ImageRef:
        if not isinstance(text, str) or not text.strip() or _SPACE.search(text.strip()):
            raise VersionError(
                f"image {text!r} is not an image reference; expected "
                "registry/repository:<tag>[@sha256:<digest>], tag " + _FORMATS_HINT
            )
        rest, _, digest = text.strip().partition("@")
        if digest and not _DIGEST.fullmatch(digest):
            raise VersionError(f"image {text!r} has digest {digest!r}; expected sha256: and 64 hex digits")
        slash = rest.rfind("/")
        colon = rest.rfind(":")
        repository, tag_text = (rest[:colon], rest[colon + 1 :]) if colon > slash else (rest, "")
        if not repository or repository.endswith("/"):
            raise VersionError(f"image {text!r} has no repository; expected registry/repository:<tag>")
        if not tag_text and not digest:
            raise VersionError(f"image {text!r} has no tag; {_FORMATS_HINT}")
        return cls(repository, ImageTag.parse(tag_text) if tag_text else None, digest or None)

    def __str__(self) -> str:
        text = self.repository
        if self.tag is not None:
            text += f":{self.tag}"
        return text + (f"@{self.digest}" if self.digest else "")


@lru_cache(maxsize=16384)
def _cached_agentversion(text: str) -> AgentVersion:
    return AgentVersion._parse(text)


@lru_cache(maxsize=16384)
def _cached_runtimeversion(text: str) -> RuntimeVersion:
    return RuntimeVersion._parse(text)


@lru_cache(maxsize=16384)
def _cached_imagetag(text: str) -> ImageTag:
    return ImageTag._parse(text)


@lru_cache(maxsize=16384)
def _cached_imageref(text: str) -> ImageRef:
    return ImageRef._parse(text)
