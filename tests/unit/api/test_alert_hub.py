"""The fan-out of balance alerts: each stream gets its account's alerts once, a heartbeat while
quiet, and loses only the oldest when it falls far behind."""

from datetime import UTC, datetime

from events.balances import BalanceAlert
from events.outcomes import BalanceFigures
from services.api.alerts import MAILBOX, AlertHub

T = datetime(2026, 11, 1, tzinfo=UTC)


def alert(n: int, account_id: str = "acct-1") -> BalanceAlert:
    return BalanceAlert(
        alert_id=f"alert-{account_id}-{n}",
        account_id=account_id,
        kind="depleted",
        version=n,
        balance=BalanceFigures(subscription=0, purchased=0, granted=0, held=0, total=0),
        plan="solo",
        plan_credits=980,
        occurred_at=T,
    )


async def test_an_alert_reaches_the_accounts_streams_once_and_no_other_account():
    hub = AlertHub()
    mine, theirs = hub.subscribe("acct-1"), hub.subscribe("acct-2")

    hub.publish(alert(1))
    hub.publish(alert(1))  # delivered at least once: the same again

    assert [a.alert_id for a in await mine.next(1)] == ["alert-acct-1-1"]
    assert await mine.next(0.05) == [] and await theirs.next(0.05) == []
    hub.close()


async def test_a_quiet_alert_stream_gets_heartbeats_and_a_closed_hub_ends_it():
    hub = AlertHub(heartbeat_s=0.05)
    stream = hub.subscribe("acct-1")

    assert await stream.next(1) == [] and stream.beat_due is False and not stream.closed
    hub.close()

    assert await stream.next(1) == [] and stream.closed


async def test_a_stream_far_behind_loses_only_the_oldest_alerts():
    hub = AlertHub()
    stream = hub.subscribe("acct-1")

    for n in range(MAILBOX + 5):
        hub.publish(alert(n))

    assert [a.version for a in await stream.next(1)] == list(range(5, MAILBOX + 5))
    hub.close()
