"""Request bodies read by the wire's JSON rules (``events.commands.strict_json``): an object
that names a key twice, or a string with a lone surrogate, is 422 ``invalid_request`` before
any model sees it, exactly as the ledger dead-letters such a Kafka command. (Python's parser
would keep the last of two keys, and a lone surrogate cannot be written back as UTF-8.)

A router opts in with ``APIRouter(route_class=StrictJsonRoute)``; a route that reads its raw
body itself (the signed payment webhook) is untouched.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from events.commands import strict_json


class StrictJsonRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            try:
                self._json = strict_json(body)
            except RecursionError:  # absurdly deep nesting: malformed like any other JSON
                raise json.JSONDecodeError("nested too deeply", "", 0) from None
            except UnicodeDecodeError:
                raise json.JSONDecodeError("the body is not UTF-8", "", 0) from None
        return self._json


class StrictJsonRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            return await handler(StrictJsonRequest(request.scope, request.receive))

        return strict
