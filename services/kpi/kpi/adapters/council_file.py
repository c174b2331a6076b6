"""Loads a council's configuration file (YAML) and reports a bad one by file, line and field."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from kpi.domain.council import CouncilConfig

DEFAULT_CONFIG = "council.default.yaml"


class CouncilConfigError(ValueError):
    """The configuration file is not valid; the message names the line."""


def _to_python(
    node: Node, path: tuple[str | int, ...], lines: dict[tuple[str | int, ...], int]
) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = SafeConstructor().construct_object(key_node)
            lines[(*path, key)] = key_node.start_mark.line + 1
            result[key] = _to_python(value_node, (*path, key), lines)
        return result
    if isinstance(node, SequenceNode):
        return [_to_python(item, (*path, i), lines) for i, item in enumerate(node.value)]
    assert isinstance(node, ScalarNode)
    return SafeConstructor().construct_object(node)


def parse_council_config(text: str, source: str) -> CouncilConfig:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise CouncilConfigError(f"{source}{line}: not valid YAML: {exc}") from exc
    if root is None:
        raise CouncilConfigError(f"{source}: the file is empty")
    lines: dict[tuple[str | int, ...], int] = {}
    data = _to_python(root, (), lines)
    try:
        return CouncilConfig.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = tuple(error["loc"])
            # the deepest part of the path the file has a line for
            while loc and loc not in lines:
                loc = loc[:-1]
            field = ".".join(str(part) for part in error["loc"]) or "(top level)"
            problems.append(f"{source}:{lines.get(loc, 1)}: {field}: {error['msg']}")
        raise CouncilConfigError("\n".join(problems)) from exc


def load_council_config(path: Path | None) -> CouncilConfig:
    """The file at ``path``, or the built-in example council when none is configured."""
    if path is None:
        text = resources.files("kpi").joinpath(DEFAULT_CONFIG).read_text()
        return parse_council_config(text, f"(built-in) {DEFAULT_CONFIG}")
    try:
        text = path.read_text()
    except OSError as exc:
        raise CouncilConfigError(f"{path}: cannot be read: {exc}") from exc
    return parse_council_config(text, str(path))
