"""``make run``: the Kalema Credits system on one machine, on the embedded SQLite event store."""

from __future__ import annotations

from services.settings import Settings


def main() -> None:
    settings = Settings()
    print(f"kafka: {settings.kafka_bootstrap_servers}")
    for role, name in settings.topic.items():
        print(f"topic {role}: {name}")


if __name__ == "__main__":
    main()
