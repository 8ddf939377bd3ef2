"""A progress bar for long operator work (rebuild, verify), on stderr so output stays clean."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

Step = Callable[[int, int], None]
"""Called with (done, total) as work advances."""


@contextmanager
def bar(description: str, after_s: float = 0) -> Iterator[Step]:
    """Yields a ``Step``; the bar disappears when the work is done. Nothing is drawn when
    stderr is not a terminal (a pipe, a log file, a test), nor before ``after_s`` seconds
    have passed (work that ends sooner shows none)."""
    console = Console(stderr=True)
    if not console.is_terminal:
        yield lambda done, total: None
        return
    if after_s:
        with ExitStack() as stack:
            started, drawn = time.monotonic(), list[Step]()

            def later(done: int, total: int) -> None:
                if not drawn and time.monotonic() - started >= after_s:
                    drawn.append(stack.enter_context(bar(description)))
                if drawn:
                    drawn[0](done, total)

            yield later
        return
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task(description, total=None)

        def step(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        yield step
