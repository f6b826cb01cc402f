"""Read configuration files into a Document, every problem named by file and line.

YAML is composed into nodes first, so each value keeps the line it was written on;
pydantic's error locations are mapped back to those lines. A file with any problem
gives no Document: nothing is applied from a half-valid configuration.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from medic.declarative.document import TARGET_TYPES, Document

SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class Problem:
    file: str
    line: int | None
    where: str  # the dotted path in the document, "" for the file itself
    message: str

    def __str__(self) -> str:
        place = f"{self.file}:{self.line}" if self.line else self.file
        return f"{place}: {self.where + ': ' if self.where else ''}{self.message}"


class Invalid(Exception):
    def __init__(self, problems: list[Problem]):
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = problems


@dataclass
class _Source:
    """Where one entry of the merged document was written, and the line of each of its parts."""

    file: str
    index: int  # the entry's position in its file's section
    name: str | None  # its heartbeat_name or name, when it has one
    lines: dict[tuple, int]


def files_of(paths: list[str | Path]) -> list[Path]:
    """The files named, a folder standing for its *.yaml and *.yml files (sorted, not recursive)."""
    found: list[Path] = []
    for given in map(Path, paths):
        if given.is_dir():
            inside = sorted(p for p in given.iterdir() if p.is_file() and p.suffix in SUFFIXES)
            if not inside:
                raise Invalid([Problem(str(given), None, "", "no *.yaml or *.yml file in this folder")])
            found.extend(inside)
        elif given.is_file():
            found.append(given)
        else:
            raise Invalid([Problem(str(given), None, "", "no such file or folder")])
    return found


# Without aliases a file holds fewer values than characters; merge keys (<<: *base)
# multiply a few, an alias bomb ("billion laughs") by billions.
EXPANSION = 10
MAX_DEPTH = 64  # far deeper than any Medic configuration or manifest


class HostileYaml(ValueError):
    """YAML refused before it is built: too deep, or aliases expanding far beyond its size."""


def refuse_hostile(nodes: list[yaml.Node], size: int) -> None:
    """HostileYaml for composed YAML (``nodes``, of a text of ``size`` characters) whose
    aliases expand to more than EXPANSION values per character, which takes gigabytes
    once built, or that nests deeper than MAX_DEPTH. Walked without recursion, and
    stopped as soon as the budget is spent, so a bomb costs no more than its budget."""
    budget = EXPANSION * (size + 1000)
    stack = [(node, 0) for node in nodes]
    while stack:
        node, depth = stack.pop()
        budget -= 1
        if budget < 0:
            raise HostileYaml(f"its aliases expand to more than {EXPANSION} values per character of the file")
        if depth > MAX_DEPTH:
            raise HostileYaml(f"values nested more than {MAX_DEPTH} levels deep")
        if isinstance(node, yaml.SequenceNode):
            stack.extend((item, depth + 1) for item in node.value)
        elif isinstance(node, yaml.MappingNode):
            stack.extend((part, depth + 1) for pair in node.value for part in pair)


def compose_all(text: str) -> tuple[yaml.SafeLoader, list[yaml.Node]]:
    """The text's documents as YAML nodes, checked by refuse_hostile; the caller builds
    them with the loader, then disposes of it. Raises HostileYaml or yaml.YAMLError."""
    loader = yaml.SafeLoader(text)
    try:
        nodes = []
        while loader.check_node():
            nodes.append(loader.get_node())
        refuse_hostile(nodes, len(text))
    except RecursionError:  # PyYAML composes nested nodes recursively
        loader.dispose()
        raise HostileYaml(f"values nested more than {MAX_DEPTH} levels deep") from None
    except BaseException:
        loader.dispose()
        raise
    return loader, nodes


def _value(node: yaml.Node, path: tuple, lines: dict[tuple, int], loader: yaml.SafeLoader, problems: list, file: str):
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        written = sum(1 for key_node, _ in node.value if key_node.tag != "tag:yaml.org,2002:merge")
        loader.flatten_mapping(node)  # YAML merge keys (<<: *base): the merged pairs come first
        from_merge = len(node.value) - written
        out: dict[Any, Any] = {}
        merged: set[Any] = set()  # keys taken from a merge key, which a written key replaces
        for index, (key_node, value_node) in enumerate(node.value):
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int, bool)) and key is not None:
                problems.append(Problem(file, key_node.start_mark.line + 1, _dotted(path), "a key must be a plain value"))
                continue
            if index < from_merge:
                merged.add(key)  # several merged mappings: PyYAML orders them so the last pair wins
            elif key in merged:
                merged.discard(key)
            elif key in out:
                problems.append(Problem(file, key_node.start_mark.line + 1, _dotted(path + (key,)), "given twice"))
                continue
            out[key] = _value(value_node, path + (key,), lines, loader, problems, file)
            lines[path + (key,)] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_value(item, path + (i,), lines, loader, problems, file) for i, item in enumerate(node.value)]
    return loader.construct_object(node, deep=True)


def _dotted(path: tuple) -> str:
    return ".".join(str(part) for part in path)


def _read(file: Path) -> tuple[list[tuple[Any, dict[tuple, int]]], list[Problem]]:
    """The documents of one file, each with its line map."""
    problems: list[Problem] = []
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [], [Problem(str(file), None, "", f"cannot read: {type(exc).__name__}")]
    documents = []
    try:
        loader, nodes = compose_all(text)
        try:
            for node in nodes:
                lines: dict[tuple, int] = {}
                documents.append((_value(node, (), lines, loader, problems, str(file)), lines))
        finally:
            loader.dispose()
    except HostileYaml as exc:
        return [], [Problem(str(file), None, "", f"refused: {exc}")]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        return [], [Problem(str(file), mark.line + 1 if mark else None, "", f"not valid YAML: {problem}")]
    return documents, problems


def load(paths: list[str | Path]) -> Document:
    """One Document from the files (or folders) given, or Invalid listing every problem."""
    problems: list[Problem] = []
    merged: dict[str, Any] = {"services": [], "routes": [], "maintenance": []}
    sources: dict[tuple, _Source] = {}  # (section, merged index) -> where it was written
    top: list[tuple[str, int | None]] = []
    for file in files_of(paths):
        documents, found = _read(file)
        problems.extend(found)
        for data, lines in documents:
            if data is None:
                continue  # an empty file or document
            if not isinstance(data, dict):
                problems.append(Problem(str(file), lines.get(()), "", "expected a mapping with services, routes or maintenance"))
                continue
            for key, value in data.items():
                if key in merged and isinstance(value, list):
                    for i, entry in enumerate(value):
                        name = (entry.get("heartbeat_name") or entry.get("name")) if isinstance(entry, dict) else None
                        sources[(key, len(merged[key]))] = _Source(
                            str(file), i, str(name) if name is not None else None,
                            {k[2:]: v for k, v in lines.items() if k[:2] == (key, i)})
                        merged[key].append(entry)
                elif key == "version":
                    merged["version"] = value
                    top.append((str(file), lines.get((key,))))
                elif key in merged and value is None:
                    continue  # "routes:" with nothing under it
                else:
                    problem = "expected a list" if key in merged else "unknown section: expected services, routes, maintenance or version"
                    problems.append(Problem(str(file), lines.get((key,)), str(key), problem))
    try:
        document = Document.model_validate(merged)
    except ValidationError as exc:
        problems.extend(_locate(error, sources, top) for error in exc.errors())
    else:
        problems.extend(_duplicates(document, sources))
        if not problems:
            return document
    raise Invalid(problems)


def _locate(error: dict, sources: dict[tuple, _Source], top: list) -> Problem:
    loc = tuple(error["loc"])
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "string_type" and isinstance(error.get("input"), (bool, int, float)):
        message += f" (YAML read {error['input']!r}: quote it)"  # on, yes, no and bare numbers are not strings in YAML
    if len(loc) >= 2 and (loc[0], loc[1]) in sources:
        source = sources[(loc[0], loc[1])]
        inner: tuple = ()
        for position, part in enumerate(loc[2:]):
            # pydantic also names the union member it tried ("EnvRef", "pagerduty"): not keys of the file.
            if inner + (part,) in source.lines or (position == len(loc) - 3 and not _is_member(part)):
                inner += (part,)
        named, _, rest = message.partition(": ")
        if rest and inner + (named,) in source.lines:  # a model's rule naming its field: "cron: ..."
            inner, message = inner + (named,), rest
        line = source.lines.get(inner) or source.lines.get(inner[:-1]) or source.lines.get(())
        return Problem(source.file, line, _where(loc[0], source, inner), message)
    file, line = top[-1] if top else ("(files)", None)
    return Problem(file, line, _dotted(loc), message)


def _is_member(part: Any) -> bool:
    return isinstance(part, str) and (part[:1].isupper() or part.startswith("function-")
                                      or part in TARGET_TYPES)


def _where(section: str, source: _Source, inner: tuple) -> str:
    entry = f"{section}[{source.index}]" + (f" '{source.name}'" if source.name else "")
    return f"{entry} {_dotted(inner)}" if inner else entry


def _duplicates(document: Document, sources: dict[tuple, _Source]) -> list[Problem]:
    problems = []
    for section, entries, key in (("services", document.services, lambda s: s.heartbeat_name.lower()),
                                  ("routes", document.routes, lambda r: r.name)):
        first: dict[str, int] = {}
        for index, entry in enumerate(entries):
            name = key(entry)
            if name in first:
                earlier = sources[(section, first[name])]
                source = sources[(section, index)]
                problems.append(Problem(source.file, source.lines.get(()), _where(section, source, ()),
                                        f"'{name}' is already defined at {earlier.file}:{earlier.lines.get(())}"))
            else:
                first[name] = index
    return problems
