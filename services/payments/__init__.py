"""Payments: the provider's webhook contract (signed, Stripe-style), and a test provider."""
