"""A batch of the log becomes rows and messages: one update per account, alerts at command
ends, and the same result however the log is cut into batches."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from projections.alerts import AlertRules
from projections.batch import Entry, project, whole_commands
from tests.unit.core.scenario import bought, renewed, used
from tests.unit.core.test_properties import commands_from, history
from tests.unit.projections.history import Rec, decided

RULES = AlertRules(
    low_balance_credits=300, low_balance_percent=5, expiring_within=timedelta(days=3)
)


def key(item: tuple[str, str]) -> tuple[str, str]:
    return item


def test_a_page_that_is_not_full_ends_with_a_whole_command_and_is_kept_whole():
    page = [("a", "c1"), ("a", "c2"), ("a", "c2")]

    assert whole_commands(page, False, key) == page


def test_a_full_page_leaves_its_last_command_for_the_next_page():
    page = [("a", "c1"), ("b", "c2"), ("a", "c3"), ("a", "c3")]

    assert whole_commands(page, True, key) == page[:2]


def test_a_full_page_of_one_command_is_taken_whole_rather_than_never():
    page = [("a", "c1"), ("a", "c1")]

    assert whole_commands(page, True, key) == page


def test_a_batch_publishes_one_update_per_account_at_its_latest_version():
    commands = [renewed("solo", 0), bought("small", at=1), used(at=2)]
    recorded = [r for _, rs in decided(commands) for r in rs]

    projected = project({}, recorded, RULES)

    [update] = projected.updates
    assert (update.version, update.total) == (3, 1930)


def test_events_already_folded_change_nothing_and_publish_nothing():
    recorded = [r for _, rs in decided([renewed("solo", 0), used(at=1)]) for r in rs]
    before = project({}, recorded, RULES).entries

    again = project(before, recorded, RULES)

    assert again.entries == {} and again.updates == [] and again.alerts == []


def test_an_account_that_was_never_opened_gets_a_row_but_no_update():
    recorded = [r for _, rs in decided([used(at=1)]) for r in rs]  # refused: unknown account

    projected = project({}, recorded, RULES)

    assert list(projected.entries) == ["acct-1"] and projected.updates == []


def test_a_page_of_uses_on_one_day_writes_no_usage_or_month_rows_only_the_accounts_row():
    commands = [renewed("solo", 0), used("image_generation", at=1), used("meta_description", at=1)]
    recorded = [r for _, rs in decided(commands) for r in rs]

    projected = project({}, recorded, RULES)

    assert projected.usage == {} and projected.periods == {}
    books = projected.entries["acct-1"].books
    assert (books.day, dict(books.today)) == (
        "2026-11-02",
        {"image_generation": (1, 40), "meta_description": (1, 2)},
    )


def test_a_day_is_written_whole_once_the_accounts_next_use_comes_on_a_later_day():
    commands = [renewed("solo", 0), used("image_generation", at=1), used("meta_description", at=1)]
    recorded = [r for _, rs in decided([*commands, used("meta_description", at=2)]) for r in rs]
    earlier = project({}, recorded[:-1], RULES)

    later = project(earlier.entries, recorded[-1:], RULES)

    assert {k: dict(tools) for k, tools in later.usage.items()} == {
        ("acct-1", "2026-11-02"): {"image_generation": (1, 40), "meta_description": (1, 2)}
    }
    assert dict(later.entries["acct-1"].books.today) == {"meta_description": (1, 2)}


def test_a_month_is_written_once_the_accounts_next_event_comes_in_a_later_month():
    commands = [renewed("solo", 0), used("keyword_suggestions", at=1), renewed("solo", 30)]
    *before, renewal = [rs for _, rs in decided(commands)]
    earlier = project({}, [r for rs in before for r in rs], RULES)

    later = project(earlier.entries, renewal, RULES)

    november = earlier.entries["acct-1"].books.period
    assert later.periods == {("acct-1", "2026-11"): november}
    assert later.entries["acct-1"].books.period.month == "2026-12"


@settings(max_examples=150, deadline=None)
@given(history, st.data())
def test_the_same_log_gives_the_same_rows_and_alerts_however_it_is_cut_into_batches(steps, data):
    per_command = [rs for _, rs in decided(commands_from(steps)) if rs]
    cuts = data.draw(st.sets(st.integers(1, max(1, len(per_command) - 1))))
    batches: list[list[Rec]] = [[]]
    for n, recorded in enumerate(per_command):
        if n in cuts:
            batches.append([])
        batches[-1] += recorded

    whole = project({}, [r for b in batches for r in b], RULES)
    entries: dict[str, Entry] = {}
    alerts = []
    periods: dict[tuple[str, str], Any] = {}  # the tables, row by row
    usage: dict[tuple[str, str, str], tuple[int, int]] = {}
    for batch in batches:
        projected = project(entries, batch, RULES)
        entries.update(projected.entries)
        alerts += projected.alerts
        periods.update(projected.periods)
        usage.update(rows(projected.usage))

    assert entries == whole.entries
    assert alerts == whole.alerts
    assert (periods, usage) == (whole.periods, dict(rows(whole.usage)))
    assert not any(key in periods for key in latest_months(entries))
    assert not any(key[:2] in latest_days(entries) for key in usage)


def rows(usage: Mapping[tuple[str, str], Mapping[str, tuple[int, int]]]) -> Iterator[Any]:
    for (account_id, day), tools in usage.items():
        for tool, figures in tools.items():
            yield (account_id, day, tool), figures


def latest_months(entries: Mapping[str, Entry]) -> set[tuple[str, str]]:
    return {(a, e.books.period.month) for a, e in entries.items() if e.books.period}


def latest_days(entries: Mapping[str, Entry]) -> set[tuple[str, str]]:
    return {(a, e.books.day) for a, e in entries.items() if e.books.day}
