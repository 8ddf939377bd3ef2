"""The fuzz run, short: a few hundred generated messages (from the wire models, mutations,
random bytes, odd keys, headers and sizes) interleaved with valid commands, through the
ledger on the real broker. Every one is decided or dead-lettered with a reason, every valid
one is answered, and the ledger reads every partition to its end."""

from __future__ import annotations

from reliability.fuzz import generate, send, verify


async def test_generated_garbage_among_valid_commands_is_each_decided_or_dead_lettered(
    ledger, store_settings
):
    messages = generate(400, seed=5, max_bytes=store_settings.max_message_bytes)

    report = await verify(store_settings, await send(store_settings, messages), timeout_s=60)

    assert report.ok, report.as_dict()
    assert report.valid_answered == report.by_kind["valid"]
    assert report.decided + sum(report.dead_lettered.values()) >= report.messages
    assert {
        "undecodable",
        "schema_violation",
        "unknown_command_type",
    } <= report.dead_lettered.keys()
