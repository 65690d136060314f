from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import Engine

from supportwatch.models import Release
from supportwatch.store import Store

T0 = datetime(2026, 11, 1, 12, tzinfo=UTC)
T1 = datetime(2026, 11, 2, 12, tzinfo=UTC)


def test_record_then_read_back_with_provenance(engine: Engine) -> None:
    store = Store(engine)
    result = store.record(
        "pinned",
        None,
        [Release("agent", "1.6.0", date(2026, 4, 16), image_tags=("3.2-2-python-3.12-astro-agent-1.6.0",))],
        seen_at=T0,
    )
    assert result.new == (("agent", "1.6.0"),)
    [release] = store.releases()
    assert release.released_on == date(2026, 4, 16)
    assert release.sources == ("pinned",)
    assert release.image_tags == ("3.2-2-python-3.12-astro-agent-1.6.0",)
    [obs] = store.observations("agent", "1.6.0")
    assert obs.seen_at == T0 and obs.seen_at.tzinfo is not None
