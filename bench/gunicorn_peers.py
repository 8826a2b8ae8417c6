"""gunicorn.conf.py's settings, for the servers orgauthz is measured against (bench/peers.py):
the same workers, threads, keep-alive, timeouts and limits, without the hooks only the
service needs (staging its policy, starting its outbox worker)."""

import runpy
import types
from pathlib import Path

_conf = runpy.run_path(str(Path(__file__).resolve().parent.parent / "gunicorn.conf.py"))
globals().update(
    {
        name: value
        for name, value in _conf.items()
        if not name.startswith("_")
        and not callable(value)
        and not isinstance(value, types.ModuleType)
    }
)
