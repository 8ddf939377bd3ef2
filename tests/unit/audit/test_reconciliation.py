"""Reconciliation as sentences: given what the provider reports and the ledger's events (decided
by the core, indexed as the store indexes them), then these rows and verdicts."""

from __future__ import annotations

from events.commands import Paid
from events.ledger import PackagePurchased
from services.audit.payment_sources import stripe_payment
from services.audit.reconciliation import (
    LedgerFacts,
    LedgerPurchase,
    ProviderPayment,
    Verdict,
    from_events,
    problems,
    reconcile,
)
from services.ledger.core.past import Remembered
from services.payments.model import Payment, PaymentEvent
from services.payments.stripe_provider import PaymentIntentSummary
from tests.unit.core import scenario as s

SINCE = 1_000


def taken(ref: str, status: str = "succeeded", *, refunded_cents: int = 0, created: int = SINCE):
    return ProviderPayment(ref, s.ACCOUNT, "small", 5000, "USD", status, created, refunded_cents)


def success(ref: str, **knobs):
    """The ``BuyPackage`` a provider's webhook sends, with the command id it derives."""
    bought = s.bought("small", payment_ref=ref, command_id=f"payment-{ref}")
    return bought.model_copy(update=knobs)


def ledger_after(*commands) -> Remembered:
    """The index of the events these commands were decided into (refusals included)."""
    state = s.given(s.renewed("solo", 0))
    for command in commands:
        decision = s.when(state, command)
        state = decision.state
    return s.past_of(state)


def rows_of(payment: ProviderPayment, past: Remembered, purchases=()):
    facts = {
        payment.payment_ref: LedgerFacts.recalled(
            past, payment.payment_ref, f"payment-{payment.payment_ref}"
        )
    }
    return [
        (r.provider, r.ledger, r.verdict) for r in reconcile([payment], facts, purchases, SINCE)
    ]


def test_a_paid_payment_the_ledger_credited_agrees():
    assert rows_of(taken("pi_1"), ledger_after(success("pi_1"))) == [
        ("succeeded", "credited", Verdict.ok)
    ]


def test_a_paid_payment_the_ledger_never_decided_is_missing():
    assert rows_of(taken("pi_1"), ledger_after()) == [("succeeded", "nothing", Verdict.missing)]


def test_a_payment_refunded_at_the_provider_whose_success_never_arrived_is_still_missing():
    assert rows_of(taken("pi_1", "refunded", refunded_cents=5000), ledger_after()) == [
        ("refunded", "nothing", Verdict.missing)
    ]


def test_a_parked_payment_is_paid_not_credited_until_the_provider_refunds_it():
    parked = ledger_after(success("pi_1", paid=Paid(amount_cents=4000, currency="USD")))

    assert rows_of(taken("pi_1"), parked) == [
        ("succeeded", "parked: paid, not credited", Verdict.paid_not_credited)
    ]
    assert rows_of(taken("pi_1", "refunded", refunded_cents=5000), parked) == [
        ("refunded", "parked: paid, not credited", Verdict.ok)
    ]


def test_a_payment_the_ledger_refused_is_paid_not_credited_with_the_refusals_code():
    refused = ledger_after(
        s.bought("small", payment_ref="pi_1", command_id="billing-1"),
        success("pi_1"),
    )
    billing_bought_it = rows_of(taken("pi_1"), refused)
    unknown = ledger_after(s.bought("tiny", payment_ref="pi_2", command_id="payment-pi_2"))

    assert billing_bought_it == [("succeeded", "credited", Verdict.ok)]  # the package is there
    assert rows_of(taken("pi_2"), unknown) == [
        ("succeeded", "refused: unknown_package", Verdict.paid_not_credited)
    ]


def test_a_refund_at_the_provider_the_ledger_did_not_record_differs():
    credited = ledger_after(success("pi_1"))

    assert rows_of(taken("pi_1", "refunded", refunded_cents=5000), credited) == [
        ("refunded", "credited", Verdict.refund_differs)
    ]
    assert rows_of(taken("pi_1", "refunded partly", refunded_cents=1234), credited) == [
        ("refunded 1234 cents", "credited", Verdict.refund_differs)
    ]


def test_refunds_chargebacks_and_won_disputes_the_ledger_recorded_agree():
    refunded = ledger_after(success("pi_1"), s.refunded_package("pi_1"))
    partly = ledger_after(success("pi_2"), s.partly_refunded("pi_2", 1234))
    charged_back = ledger_after(success("pi_3"), s.charged_back("pi_3"))
    won = ledger_after(success("pi_4"), s.charged_back("pi_4"), s.dispute_won("pi_4"))

    assert rows_of(taken("pi_1", "refunded", refunded_cents=5000), refunded) == [
        ("refunded", "credited, then refunded", Verdict.ok)
    ]
    assert rows_of(taken("pi_2", "refunded partly", refunded_cents=1234), partly) == [
        ("refunded 1234 cents", "credited, then refunded 1234 cents so far", Verdict.ok)
    ]
    assert rows_of(taken("pi_3", "disputed"), charged_back) == [
        ("disputed", "credited, then charged back", Verdict.ok)
    ]
    assert rows_of(taken("pi_4", "dispute won"), won) == [
        ("dispute won", "credited, charged back, dispute won", Verdict.ok)
    ]


