"""Hypothesis profiles: ``ci`` (the default, a few hundred examples per property) and
``thorough`` (thousands: ``pytest --hypothesis-profile=thorough tests/unit``)."""

from hypothesis import settings

settings.register_profile("ci", max_examples=300, deadline=None)
settings.register_profile("thorough", max_examples=5000, deadline=None)
settings.load_profile("ci")
