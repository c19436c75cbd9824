from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from dashboard.periods import DateRange, period_from_params
from tests.dashboard import TODAY


@pytest.fixture(autouse=True)
def thirty_day_retention(settings: Any) -> None:
    settings.RETENTION_DAYS = 30


def test_default_is_the_last_thirty_days() -> None:
    period = period_from_params({}, today=TODAY)
    assert (period.current.start, period.current.end) == (TODAY - timedelta(days=29), TODAY)
    assert period.preset == 30
    assert period.params == {"days": "30"}
    assert not period.notice


@pytest.mark.parametrize("days", [7, 14, 30])
def test_presets(days: int) -> None:
    period = period_from_params({"days": str(days)}, today=TODAY)
    assert period.current.days == days
    assert period.label == f"Last {days} days"


def test_previous_period_is_the_same_length_just_before() -> None:
    period = period_from_params({"days": "7"}, today=TODAY)
    assert period.previous == DateRange(TODAY - timedelta(days=13), TODAY - timedelta(days=7))
    assert period.comparable


def test_thirty_days_cannot_be_compared_with_thirty_days_already_pruned() -> None:
    assert not period_from_params({"days": "30"}, today=TODAY).comparable
    assert period_from_params({"days": "14"}, today=TODAY).comparable


def test_custom_dates() -> None:
    period = period_from_params({"start": "2025-03-10", "end": "2025-03-20"}, today=TODAY)
    assert period.is_custom
    assert (period.current.start, period.current.end) == (date(2025, 3, 10), date(2025, 3, 20))
    assert period.params == {"start": "2025-03-10", "end": "2025-03-20"}
    assert not period.notice


def test_custom_dates_are_kept_inside_the_retention_window() -> None:
    period = period_from_params({"start": "2024-01-01", "end": "2030-01-01"}, today=TODAY)
    assert period.current.start == TODAY - timedelta(days=29)
    assert period.current.end == TODAY
    assert "oldest day kept" in period.notice
    assert "moved to today" in period.notice


@pytest.mark.parametrize("start", ["2030-01-01", "9999-12-31"])
def test_custom_dates_both_in_the_future_show_today(start: str) -> None:
    period = period_from_params({"start": start, "end": "9999-12-31"}, today=TODAY)
    assert (period.current.start, period.current.end) == (TODAY, TODAY)
    assert "the end was moved to today" in period.notice and "the start was moved to today" in period.notice
    assert period.previous == DateRange(TODAY - timedelta(days=1), TODAY - timedelta(days=1))


def test_swapped_custom_dates_are_put_in_order() -> None:
    period = period_from_params({"start": "2025-03-20", "end": "2025-03-10"}, today=TODAY)
    assert (period.current.start, period.current.end) == (date(2025, 3, 10), date(2025, 3, 20))
    assert "swapped" in period.notice


@pytest.mark.parametrize(
    "params",
    [
        {"start": "garbage", "end": "2025-03-10"},
        {"start": "2025-03-10"},
        {"start": "2020-01-01", "end": "2020-01-05"},
    ],
)
def test_unusable_custom_dates_fall_back_to_the_default_with_a_notice(params: dict[str, str]) -> None:
    period = period_from_params(params, today=TODAY)
    assert period.preset == 30
    assert period.notice


def test_unknown_preset_falls_back_to_thirty_days() -> None:
    assert period_from_params({"days": "9"}, today=TODAY).preset == 30


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"days": "90"}, ["last 90 days are not offered", "7, 14 or 30 days"]),
        ({"days": "abc"}, ["number of days “abc” is not a whole number"]),
        ({"days": "-7"}, ["last -7 days are not offered"]),
        ({"start": "garbage", "end": "2025-03-10"}, ["start date “garbage” is not a date"]),
        ({"start": "2025-03-10", "end": "2025-02-30"}, ["end date “2025-02-30” is not a date"]),
        ({"start": "2025-03-10"}, ["end date is missing"]),
        ({"end": "2025-03-10"}, ["start date is missing"]),
        ({"start": "2020-01-01", "end": "2020-01-05"}, ["end before", "oldest day kept"]),
    ],
)
def test_every_fallback_says_what_was_shown_instead(params: dict[str, str], words: list[str]) -> None:
    period = period_from_params(params, today=TODAY)
    assert (period.preset, period.current.days) == (30, 30)
    for word in words:
        assert word in period.notice, period.notice
    assert period.notice.endswith("so the last 30 days are shown instead.")
    assert period.notice[0].isupper()


@pytest.mark.parametrize(
    "params", [{}, {"days": "7"}, {"days": " 14 "}, {"days": ""}, {"start": "", "end": ""}]
)
def test_what_is_shown_as_asked_has_no_notice(params: dict[str, str]) -> None:
    assert not period_from_params(params, today=TODAY).notice


def test_custom_dates_win_over_a_number_of_days_and_say_so() -> None:
    period = period_from_params({"days": "7", "start": "2025-03-10", "end": "2025-03-20"}, today=TODAY)
    assert period.is_custom and period.current.days == 11
    assert "custom dates were used instead of the number of days" in period.notice


def test_a_preset_cut_by_retention_says_so(settings: Any) -> None:
    settings.RETENTION_DAYS = 10
    asked = period_from_params({"days": "30"}, today=TODAY)
    assert asked.current.days == 10
    assert asked.notice == "Only the last 10 days are kept, so the last 10 days are shown instead of 30."
    assert not period_from_params({}, today=TODAY).notice  # nothing asked: the default, cut quietly
    fallback = period_from_params({"days": "90"}, today=TODAY)
    assert fallback.notice.endswith("so the last 10 days are shown instead.")


def test_shorter_retention_shortens_the_presets(settings: Any) -> None:
    settings.RETENTION_DAYS = 10
    period = period_from_params({"days": "30"}, today=TODAY)
    assert period.current.days == 10
