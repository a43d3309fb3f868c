"""Static checks for container files: no Docker engine runs here, so Dockerfiles are parsed into
instructions and compose files with PyYAML, and the command lines they hold are run through
mcp-central's own argument parser."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mcp_central.cli.main import build_parser, translate_tbxark


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str

    def exec_form(self) -> list[str]:
        """``["a", "b"]`` (JSON, exec form) as a list; the shell form is split like a shell would."""
        text = self.args.strip()
        return list(json.loads(text)) if text.startswith("[") else shlex.split(text)


def parse_dockerfile(path: Path) -> list[Instruction]:
    """Instructions in order: comments dropped, ``\\`` continuations joined, keywords upper-cased."""
    instructions: list[Instruction] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue  # comments may sit inside a continued instruction
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        whole = pending + line
        pending = ""
        keyword, _, args = whole.partition(" ")
        instructions.append(Instruction(keyword.upper(), args.strip()))
    assert not pending, f"{path}: a continuation runs off the end"
    return instructions


def only(instructions: list[Instruction], keyword: str) -> list[Instruction]:
    return [i for i in instructions if i.keyword == keyword]


def load_yaml(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict)
    return data


def cli_args(argv: list[str]) -> Any:
    """What ``mcp-central ARGV`` means to our parser (TBXark's single-dash flags included)."""
    return build_parser().parse_args(translate_tbxark(argv))
