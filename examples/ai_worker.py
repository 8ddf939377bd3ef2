"""An AI worker: takes jobs from a queue, reserves credits for each, "generates", and settles
what the work really cost.

    .venv/bin/python -m examples.ai_worker --account acct-demo --jobs 5

Each job runs inside a hold: the reserve is refused with ``InsufficientCredits`` before any
work starts, the settle charges the real cost (at most what was reserved), and a job that
fails gives its credits back. The hold id is the job's id, so a job that is run again (rerun
with the same ``--run``) is answered with its first outcomes and never charged twice.
``can_afford`` is asked first, to skip work the account clearly cannot pay for; it is
advisory (the read model lags a little), the hold is the guarantee.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import uuid
from dataclasses import dataclass

from events.outcomes import Outcome
from events.refusals import Refusal
from services.client import LedgerClient
from services.settings import Settings

TOOLS = [("article_generation", 1), ("image_generation", 2), ("content_analysis", 3)]


@dataclass(frozen=True)
class Job:
    job_id: str
    tool: str
    units: int


@dataclass(frozen=True)
class Done:
    """How a job ended: ``settled`` (with what was reserved and charged), or refused."""

    job: Job
    status: str
    reserved: int = 0
    charged: int = 0
    repeat: bool = False
    outcome: Outcome | None = None  # the settle's


def jobs_of(run: str, count: int) -> list[Job]:
    """``count`` jobs over the tools, with ids unique to the run."""
    return [Job(f"{run}-job-{n}", *TOOLS[n % len(TOOLS)]) for n in range(count)]


async def generate(job: Job, reserved: int, generate_s: float) -> int:
    """Stands in for the model: takes a while, and costs 60 to 100 % of the estimate."""
    await asyncio.sleep(generate_s)
    share = 60 + 10 * (sum(map(ord, job.job_id)) % 5)
    return max(1, reserved * share // 100)


async def do(ledger: LedgerClient, account: str, job: Job, generate_s: float) -> Done:
    if not await ledger.can_afford(account, job.tool, job.units):
        return Done(job, "skipped: cannot afford it (advisory)")
    try:
        async with ledger.hold(account, job.tool, job.units, hold_id=job.job_id) as hold:
            cost = await generate(job, hold.reserved, generate_s)
            settled = await hold.settle(cost)
    except Refusal as refusal:
        return Done(job, f"refused: {refusal.code} {refusal.message}")
    charged = sum(draw.credits for draw in settled.charged)
    return Done(job, "settled", hold.reserved, charged, settled.repeat, settled)


async def work(
    ledger: LedgerClient,
    account: str,
    queue: asyncio.Queue[Job],
    done: list[Done],
    generate_s: float,
) -> None:
    """One worker: take a job, do it, report it; until the queue is empty."""
    while not queue.empty():
        job = queue.get_nowait()
        result = await do(ledger, account, job, generate_s)
        done.append(result)
        print(
            f"{job.job_id}: {job.tool} x{job.units}: {result.status}"
            + (f", reserved {result.reserved}, charged {result.charged}" if result.reserved else "")
            + (" (repeat: charged once, earlier)" if result.repeat else ""),
            flush=True,
        )


async def run(
    settings: Settings,
    account: str,
    jobs: int,
    *,
    workers: int = 2,
    generate_s: float = 0.5,
    run_id: str | None = None,
) -> list[Done]:
    """Do ``jobs`` jobs for ``account`` with ``workers`` concurrent workers."""
    queue: asyncio.Queue[Job] = asyncio.Queue()
    for job in jobs_of(run_id or uuid.uuid4().hex[:8], jobs):
        queue.put_nowait(job)
    done: list[Done] = []
    async with LedgerClient(settings) as ledger:
        workers_ = [work(ledger, account, queue, done, generate_s) for _ in range(workers)]
        await asyncio.gather(*workers_)
    total = sum(result.charged for result in done if not result.repeat)
    repeats = sum(result.repeat for result in done)
    print(
        f"charged {total} credits for {len(done) - repeats} jobs"
        + (f" ({repeats} already done before, not charged again)" if repeats else "")
        + _balance_after(done),
        flush=True,
    )
    return done


def _balance_after(done: list[Done]) -> str:
    """The balance in the ledger's latest outcome (the read model may be a moment behind)."""
    outcomes = [d.outcome for d in done if d.outcome is not None and d.outcome.balance]
    if not outcomes:
        return ""
    latest = max(outcomes, key=lambda outcome: outcome.stream_version or 0)
    assert latest.balance is not None
    return f"; balance {latest.balance.total} as of the account's version {latest.stream_version}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--account", default="acct-demo")
    parser.add_argument("--jobs", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--generate-s", type=float, default=0.5, help="how long a job takes")
    parser.add_argument("--run", default=None, help="a run id; the same id reruns the same jobs")
    args = parser.parse_args(argv)
    asyncio.run(
        run(
            Settings(),
            args.account,
            args.jobs,
            workers=args.workers,
            generate_s=args.generate_s,
            run_id=args.run,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
