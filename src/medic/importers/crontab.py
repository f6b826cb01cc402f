"""crontab files and Kubernetes CronJob manifests into cron services (docs/migrating.md,
"Coming from cron"). Pure: text in, entries out.

Each entry becomes a cron service on the entry's schedule, in the zone of the CRON_TZ=
or TZ= line above it (crontab) or ``spec.timeZone`` (CronJob), UTC without one. Its
name is the CronJob's name, or for a crontab line a slug of its command (``command_name``),
after ``prefix``. The entry's command comes back wrapped with `medic job NAME -- ...`,
so the job reports its runs once that line replaces the old one.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import PurePath
from typing import Any

import yaml

from medic.core.schedule import ALIASES
from medic.declarative.loader import HostileYaml, compose_all
from medic.importers.entries import Entry, Parsed, slug, unique_names

_ENV = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$")
_ZONE_VARIABLES = ("CRON_TZ", "TZ")
_GIVEN = re.compile(r"^#\s*medic:\s*(\S+)\s*$")  # "# medic: NAME" names the entry below it
# Words that set up a command rather than name it: `cd /srv && ./run` is named for ./run.
_SETUP = {"cd", "source", ".", "export", "set", "sleep", "umask", "test", "[", "true"}
# Words that run the next one: `python3 /opt/report.py` is named for report, `nice -n 10 x` for x.
_RUNNERS = {"sh", "bash", "zsh", "dash", "python", "python3", "node", "ruby", "perl", "php", "env", "nice",
            "ionice", "nohup", "timeout", "flock", "exec", "sudo", "chronic", "run-parts"}
_SHELL = set("|&;<>()$`\\\"'*?[]{}~#\n")
_SEGMENT = re.compile(r"\s*(?:&&|\|\||;|\||[(){}])\s*")
_SCRIPT = re.compile(r"\.(sh|bash|py|rb|pl|php|js|ts)$")
NAME_WORDS = 3


def command_name(command: str) -> str:
    """A crontab command's service name (the rule docs/migrating.md states): in the first
    part of the command (split at ``&&``, ``||``, ``;``, ``|``, parentheses and braces) that does
    not only set up (``cd``, ``source``, ``test``, ...), leading VAR=value words and
    redirections left out, the program's file name (the script's, after an interpreter
    or wrapper such as ``python3``, ``bash``, ``nice -n 10``), a script extension
    dropped, and the words after it, three words in all, slugged."""
    text = re.split(r"(?<!\\)%", command)[0].replace("\\%", "%")  # an unescaped % starts the job's stdin
    parts = [p for p in _SEGMENT.split(text) if p.strip()]
    words: list[str] = []
    for part in parts:
        try:
            tokens = shlex.split(part)
        except ValueError:
            tokens = part.split()
        tokens = _program_words(tokens)
        if tokens and tokens[0] not in _SETUP:
            words = tokens
            break
    while len(words) > 1 and PurePath(words[0]).name in _RUNNERS:
        words = words[1:]
        while len(words) > 1 and (words[0].startswith("-") or re.fullmatch(r"[0-9.]+[smhd]?", words[0])):
            words = words[1:]  # the wrapper's own options: `nice -n 19`, `timeout 30m`
    picked = []
    for word in words:
        word = word.lstrip("-").split("=")[0] if word.startswith("-") else _SCRIPT.sub("", PurePath(word).name)
        if slug(word):
            picked.append(slug(word))
        if len(picked) == NAME_WORDS:
            break
    return slug("-".join(picked))


def _program_words(tokens: list[str]) -> list[str]:
    """Tokens without leading VAR=value assignments and without redirections."""
    while tokens and _ENV.match(tokens[0]):
        tokens = tokens[1:]
    kept, skip = [], False
    for token in tokens:
        if skip:
            skip = False
            continue
        if re.match(r"^\d*(>>?|<)&?$", token) or token in ("&>", "&>>"):
            skip = True  # the redirection's target follows
            continue
        if re.match(r"^(\d*(>>?|<)|&>>?)", token):
            continue
        kept.append(token)
    return kept


def wrapped_command(name: str, command: str) -> str:
    """`medic job NAME -- COMMAND`; a command that needs a shell (pipes, redirections,
    variables, ``&&``) runs under ``sh -c``, so `medic job` sees its whole run."""
    if any(c in _SHELL for c in command.replace("\\%", "")):
        return f"medic job {shlex.quote(name)} -- sh -c {shlex.quote(command)}"
    return f"medic job {shlex.quote(name)} -- {command}"


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def is_system_crontab(path: str) -> bool:
    """/etc/crontab and files in /etc/cron.d have a user field after the schedule."""
    p = PurePath(path)
    return p.name == "crontab" and p.parent.name == "etc" or p.parent.name == "cron.d"


def parse_crontab(text: str, source: str, *, system: bool = False, prefix: str = "") -> Parsed:
    """Entries of one crontab. ``system``: each line has a user field (/etc/crontab)."""
    parsed = Parsed()
    zone = named = None
    found = []  # (where, schedule, zone, user, command, the line before the command, a given name)
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        where = f"{source}:{number}"
        if not line or line.startswith("#"):
            given = _GIVEN.match(line)
            named = given.group(1) if given else named
            continue
        env = _ENV.match(line)
        if env:
            if env.group(1) in _ZONE_VARIABLES:
                zone = _unquote(env.group(2)) or None
            continue  # other environment lines only set up the jobs
        fields = line.split(None, 1)
        if fields[0].startswith("@"):
            alias = fields[0].lower()
            if alias == "@reboot":
                parsed.notes.append(f"{where}: skipped: @reboot runs once at boot, it has no schedule to watch")
                continue
            if alias not in ALIASES:
                parsed.notes.append(f"{where}: skipped: unknown schedule {fields[0]!r}")
                continue
            schedule, rest = alias, fields[1] if len(fields) > 1 else ""
        else:
            parts = line.split(None, 5)
            if len(parts) < 6:
                parsed.notes.append(f"{where}: skipped: not a crontab entry (5 schedule fields and a command)")
                continue
            schedule, rest = " ".join(parts[:5]), parts[5]
        user = None
        if system:
            user, rest = (rest.split(None, 1) + [""])[:2]
        command = rest.strip()
        if not command:
            parsed.notes.append(f"{where}: skipped: no command")
            continue
        if "%" in command.replace("\\%", ""):
            parsed.notes.append(f"{where}: the command holds %, which cron turns into a newline; check the wrapped line")
        found.append((where, schedule, zone, user, command, line[: len(line) - len(command)].rstrip(), named))
        named = None
    names = unique_names([f[6] or prefix + (command_name(f[4]) or "cron") for f in found],
                         [f"{f[1]} {f[3] or ''} {f[4]}" for f in found], [f[0] for f in found], parsed.notes)
    for name, (where, schedule, zone, _, command, head, _) in zip(names, found):
        spec = {"heartbeat_name": name, "service_name": name, "schedule": {"cron": schedule, "timezone": zone or "UTC"}}
        parsed.entries.append(Entry(spec, where, f"{head} {wrapped_command(name, command)}"))
    return parsed


def _cronjobs(documents: list[Any]) -> list[dict]:
    found = []
    for document in documents:
        if not isinstance(document, dict):
            continue
        if document.get("kind") == "List":
            found += _cronjobs(document.get("items") or [])
        elif document.get("kind") == "CronJob":
            found.append(document)
    return found


def parse_cronjobs(text: str, source: str, *, prefix: str = "") -> Parsed:
    """Entries of the CronJobs in a (multi-document) manifest; other kinds are passed over.
    Raises ValueError for YAML that cannot be read."""
    try:
        loader, nodes = compose_all(text)
        try:
            documents = [loader.construct_document(node) for node in nodes]
        finally:
            loader.dispose()
    except HostileYaml as exc:
        raise ValueError(f"{source}: refused: {exc}") from None
    except yaml.YAMLError as exc:
        raise ValueError(f"{source}: not YAML: {exc}") from None
    parsed = Parsed()
    found = []  # (where, service spec, cronjob)
    for cronjob in _cronjobs(documents):
        meta = cronjob.get("metadata") or {}
        spec = cronjob.get("spec") or {}
        where = f"{source}: CronJob {meta.get('name')!r}"
        if not meta.get("name") or not isinstance(spec.get("schedule"), str):
            parsed.notes.append(f"{where}: skipped: a CronJob needs metadata.name and spec.schedule")
            continue
        schedule, zone = spec["schedule"].strip(), spec.get("timeZone")
        inline = re.match(r"^(?:CRON_TZ|TZ)=(\S+)\s+(.*)$", schedule)
        if inline:  # the unofficial form Kubernetes took before spec.timeZone
            zone, schedule = zone or inline.group(1), inline.group(2)
        service: dict[str, Any] = {"service_name": prefix + meta["name"],
                                   "schedule": {"cron": schedule, "timezone": zone or "UTC"}}
        job = (spec.get("jobTemplate") or {}).get("spec") or {}
        if isinstance(job.get("activeDeadlineSeconds"), int):
            service["schedule"]["max_runtime"] = job["activeDeadlineSeconds"]
        if meta.get("namespace"):
            service["labels"] = {"namespace": str(meta["namespace"])}
        service["active"] = spec.get("suspend") is not True  # resumed in Kubernetes, active again here
        if not service["active"]:
            parsed.notes.append(f"{where}: suspended, imported inactive")
        found.append((where, service, cronjob))
    names = unique_names([prefix + f[2]["metadata"]["name"] for f in found],
                         [f"{f[2]['metadata'].get('namespace') or ''}/{f[2]['metadata']['name']}" for f in found],
                         [f[0] for f in found], parsed.notes)
    for name, (where, service, cronjob) in zip(names, found):
        parsed.entries.append(Entry({"heartbeat_name": name, **service}, where,
                                    _wrapped_container(name, cronjob, parsed.notes, where)))
    return parsed


def _wrapped_container(name: str, cronjob: dict, notes: list[str], where: str) -> str | None:
    job = ((cronjob.get("spec") or {}).get("jobTemplate") or {}).get("spec") or {}
    pod = (job.get("template") or {}).get("spec") or {}
    containers = pod.get("containers") or []
    if not containers or not isinstance(containers[0], dict):
        notes.append(f"{where}: no container to wrap")
        return None
    container = containers[0]
    command = [str(word) for word in (container.get("command") or []) + (container.get("args") or [])]
    if not container.get("command"):
        notes.append(f"{where}: container {container.get('name')!r} runs its image's entrypoint; "
                     "put that entrypoint in place of <entrypoint> below")
        command = ["<entrypoint>", *command]
    wrapped = json.dumps(["medic", "job", name, "--", *command])
    return f"container {container.get('name')!r}: command: {wrapped}" + (" (and no args)" if container.get("args") else "")
