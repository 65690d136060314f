"""Reading config files: YAML (PyYAML's C loader) or JSON, within limits.

Duplicate keys, YAML anchors, aliases and merge keys, non-scalar keys and nesting deeper than
``MAX_NESTING`` are refused; only regular files of at most ``MAX_CONFIG_BYTES`` are read. Every
problem is a ``ConfigError`` naming the line or the file and what to write instead.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Hashable
from pathlib import Path
from typing import Any

import yaml

from supportwatch.errors import ConfigError

MAX_CONFIG_BYTES = 64 * 1024 * 1024
MAX_SECRET_BYTES = 64 * 1024
MAX_NESTING = 64
_NO_ALIASES = "YAML anchors and aliases are not supported in the config; write the values out"
_MERGE_TAG = "tag:yaml.org,2002:merge"


def _too_deep(where: str) -> ConfigError:
    return ConfigError(
        where,
        f"nested deeper than {MAX_NESTING} levels; the config needs only a few levels of mappings and lists",
    )


class _UniqueKeyLoader(yaml.CSafeLoader):
    """The C safe loader, refusing duplicate mapping keys (the last would silently win).

    Before anything is constructed, the node tree is checked: no aliases (a node reached twice:
    "billion laughs" grows without bound), no merge keys, no list or mapping as a key, and no
    deeper than ``MAX_NESTING``. A scalar that does not construct (year 0, an int of 5000
    digits) is a ConfigError naming its line.
    """

    def construct_document(self, node: yaml.Node) -> Any:
        _check_nodes(node)
        return super().construct_document(node)

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, OverflowError) as exc:
            kind = node.tag.rsplit(":", 1)[-1]
            expected = (
                "a date YYYY-MM-DD with a year from 1 to 9999" if kind == "timestamp" else "a valid value"
            )
            reason = str(exc)
            if isinstance(node.value, str) and node.value and node.value in reason:
                reason = f"not a valid {kind}"  # the value may be a secret: it is never shown
            raise ConfigError(
                f"line {node.start_mark.line + 1}",
                f"cannot read this {'date' if kind == 'timestamp' else kind} ({reason}); write {expected}, "
                "or quote it to keep it as text",
            ) from None


def _check_nodes(root: yaml.Node) -> None:
    """Refuse aliases, merge keys, unhashable keys and deep nesting, without recursion."""
    seen: set[int] = set()
    stack: list[tuple[yaml.Node, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        line = f"line {node.start_mark.line + 1}"
        if id(node) in seen:
            raise ConfigError(line, _NO_ALIASES)
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode | yaml.SequenceNode) and depth > MAX_NESTING:
            raise _too_deep(line)
        if isinstance(node, yaml.SequenceNode):
            stack.extend((item, depth + 1) for item in node.value)
        elif isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if key_node.tag == _MERGE_TAG:
                    raise ConfigError(
                        f"line {key_node.start_mark.line + 1}",
                        f"{_NO_ALIASES} (merge keys '<<' are refused too)",
                    )
                if not isinstance(key_node, yaml.ScalarNode):
                    raise ConfigError(
                        f"line {key_node.start_mark.line + 1}",
                        "a mapping key must be a plain value (a name or a number), not a list or mapping",
                    )
                stack.append((key_node, depth + 1))
                stack.append((value_node, depth + 1))


def _refuse_anchors(text: str) -> None:
    """Refuse any anchor or alias: a cheap scan of the parser's events when '&' or '*' occur."""
    if "&" not in text and "*" not in text:
        return
    for event in yaml.parse(text, Loader=yaml.CSafeLoader):
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            mark = event.start_mark
            raise ConfigError(f"line {mark.line + 1}" if mark is not None else "", _NO_ALIASES)


