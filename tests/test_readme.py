"""The README is the user's manual: every command it shows must still be a command.

Each `seqgen ...` line of its code blocks (also after `$ `, `-m seqgen` under torchrun or accelerate launch)
parses with seqgen's own parser (the subcommand and every flag exist), every KEY=VALUE of a `train` names a
real config key, every `seqgen.NAME` of its Python blocks exists, and every repository path it names (recipes,
benchmarks, docs, tokenizers, tests) is there. The recipe folders' READMEs (recipes/*/README.md) are held to
the same rules for their commands and paths.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

import seqgen
from seqgen.cli import build_parser
from seqgen.config import all_keys
from seqgen.run_folder import RunConfig

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
RECIPE_READMES = sorted((ROOT / "recipes").glob("*/README.md"))
MANUALS = (README, *(p.read_text(encoding="utf-8") for p in RECIPE_READMES))
BLOCK = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
PATH = re.compile(r"(?<![\w./-])((?:recipes|benchmarks|docs|tokenizers|tests)/[\w./-]*\w)")


def _blocks(lang: str | None = None, texts: tuple[str, ...] = (README,)) -> list[str]:
    return [body for text in texts for kind, body in BLOCK.findall(text) if lang is None or kind == lang]


def _commands() -> list[str]:
    """The seqgen command lines of the READMEs' shell blocks, continuation lines joined."""
    found = []
    for body in _blocks(texts=MANUALS):
        text = body.replace("\\\n", " ")
        for line in text.splitlines():
            line = line.strip().removeprefix("$ ")
            if line.startswith("seqgen "):
                found.append(line)
            elif " -m seqgen " in line:
                found.append("seqgen " + line.split(" -m seqgen ", 1)[1])
    return [c.split(" #", 1)[0].strip() for c in found]


COMMANDS = _commands()
KEYS = set(all_keys(RunConfig))


def test_the_readme_shows_every_command():
    kinds = {shlex.split(c)[1] for c in COMMANDS}
    assert {"train", "sample", "evaluate", "compare", "study", "data", "tokenizer"} <= kinds, kinds


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_parses_and_names_real_keys(command):
    argv = shlex.split(command)[1:]
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as e:  # argparse's way of refusing; the message went to stderr
        pytest.fail(f"README command does not parse (exit {e.code}): {command}")
    if argv[0] == "train":
        items = [a for a in args.items if "=" in a]
        unknown = [a.split("=", 1)[0] for a in items if a.split("=", 1)[0] not in KEYS]
        assert not unknown, f"unknown config keys {unknown} in: {command}"
        recipes = [a for a in args.items if a.endswith(".yaml")]
        assert all((ROOT / r).is_file() for r in recipes), command


def test_every_python_name_exists():
    names = {m for body in _blocks("python") for m in re.findall(r"\bseqgen\.(\w+)\(", body)}
    assert names, "the README shows the Python API"
    assert all(hasattr(seqgen, n) for n in names), sorted(n for n in names if not hasattr(seqgen, n))


def test_every_repository_path_exists():
    paths = sorted({p for text in MANUALS for p in PATH.findall(text)})
    made = {p for text in MANUALS for p in re.findall(r"--out (\S+)", text)}  # what a shown command writes
    assert paths
    missing = [p for p in paths if not (ROOT / p).exists() and p not in made]
    assert not missing, missing


def test_every_recipe_folder_has_a_readme():
    folders = sorted(p.parent for p in (ROOT / "recipes").glob("*/*.yaml"))
    assert folders and all((f / "README.md").is_file() for f in folders), folders
