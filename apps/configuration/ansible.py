"""Initialization through ansible-runner: the Ansible runner, and the Puppet runner that rides on it.

One run covers a group of hosts: a private data directory (mode 0700) is
made for it with an inventory generated from the hosts, each host's private
key and the secrets in files readable by DCP alone, and removed when the run
ends. Per-host results come from ansible-runner's events. Host keys are
checked: ssh gets a known_hosts file holding every key recorded before, and
accepts a new key only for a host it has never met; what it learned is
handed back so it can be recorded.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import ansible_runner
from django.conf import settings

from apps.configuration import drift, keys, variables
from apps.configuration.models import KnownHost
from apps.configuration.results import HostLog, InitResult
from apps.configuration.runners import Runner, missing_address, ssh_address
from apps.core import sentences
from apps.providers.choices import InitMethod

HOST_KEY_CHANGED = sentences.HOST_KEY_CHANGED()


def _write(path: Path, text: str) -> None:
    """Write a file only DCP's user can read."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)


def _throttled(cancelled, every: float = 1.0):
    """ansible-runner asks its cancel callback many times a second: ask ``cancelled`` at most once a second."""
    last = {"at": 0.0, "answer": False}

    def ask() -> bool:
        now = time.monotonic()
        if now - last["at"] >= every:
            last["at"], last["answer"] = now, bool(cancelled())
        return last["answer"]

    return ask