def test_a_refund_recorded_before_a_success_that_never_came_agrees_with_a_refunded_payment():
    reversed_first = ledger_after(s.refunded_package("pi_1"))

    assert rows_of(taken("pi_1", "refunded", refunded_cents=5000), reversed_first) == [
        ("refunded", "refund recorded, never credited", Verdict.ok)
    ]


def test_a_failed_payment_owes_nothing_and_one_the_ledger_credited_is_a_credit_without_payment():
    assert rows_of(taken("pi_1", "failed"), ledger_after()) == [("failed", "nothing", Verdict.ok)]
    assert rows_of(taken("pi_1", "not paid (canceled)"), ledger_after(success("pi_1"))) == [
        ("not paid (canceled)", "credited", Verdict.credit_without_payment)
    ]


def purchase(ref: str, *, by_provider: bool) -> LedgerPurchase:
    return LedgerPurchase(s.ACCOUNT, ref, "small", 5000, "USD", s.day(1), by_provider)


def test_a_webhook_purchase_the_provider_does_not_know_is_a_credit_without_payment():
    rows = reconcile(
        [taken("pi_known")],
        {
            "pi_known": LedgerFacts.recalled(
                ledger_after(success("pi_known")), "pi_known", "payment-pi_known"
            )
        },
        [purchase("pi_known", by_provider=True), purchase("pi_forged", by_provider=True)],
        SINCE,
    )

    assert [(r.payment_ref, r.provider, r.verdict) for r in rows] == [
        ("pi_known", "succeeded", Verdict.ok),
        ("pi_forged", "unknown", Verdict.credit_without_payment),
    ]
    assert problems(rows) == 1


def test_billings_own_purchase_is_listed_as_another_source_and_is_no_problem():
    rows = reconcile([], {}, [purchase("inv-2026-11", by_provider=False)], SINCE)

    assert [(r.payment_ref, r.verdict) for r in rows] == [("inv-2026-11", Verdict.other_source)]
    assert problems(rows) == 0


def test_a_payment_before_the_date_is_not_listed_but_its_purchase_is_not_flagged():
    early = taken("pi_early", created=SINCE - 60)

    rows = reconcile([early], {}, [purchase("pi_early", by_provider=True)], SINCE)

    assert rows == []


def event(kind: str, ref: str, created: int, refunded_cents: int | None = None) -> PaymentEvent:
    data = Payment(
        checkout_id="cs_1",
        payment_ref=ref,
        account_id=s.ACCOUNT,
        package="small",
        amount_cents=5000,
        currency="USD",
        refunded_cents=refunded_cents,
    )
    return PaymentEvent(id=f"evt_{created}", type=kind, created=created, data=data)  # type: ignore[arg-type]


def test_the_test_providers_record_is_one_payment_per_reference_with_its_latest_status():
    record = [
        event("payment.succeeded", "pi_1", 10),
        event("payment.succeeded", "pi_2", 11),
        event("payment.refunded", "pi_2", 12, refunded_cents=1000),
        event("payment.refunded", "pi_2", 13, refunded_cents=2500),
        event("payment.succeeded", "pi_3", 14),
        event("payment.disputed", "pi_3", 15),
        event("payment.failed", "pi_4", 16),
        event("payment.succeeded", "pi_1", 17),  # delivered twice
        event("payment.refunded", "pi_5", 18),  # whole, success not on record
    ]

    payments = from_events(record)

    assert [(p.payment_ref, p.status, p.refunded_cents, p.created) for p in payments] == [
        ("pi_1", "succeeded", 0, 10),
        ("pi_2", "refunded partly", 2500, 11),
        ("pi_3", "disputed", 0, 14),
        ("pi_4", "failed", 0, 16),
        ("pi_5", "refunded", 5000, 18),
    ]
    assert [p.kept_cents for p in payments] == [5000, 2500, 0, 0, 0]


def test_a_purchase_event_read_from_the_store_is_the_one_the_index_answers():
    past = ledger_after(success("pi_1"))

    assert isinstance(LedgerFacts.recalled(past, "pi_1", "payment-pi_1").bought, PackagePurchased)


def intent(status: str = "succeeded", refunded_cents: int = 0, dispute: str | None = None):
    return PaymentIntentSummary(
        "pi_1", s.ACCOUNT, "small", 5000, "USD", status, SINCE, refunded_cents, dispute
    )


def test_a_stripe_payment_intent_reads_as_its_status_refunds_and_dispute():
    assert [
        (p.status, p.kept_cents)
        for p in map(
            stripe_payment,
            [
                intent(),
                intent(refunded_cents=1234),
                intent(refunded_cents=5000),
                intent(dispute="needs_response"),
                intent(dispute="won"),
                intent("processing"),
            ],
        )
    ] == [
        ("succeeded", 5000),
        ("refunded partly", 3766),
        ("refunded", 0),
        ("disputed", 0),
        ("dispute won", 5000),
        ("not paid (processing)", 0),
    ]
