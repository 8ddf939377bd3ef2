"""The fuzz run: generated messages interleaved with a valid workload, through the real ledger.

    python -m reliability.fuzz --messages 10000 [--store sqlite|postgres] [--seed 1]

Every message sent must end decided (an outcome with its ``command_id``) or dead-lettered at
its partition and offset with a reason; every valid command must be answered; the ledger must
never stop (its stored positions reach the end of every partition). Prints a JSON report.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from events.outcomes import DeadLetter, Outcome
from reliability import strategies
from reliability.harness import OUTCOMES, namespace, read_topic, start
from services import kafka_clients
from services.ledger.intake import Incoming, read_command
from services.ledger.store import LedgerStore
from services.settings import Settings
from tests.workload import command_log

Header = tuple[str, bytes | None]


@dataclass(frozen=True, slots=True)
class Message:
    kind: str  # valid, wire, mutated, bytes, size
    key: bytes | None
    value: bytes | None
    headers: tuple[Header, ...] = ()


@dataclass(frozen=True, slots=True)
class Sent:
    message: Message
    partition: int
    offset: int


@dataclass
class Report:
    messages: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)
    valid_answered: int = 0
    decided: int = 0
    dead_lettered: Counter[str] = field(default_factory=Counter)
    answered_rejections: int = 0
    unaccounted: list[str] = field(default_factory=list)
    unanswered_valid: list[str] = field(default_factory=list)
    consumer_behind: dict[int, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not (self.unaccounted or self.unanswered_valid or self.consumer_behind)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "messages": self.messages,
            "by_kind": dict(self.by_kind),
            "decided": self.decided,
            "valid_answered": self.valid_answered,
            "dead_lettered": dict(self.dead_lettered),
            "rejections_answered_with_an_outcome": self.answered_rejections,
            "unaccounted": self.unaccounted[:20],
            "unanswered_valid": self.unanswered_valid[:20],
            "consumer_behind": self.consumer_behind,
            "seconds": round(self.seconds, 1),
        }


def generate(count: int, seed: int, max_bytes: int) -> list[Message]:
    """``count`` messages: about 40% a valid workload (in order per account), the rest
    generated from the wire models, mutations of valid commands, random bytes and sizes,
    with odd headers and keys here and there."""
    rng = random.Random(seed)
    valid = command_log(max(1, count * 2 // 5), max(1, count // 40), seed=seed)
    accounts = sorted({c.account_id for c in valid})
    wire = strategies.draw(strategies.wire_commands(accounts), count // 5, seed)
    made = [Message("valid", c.account_id.encode(), c.model_dump_json().encode()) for c in valid]
    others: list[Message] = []
    for n in range(count - len(made)):
        roll = rng.random()
        if roll < 0.35 and wire:
            body = wire[n % len(wire)]
            others.append(Message("wire", strategies.key_for(rng, body), _json(body)))
        elif roll < 0.75:
            body = strategies.mutate(rng, json.loads(rng.choice(made).value or b"{}"))
            others.append(Message("mutated", strategies.key_for(rng, body), _json(body)))
        elif roll < 0.97:
            others.append(Message("bytes", strategies.odd_key(rng), strategies.odd_bytes(rng)))
        else:
            size = rng.choice([max_bytes, max_bytes + 1, 200_000, 900_000])
            body = {**json.loads(rng.choice(made).value or b"{}"), "command_id": f"big-{n}"}
            body["padding"] = "x" * max(0, size - len(_json(body)) - 14)
            others.append(Message("size", strategies.key_for(rng, body), _json(body)))
    mixed = _interleave(rng, made, others)
    return [
        Message(m.kind, m.key, m.value, strategies.odd_headers(rng)) if rng.random() < 0.1 else m
        for m in mixed
    ]


def _interleave(rng: random.Random, ordered: list[Message], extra: list[Message]) -> list[Message]:
    slots = sorted(rng.randrange(len(ordered) + 1) for _ in extra)
    out: list[Message] = []
    it = iter(extra)
    previous = 0
    for slot in slots:
        out += ordered[previous:slot]
        out.append(next(it))
        previous = slot
    return out + ordered[previous:]


def _json(body: Any) -> bytes:
    return json.dumps(body, default=str).encode()


async def send(settings: Settings, messages: list[Message]) -> list[Sent]:
    producer = kafka_clients.producer(
        settings,
        max_request_size=1_048_000,
        linger_ms=5,
        acks="all",
    )
    await producer.start()
    try:
        futures = [
            await producer.send(
                settings.topic["commands"], m.value, key=m.key, headers=list(m.headers)
            )
            for m in messages
        ]
        metadata = await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return [Sent(m, md.partition, md.offset) for m, md in zip(messages, metadata, strict=True)]


async def verify(settings: Settings, sent: list[Sent], timeout_s: float = 300) -> Report:
    """Wait until the ledger has read every partition to its end, then account for every
    message from the outcomes and dead-letters topics."""
    report = Report(messages=len(sent), by_kind=Counter(s.message.kind for s in sent))
    ends = {s.partition: s.offset + 1 for s in sent}
    ends = {p: max(o for q, o in ends.items() if q == p) for p in ends}
    report.consumer_behind = await _until_read(settings, ends, timeout_s)
    letters = [
        DeadLetter.model_validate_json(r.value) for r in await read_topic(settings, "dead-letters")
    ]
    outcomes = [Outcome.model_validate_json(r.value) for r in await read_topic(settings, OUTCOMES)]
    dead = {(d.partition, d.offset): d for d in letters}
    answered = {(o.account_id, o.command_id) for o in outcomes}
    report.dead_lettered = Counter(d.reason for d in letters)
    report.answered_rejections = sum(1 for d in letters if d.command_id is not None)
    for s in sent:
        where = f"{s.message.kind}@{s.partition}:{s.offset}"
        record = Incoming(
            settings.topic["commands"], s.partition, s.offset, s.message.key, s.message.value
        )
        command = read_command(record, settings.max_message_bytes)
        if isinstance(command, DeadLetter):
            if (s.partition, s.offset) not in dead:
                report.unaccounted.append(where)
            continue
        if (command.account_id, command.command_id) in answered:
            report.decided += 1
            report.valid_answered += s.message.kind == "valid"
        else:
            report.unaccounted.append(where)
            if s.message.kind == "valid":
                report.unanswered_valid.append(f"{where} {command.command_id}")
    return report


async def _until_read(settings: Settings, ends: dict[int, int], timeout_s: float) -> dict[int, int]:
    """Until the ledger's stored positions reach ``ends``; returns what is still behind."""
    store = LedgerStore(settings)
    topic = settings.topic["commands"]
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            behind = {
                p: end - (store.position(f"{topic}:{p}") or 0)
                for p, end in ends.items()
                if (store.position(f"{topic}:{p}") or 0) < end
            }
            if not behind or time.monotonic() > deadline:
                return behind
            await asyncio.sleep(0.2)
    finally:
        store.close()


async def run(count: int, store: str, seed: int) -> Report:
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as workdir:
        async with namespace(store, Path(workdir)) as settings:
            messages = generate(count, seed, settings.max_message_bytes)
            ledger = start("services.ledger", settings, Path(workdir) / "ledger.log")
            try:
                sent = await send(settings, messages)
                report = await verify(settings, sent)
                alive = ledger.poll() is None
            finally:
                ledger.terminate()
                ledger.wait(30)
            if not alive:
                report.unaccounted.append("the ledger process stopped")
    report.seconds = time.monotonic() - started
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reliability.fuzz", description=__doc__)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    report = asyncio.run(run(args.messages, args.store, args.seed))
    print(json.dumps({"at": datetime.now(UTC).isoformat(), **report.as_dict()}, indent=2))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
