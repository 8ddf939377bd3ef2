"""Creates the ledger's topics idempotently through Kafka's admin API.

python -m services.topics        # create what is missing, report what exists
"""

from __future__ import annotations

import asyncio

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from events.topics import ALL_TOPICS, REPLIES, TopicSpec
from services import kafka_clients
from services.going_live import refuse_lab_settings
from services.settings import Settings

TOPIC_ALREADY_EXISTS = TopicAlreadyExistsError.errno


async def ensure_topics(
    settings: Settings, specs: tuple[TopicSpec, ...] = ALL_TOPICS
) -> dict[str, str]:
    """Create every missing topic; returns ``{name: "created" | "exists"}``. Safe to repeat."""
    names = [spec.name(settings.topic_prefix) for spec in specs]
    admin = kafka_clients.admin(settings)
    await admin.start()
    try:
        response = await admin.create_topics(
            [
                NewTopic(
                    spec.name(settings.topic_prefix),
                    settings.replies_partitions if spec is REPLIES else spec.partitions,
                    1,
                    topic_configs=spec.configs,
                )
                for spec in specs
            ]
        )
        await _until_led(admin, names)
    finally:
        await admin.close()
    result = {}
    for name, code, *message in response.topic_errors:
        if code not in (0, TOPIC_ALREADY_EXISTS):
            raise RuntimeError(f"could not create topic {name}: error {code} {message}")
        result[name] = "created" if code == 0 else "exists"
    return result


async def _until_led(admin: AIOKafkaAdminClient, names: list[str], timeout_s: float = 30) -> None:
    """Wait until every partition of the topics has a leader: only then can clients use them."""
    async with asyncio.timeout(timeout_s):
        while True:
            topics = await admin.describe_topics(names)
            if all(
                t["error_code"] == 0
                and t["partitions"]
                and all(p["leader"] >= 0 for p in t["partitions"])
                for t in topics
            ):
                return
            await asyncio.sleep(0.1)


async def delete_topics(settings: Settings, specs: tuple[TopicSpec, ...] = ALL_TOPICS) -> None:
    """Delete the topics under the settings' prefix (tests clean up their namespace)."""
    admin = kafka_clients.admin(settings)
    await admin.start()
    try:
        await admin.delete_topics([spec.name(settings.topic_prefix) for spec in specs])
    finally:
        await admin.close()


def main() -> None:
    settings = Settings()
    refuse_lab_settings(settings)
    for name, state in asyncio.run(ensure_topics(settings)).items():
        print(f"topic {name}: {state}")


if __name__ == "__main__":
    main()