class AnsibleRunner(Runner):
    """Runs playbooks/site.yml on the hosts over SSH."""

    method = InitMethod.ANSIBLE
    playbook = "site.yml"

    def initialize(self, hosts: list, check: bool = False, cancelled=None) -> dict[int, InitResult]:
        """Initialize the hosts (or, with ``check``, only see what that would change); hosts without an address
        fail at once, the rest in one run per registry. ``cancelled()`` returning True stops the run."""
        results: dict[int, InitResult] = {}
        groups: dict[int | None, list] = defaultdict(list)
        for host in hosts:
            if not ssh_address(host):
                results[host.pk] = InitResult(status="unreachable", message=missing_address(host))
            else:
                groups[host.template.registry_id].append(host)
        for group in groups.values():
            results.update(self._run(group, check, cancelled))
        return results

    def _run(self, hosts: list, check: bool, cancelled) -> dict[int, InitResult]:
        workdir = Path(tempfile.mkdtemp(prefix="dcp-init-", dir=settings.DCP_INIT_WORK_DIR or None))
        try:
            return self._run_in(workdir, hosts, check, cancelled)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    def _run_in(self, workdir: Path, hosts: list, check: bool, cancelled) -> dict[int, InitResult]:
        names = {f"h{host.pk}": host for host in hosts}
        inventory, secrets = self._inventory(workdir, names)
        _write(workdir / "inventory" / "hosts.json", json.dumps(inventory))
        _write(workdir / "env" / "extravars", json.dumps(self.extravars(hosts, secrets)))
        _write(workdir / "known_hosts", "".join(self.recorded_keys(hosts)))
        logs = {name: HostLog() for name in names}
        started = time.monotonic()
        handlers: set[str] = set()  # a handler's change follows from a task's: not a difference of its own

        def on_event(event: dict) -> bool:
            data = event.get("event_data") or {}
            if event.get("event") == "playbook_on_handler_task_start":
                handlers.add(data.get("task_uuid", ""))
            log = logs.get(data.get("host", ""))
            if log is not None:
                log.add(event, time.monotonic() - started, handler=data.get("task_uuid") in handlers)
            elif event.get("event") == "playbook_on_stats":
                for name, log in logs.items():
                    log.stats(data, name)
            return True

        run = ansible_runner.run(
            private_data_dir=str(workdir),
            project_dir=str(Path(settings.DCP_PLAYBOOKS_DIR).resolve()),
            playbook=self.playbook,
            inventory=str(workdir / "inventory" / "hosts.json"),
            forks=settings.DCP_INIT_FORKS,
            timeout=settings.DCP_INIT_TIMEOUT,
            envvars=self.envvars(workdir),
            event_handler=on_event,
            cancel_callback=_throttled(cancelled) if cancelled else None,
            cmdline="--check --diff" if check else None,
            quiet=True,
            suppress_env_files=True,
        )
        learned = (workdir / "known_hosts").read_text() if (workdir / "known_hosts").exists() else ""
        registry = hosts[0].template.registry
        secret_values = drift.secret_forms(secrets, registry.username if registry else "")
        results = {}
        for name, host in names.items():
            result = logs[name].result(run.status, settings.DCP_INIT_TIMEOUT, secret_values)
            if result.status == "unreachable" and "IDENTIFICATION HAS CHANGED" in logs[name].raw_unreachable:
                result = InitResult(status="unreachable", message=HOST_KEY_CHANGED, output=result.output)
            # ssh writes "ip" for port 22 and "[ip]:port" for any other.
            ip, port = ssh_address(host), (host.template.init_vars or {}).get("dcp_ssh_port", 22)
            known_as = ip if port == 22 else f"[{ip}]:{port}"
            lines = [line for line in learned.splitlines() if line.split(" ", 1)[0] == known_as]
            results[host.pk] = replace(result, host_keys="\n".join(lines))
        return results

    def _inventory(self, workdir: Path, names: dict) -> tuple[dict, dict[str, str]]:
        """The inventory (host variables included) and each host's private key in a file of its own."""
        hostvars = {}
        key_files: dict[int, str] = {}
        owners: dict[tuple[int, int], object] = {}  # one key lookup per (pool, account), not per host
        for name, host in names.items():
            owner = (host.pool_id, host.provider_id)
            key = owners[owner] = owners.get(owner) or keys.key_for(host)
            if key.pk not in key_files:
                key_files[key.pk] = str(workdir / "keys" / f"key{key.pk}")
                _write(Path(key_files[key.pk]), key.private_key.rstrip("\n") + "\n")
                if key.previous_private_key:
                    _write(Path(f"{key_files[key.pk]}-previous"), key.previous_private_key.rstrip("\n") + "\n")
            connection = host.template.init_vars or {}
            hostvars[name] = {
                "ansible_host": ssh_address(host),
                "ansible_port": connection.get("dcp_ssh_port", 22),
                "ansible_user": connection.get("dcp_ssh_user", "root"),
                "ansible_ssh_private_key_file": key_files[key.pk],
                "dcp_hostname": host.hostname,
                **key_vars(key, key_files[key.pk]),
                **variables.host_vars(host),
            }
        _, secrets = variables.registry_vars(next(iter(names.values())).template.registry)
        return {"all": {"hosts": hostvars}}, secrets

    def extravars(self, hosts: list, secrets: dict[str, str]) -> dict:
        """Variables for the whole run: the secrets only (kept out of the inventory and the task arguments)."""
        return dict(secrets)

    def recorded_keys(self, hosts: list) -> list[str]:
        """known_hosts lines recorded for these hosts at their address."""
        lines = []
        for host in hosts:
            try:
                known = host.known_host
            except KnownHost.DoesNotExist:
                continue
            if known.address == ssh_address(host):
                lines.extend(line + "\n" for line in known.keys.splitlines() if line.strip())
        return lines

    def envvars(self, workdir: Path) -> dict[str, str]:
        """Ansible's settings for this run: strict host keys, a private control path, no color."""
        ssh_args = " ".join(
            (
                "-o ControlMaster=auto -o ControlPersist=60s",
                f"-o UserKnownHostsFile={workdir / 'known_hosts'}",
                "-o StrictHostKeyChecking=accept-new -o HashKnownHosts=no",
                "-o ServerAliveInterval=15 -o ServerAliveCountMax=4",
                "-o PasswordAuthentication=no -o KbdInteractiveAuthentication=no",
            )
        )
        return {
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "ANSIBLE_HOST_KEY_CHECKING": "True",
            "ANSIBLE_SSH_ARGS": ssh_args,
            "ANSIBLE_SSH_CONTROL_PATH_DIR": str(workdir / "cp"),
            "ANSIBLE_TIMEOUT": str(settings.DCP_SSH_CONNECT_TIMEOUT),
            "ANSIBLE_RETRY_FILES_ENABLED": "False",
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_PYTHON_INTERPRETER": "auto_silent",
            "ANSIBLE_LOCAL_TEMP": str(workdir / "tmp"),
            "ANSIBLE_HOME": str(workdir / "home"),
            "ANSIBLE_GATHERING": "smart",
            "ANSIBLE_PIPELINING": "True",
        }


def key_vars(key, key_file: str) -> dict:
    """The host variables of DCP's key: the public key the run puts in authorized_keys, and after a rotation
    the previous key, offered to log in with (the host may not have the new one yet) and then taken out."""
    found = {"dcp_ssh_authorized_key": key.public_key.strip()}
    if key.previous_private_key:
        found["ansible_ssh_extra_args"] = f"-o IdentityFile={key_file}-previous"
        found["dcp_ssh_retired_keys"] = [key.previous_public_key.split()[1]]
    return found


class PuppetRunner(AnsibleRunner):
    """Runs playbooks/puppet.yml: Ansible delivers puppet/ to the host and runs puppet apply there."""

    method = InitMethod.PUPPET
    playbook = "puppet.yml"

    def extravars(self, hosts: list, secrets: dict[str, str]) -> dict:
        """The secrets, and where the Puppet code is on this machine."""
        return {**secrets, "dcp_puppet_source": str(Path(settings.DCP_PUPPET_DIR).resolve())}
