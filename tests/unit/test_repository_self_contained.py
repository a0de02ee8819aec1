"""No tracked file names a path outside the repository: a clone has everything it refers to.

Every text file `git ls-files` lists is read (binary files, those with a NUL byte, are skipped).
Forbidden, with the reason a clone cannot follow them:

- the machine the project was built on: `/work/...`, the shared folder beside the repository
  (its name, and its `spec` folder), a home directory (`/home/<user>`, `/Users/<user>`,
  `/root/`, `~/`, `C:\\Users\\`);
- a relative path that climbs out of the repository from the file's own folder (`../../x` in a
  file one folder deep);
- `/tmp/...` outside `tests/`: code and docs take their locations from the settings
  (`ICW_HOME` and the rest). Tests may pass a `/tmp/...` placeholder to a setting that is never
  written to; what they write goes to pytest's `tmp_path`.

Allowed: system locations a document tells an operator about (`/srv/icw` as an example
`ICW_HOME`, `/usr/bin/chromium`), URLs, and `../` that stays inside the repository (dbt's
`../seeds`).

A second test fails on references to documents a clone lacks: the specification's old names
(EXTRACTS.md, METRICS.md, REFERENCE_VALUES.md, now docs/contract.md, docs/metrics.md,
docs/reference_values.md), the project's outside notes (STACK_NOTES.md, DESIGN_NOTES.md,
STYLE.md), and `docs/...` paths that are not in the repository.

This file is not read: its rules and their examples name what they forbid.
"""

from __future__ import annotations

import posixpath
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Rule:
    name: str
    pattern: re.Pattern[str]
    fix: str
    applies: Callable[[str], bool] = lambda path: True  # given the repo-relative path


NOT_PATH_CHAR = r"(?<![\w.~/-])"
RULES = (
    Rule("the build machine's workspace", re.compile(NOT_PATH_CHAR + r"/work/[\w.]"),
         "name the file inside the repository (docs/..., seeds/...) or a setting"),
    # written in two parts, so that this file does not itself name the folder it forbids
    Rule("the shared folder", re.compile(r"\.\./" + r"shared\b|\bshared" + r"/spec\b"),
         "the spec is in docs/ (contract.md, metrics.md, reference_values.md, reference/)"),
    Rule("a home directory",
         re.compile(NOT_PATH_CHAR + r"(?:/home/\w|/Users/\w|/root/)|(?<![\w$~])~/|"
                    r"\b[A-Za-z]:\\{1,2}Users\\"),
         "use a setting (ICW_HOME and the rest) or a path inside the repository"),
    Rule("a hard-coded /tmp location", re.compile(NOT_PATH_CHAR + r"/tmp/"),
         "take the location from a setting (ICW_HOME) or tempfile; tests use tmp_path",
         lambda path: not path.startswith("tests/")),
)
CLIMBING = re.compile(r"(?<![\w./])((?:\.\./)+)([\w.@+-]*)")

#: Documents that are not in the repository, and what to name instead.
OUTSIDE_DOCUMENTS = {
    "EXTRACTS.md": "docs/contract.md",
    "METRICS.md": "docs/metrics.md",
    "REFERENCE_VALUES.md": "docs/reference_values.md",
    "STACK_NOTES.md": "nothing outside the repository: put what is needed in docs/",
    "DESIGN_NOTES.md": "nothing outside the repository: put what is needed in docs/",
    "STYLE.md": "nothing outside the repository: put what is needed in docs/",
}
OUTSIDE_DOCUMENT = re.compile(
    r"(?<![\w/.-])(" + "|".join(re.escape(n) for n in OUTSIDE_DOCUMENTS) + r")\b")
DOCS_PATH = re.compile(r"(?<![\w/.-])(docs/[\w./-]*\w\.(?:md|csv))\b")


def tracked_text_files() -> dict[str, list[str]]:
    """Each tracked file that exists and is text, with its lines."""
    names = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True
    ).stdout.decode().split("\0")
    out = {}
    for name in filter(None, names):
        path = REPO / name
        if not path.is_file():  # deleted in the working tree, not yet in the index
            continue
        data = path.read_bytes()
        if b"\0" in data[:8192] or name.endswith(".gz"):
            continue
        out[name] = data.decode("utf-8", errors="replace").splitlines()
    return out


