"""Request metrics counted per worker and flushed (ops/metrics.py ``Tally``): after a flush the
counter and the histogram hold exactly what ``inc`` and ``observe`` per request would have
given, none lost to threads; before it, nothing (the files are written by the flush only)."""

import random
import threading

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from ops.metrics import LATENCY, Tally

BUCKETS = LATENCY._upper_bounds[:-1]  # the service's buckets (+Inf added by prometheus)


def pair():
    registry = CollectorRegistry()
    counter = Counter("req_total", "r", ["route"], registry=registry)
    histogram = Histogram("req_seconds", "s", ["route"], buckets=BUCKETS, registry=registry)
    return registry, counter, histogram


def samples(n: int) -> list:
    rng = random.Random(5)
    edges = [b for b in BUCKETS] + [0.0, 7.0]  # exactly on a bound, and past the last
    return [rng.choice(edges) if rng.random() < 0.2 else rng.expovariate(200) for _ in range(n)]


def test_a_flush_gives_what_each_request_would_have():
    direct_reg, direct_c, direct_h = pair()
    tally_reg, tally_c, tally_h = pair()
    tally = Tally(multiprocess=True)
    tally._start = lambda: None  # flushed by the test, not a thread
    for i, seconds in enumerate(samples(3000)):
        route = ("/a", "/b")[i % 2]
        direct_c.labels(route).inc()
        direct_h.labels(route).observe(seconds)
        tally.add(tally_c.labels(route), tally_h.labels(route), seconds)
    assert 'req_total{route="/a"} 0.0' in generate_latest(tally_reg).decode()
    tally.flush()
    assert exposed(tally_reg) == exposed(direct_reg)


def exposed(registry) -> list:
    """The registry's text, less the creation times."""
    return [x for x in generate_latest(registry).decode().splitlines() if "_created" not in x]


def test_threads_lose_no_request():
    registry, counter, histogram = pair()
    tally = Tally(multiprocess=True)
    tally.FLUSH_SECONDS = 0.001  # the thread flushes while they count

    def count():
        for _ in range(5000):
            tally.add(counter.labels("/a"), histogram.labels("/a"), 0.002)

    threads = [threading.Thread(target=count) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    tally.flush()
    assert counter.labels("/a")._value.get() == 20_000
    text = generate_latest(registry).decode()
    assert 'req_seconds_count{route="/a"} 20000.0' in text
    assert 'req_seconds_bucket{le="0.001",route="/a"} 0.0' in text
    assert 'req_seconds_bucket{le="0.0025",route="/a"} 20000.0' in text


def test_a_counter_alone_is_counted_as_its_incs():
    """``inc`` (a request's decisions, where its facts came from): nothing in the files
    before a flush, after it what each ``inc`` would have given."""
    registry = CollectorRegistry()
    direct = Counter("dec_total", "d", ["style"], registry=registry)
    tallied = Counter("tal_total", "d", ["style"], registry=registry)
    tally = Tally(multiprocess=True)
    tally._start = lambda: None  # flushed by the test, not a thread
    for i in range(1000):
        style, n = ("a", "b")[i % 2], i % 3 + 1
        direct.labels(style).inc(n)
        tally.inc(tallied.labels(style), n)
    assert tallied.labels("a")._value.get() == 0
    tally.flush()
    for style in ("a", "b"):
        assert tallied.labels(style)._value.get() == direct.labels(style)._value.get() > 0
