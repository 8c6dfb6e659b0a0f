"""Master-token sessions: one switch per workspace, its requests concurrent, never mixed.

With a master token the *current workspace* is server-side state of the
token, so two workspaces' requests must never overlap. The simple way (lock,
switch, fetch, unlock for every attempt) costs two serialised requests per
request. A session does better while keeping the guarantee:

1. the attempts for one workspace wait together; when the token is free they
   enter as one group (first come, first served by workspace);
2. the first of them switches the token (once for the whole group);
3. all of them then fetch concurrently, within the instance's limiter;
4. when the last one leaves, the token is free for the next workspace.

An attempt that arrives while its workspace's session is open joins it without
a switch. A failed attempt leaves the session before it sleeps for its retry,
so nobody holds the token while sleeping; it rejoins (or queues for a new
session) when it tries again. A session is only closed after its switch has
settled, so a late switch can never land inside the next workspace's session.

Other processes may use the same master token (a second console, a cron
``check``). With a :class:`TokenGuard` (a lease shared through the records
file or Redis: :mod:`portal_tui.shared`), a session takes it before its
switch and gives it back when it closes, so sessions never overlap across
processes either.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Protocol

from portal_tui.vocabulary.errors import UpstreamError


class GuardHold(Protocol):
    """A held token lock: how long taking it waited, and how to give it back."""

    @property
    def waited(self) -> float:
        """Seconds spent waiting for another process to give the token up."""
        ...

    def may_keep(self) -> bool:
        """Whether the next session of this process may go on holding it (the holder's
        turn is not over) instead of giving it back and taking it again."""
        ...

    async def release(self) -> None:
        """Give the token back (never raises)."""
        ...


class TokenGuard(Protocol):
    """A master token's lock shared with other processes."""

    async def acquire(self) -> GuardHold:
        """Wait for the token; raises :class:`UpstreamError` if it cannot be had in time."""
        ...


@dataclass(slots=True)
class _Session:
    workspace_id: int
    members: int = 0
    switch: asyncio.Task[None] | None = None
    broken: bool = False  # the switch failed: nobody may join; it closes when empty
    closed: bool = False
    hold: GuardHold | None = None  # the cross-process token lock, while the session has it
    guard_wait: float = 0.0  # seconds the session waited for another process to give it up


@dataclass(slots=True)
class _Group:
    """Attempts waiting for one workspace's session."""

    granted: asyncio.Future[_Session]
    waiting: int = 0


@dataclass(slots=True)
class SessionStats:
    """Counts for tests and benchmarks."""

    sessions: int = 0
    joined_open: int = 0  # attempts that joined a session already open (no wait, no switch)
    max_members: int = 0
    overlaps: int = 0  # must stay 0: two sessions open at once
    _open: int = field(default=0, repr=False)


