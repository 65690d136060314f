"""Log output: text for people, one JSON object a line for collectors."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from supportwatch.config import Settings
from supportwatch.logs import configure


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_json_is_one_object_a_line_with_the_events_fields() -> None:
    out = io.StringIO()
    configure("json", "info", out)
    log = logging.getLogger("supportwatch.scheduler")
    log.info("poll %s: %d new", "chart-index", 3, extra={"source": "chart-index", "job": "poll:chart-index"})
    log.debug("not shown at info")
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("job failed", extra={"receiver": "platform", "dedup_key": "floating_tag:prod:3.1-9"})
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first["message"] == "poll chart-index: 3 new"
    assert (first["level"], first["logger"]) == ("info", "supportwatch.scheduler")
    assert (first["source"], first["job"]) == ("chart-index", "poll:chart-index")
    assert first["time"].endswith("+00:00")
    assert "receiver" not in first  # only the fields the call gave
    assert (second["receiver"], second["dedup_key"]) == ("platform", "floating_tag:prod:3.1-9")
    assert "ValueError: boom" in second["exception"]


def test_text_is_a_line_for_people_and_noisy_libraries_stay_quiet() -> None:
    out = io.StringIO()
    configure("text", "debug", out)
    logging.getLogger("supportwatch.web").debug("shown at debug")
    logging.getLogger("httpx").info("GET https://user:secret@example.invalid/")
    text = out.getvalue()
    assert "DEBUG supportwatch.web: shown at debug" in text
    assert "secret" not in text


def test_the_settings_name_the_choices() -> None:
    assert Settings().log.format == "text" and Settings().log.level == "info"
    assert Settings.model_validate({"log": {"format": "json", "level": "warning"}}).log.format == "json"
    with pytest.raises(ValueError, match="text"):
        Settings.model_validate({"log": {"format": "xml"}})
