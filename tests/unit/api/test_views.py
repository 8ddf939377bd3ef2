"""What the account endpoints answer, assembled from a view, its history and the catalog."""

from services.api import catalog, views
from tests.unit.api.accounts import account_after, page
from tests.unit.core.scenario import CATALOG, bought, day, granted, renewed, reserved, used


def test_details_show_the_plan_its_renewal_date_and_credits_by_kind():
    view, events = account_after(renewed("solo"), bought("small"), used("article_generation"))

    d = views.details(view, page(events, view.version), CATALOG)

    assert (d.plan.name, d.plan.credits_per_cycle, d.plan.billing_interval) == (
        "Solo",
        980,
        "monthly",
    )
    assert d.renewal_date == day(30) == d.subscription_expires_at
    assert (d.balance.subscription, d.balance.purchased, d.balance.total) == (930, 1000, 1930)


def test_lots_are_listed_in_drawdown_order_soonest_expiring_first_then_never_expiring_oldest():
    view, events = account_after(
        bought("small", at=0), granted(100, expires=10), renewed("solo", at=0.5), bought("medium")
    )

    d = views.details(view, page(events, view.version), CATALOG)

    assert [(lot.kind, lot.remaining) for lot in d.lots] == [
        ("granted", 100),
        ("subscription", 980),
        ("purchased", 1000),
        ("purchased", 5000),
    ]


def test_spent_lots_are_not_listed_and_open_holds_are():
    view, events = account_after(
        renewed("solo"), used("content_analysis", units=98), bought("small"), reserved(units=1)
    )

    d = views.details(view, page(events, view.version), CATALOG)

    assert [(lot.kind, lot.remaining) for lot in d.lots] == [("purchased", 950)]
    assert [(h.hold_id, h.credits) for h in d.holds] == [("hold-1", 50)]
    assert d.balance.held == 50


def test_recent_activity_is_newest_first_and_never_ahead_of_the_balance_it_explains():
    view, _ = account_after(renewed("solo"), used(), used())
    _, ahead = account_after(renewed("solo"), used(), used(), used())  # the stream moved on

    d = views.details(view, page(ahead, view.version, limit=2), CATALOG)

    assert [(e.version, e.total) for e in d.recent] == [(3, 880), (2, 930)]
    assert d.version == 3


def test_an_account_without_a_plan_has_no_plan_and_no_renewal_date():
    view, events = account_after(bought("small"))

    d = views.details(view, page(events, view.version), CATALOG)

    assert d.plan is None and d.renewal_date is None and d.subscription_expires_at is None


def test_history_pages_count_from_the_newest_event_and_carry_the_running_balance():
    view, events = account_after(renewed("solo"), bought("small"), used(), used())

    first = views.history_page(view, page(events, 4, offset=0, limit=3), offset=0, limit=3)
    rest = views.history_page(view, page(events, 4, offset=3, limit=3), offset=3, limit=3)
    beyond = views.history_page(view, page(events, 4, offset=9, limit=3), offset=9, limit=3)

    assert [(e.version, e.total) for e in first.entries] == [(4, 1880), (3, 1930), (2, 1980)]
    assert [(e.version, e.event, e.total) for e in rest.entries] == [(1, "CycleStarted", 980)]
    assert beyond.entries == [] and beyond.total == first.total == 4


def test_the_catalog_lists_tools_cheapest_first_and_packages_smallest_first():
    tools = catalog.tools(CATALOG)
    packages = catalog.packages(CATALOG)
    plans = catalog.plans(CATALOG)

    assert [(t.tool, t.credits) for t in tools.tools][:2] == [
        ("keyword_suggestions", 1),
        ("meta_description", 2),
    ]
    assert tools.tools[-1].tool == "article_generation"
    assert [(p.package, p.credits, p.price_cents) for p in packages.packages] == [
        ("small", 1000, 5000),
        ("medium", 5000, 25000),
        ("large", 10000, 50000),
    ]
    assert [p.plan for p in plans.plans] == ["solo", "business", "agency"]
    assert tools.version == packages.version == plans.version == CATALOG.version
