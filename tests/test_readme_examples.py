"""The README's curl examples, run as they are written against the demo data of ``make run``.

Every ```sh block of README.md that calls curl is an example: its continuation lines are
joined, a ``H=(...)`` array in the block is expanded where ``"${H[@]}"`` is used, ``$KEY``
is a fresh API key, and the curl's method, path, headers and body go to the app's test
client. The paragraph after the block says what it answers; the test holds the README to it:

- "answers `403`" (optionally ": `"field": value`"): that status, and that body;
- "answers `{...}`" or "answers `[...]`" or "answers `name: value`": a 2xx whose body has
  that shape (``...`` or ``{...}`` stands for anything; a list ending in ``...`` is a prefix);
- nothing said: a 2xx.

A curl option the test does not know fails the test, so an example the test cannot follow
literally is never skipped.
"""

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest

from models import ApiKey, db

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
# The README is the front door; the rest of the manual is in these, with examples of its own.
DOCS = [README, *sorted((ROOT / "docs").glob("*.md")), ROOT / "policies" / "README.md"]
BASE = "http://127.0.0.1:8000"
ANY = "..."


@dataclass
class Example:
    path: Path
    line: int
    words: list[str]
    claim: str
    detail: str | None

    def __str__(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def _commands(block: str) -> list[list[str]]:
    """The block's commands as words, continuation lines joined and "${H[@]}" expanded."""
    arrays: dict[str, list[str]] = {}
    commands = []
    for line in block.replace("\\\n", " ").splitlines():
        line = line.strip()
        assigned = re.fullmatch(r"(\w+)=\((.*)\)", line)
        if assigned:
            arrays[assigned.group(1)] = shlex.split(assigned.group(2))
            continue
        if not line.startswith("curl "):
            continue
        words: list[str] = []
        for word in shlex.split(line, comments=True):
            array = re.fullmatch(r"\$\{(\w+)\[@\]\}", word)
            words.extend(arrays[array.group(1)] if array else [word])
        commands.append(words)
    return commands


def readme_examples() -> list[Example]:
    examples = []
    for path in DOCS:
        examples += _examples_of(path)
    return examples


def _examples_of(path: Path) -> list[Example]:
    text = path.read_text()
    examples = []
    for block in re.finditer(r"^```sh\n(.*?)^```\n", text, re.S | re.M):
        after = text[block.end() :].split("\n\n", 1)[0].split("```", 1)[0]
        said = re.search(r"answers `([^`]*)`(?::\s*`([^`]*)`)?", after)
        claim, detail = (said.group(1), said.group(2)) if said else ("", None)
        claim, detail = " ".join(claim.split()), detail and " ".join(detail.split())
        line = text.count("\n", 0, block.start()) + 2
        for words in _commands(block.group(1)):
            examples.append(Example(path, line, words, claim, detail))
    return examples


EXAMPLES = readme_examples()


def test_every_curl_in_the_readme_is_followed():
    sh_blocks = [
        block
        for path in DOCS
        for block in re.findall(r"^```sh\n(.*?)^```\n", path.read_text(), re.S | re.M)
    ]
    curls = sum(len(re.findall(r"^\s*curl ", b, re.M)) for b in sh_blocks)
    assert curls == len(EXAMPLES) and len(EXAMPLES) >= 5


def _request(words: list[str], key: str) -> dict:
    """curl's words as the test client's arguments."""
    assert words[0] == "curl"
    method, url, headers, data = None, None, {}, None
    rest = [w.replace("${KEY}", key).replace("$KEY", key) for w in words[1:]]
    while rest:
        word = rest.pop(0)
        if word in ("-s", "--silent", "-S", "-sS"):
            continue
        if word in ("-H", "--header"):
            name, value = rest.pop(0).split(":", 1)
            headers[name.strip()] = value.strip()
        elif word in ("-d", "--data", "--data-raw"):
            data = rest.pop(0)
        elif word in ("-X", "--request"):
            method = rest.pop(0)
        elif word.startswith(BASE):
            url = word[len(BASE) :]
        else:
            raise AssertionError(f"the test does not know curl's {word!r}: follow it literally")
    assert url, "no URL on " + BASE
    method = method or ("POST" if data is not None else "GET")
    return {"path": url, "method": method, "headers": headers, "data": data}


def _documented(claim: str):
    """The shape the README shows, as JSON with ANY where it elides."""
    named = re.fullmatch(r"(\w+): (.+)", claim)
    if named:
        claim = json.dumps({named.group(1): json.loads(named.group(2))})
    claim = re.sub(r"\{\s*\.\.\.\s*\}|\[\s*\.\.\.\s*\]", '"..."', claim)
    claim = re.sub(r'(?<!")\.\.\.(?!")', '"..."', claim)
    return json.loads(claim)


def matches(documented, answer) -> bool:
    if documented == ANY:
        return True
    if isinstance(documented, dict):
        return isinstance(answer, dict) and all(
            k in answer and matches(v, answer[k]) for k, v in documented.items()
        )
    if isinstance(documented, list):
        if not isinstance(answer, list):
            return False
        if documented and documented[-1] == ANY:
            documented = documented[:-1]
            answer = answer[: len(documented)]
        return len(documented) == len(answer) and all(map(matches, documented, answer))
    if isinstance(documented, str) and isinstance(answer, str):
        return " ".join(documented.split()) == " ".join(answer.split())
    return documented == answer


@pytest.mark.parametrize("example", EXAMPLES, ids=str)
def test_the_readme_example_answers_as_written(app, demo, example):
    with db.connection_context():
        key = ApiKey.create_key("readme")
    request = _request(example.words, key)
    response = app.test_client().open(**request)
    body = response.get_json(silent=True)
    said = f"{example} {request['method']} {request['path']}: {response.status_code} {body}"
    if re.fullmatch(r"\d{3}", example.claim):
        assert response.status_code == int(example.claim), said
        if example.detail:
            assert matches(_documented("{" + example.detail + "}"), body), said
        return
    assert 200 <= response.status_code < 300, said
    if example.claim:
        assert matches(_documented(example.claim), body), said
