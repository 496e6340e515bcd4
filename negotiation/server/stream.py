"""The live stream: one watcher per worker, and the server-sent-events of each client.

Each worker runs one ``Watcher``: a thread that learns of new commits by
PostgreSQL's LISTEN/NOTIFY (through the facade's ``watch``) or, where the
store cannot notify (SQLite), by looking at the last position every
``poll_interval`` seconds. Whichever worker stored the events, every worker's
watcher sees them, since all look at the one store. The watcher only says
"there is something after position P"; each client then reads its own pages
from the store through the facade, so nothing is kept per client or per
negotiation but its position.

A message is ``id:`` the position, ``event:`` the event type and ``data:`` the
event line with ``"position"``. A client resumes with ``Last-Event-ID`` and
gets exactly the events after it.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import AsyncIterator, Callable
from typing import Final

import anyio.to_thread

from events.converter import render_line
from events.model import Event
from negotiation.application import Negotiations
from negotiation.core.errors import NegotiationError
from negotiation.store.logs import get_logger

__all__ = ["Watcher", "event_line", "sse_messages"]

PAGE: Final = 1000
SAFETY_POLL: Final = 1.0
"""Seconds between looks at the store when LISTEN/NOTIFY wakes the watcher (in case it missed one)."""

logger = get_logger("negotiation.server")


def event_line(position: int, event: Event) -> bytes:
    """The event's normalized line with ``"position"`` added as its last member."""
    line = render_line(event)
    return line[:-1] + b',"position":' + str(position).encode() + b"}"


class Watcher:
    """Tells the worker's streams when the store's last position moves."""

    def __init__(self, app: Negotiations, *, poll_interval: float) -> None:
        self.app = app
        self.poll_interval = poll_interval
        self.position = 0
        self.mode = "poll"
        self._changed = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._unwatch: Callable[[], None] | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start watching (on the running event loop)."""
        self._loop = asyncio.get_running_loop()
        try:
            self.position = self.app.position()
            self._unwatch = self.app.watch(self._wake)
        except Exception as e:  # noqa: BLE001 - the store may be down at start: poll, and say so
            logger.warning("stream.watch_failed", error=type(e).__name__)
        self.mode = "notify" if self._unwatch is not None else "poll"
        self._thread = threading.Thread(target=self._run, name="negotiation-stream-watcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and the subscription."""
        self._stop.set()
        self._wake.set()
        if self._unwatch is not None:
            self._unwatch()
        if self._thread is not None:
            self._thread.join(5)

    def changed(self) -> asyncio.Event:
        """The event set at the next move of the position (take it before reading the store)."""
        return self._changed

    def _publish(self, position: int) -> None:
        self.position = position
        event, self._changed = self._changed, asyncio.Event()
        event.set()

    def _run(self) -> None:
        interval = SAFETY_POLL if self._unwatch is not None else self.poll_interval
        while not self._stop.is_set():
            self._wake.wait(interval)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                position = self.app.position()
            except Exception as e:  # noqa: BLE001 - a store hiccup: try again at the next tick
                logger.warning("stream.poll_failed", error=type(e).__name__)
                self._stop.wait(min(5.0, interval * 10))
                continue
            if position != self.position and self._loop is not None:
                try:
                    self._loop.call_soon_threadsafe(self._publish, position)
                except RuntimeError:  # the loop closed: the worker is stopping
                    return


async def sse_messages(
    app: Negotiations,
    watcher: Watcher,
    *,
    after: int,
    negotiation: str | None,
    heartbeat: float,
    stopping: asyncio.Event,
) -> AsyncIterator[bytes]:
    """The stream's bytes: what is stored after ``after``, then each new event, with heartbeats."""
    yield b": negotiation-log stream\nretry: 1000\n\n"
    cursor = after
    while not stopping.is_set():
        changed = watcher.changed()
        try:
            page = await anyio.to_thread.run_sync(
                functools.partial(app.events_after, after=cursor, limit=PAGE, negotiation=negotiation)
            )
        except NegotiationError as e:
            # The store failed mid-stream: end it; the client reconnects with Last-Event-ID.
            logger.warning("stream.read_failed", error=type(e).__name__, after=cursor)
            yield b": the store cannot be read; reconnect\n\n"
            return
        if page.events:
            yield b"".join(
                b"id: %d\nevent: %s\ndata: %s\n\n" % (position, event.TYPE.encode(), event_line(position, event))
                for position, event in page.events
            )
        moved = page.next_after != cursor
        cursor = page.next_after
        if moved:
            continue
        if watcher.position > cursor and watcher.mode == "notify":
            # A commit the page did not show yet (read before it committed): look again soon.
            await asyncio.sleep(0.005)
            continue
        if not await _wait(changed, stopping, heartbeat):
            yield b": heartbeat\n\n"


async def _wait(changed: asyncio.Event, stopping: asyncio.Event, timeout: float) -> bool:
    """Wait for a commit or the end of the service; ``False`` when ``timeout`` passed first."""
    waiters = {asyncio.ensure_future(changed.wait()), asyncio.ensure_future(stopping.wait())}
    try:
        done, _ = await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in waiters:
            task.cancel()
    return bool(done)
