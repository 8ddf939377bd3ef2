"""The off-session charge, at whichever provider takes the money: the API's test provider
(over HTTP, as a real provider's API is called) or Stripe. A decline is ``ChargeDeclined``;
anything else that goes wrong is for the caller to ask again, with the same key."""

from __future__ import annotations

import httpx
import stripe

from services.payments.model import CardCharges, ChargeDeclined, Order
from services.payments.stripe_provider import StripeProvider
from services.payments.testmode import PREFIX, Charge, Charged
from services.topup.settings import TopUpSettings


class TestProviderCharges:
    """The test provider's charges, at the API that serves it."""

    __test__ = False  # not a pytest class

    def __init__(self, api_url: str, timeout_s: float = 30.0) -> None:
        self.url = api_url.rstrip("/") + f"{PREFIX}/charges"
        self.timeout_s = timeout_s

    async def charge_saved_card(self, order: Order, payment_method: str, topup_id: str) -> str:
        charge = Charge(order=order, payment_method=payment_method, topup_id=topup_id)
        async with httpx.AsyncClient(timeout=self.timeout_s) as http:
            answer = await http.post(
                self.url,
                content=charge.model_dump_json(),
                headers={"Content-Type": "application/json"},
            )
        answer.raise_for_status()
        charged = Charged.model_validate_json(answer.content)
        if charged.status == "declined":
            raise ChargeDeclined(charged.reason or "declined")
        return charged.payment_ref


class StripeCharges:
    """Stripe's off-session PaymentIntents; a card error is a decline, with its code."""

    def __init__(self, provider: StripeProvider) -> None:
        self.provider = provider

    async def charge_saved_card(self, order: Order, payment_method: str, topup_id: str) -> str:
        try:
            return await self.provider.charge_saved_card(order, payment_method, topup_id)
        except stripe.CardError as declined:
            error = declined.error
            reason = (error.decline_code or error.code) if error is not None else None
            raise ChargeDeclined(str(reason or declined.code or "card_declined")) from declined


def charges_for(settings: TopUpSettings) -> CardCharges:
    if settings.payments_provider == "stripe":
        assert settings.stripe_secret_key is not None  # the settings check
        provider = StripeProvider(
            settings.stripe_secret_key.get_secret_value(),
            "",  # verifies no webhook: the API does
            return_base_url=settings.topup_test_provider_url,
            api_base=settings.stripe_api_base,
        )
        return StripeCharges(provider)
    return TestProviderCharges(settings.topup_test_provider_url)
