"""``last_active_at`` without a write on the request path.

A decision or management call by a user marks them active (at most once a minute per user
and worker); the marks are written by a background thread every
``LAST_ACTIVE_FLUSH_SECONDS`` as one UPDATE per batch, or at once when that is 0 (the tests).
"""

import logging
import threading
import time

from models import User, db

log = logging.getLogger("orgauthz.activity")
EVERY = 60.0  # seconds between two marks of the same user by one worker


class Activity:
    def __init__(self):
        self._lock = threading.Lock()
        self._pending: dict = {}
        self._marked: dict = {}
        self._thread = None

    def mark(self, user_id: str, when, flush_seconds: float) -> None:
        """Remember that ``user_id`` was active at ``when``; write now or soon."""
        clock = time.monotonic()
        if clock - self._marked.get(user_id, -EVERY) < EVERY:
            return
        self._marked[user_id] = clock
        with self._lock:
            self._pending[user_id] = when
        if flush_seconds <= 0:
            self.flush()
        elif self._thread is None:
            self._thread = threading.Thread(
                target=self._loop, args=(flush_seconds,), name="last-active", daemon=True
            )
            self._thread.start()

    def flush(self) -> None:
        """Write every pending mark: one UPDATE per distinct time, in one transaction."""
        with self._lock:
            pending, self._pending = self._pending, {}
        if not pending:
            return
        by_time: dict = {}
        for user_id, when in pending.items():
            by_time.setdefault(when, []).append(user_id)
        with db.connection_context(), db.atomic():
            for when, ids in by_time.items():
                for i in range(0, len(ids), 500):
                    User.update(last_active_at=when).where(User.id.in_(ids[i : i + 500])).execute()

    def _loop(self, every: float) -> None:
        while True:
            time.sleep(every)
            try:
                self.flush()
            except Exception:  # the marks are best effort; the next flush tries again
                log.warning("writing last_active_at failed", exc_info=True)

    def forget(self) -> None:
        """Forget marks and pending writes (the tests move the clock)."""
        with self._lock:
            self._pending.clear()
        self._marked.clear()


ACTIVITY = Activity()
