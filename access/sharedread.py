"""One read shared by the requests that need it at once: ``fully_consistent`` decisions (and,
without notices, every decision) read the database's change position, and a worker's
concurrent requests share one read of it instead of making one each (issue 24: the read was
40% of such a request's time).

**Never older than the request.** A request may only use a read that *began after the
request arrived*: a change committed before the request began is then always in it. A read
already in flight when a request arrives may have been sent before that change committed,
so the request waits for the next read, which starts once the one in flight ends (reads are
numbered; a request needs the number after the last one started when it arrived). Whoever
finds no read in flight and its own not yet done makes the read itself; everyone who
arrived during the read before shares it. With N requests arriving at once a worker makes
at most two reads for them, not N.

**Bounded.** A request waits for another's read at most ``timeout`` seconds, then is
answered as when the database cannot be read: ``FactsUnavailable`` (a 503, the deny). When
the shared read fails, those who waited on it get ``FactsUnavailable`` too; the one that
made it gets the driver's error, as without sharing. Either is a 503.
"""

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from access.errors import FactsUnavailable

T = TypeVar("T")


class SharedRead(Generic[T]):
    """``read()`` made once for every caller that arrived before it began (see above)."""

    def __init__(self, read: Callable[[], T], timeout: float = 2.0) -> None:
        self._read = read
        self.timeout = timeout
        self._done = threading.Condition(threading.Lock())
        self._started = 0  # number of the last read begun
        self._finished = 0  # number of the last read ended (== _started when none in flight)
        self._value: T | None = None  # what the read numbered ``_finished`` gave
        self._error: str | None = None  # or how it failed
        self.reads = 0  # reads made (tests and benchmarks count them)
        self.waiting = 0  # callers waiting for another's read now

    def __call__(self) -> T:
        """A value read after this call began. Raises what the read raised (the caller
        made it), or FactsUnavailable (another made it and it failed, or it took over
        ``timeout``)."""
        deadline = time.monotonic() + self.timeout
        with self._done:
            need = self._started + 1  # the first read begun after now
            while self._finished < need:
                if self._started == self._finished:  # none in flight: make it
                    self._started = need
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    raise FactsUnavailable("the change position was not read in time")
                self.waiting += 1
                try:
                    self._done.wait(left)
                finally:
                    self.waiting -= 1
            else:
                if self._error is not None:
                    raise FactsUnavailable(f"the change position could not be read: {self._error}")
                return self._value  # type: ignore[return-value]  # read: a T
        return self._make(need)

    def _make(self, number: int) -> T:
        value: T | None = None
        error: str | None = None
        try:
            value = self._read()
            return value
        except BaseException as exc:
            error = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            with self._done:
                self.reads += 1
                self._finished = number
                self._value, self._error = value, error
                self._done.notify_all()
