"""Slow clients cannot starve the service when it runs as deployed: nginx (deploy/nginx.conf)
in front of gunicorn (gunicorn.conf.py).

gunicorn's gthread worker hands a connection to a thread as soon as its first bytes arrive,
and the thread then blocks until the whole request is in: 16 connections that send a partial
header or a partial body hold all 8 threads of two 4-thread workers, and nothing in gunicorn
times them out (its ``timeout`` watches the worker's main loop, which keeps running). Measured
here, directly against gunicorn with the 16 slow connections open: /v1/authorize calls get no
answer within 3 s (they wait until a slow client gives up). Through nginx the same 16
connections cost nginx a socket each and gunicorn nothing: nginx forwards a request only when
it has all of it, so /v1/authorize answers in milliseconds, and nginx closes the stalled
connections itself (client_header_timeout / client_body_timeout, 10 s).

The test bounds every wait; it takes about 25 s and stops by itself in under 60 s.
"""

import http.client
import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from tests.serving import needs_nginx, start_gunicorn, start_nginx, stop

SLOW = 16
BODY = json.dumps(
    {
        "actor": {"id": "pix4d-reader"},
        "action": "view",
        "resource": {"type": "Dataset", "id": "pix4d-bridge-scan"},
    }
)


class SlowClients:
    """``n`` connections to ``port`` that never finish their request: half stop inside the
    headers, half send the headers and part of a declared 4 kB body; a thread trickles one
    more byte into each every 0.5 s (as a slow client does, so that idle timeouts between
    reads alone do not end them) until ``pause()``."""

    def __init__(self, port: int, n: int = SLOW):
        self.sockets = []
        for i in range(n):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            if i % 2 == 0:
                s.sendall(b"POST /v1/authorize HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: a")
            else:
                s.sendall(
                    b"POST /v1/authorize HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    b"Content-Type: application/json\r\nContent-Length: 4096\r\n\r\n{"
                )
            self.sockets.append(s)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._trickle, daemon=True)
        self._thread.start()

    def _trickle(self):
        while not self._stop.wait(0.5):
            for s in self.sockets:
                try:
                    s.send(b"a" if self.sockets.index(s) % 2 == 0 else b" ")
                except OSError:
                    pass

    def pause(self):
        self._stop.set()
        self._thread.join(timeout=5)

    def closed_by_server(self, seconds: float) -> int:
        """How many of the connections the server closes within ``seconds``."""
        deadline, closed = time.monotonic() + seconds, set()
        while time.monotonic() < deadline and len(closed) < len(self.sockets):
            for i, s in enumerate(self.sockets):
                if i in closed:
                    continue
                s.settimeout(0.05)
                try:
                    data = s.recv(4096)
                except TimeoutError:
                    continue
                except OSError:
                    closed.add(i)
                    continue
                if not data or data.startswith(b"HTTP/1.1 408"):  # closed, or 408 then closed
                    closed.add(i)
        return len(closed)

    def close(self):
        self.pause()
        for s in self.sockets:
            s.close()


def authorize(port: int, key: str, timeout: float):
    """POST /v1/authorize on a new connection: (status or None when no answer, seconds)."""
    start = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(
            "POST",
            "/v1/authorize",
            BODY,
            {"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        )
        response = conn.getresponse()
        allowed = json.loads(response.read())["allowed"] if response.status == 200 else None
        return (response.status, allowed), time.monotonic() - start
    except OSError:  # timed out (or reset)
        return None, time.monotonic() - start
    finally:
        conn.close()


def calls(port: int, key: str, n: int, timeout: float):
    """``n`` calls, 4 at a time."""
    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(lambda _: authorize(port, key, timeout), range(n)))


@needs_nginx
def test_slow_clients_do_not_starve_authorize_behind_nginx(tmp_path):
    began = time.monotonic()
    gunicorn, gunicorn_port, key = start_gunicorn(tmp_path, GUNICORN_THREADS="4")
    nginx = direct = behind = None
    try:
        nginx, port = start_nginx(tmp_path, gunicorn_port)
        assert authorize(port, key, 5)[0] == (200, True)

        behind = SlowClients(port)
        time.sleep(1.0)  # every slow request is in, and would hold a thread by now
        results = calls(port, key, 24, timeout=5)
        slowest = max(seconds for _, seconds in results)
        assert all(result == (200, True) for result, _ in results), results
        assert slowest < 2.0, results

        # For contrast, the same against gunicorn itself (measured, not asserted: it is
        # gunicorn's behaviour, not ours): the calls wait for a thread that never comes.
        direct = SlowClients(gunicorn_port)
        time.sleep(1.0)
        starved = calls(gunicorn_port, key, 4, timeout=3)
        unanswered = sum(result is None for result, _ in starved)
        print(
            f"behind nginx: 24 of 24 answered, slowest {slowest * 1000:.0f} ms; directly "
            f"against gunicorn: {unanswered} of 4 unanswered after 3 s"
        )
        direct.close()  # frees gunicorn's threads (their reads see the end of the stream)
        direct = None

        # nginx closes the stalled connections itself: the partial headers at
        # client_header_timeout, the stalled bodies client_body_timeout after their last byte.
        behind.pause()
        assert behind.closed_by_server(12.0) == SLOW
        assert authorize(port, key, 5)[0] == (200, True)
    finally:
        for clients in (direct, behind):
            if clients is not None:
                clients.close()
        if nginx is not None:
            stop(nginx)
        stop(gunicorn)
    assert time.monotonic() - began < 60
