"""Several API processes behind one port (``KALEMA_API_SHARED_PORT``): the kernel spreads the
streams over them, each follows the whole balances topic, so every stream gets its account's
balance whichever process holds it. The ledger, the projector and two APIs run as their own
processes on the real broker, on both stores."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from pathlib import Path

import httpx

from services.api.__main__ import LISTENING
from services.client import LedgerClient
from services.settings import Settings
from tests.integration.conftest_api import SERVICE_TOKEN, bearer, open_account, sse_events
from tests.integration.test_browser import environment, free_port, processes, until_serving

STREAMS = 24


SHARED = (
    ("ledger", "services.ledger"),
    ("projector", "projections"),
    ("api-1", "services.api"),
    ("api-2", "services.api"),
)


async def test_streams_spread_over_two_api_processes_on_one_port_all_get_the_balance(
    store_settings: Settings, tmp_path: Path
):
    port = free_port()
    env = environment(store_settings, port) | {
        "KALEMA_API_SHARED_PORT": "true",
        "KALEMA_API_STREAMS_PER_TOKEN": str(STREAMS),  # a cap per process
    }
    with processes(env, tmp_path, SHARED) as children:
        url = f"http://127.0.0.1:{port}"
        async with LedgerClient(store_settings, timeout_s=30) as client:
            await open_account(client, "acct-shared")
            for name in ("api-1", "api-2"):
                # The port answers as soon as either process listens: each says when it does.
                await until_serving(url, children[name], tmp_path / f"{name}.log")
                await until_listening(tmp_path / f"{name}.log")
            async with AsyncExitStack() as streams:
                received = []
                for _ in range(STREAMS):  # a connection each: the kernel picks the process
                    http = await streams.enter_async_context(httpx.AsyncClient(timeout=30))
                    response = await streams.enter_async_context(
                        http.stream(
                            "GET",
                            f"{url}/accounts/acct-shared/balance/stream",
                            headers=bearer(SERVICE_TOKEN),
                        )
                    )
                    assert response.status_code == 200
                    events = sse_events(response)
                    await asyncio.wait_for(anext(events), 20)  # the current balance
                    received.append(events)

                used = await client.use_tool("acct-shared", "content_analysis", 3)
                balances = [await asyncio.wait_for(anext(e), 20) for e in received]

    assert {b["version"] for b in balances} == {used.stream_version}
    served = [_streams_served(tmp_path / f"{name}.log") for name in ("api-1", "api-2")]
    assert sum(served) == STREAMS and min(served) > 0, served


async def until_listening(log: Path) -> None:
    """Until the process of ``log`` takes connections on the shared port: before it does, the
    kernel gives every connection to the other one (a run whose streams all went to one
    process, ``[0, 24]``, had checked only that the port answered)."""
    async with asyncio.timeout(30):
        while LISTENING not in log.read_text():
            await asyncio.sleep(0.1)


def _streams_served(log: Path) -> int:
    """The balance streams a process answered, by its access log."""
    return log.read_text().count('/accounts/acct-shared/balance/stream HTTP/1.1" 200')
