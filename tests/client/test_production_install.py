"""The production install, without Docker: the Dockerfile's build stage run in a fresh venv
(the runtime lock, nothing else), then the app served from the build context as
.dockerignore leaves it, with the image's migration command, CMD and HEALTHCHECK. The venv
is built once per run (tens of seconds, from pip's cache after the first); marked slow, it
still runs in `make test`."""

import fnmatch
import http.client
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.serving import free_port
from tests.support import poll

ROOT = Path(__file__).resolve().parents[2]
TEST_TOOLS = [
    "pytest",
    "hypothesis",
    "playwright",
    "schemathesis",
    "casbin",
    "cedarpy",
    "mypy",
    "ruff",
    "httpx",
    "orgauthz_client",
]
# Kept out of the test's run of the Dockerfile: it changes where pip caches, not what it
# installs, and with it every run would download the whole lock again.
NOT_APPLIED_ENV = {"PIP_NO_CACHE_DIR"}

pytestmark = pytest.mark.slow


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined."""
    out, pending = [], ""
    for line in text.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending += line.rstrip()
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        word, _, rest = pending.strip().partition(" ")
        out.append((word.upper(), rest.strip()))
        pending = ""
    return out


def stages(text: str) -> dict[str, list[tuple[str, str]]]:
    """Each stage's instructions, by its name (``AS name``) or its index."""
    found, current = {}, None
    for word, rest in instructions(text):
        if word == "FROM":
            parts = rest.split()
            current = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else str(len(found))
            found[current] = [(word, rest)]
        else:
            found[current].append((word, rest))
    return found


DOCKERFILE = (ROOT / "Dockerfile").read_text()
STAGES = stages(DOCKERFILE)
FINAL = list(STAGES.values())[-1]


def _one(stage, word):
    [args] = [rest for w, rest in stage if w == word]
    return args


def _exec_form(args: str) -> list[str]:
    import json

    return json.loads(args[args.index("[") :])


def _interpreter() -> str:
    """Python 3.12, as in the image, when this machine has it; else the suite's."""
    for name in ("python3.12",):
        path = shutil.which(name)
        if path and subprocess.run([path, "-c", "pass"], capture_output=True).returncode == 0:
            return path
    return sys.executable


def test_the_image_is_slim_python_312_non_root_with_gunicorn_and_a_healthcheck():
    images = [rest.split()[0] for w, rest in instructions(DOCKERFILE) if w == "FROM"]
    assert len(images) == 2 and len(set(images)) == 1, images
    # An exact patch release of 3.12 slim, one with the fix for CVE-2024-6923 (3.12.5 on).
    match = re.fullmatch(r"python:3\.12\.(\d+)-slim", images[0])
    assert match and int(match.group(1)) >= 5, images
    user = _one(FINAL, "USER")
    assert user not in ("root", "0") and not user.startswith("0:")
    assert _exec_form(_one(FINAL, "CMD")) == [
        "gunicorn",
        "-c",
        "gunicorn.conf.py",
        "app:create_app()",
    ]
    assert "/readyz" in _one(FINAL, "HEALTHCHECK")
    assert ("COPY", "--from=build /opt/venv /opt/venv") in FINAL
    # the runtime lock and nothing else goes into the image's venv
    assert "requirements-dev" not in DOCKERFILE and "requirements-bench" not in DOCKERFILE
    assert "flask --app app db upgrade" in DOCKERFILE  # the documented one-shot migration


def context_copy(dest: Path) -> Path:
    """The build context as .dockerignore leaves it."""
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert not any(p.startswith("!") for p in patterns), "exceptions are not modelled here"
    anywhere = [p[3:] for p in patterns if p.startswith("**/")]
    top = [p.rstrip("/") for p in patterns if not p.startswith("**/")]

    def ignored(names):
        return {n for n in names if any(fnmatch.fnmatch(n, p) for p in anywhere)}

    dest.mkdir()
    for entry in ROOT.iterdir():
        if entry.name in ignored([entry.name]) or any(fnmatch.fnmatch(entry.name, p) for p in top):
            continue
        if entry.is_dir():
            shutil.copytree(entry, dest / entry.name, ignore=lambda _d, names: ignored(names))
        else:
            shutil.copy2(entry, dest / entry.name)
    return dest


