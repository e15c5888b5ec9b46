"""Worker processes shared by the commands that stream events (lint, resolve).

Work is forked, so state prepared before the pool starts (a compiled plan, an identity configuration)
is shared copy-on-write, never pickled; results come back in input order with a bounded number of
tasks in flight, so memory does not grow with the input.
"""

from __future__ import annotations

import os
from collections import deque
from typing import Any, Callable, Iterable, Iterator


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def default_jobs(sources: list[Any]) -> int:
    """Worker processes for ``--jobs 0`` (auto): all cores for inputs over 16 MB (or of unknown size,
    such as stdin), else one."""
    if not hasattr(os, "fork"):
        return 1
    total = sum(s.size or 0 for s in sources)
    unknown = any(s.size is None for s in sources)
    n = cores()
    return n if (total > 16 * 2**20 or unknown) and n > 1 else 1


_STATE: Any = None


def _quiet_worker() -> None:
    """Workers leave signals to the parent: Ctrl-C reaches the whole process group, but only the
    parent decides (it stops the pool, removes its temporary files and exits 130/143). SIGTERM ends a
    worker at once and silently (the parent's Pool sends it when it stops)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)


def _call(item: Any) -> Any:
    fn, arg = _STATE, item
    return fn(arg)


def ordered_map(fn: Callable[[Any], Any], items: Iterable[Any], jobs: int) -> Iterator[Any]:
    """``map(fn, items)``, in ``jobs`` forked processes when ``jobs > 1``; results in input order."""
    if jobs <= 1:
        yield from map(fn, items)
        return
    import multiprocessing as mp

    global _STATE
    _STATE = fn
    ctx = mp.get_context("fork")
    with ctx.Pool(jobs, initializer=_quiet_worker) as pool:
        pending: deque = deque()
        for item in items:
            pending.append(pool.apply_async(_call, (item,)))
            while len(pending) >= jobs * 3:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()
