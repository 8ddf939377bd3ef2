"""An account's state holds what is open, never its history (issue #11): what the rules need to
know of the past is looked up by key, so a command decided long ago is still a repeat."""

from services.ledger import snapshots
from services.ledger.core import Account, handle
from services.ledger.core.past import (
    answered_once,
    bought_anywhere,
    decided,
    hold,
    payment,
    refund_of,
    refunded_part,
    reversal,
)
from tests.unit.core.scenario import (
    CATALOG,
    bought,
    given,
    past_of,
    refunded_package,
    refunded_use,
    released,
    renewed,
    reserved,
    settled,
    spendable,
    then_refused,
    used,
    when,
)


def test_the_state_of_a_long_used_account_is_as_small_as_a_new_ones():
    account = given(renewed("solo", 0), bought("large", at=0))
    young = len(snapshots.dump(account, "head"))

    for n in range(2_000):
        account = when(account, used("keyword_suggestions", at=1 + n / 10_000)).state

    assert account.version == 2_002
    assert (len(account.lots), len(account.holds)) == (2, 0)
    assert len(snapshots.dump(account, "head")) <= young + 16  # the figures grow, not the state


def test_closed_lots_and_holds_leave_the_state():
    account = given(
        renewed("solo", 0),
        bought("small", at=0, payment_ref="p"),
        reserved("h1", at=1, expires=1.5),
        settled("h1", 20, at=1.2),
        refunded_package("p", at=2),
        renewed("solo", 30),
    )

    assert list(account.holds) == []
    assert list(account.lots) == ["cycle:2026-12-01T00:00:00+00:00"]


def test_a_command_decided_long_ago_is_still_answered_as_a_repeat():
    first = used("keyword_suggestions", at=1, command_id="old-use")
    account = given(renewed("solo", 0), first)
    for n in range(300):
        account = when(account, used("keyword_suggestions", at=2 + n / 1000)).state

    again = when(account, first)

    assert again.repeat and again.events == () and again.outcome.command_id == "old-use"
    assert past_of(account).recall("cmd:old-use") is not None
    assert "old-use" not in repr(account)  # remembered by the index, not by the state


def test_a_refund_of_an_old_use_is_decided_from_the_index_and_given_only_once():
    account = given(renewed("solo", 0), used("content_analysis", command_id="u1"))

    refund = when(account, refunded_use("u1", at=3, command_id="r1"))

    assert refund.outcome.credits == 10
    refusal = then_refused(when(refund.state, refunded_use("u1", at=4)), "already_refunded")
    assert refusal.details["refunded_by"] == "r1"


def test_a_closed_hold_is_known_as_closed_not_unknown():
    account = given(renewed("solo", 0), reserved("h1", at=1, expires=1.5), released("h1", at=1.2))

    refusal = then_refused(when(account, settled("h1", 10, at=1.3)), "hold_not_open")

    assert refusal.details["status"] == "released"
    then_refused(when(account, reserved("h1", at=1.3, expires=1.4)), "duplicate_hold")


def test_an_account_with_no_history_is_decided_without_a_past():
    decision = handle(renewed("solo", 0), Account(), CATALOG)

    assert not decision.refused and decision.state.version == 1


def test_an_account_that_buys_and_spends_packages_keeps_only_its_unspent_ones():
    account = Account()
    for n in range(50):  # each package of 1,000 credits spent by 20 articles of 50
        account = given(bought("small", at=1 + n / 100), on=account)
        for u in range(20):
            account = given(used(at=1 + n / 100 + u / 10_000), on=account)
    account = given(bought("small", at=2), on=account)

    assert spendable(account) == (0, 1000, 0)
    assert [lot.kind for lot in account.lots.values()] == ["purchased"]


def test_a_refund_of_a_use_gives_an_emptied_package_its_credits_back():
    account = given(
        bought("small", payment_ref="p"),
        used(units=10, at=1, command_id="u1"),
        used(units=10, at=1.1, command_id="u2"),
    )
    assert list(account.lots) == []

    refund = when(account, refunded_use("u1", at=3))
    assert [(d.lot_id, d.credits) for d in refund.outcome.returned] == [("package:p", 500)]
    then = when(refund.state, refunded_use("u2", at=4))

    assert refund.outcome.forfeited == () and spendable(then.state) == (0, 1000, 0)
    assert then.state.lots["package:p"].credits == 1000


def test_a_released_hold_gives_an_emptied_package_its_credits_back():
    account = given(
        bought("small", payment_ref="p"), reserved("h1", credits=1000, at=1, expires=1.5)
    )
    assert list(account.lots) == []

    released_hold = when(account, released("h1", at=1.2))

    assert spendable(released_hold.state) == (0, 1000, 0)


def test_refunding_an_emptied_package_removes_nothing_and_records_all_as_shortfall():
    account = given(bought("small", payment_ref="p"), used(units=20, at=1, command_id="u1"))

    refund = when(account, refunded_package("p", at=2))

    assert (refund.outcome.credits_removed, refund.outcome.shortfall_credits) == (0, 1000)
    then_refused(when(refund.state, refunded_package("p", at=3)), "already_refunded")
    given_back = when(refund.state, refunded_use("u1", at=4))
    assert [f.reason for f in given_back.outcome.forfeited] == ["removed"]
    assert spendable(given_back.state) == (0, 0, 0)


def test_a_snapshot_remembers_which_packages_were_refunded():
    account = given(bought("small", payment_ref="p"), refunded_package("p", at=2))

    state, head = snapshots.load(snapshots.dump(account, "head"))

    assert head == "head" and state == account and state.refunded == frozenset({"package:p"})


def test_only_a_decisions_key_is_answered_once_the_others_move_on_to_later_events():
    """The store inserts an answered-once key plainly and upserts the others."""
    assert answered_once(decided("use-1"))
    movable = (hold("h-1"), refund_of("use-1"), payment("p-1"), bought_anywhere("p-1"))
    assert not any(answered_once(k) for k in (*movable, reversal("p-1"), refunded_part("p-1")))
