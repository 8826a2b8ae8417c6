"""The decision log: one JSON line per decision, written off the request path.

A request thread only puts a tuple of what it already holds on a queue; one writer thread
per process formats the JSON lines and writes them to the file in batches. Sampling
(``DECISION_LOG_SAMPLE``, 0..1) and switching it off (``DECISION_LOG=off``) are config.
``flask decisions replay`` reads the file back.
"""

import atexit
import datetime
import json
import queue
import random
import threading
from pathlib import Path

_writers: dict = {}
_sink = None  # (writer, sample, context provider) of this process, or None when off


class _Writer(threading.Thread):
    """Drains the queue into one file; ``flush()`` waits until what was queued is written."""

    def __init__(self, path: str):
        super().__init__(name="decision-log", daemon=True)
        self.queue: queue.SimpleQueue = queue.SimpleQueue()
        self.path = path

    def run(self):
        with open(self.path, "a", encoding="utf-8", buffering=1 << 16) as out:
            while True:
                batch = [self.queue.get()]
                try:
                    while len(batch) < 1000:
                        batch.append(self.queue.get_nowait())
                except queue.Empty:
                    pass
                for item in batch:
                    if isinstance(item, threading.Event):
                        out.flush()
                        item.set()
                    else:
                        try:
                            out.write(_line(*item) + "\n")
                        except Exception:  # a record that cannot be written is dropped
                            pass
                if self.queue.empty():
                    out.flush()

    def flush(self, timeout: float = 5.0) -> None:
        done = threading.Event()
        self.queue.put(done)
        done.wait(timeout)


def install(path: str, sample: float = 1.0, context=None) -> None:
    """Write decisions to ``path`` (one writer thread per file and process)."""
    global _sink
    if not path or path == "off" or sample <= 0:
        _sink = None
        return
    path = str(Path(path).resolve())
    if path not in _writers:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        writer = _Writer(path)
        writer.start()
        _writers[path] = writer
    _sink = (_writers[path], sample, context)


@atexit.register
def flush() -> None:
    """Write out what is queued (replay and the tests read the file right after)."""
    for writer in list(_writers.values()):
        writer.flush()


def resource_record(target) -> dict | None:
    """How a decision's resource is written, enough to resolve it again on replay."""
    if target is None:
        return None
    node = target.node
    record = {"type": node.type, "id": node.id, "org": target.org.id, "style": target.org.style}
    if len(target.chain) > 1 and target.chain[-2].type != "Organization":
        above = target.chain[-2]
        record["parent"] = {"type": above.type, "id": above.id}
    if node.owner is not None:
        record["owner"] = node.owner
    if node.attributes:
        record["attributes"] = node.attributes
    return record


def record(decision, actor_id: str, action: str, target, requested: dict | None = None) -> None:
    """Queue one line for ``decision`` (does nothing when the log is off or not sampled)."""
    if _sink is None:
        return
    writer, sample, context = _sink
    if sample < 1.0 and random.random() >= sample:
        return
    extra = context() if context is not None else None
    writer.queue.put((decision, actor_id, action, target, requested, extra, _now()))


def _now() -> float:
    return datetime.datetime.now(datetime.UTC).timestamp()


def _line(decision, actor_id, action, target, requested, extra, when) -> str:
    line = {
        "decision_id": decision.decision_id,
        "time": datetime.datetime.fromtimestamp(when, datetime.UTC).isoformat(
            timespec="milliseconds"
        ),
        "actor": actor_id,
        "action": action,
        "resource": resource_record(target) or requested,
        "allowed": decision.allowed,
        "policy_version": decision.policy_version,
        "reason": decision.reason,
    }
    if extra:
        line.update(extra)
    return json.dumps(line, default=str)


def find(path: str, decision_id: str) -> dict | None:
    """The logged line of ``decision_id`` in the file at ``path``, or None."""
    try:
        with open(path, encoding="utf-8") as f:
            for text in f:
                if decision_id in text:
                    line = json.loads(text)
                    if line.get("decision_id") == decision_id:
                        return line
    except FileNotFoundError:
        return None
    return None