#: This file: its rules and their examples name what they forbid.
SELF = Path(__file__).resolve().relative_to(REPO).as_posix()
FILES = {name: lines for name, lines in tracked_text_files().items() if name != SELF}


def outside_paths(files: dict[str, list[str]]) -> list[str]:
    """file:line: what it names and how to fix it, for every forbidden path."""
    found = []
    for name, lines in files.items():
        folder = posixpath.dirname(name)
        for number, line in enumerate(lines, 1):
            for rule in RULES:
                if rule.applies(name):
                    for m in rule.pattern.finditer(line):
                        found.append(f"{name}:{number}: {rule.name} ({m.group(0)!r}): "
                                     f"{rule.fix}")
            for m in CLIMBING.finditer(line):
                target = posixpath.normpath(posixpath.join(folder, m.group(1) + m.group(2)))
                if target == ".." or target.startswith("../"):
                    found.append(f"{name}:{number}: {m.group(0)!r} climbs out of the "
                                 f"repository from {folder or 'its root'}/: name a path inside it")
    return found


def missing_documents(files: dict[str, list[str]]) -> list[str]:
    """file:line: a document named that a clone lacks, and what to name instead."""
    tracked = set(files) | set(FILES)
    found = []
    for name, lines in files.items():
        for number, line in enumerate(lines, 1):
            for m in OUTSIDE_DOCUMENT.finditer(line):
                found.append(f"{name}:{number}: names {m.group(1)}, which is not in the "
                             f"repository: name {OUTSIDE_DOCUMENTS[m.group(1)]}")
            for m in DOCS_PATH.finditer(line):
                if m.group(1) not in tracked and not (REPO / m.group(1)).exists():
                    found.append(f"{name}:{number}: names {m.group(1)}, which is not in the "
                                 "repository: name the document that holds it")
    return found


def test_no_tracked_file_names_a_path_outside_the_repository():
    found = outside_paths(FILES)
    assert not found, "\n".join(found)


def test_no_tracked_file_names_a_document_a_clone_lacks():
    found = missing_documents(FILES)
    assert not found, f"{len(found)} references:\n" + "\n".join(found)


@pytest.mark.parametrize(
    ("name", "line", "expected"),
    [
        ("README.md", "see [notes](../" + "shared/" + "spec/EXTRACTS.md)", "the shared folder"),
        ("docs/x.md", "read /work/" + "shared/" + "STACK_NOTES.md",
         "the build machine's workspace"),
        ("Makefile", "ICW_HOME=/home/alice/icw", "a home directory"),
        ("docs/x.md", "open /Users/bob/spec.md", "a home directory"),
        ("docs/x.md", "cp ~/spec.md .", "a home directory"),
        ("orchestration/x.py", 'HOME = "/tmp/icw"', "a hard-coded /tmp location"),
        ("dbt_project/dbt_project.yml", 'seed-paths: ["../../seeds"]', "climbs out"),
        ("Makefile", "cp ../x.md docs/", "climbs out"),
    ],
)
def test_each_rule_finds_what_it_forbids(name, line, expected):
    found = outside_paths({name: ["fine", line]})
    assert found and all(f.startswith(f"{name}:2: ") for f in found), found
    assert any(expected in f for f in found), found


@pytest.mark.parametrize(
    ("name", "line"),
    [
        ("dbt_project/dbt_project.yml", 'seed-paths: ["../seeds"]'),
        ("reports/pages/+layout.svelte", "import '../app.css';"),
        ("tests/unit/test_x.py", 'Settings.from_env({"ICW_HOME": "/tmp/x"})'),
        ("README.md", "export ICW_HOME=/srv/icw"),
        ("README.md", "https://example.org/work/home/tmp/x"),
        (".gitignore", "/data/"),
        ("docs/x.md", "the landing folder of the working tree (`$ICW_HOME/landing/`)"),
    ],
)
def test_paths_inside_the_repository_or_the_system_are_allowed(name, line):
    assert outside_paths({name: [line]}) == []


def test_documents_a_clone_lacks_are_found_with_their_replacement():
    found = missing_documents({"docs/x.md": ["as METRICS.md says", "see docs/nowhere.md",
                                             "see docs/contract.md and docs/reference/ldus.csv"]})
    assert found == [
        "docs/x.md:1: names METRICS.md, which is not in the repository: name docs/metrics.md",
        "docs/x.md:2: names docs/nowhere.md, which is not in the repository: name the "
        "document that holds it",
    ]
