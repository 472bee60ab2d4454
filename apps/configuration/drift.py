"""What a drift check found on one host: the resources that differ from the base state, with their diffs.

A drift check is a check-mode run: Ansible's ``--check --diff`` (each task that
would change something is a difference, its ``diff`` rendered as a unified diff)
or Puppet's ``--noop --show_diff`` (each resource property Puppet would change,
read from its report on stdout). Secrets never reach a stored difference: the
secret values (and their base64 forms, as Docker's config.json holds them) are
replaced, and the content of files that hold credentials is never shown at all.
"""

from __future__ import annotations

import base64
import difflib
import re

#: Files whose content is a credential: a difference in them is named, never shown.
SECRET_FILES = ("/root/.docker/config.json", "dcp-secrets.yaml")
HIDDEN_CONTENT = "(content not shown: the file holds credentials)"
HIDDEN_TASK = "(not shown: the task handles a secret)"
#: A stored diff is cut to this many characters, and a host keeps at most this many differences.
DIFF_LIMIT = 4000
MAX_CHANGES = 100

# Puppet's report lines: "Notice: /Stage[main]/Dcp_docker/File[/etc/docker/daemon.json]/content: ..."
_PUPPET_NOTICE = re.compile(r"^Notice: /Stage\[[^\]]*\]/(?P<path>.+?)/(?P<property>[a-z_]+): ?(?P<rest>.*)$")
_NOOP = re.compile(r"current_value '?(?P<current>.*?)'?, should be '?(?P<should>.*?)'? \(noop\)$")
_RESOURCE = re.compile(r"([A-Z][A-Za-z0-9_:]*\[.*\])$")


def task_changes(task: str, res: dict) -> list[dict]:
    """The differences one changed Ansible task reports: Puppet's, when the task ran puppet in noop, else its own."""
    if res.get("censored"):
        return [{"resource": task, "diff": HIDDEN_TASK}]
    stdout = str(res.get("stdout") or "")
    if "(noop)" in stdout:
        return puppet_changes(stdout)
    return [{"resource": task, "diff": render(res.get("diff"))}]


def render(diff) -> str:
    """A module's ``diff`` result (one or a list of before/after pairs, or a prepared text) as a unified diff."""
    parts = diff if isinstance(diff, list) else [diff] if diff else []
    out = []
    for part in parts:
        if not isinstance(part, dict):
            continue
        if part.get("prepared"):
            out.append(str(part["prepared"]).rstrip("\n"))
            continue
        before, after = _text(part.get("before")), _text(part.get("after"))
        if before == after:
            continue
        header_a, header_b = str(part.get("before_header") or "before"), str(part.get("after_header") or "after")
        if _secret_file(header_a) or _secret_file(header_b):
            out.append(f"--- {header_a}\n+++ {header_b}\n{HIDDEN_CONTENT}")
            continue
        lines = difflib.unified_diff(before.splitlines(), after.splitlines(), header_a, header_b, lineterm="")
        out.append("\n".join(lines))
    return "\n".join(out)[:DIFF_LIMIT]


def _text(value) -> str:
    """A before/after value as text: strings as they are, anything else (a file's attributes) one key a line."""
    if value is None:
        return ""
    if isinstance(value, dict):
        return "".join(f"{key}: {value[key]}\n" for key in sorted(value))
    return str(value)


def _secret_file(name: str) -> bool:
    return any(secret in name for secret in SECRET_FILES)


def puppet_changes(stdout: str) -> list[dict]:
    """The resource properties a ``puppet apply --noop --show_diff`` would change, each with its diff or values.

    A file's content diff is printed before its "(noop)" line; "Would have triggered 'refresh'" lines are
    consequences (a service restart), not differences, and are left out.
    """
    changes: list[dict] = []
    pending: list[str] = []
    for line in stdout.splitlines():
        match = _PUPPET_NOTICE.match(line)
        if match is None:
            if pending or line.startswith("--- "):
                pending.append(line)
            continue
        rest = match["rest"]
        noop = _NOOP.search(rest)
        if noop is None:
            pending = []  # a content diff starts on the notice's next line
            continue
        resource = _resource(match["path"])
        what = f"{resource} {match['property']}"
        if _secret_file(resource):
            diff = HIDDEN_CONTENT
        elif pending and any(text.startswith("@@") for text in pending):
            diff = "\n".join(text for text in pending if text.strip())
        else:
            diff = f"- {noop['current']}\n+ {noop['should']}"
        changes.append({"resource": what, "diff": diff[:DIFF_LIMIT]})
        pending = []
    return changes


def _resource(path: str) -> str:
    """``File[/etc/docker/daemon.json]`` from ``Dcp_docker/File[/etc/docker/daemon.json]`` (the last resource)."""
    match = _RESOURCE.search(path)
    return match.group(1).split("]/")[-1] if match else path


def secret_forms(secrets: dict[str, str], username: str = "") -> list[str]:
    """Every form a secret may take in a diff: as given, base64 alone and, with the username, as Docker stores it."""
    forms = []
    for value in secrets.values():
        if not value:
            continue
        forms += [value, base64.b64encode(value.encode()).decode()]
        if username:
            forms.append(base64.b64encode(f"{username}:{value}".encode()).decode())
    return forms