def _check_depth(data: Any) -> None:
    """Refuse loaded data (from JSON) nested deeper than ``MAX_NESTING``, without recursion."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > MAX_NESTING:
                raise _too_deep("")
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if not isinstance(key, Hashable):
            mark = key_node.start_mark
            raise ConfigError(
                f"line {mark.line + 1}",
                "a mapping key must be a plain value (a name or a number), not a list or mapping",
            )
        if key in seen:
            mark = key_node.start_mark
            raise ConfigError(f"line {mark.line + 1}", f"duplicate key {key!r}; each key may appear once")
        seen.add(key)
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ConfigError("", f"duplicate key {key!r}; each key may appear once")
        result[key] = value
    return result


def read_regular_file(path: Path, limit: int, what: str, shown: str | None = None) -> bytes:
    """The bytes of ``path``, a regular file of at most ``limit`` bytes; messages call it ``shown``.

    Checked with ``os.stat`` before opening: a FIFO would block the open, and /dev/zero never ends.
    """
    what = f"{what} {(shown if shown is not None else str(path))!r}"
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise ConfigError("", f"{what} does not exist") from None
    except (OSError, ValueError) as exc:
        raise ConfigError("", f"{what} cannot be read ({reason(exc)})") from None
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(
            "", f"{what} is not a regular file (a device, FIFO or directory); name a plain file"
        )
    if info.st_size > limit:
        raise ConfigError("", f"{what} is {info.st_size} bytes; the limit is {_size(limit)}")
    try:
        with path.open("rb") as handle:
            # read what stat saw (a buffer of `limit` bytes for every file would be wasteful), and
            # what a file growing meanwhile added, up to the limit
            data = handle.read(info.st_size + 1)
            if len(data) > info.st_size:
                data += handle.read(limit + 1 - len(data))
    except OSError as exc:
        raise ConfigError("", f"{what} cannot be read ({reason(exc)})") from None
    if len(data) > limit:
        raise ConfigError("", f"{what} is larger than the limit of {_size(limit)}")
    return data


def decode(data: bytes) -> str:
    """UTF-8 text with universal newlines (as ``Path.read_text`` gives); UnicodeDecodeError if not."""
    text = data.decode("utf-8")
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def reason(exc: BaseException) -> str:
    return (exc.strerror if isinstance(exc, OSError) else None) or str(exc)


def _size(limit: int) -> str:
    return f"{limit // (1024 * 1024)} MiB" if limit >= 1024 * 1024 else f"{limit // 1024} KiB"


def read_yaml(path: Path) -> Any:
    try:
        data = read_regular_file(path, MAX_CONFIG_BYTES, "config file")
    except ConfigError as exc:
        if "does not exist" in exc.message:
            raise ConfigError("", f"{exc.message}; pass --config PATH") from None
        raise
    try:
        text = decode(data)
    except UnicodeDecodeError as exc:
        raise ConfigError(
            "", f"config file {str(path)!r} is not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from None
    if text.lstrip()[:1] in ("{", "["):
        # YAML is a superset of JSON; generated fleet files parse ten times faster as JSON
        try:
            loaded = json.loads(text, object_pairs_hook=_unique_pairs)
        except RecursionError:
            raise _too_deep("") from None
        except json.JSONDecodeError as exc:
            if path.suffix.lower() == ".json":  # meant as JSON: its parser says where, in one line
                raise ConfigError(
                    "", f"{str(path)!r} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
                ) from None
        except ValueError as exc:  # e.g. an integer of more than 4300 digits
            raise ConfigError("", f"{str(path)!r} cannot be read as JSON: {exc}") from None
        else:
            _check_depth(loaded)
            return loaded
    try:
        _refuse_anchors(text)
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a safe loader subclass
    except yaml.YAMLError as exc:
        raise ConfigError("", f"{str(path)!r} is not valid YAML: {_yaml_problem(exc)}") from None
    except RecursionError:
        raise _too_deep("") from None


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """PyYAML's error in one line: the problem, where (1-based), and what it was parsing."""
    if not isinstance(exc, yaml.MarkedYAMLError) or exc.problem is None:
        return " ".join(str(exc).split())
    mark = exc.problem_mark
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    context = f" ({exc.context})" if exc.context else ""
    return f"{exc.problem}{where}{context}"


def read_mapping(file: Path) -> dict[str, Any]:
    raw = read_yaml(file)
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError("", f"{str(file)!r} must hold a mapping of config keys at the top level")
    return raw
