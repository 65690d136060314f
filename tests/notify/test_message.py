from __future__ import annotations

import json
import re
from datetime import date
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from supportwatch.notify.base import redact
from supportwatch.notify.message import Message, Notice, escape_slack
from supportwatch.notify.slack_blocks import (
    SLACK_MAX_BLOCKS,
    SLACK_SECTION_CHARS,
    SLACK_TEXT_CHARS,
    slack_chunks,
    slack_payload,
)

_ENTITY = re.compile(r"&(amp|lt|gt);")


def notice(text: str = "x", **changes: Any) -> Notice:
    values: dict[str, Any] = {
        "status": "firing",
        "kind": "maintenance_ending",
        "severity": "warning",
        "deployment": text,
        "team": "t",
        "summary": f"{text} runs agent 1.3.0; leaves maintenance soon",
        "remedy": f"Use {text}:3.2-2-python-3.12-astro-agent-1.6.0",
        "dedup_key": f"maintenance_ending:{text}:agent-1.3:rung-30",
        "end_of_maintenance": date(2026, 7, 28),
        "days_left": 30,
    }
    values.update(changes)
    return Notice(**values)


def strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in strings(item)]
    return []


@given(st.text(max_size=400))
def test_any_text_is_escaped_in_the_slack_payload(text: str) -> None:
    payload = slack_payload(Message("team", notices=(notice(text), notice(text, status="resolved"))))
    for value in strings(payload):
        bare = _ENTITY.sub("", value)
        assert "<" not in bare
        assert ">" not in bare
        assert "&" not in bare


def test_mentions_and_links_cannot_be_forged() -> None:
    evil = "<!channel> <https://evil.example|click> & more"
    payload = json.dumps(slack_payload(Message("team", notices=(notice(evil),))))
    assert "<!channel>" not in payload
    assert "<https://" not in payload
    assert escape_slack(evil) == "&lt;!channel&gt; &lt;https://evil.example|click&gt; &amp; more"


def test_long_text_is_clipped_without_breaking_an_escape() -> None:
    payload = slack_payload(Message("team", notices=(notice("&" * 5000),)))
    for value in strings(payload):
        assert "&" not in _ENTITY.sub("", value)
    assert all(len(block["text"]["text"]) <= SLACK_SECTION_CHARS for block in payload["blocks"])


def test_many_notices_split_within_slack_limits() -> None:
    notices = [notice(f"deployment-{index:03d}") for index in range(300)]
    chunks = slack_chunks(notices)
    assert [n for chunk in chunks for n in chunk] == notices
    assert len(chunks) < 60
    for chunk in chunks:
        payload = slack_payload(Message("team", notices=chunk))
        assert len(payload["blocks"]) <= SLACK_MAX_BLOCKS
        assert len(payload["text"]) <= SLACK_TEXT_CHARS


def test_notice_says_what_when_and_the_exact_fix() -> None:
    text = json.dumps(slack_payload(Message("team", notices=(notice("prod-east"),))))
    assert "prod-east" in text
    assert "2026-07-28 (in 30 days)" in text
    assert "3.2-2-python-3.12-astro-agent-1.6.0" in text


def test_payload_round_trip() -> None:
    value = notice("a", repeat=2)
    assert Notice.from_payload(json.loads(json.dumps(value.to_payload()))) == value


def test_a_webhook_path_is_redacted_even_without_its_host() -> None:
    url = "https://hooks.slack.com/services/T000/B000/XXXXSECRET"
    text = redact(f"POST {url} failed; proxy said: no route for /services/T000/B000/XXXXSECRET", [url])
    assert "XXXXSECRET" not in text
    assert "/services/T000/B000" not in text
    assert redact("bot token xoxb-1 refused", ["xoxb-1"]) == "bot token *** refused"
