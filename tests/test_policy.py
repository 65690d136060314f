from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from supportwatch.policy import (
    MaintenancePolicy,
    add_months,
    is_unmaintained,
    minor_windows,
    reminder_rung,
)
from supportwatch.versions import AgentVersion

POLICY = MaintenancePolicy(id="p1", wording="six months from .0")


def v(text: str) -> AgentVersion:
    return AgentVersion.parse(text)


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2025, 8, 31), 6, date(2026, 2, 28)),
        (date(2026, 8, 31), 6, date(2027, 2, 28)),
        (date(2027, 8, 31), 6, date(2028, 2, 29)),  # leap year
        (date(2026, 4, 16), 6, date(2026, 10, 16)),
        (date(2026, 7, 31), 6, date(2027, 1, 31)),
        (date(2026, 3, 31), 6, date(2026, 9, 30)),
        (date(2023, 8, 29), 6, date(2024, 2, 29)),
        (date(2024, 2, 29), 12, date(2025, 2, 28)),
        (date(2026, 12, 15), 1, date(2027, 1, 15)),
    ],
)
def test_add_months_clamps_to_month_end(start: date, months: int, expected: date) -> None:
    assert add_months(start, months) == expected


def test_add_months_past_the_calendar_saturates() -> None:
    assert add_months(date(9999, 8, 1), 6) == date.max


def test_window_anchors_on_dot_zero() -> None:
    windows = minor_windows(
        [(v("1.3.1"), date(2026, 1, 28)), (v("1.3.0"), date(2026, 1, 10)), (v("1.6.0"), date(2026, 4, 16))],
        POLICY,
    )
    w13 = windows[(1, 3)]
    assert w13.released_on == date(2026, 1, 10)
    assert w13.end_of_maintenance == date(2026, 7, 10)
    assert not w13.estimated
    assert w13.policy_id == "p1"


def test_dot_zero_wins_even_if_a_patch_has_an_earlier_date() -> None:
    # a source's wrong date on a patch must not move the anchor away from the .0 release
    windows = minor_windows([(v("1.3.1"), date(2025, 12, 1)), (v("1.3.0"), date(2026, 1, 10))], POLICY)
    assert windows[(1, 3)].released_on == date(2026, 1, 10)


def test_window_estimated_from_earliest_patch_when_dot_zero_unknown() -> None:
    windows = minor_windows([(v("1.3.2"), date(2026, 2, 20)), (v("1.3.1"), date(2026, 1, 28))], POLICY)
    window = windows[(1, 3)]
    assert window.estimated
    assert window.released_on == date(2026, 1, 28)
    assert window.end_of_maintenance == date(2026, 7, 28)


def test_prereleases_do_not_anchor_windows() -> None:
    windows = minor_windows([(v("1.8.0-rc.1"), date(2026, 6, 1)), (v("1.8.0"), date(2026, 6, 20))], POLICY)
    assert windows[(1, 8)].released_on == date(2026, 6, 20)


def test_maintained_days_are_half_open() -> None:
    window = minor_windows([(v("1.6.0"), date(2026, 4, 16))], POLICY)[(1, 6)]
    assert window.maintained_on(date(2026, 4, 16))
    assert window.maintained_on(date(2026, 10, 15))
    assert not window.maintained_on(date(2026, 10, 16))
    assert not window.maintained_on(date(2026, 4, 15))
    assert window.days_left(date(2026, 10, 15)) == 1
    assert window.days_left(date(2026, 10, 16)) == 0


def test_latest_minor_rule() -> None:
    window = minor_windows([(v("1.6.0"), date(2026, 4, 16))], POLICY)[(1, 6)]
    late = date(2027, 1, 1)
    assert not is_unmaintained(window, newest_minor=True, policy=POLICY, day=late)
    assert is_unmaintained(window, newest_minor=False, policy=POLICY, day=late)
    strict = MaintenancePolicy(id="p2", wording="", latest_minor_supported=False)
    assert is_unmaintained(window, newest_minor=True, policy=strict, day=late)
    assert not is_unmaintained(window, newest_minor=False, policy=POLICY, day=date(2026, 10, 15))


@pytest.mark.parametrize(
    ("days_left", "rung"),
    [
        (90, None),
        (61, None),
        (60, 60),
        (59, 60),
        (31, 60),
        (30, 30),
        (15, 30),
        (14, 14),
        (8, 14),
        (7, 7),
        (2, 7),
        (1, 1),
        (0, None),
        (-3, None),
    ],
)
def test_reminder_rung_is_smallest_rung_at_or_above_days_left(days_left: int, rung: int | None) -> None:
    assert reminder_rung(days_left, (60, 30, 14, 7, 1)) == rung


@given(
    st.dates(min_value=date(2000, 1, 1), max_value=date(2200, 12, 31)),
    st.integers(min_value=0, max_value=240),
)
def test_add_months_properties(start: date, months: int) -> None:
    end = add_months(start, months)
    assert (end.year * 12 + end.month) - (start.year * 12 + start.month) == months
    assert end.day <= start.day
    if end.day < start.day:  # clamped: only ever to the last day of a shorter month
        assert (end + timedelta(days=1)).day == 1


@given(
    st.lists(
        st.tuples(
            st.integers(0, 3),
            st.integers(0, 3),
            st.integers(0, 5),
            st.dates(date(2024, 1, 1), date(2027, 1, 1)),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_every_window_lasts_the_policy_months_from_its_anchor(
    items: list[tuple[int, int, int, date]],
) -> None:
    windows = minor_windows([(AgentVersion(a, b, c), day) for a, b, c, day in items], POLICY)
    for key, window in windows.items():
        patches = [(c, day) for a, b, c, day in items if (a, b) == key]
        assert window.end_of_maintenance == add_months(window.released_on, 6)
        assert window.estimated == all(c != 0 for c, _ in patches)
        if window.estimated:
            assert window.released_on == min(day for _, day in patches)
        else:
            assert window.released_on == min(day for c, day in patches if c == 0)
