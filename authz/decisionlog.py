"""The decision log: one JSON line per decision, written off the request path.

A request thread only serialises the record and puts it on a queue; a
``logging.handlers.QueueListener`` thread writes the lines to the file. Sampling
(``DECISION_LOG_SAMPLE``, 0..1) and switching it off (``DECISION_LOG=off``) are config.
``flask decisions replay`` reads the file back.
"""

import datetime
import json
import logging
import logging.handlers
import queue
import random
from pathlib import Path

_listeners: dict = {}
_sink = None  # (logger, sample, context provider) of this process, or None when off


def install(path: str, sample: float = 1.0, context=None) -> None:
    """Write decisions to ``path`` (one listener thread per file and process)."""
    global _sink
    if not path or path == "off" or sample <= 0:
        _sink = None
        return
    path = str(Path(path).resolve())
    if path not in _listeners:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        q = queue.SimpleQueue()
        handler = logging.FileHandler(path, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(message)s"))
        listener = logging.handlers.QueueListener(q, handler)
        listener.start()
        logger = logging.getLogger(f"orgauthz.decisionlog.{len(_listeners)}")
        logger.propagate = False
        logger.setLevel(logging.INFO)
        logger.addHandler(logging.handlers.QueueHandler(q))
        _listeners[path] = (listener, handler, logger)
    _sink = (_listeners[path][2], sample, context)


def flush() -> None:
    """Write out what is queued (the tests and replay read the file right after)."""
    for listener, handler, _ in list(_listeners.values()):
        listener.stop()
        handler.flush()
        listener.start()


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
    logger, sample, context = _sink
    if sample < 1.0 and random.random() >= sample:
        return
    line = {
        "decision_id": decision.decision_id,
        "time": datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds"),
        "actor": actor_id,
        "action": action,
        "resource": resource_record(target) or requested,
        "allowed": decision.allowed,
        "policy_version": decision.policy_version,
        "reason": decision.reason,
    }
    if context is not None:
        line.update(context())
    logger.info(json.dumps(line, default=str))


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
