"""The API's handlers, one module per resource; each handler fetches, calls a pure function
from ``views``, ``catalog`` or ``commands``, and returns."""
