"""The balances topic into the hub: ONE consumer per API process, whatever the number of open
streams. It reads every partition without a consumer group (each API process must see every
account) from the end of the topic as it starts: what came before is in the read model, which
each stream reads first. After a fetch failed, once the topic answers again, every account with
an open stream is read again (``BalanceHub.reread_all``)."""

from __future__ import annotations

import logging
from typing import Any

from aiokafka import ConsumerRecord
from pydantic import ValidationError

from events.balances import BalanceUpdated
from services.api.hub import BalanceHub
from services.settings import Settings
from services.tail import TopicTail

log = logging.getLogger("kalema.api")


class BalanceFeed:
    def __init__(self, settings: Settings, hub: BalanceHub) -> None:
        self.hub = hub
        self._tail = TopicTail(
            settings,
            "balances",
            self._deliver,
            client_id="kalema-api-balances",
            log=log,
            resumed=hub.reread_all,
        )
        self.topic = self._tail.topic

    async def start(self) -> None:
        await self._tail.start()  # from the end, resolved before any stream opens

    async def stop(self) -> None:
        await self._tail.stop()

    def _deliver(self, record: ConsumerRecord[Any, bytes | None]) -> None:
        try:
            update = BalanceUpdated.model_validate_json(record.value or b"")
        except ValidationError as error:
            log.warning("skipped an unreadable record on %s: %s", self.topic, error)
            return
        self.hub.publish(update)
