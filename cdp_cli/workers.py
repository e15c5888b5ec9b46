"""Worker processes shared by the commands that stream events (lint, resolve).

Work is forked, so state prepared before the pool starts (a compiled plan, an identity configuration)
is shared copy-on-write, never pickled; results come back in input order with a bounded number of
tasks in flight, so memory does not grow with the input.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any


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


def quiet_worker() -> None:
    """Workers leave signals to the parent: Ctrl-C reaches the whole process group, but only the
    parent decides (it stops the workers, removes its temporary files and exits 130/143). SIGTERM
    ends a worker at once and silently."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)


def _serve(fn: Callable[[Any], Any], conn: Any) -> None:
    """A worker: one task at a time from its own pipe, each answer on the same pipe."""
    import traceback

    quiet_worker()
    while True:
        try:
            item = conn.recv()
        except (EOFError, OSError):
            return
        if item is None:
            return
        try:
            out = (True, fn(item))
        except BaseException as e:
            out = (False, (e, type(e).__name__, str(e), traceback.format_exc()))
        try:
            conn.send(out)
        except (BrokenPipeError, OSError):
            return
        except Exception as e:  # what was to be sent does not pickle: send a description instead
            ok, value = out
            if ok:
                reply = (None, type(e).__name__, f"a worker's result could not be sent back: {e}", "")
            else:
                reply = (None, value[1], value[2], value[3])
            conn.send((False, reply))


class WorkerError(RuntimeError):
    """A worker process failed; the message carries its exception."""


def ordered_map(fn: Callable[[Any], Any], items: Iterable[Any], jobs: int) -> Iterator[Any]:
    """``map(fn, items)``, in ``jobs`` forked processes when ``jobs > 1``; results in input order.

    Each worker has its own pipe (no lock shared between processes), task i goes to worker
    i mod jobs and its answer is read back in the same order, with at most a few tasks in flight
    per worker so memory stays bounded. However the parent stops (an exception, SIGINT, SIGTERM),
    its workers are killed and reaped: a worker killed first cannot leave a shared lock held, which
    is what makes ``multiprocessing.Pool`` hang on a process-group SIGTERM.
    """
    if jobs <= 1:
        yield from map(fn, items)
        return
    import multiprocessing as mp

    ctx = mp.get_context("fork")
    procs = []
    conns = []
    try:
        for _ in range(jobs):
            parent, child = ctx.Pipe(duplex=True)
            proc = ctx.Process(target=_serve, args=(fn, child), daemon=True)
            proc.start()
            child.close()
            procs.append(proc)
            conns.append(parent)
        in_flight = 3
        sent = received = 0

        def take() -> Any:
            nonlocal received
            conn = conns[received % jobs]
            try:
                ok, value = conn.recv()
            except EOFError:
                code = procs[received % jobs].exitcode
                raise WorkerError(f"a worker process died (exit code {code})") from None
            received += 1
            if not ok:
                exc, name, message, tb = value
                if isinstance(exc, BaseException):
                    raise exc  # as the work would have raised it in this process (a CdpError stays one)
                raise WorkerError(f"{name}: {message}\n{tb}")
            return value

        for item in items:
            conns[sent % jobs].send(item)
            sent += 1
            while sent - received >= jobs * in_flight:
                yield take()
        while received < sent:
            yield take()
        for conn in conns:
            conn.send(None)
        for proc in procs:
            proc.join(timeout=5)
    finally:
        reap(procs, conns)


def reap(procs: list[Any], conns: list[Any]) -> None:
    """Kill the worker processes still alive, wait for them all, close their pipes: however the
    parent stops, no worker outlives it (a worker killed first cannot leave a shared lock held)."""
    for proc in procs:
        if proc.exitcode is None:
            proc.kill()
    for proc in procs:
        proc.join()
    for conn in conns:
        conn.close()