class TokenSessions:
    """Serialises one master token across workspaces, one session per workspace at a time."""

    def __init__(self, guard: TokenGuard | None = None) -> None:
        self._current: _Session | None = None
        self._queue: dict[int, _Group] = {}
        self._guard = guard
        self._releases: set[asyncio.Task[None]] = set()
        self.stats = SessionStats()

    @property
    def current_workspace(self) -> int | None:
        """The workspace whose session is open, if any."""
        return self._current.workspace_id if self._current else None

    @asynccontextmanager
    async def session(
        self,
        workspace_id: int,
        switch: Callable[[], Awaitable[object]],
        *,
        joined: Callable[[], object] | None = None,
        waited: Callable[[float], object] | None = None,
    ) -> AsyncIterator[None]:
        """Run the block while the token is switched to ``workspace_id``.

        ``switch`` is called at most once per session, by the first attempt
        to need it; every member waits for it, and if it fails each member
        raises an :class:`UpstreamError` of the same kind. ``joined`` is
        called once this attempt has its place in the session (its wait for
        the token is over; the switch may still be under way). ``waited`` is
        called with the seconds the session waited for another process to
        give the token up, if this attempt waited through that.
        """
        session = await self._join(workspace_id)
        try:
            if joined is not None:
                joined()
            if session.switch is None:
                session.switch = asyncio.ensure_future(self._open(session, switch))
                session.switch.add_done_callback(lambda t: t.cancelled() or t.exception())
            pending = not session.switch.done()
            try:
                await asyncio.shield(session.switch)
            except asyncio.CancelledError:
                raise
            except UpstreamError as exc:
                session.broken = True
                raise UpstreamError(
                    exc.error_type,
                    f"switch to workspace {workspace_id} failed: {exc.message}",
                    status_code=exc.status_code,
                    retry_after=exc.retry_after,
                ) from None
            except BaseException:
                session.broken = True
                raise
            if pending and waited is not None and session.guard_wait > 0:
                waited(session.guard_wait)
            yield
        finally:
            self._leave(session)

    def hold(self, workspace_id: int) -> Callable[[], None] | None:
        """Keep ``workspace_id``'s open session open until the returned function is called.

        For follow-ups that start right after a member leaves (a collection's
        later pages, started once page 1 says how many there are). Returns
        None when that workspace's session is not open. Hold it only across
        a loop iteration or two, never across a sleep.
        """
        session = self._current
        if session is None or session.workspace_id != workspace_id or session.broken:
            return None
        session.members += 1
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self._leave(session)

        return release

    async def _join(self, workspace_id: int) -> _Session:
        current = self._current
        if current is not None and current.workspace_id == workspace_id and not current.broken:
            current.members += 1
            self.stats.joined_open += 1
            self.stats.max_members = max(self.stats.max_members, current.members)
            return current
        group = self._queue.get(workspace_id)
        if group is None:
            group = self._queue[workspace_id] = _Group(asyncio.get_running_loop().create_future())
        group.waiting += 1
        if self._current is None:
            self._grant_next()
        try:
            return await asyncio.shield(group.granted)
        except asyncio.CancelledError:
            if group.granted.done() and not group.granted.cancelled():
                self._leave(group.granted.result())  # granted as we were cancelled: leave
            else:
                group.waiting -= 1
                if group.waiting == 0 and self._queue.get(workspace_id) is group:
                    del self._queue[workspace_id]
                    group.granted.cancel()
            raise

    def _grant_next(self) -> None:
        while self._queue and self._current is None:
            workspace_id = next(iter(self._queue))
            group = self._queue.pop(workspace_id)
            if group.waiting == 0:
                continue
            session = _Session(workspace_id, members=group.waiting)
            self._current = session
            self.stats.sessions += 1
            self.stats._open += 1
            self.stats.overlaps += self.stats._open > 1
            self.stats.max_members = max(self.stats.max_members, session.members)
            group.granted.set_result(session)

    def _leave(self, session: _Session) -> None:
        session.members -= 1
        if session.members == 0:
            # Not at once: a member's follow-ups (the next pages) may join in this
            # very step; they are checked for one loop iteration later.
            asyncio.get_running_loop().call_soon(self._close_if_idle, session)

    def _close_if_idle(self, session: _Session) -> None:
        if session.closed or session.members > 0 or self._current is not session:
            return
        if session.switch is not None and not session.switch.done():
            # Never free the token while a switch may still land.
            session.switch.add_done_callback(lambda _t: self._close_if_idle(session))
            return
        session.closed = True
        self._current = None
        self.stats._open -= 1
        hold, session.hold = session.hold, None
        self._grant_next()
        if hold is None:
            return
        following = self._current
        if following is not None and following.switch is None and hold.may_keep():
            following.hold = hold  # still this process's turn: no give-and-take between
            return
        task = asyncio.get_running_loop().create_task(hold.release())
        self._releases.add(task)
        task.add_done_callback(self._releases.discard)

    async def _open(self, session: _Session, switch: Callable[[], Awaitable[object]]) -> None:
        if self._guard is not None and session.hold is None:
            session.hold = await self._guard.acquire()
            session.guard_wait = session.hold.waited
        await switch()
