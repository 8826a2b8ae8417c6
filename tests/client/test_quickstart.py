"""The README's quickstart, run as it is written, against a live gunicorn."""

import os
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "clients" / "python" / "README.md"


def quickstart() -> str:
    text = README.read_text()
    section = text.split("## Quickstart", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_quickstart_runs_as_written(live):
    code = quickstart()
    assert len(code.splitlines()) <= 40, "the quickstart must fit on one screen"
    env = {**os.environ, "ORGAUTHZ_URL": live.url, "ORGAUTHZ_KEY": live.key}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == 'True "view" if "reader" on Dataset'
    assert lines[1] == "upload denied"
    calls, versions, all_allowed = lines[2].split(" ", 1)[0], lines[2], lines[2].endswith("True")
    assert calls == "2" and all_allowed and versions.count("'") == 2  # one policy version
    assert lines[3] == "['pix4d-bridge-scan']"
    assert lines[4] == "['pix4d-owner']"
    assert lines[5].startswith("403 ") and "owner" in lines[5].lower()  # the policy's reason