def _clean_env(**extra) -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ORGAUTHZ_", "PIP_NO_CACHE", "PYTHON", "VIRTUAL_ENV"))
        and k not in ("DATABASE_URL", "PROMETHEUS_MULTIPROC_DIR", "BIND", "WEB_CONCURRENCY")
    }
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    """The build stage run here: container paths under a folder of the test's own."""
    top = tmp_path_factory.mktemp("image")
    root = top / "fs"
    env = _clean_env()
    python = _interpreter()
    for word, rest in STAGES["build"][1:]:
        if word == "ENV":
            for pair in shlex.split(rest):
                key, _, value = pair.partition("=")
                if key not in NOT_APPLIED_ENV:
                    env[key] = value
        elif word == "COPY":
            src, dst = rest.split()
            target = root / dst.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / src, target)
        elif word == "RUN":
            command = re.sub(r"(?<=\s)(/[\w./-]+)", lambda m: str(root) + m.group(1), " " + rest)
            command = re.sub(r"^ python(?=\s)", shlex.quote(python), command)
            done = subprocess.run(
                command, shell=True, env=env, capture_output=True, text=True, timeout=600
            )
            assert done.returncode == 0, f"RUN {rest}\n{done.stdout[-2000:]}{done.stderr[-3000:]}"
        else:
            pytest.fail(f"the test does not model {word} in the build stage")
    venv = root / "opt" / "venv"
    assert (venv / "bin" / "gunicorn").exists()
    return venv, context_copy(top / "app"), top


def test_the_runtime_lock_alone_imports_the_app_without_test_tools(image):
    venv, app_dir, _ = image
    probe = (
        "import importlib.util, app; assert callable(app.create_app); "
        f"print([m for m in {TEST_TOOLS!r} if importlib.util.find_spec(m)])"
    )
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-c", probe],
        cwd=app_dir,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "[]"
    frozen = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "freeze"],
        env=_clean_env(),
        capture_output=True,
        text=True,
    ).stdout.lower()
    pins = {_name(line.split("==")[0]) for line in frozen.split()}
    locked = {
        _name(m.group(1))
        for m in re.finditer(r"^([A-Za-z0-9_.-]+)==", (ROOT / "requirements.txt").read_text(), re.M)
    }
    assert pins <= locked, f"installed but not in the lock: {pins - locked}"


def _name(project: str) -> str:
    return re.sub(r"[-_.]+", "-", project).lower()


def _get(port: int, path: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    finally:
        conn.close()


def test_the_image_migrates_serves_and_passes_its_healthcheck(image):
    venv, app_dir, top = image
    port = free_port()
    env = _clean_env(
        PATH=f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}",
        DATABASE_URL=f"sqlite:///{top / 'image.db'}",
        BIND=f"127.0.0.1:{port}",
        WEB_CONCURRENCY="1",
    )
    # the documented one-shot migration, then the image's CMD
    done = subprocess.run(
        ["flask", "--app", "app", "db", "upgrade"],
        cwd=app_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]

    healthcheck = _exec_form(_one(FINAL, "HEALTHCHECK"))
    log = open(top / "gunicorn.log", "w")
    server = subprocess.Popen(
        _exec_form(_one(FINAL, "CMD")), cwd=app_dir, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:

        def ready() -> bool:
            try:
                if _get(port, "/readyz") == 200:
                    return True
            except OSError:
                pass
            assert server.poll() is None, (top / "gunicorn.log").read_text()[-3000:]
            return False

        if not poll(ready, timeout=60, every=0.3):
            pytest.fail("not ready in 60 s: " + (top / "gunicorn.log").read_text()[-3000:])
        check = subprocess.run(
            healthcheck, cwd=app_dir, env=env, capture_output=True, text=True, timeout=30
        )
        assert check.returncode == 0, check.stderr
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        log.close()
    down = subprocess.run(healthcheck, cwd=app_dir, env=env, capture_output=True, timeout=30)
    assert down.returncode != 0  # and it fails when nothing answers
