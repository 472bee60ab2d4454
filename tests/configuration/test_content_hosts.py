"""The initialization content on real test hosts, driven as an operator drives it: ansible-playbook site.yml and
puppet.yml, with and without --check --diff, and puppet apply of a module on its own.

Check mode changes nothing on a fresh host (files, packages and processes read back before and after), and
reports what it would change (on an initialized host: test_drift.py, through DCP's check jobs); the Puppet code
on a host is an exact copy of puppet/; the secrets file is gone after a successful and after a failed apply;
each Puppet class works with a plain include; an unreadable Docker client configuration fails naming the file
on both paths. Nothing is mocked: the hosts are real machines reached over SSH (tests/hosts/README.md).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.configuration.conftest import PASSWORD, REGISTRY_URL, base_vars, start_hosts
from tests.configuration.test_content import PLAYBOOKS, ansible_env

ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"
PUPPET_DIR = "/etc/dcp/puppet"
SECRETS = f"{PUPPET_DIR}/data/dcp-secrets.yaml"
SHIPPED = ("hiera.yaml", "manifests", "modules")  # what of puppet/ goes to a host (the rest is documentation)
# Read back from a host to show check mode left it alone: every file under these trees (path, size, mode,
# mtime) and directory (path, mode), the installed packages and the processes running (the test's own ssh and
# shell left out). Ansible's own temporary directory in /root/.ansible is not the host's state.
SNAPSHOT = r"""
find /etc /root /usr/local /opt -xdev -path /root/.ansible -prune -o \( -type f -o -type l \) \
  -printf '%p %s %m %T@\n' | sort
find /etc /root /usr/local /opt -xdev -path /root/.ansible -prune -o -type d -printf '%p %m\n' | sort
dpkg-query -W -f '${Package} ${Version} ${db:Status-Abbrev}\n'
ps -eo comm= | grep -vxE 'sshd|sh|bash|ps|grep|sort|python3|find|dpkg-query|sleep' | sort
"""


@pytest.fixture(scope="module")
def testhosts():
    """Two real hosts: one for the Ansible path, one for the Puppet path."""
    hosts = start_hosts(2, "initc")
    yield hosts
    hosts.close()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory, testhosts):
    """The inventory and private key ansible-playbook uses, in a directory of their own."""
    path = tmp_path_factory.mktemp("content-hosts")
    key = path / "key"
    key.write_text(testhosts.private_key.rstrip("\n") + "\n")
    key.chmod(0o600)
    hostvars = {
        f"h{i}": {"ansible_host": machine.ip, "ansible_user": "root", "ansible_ssh_private_key_file": str(key)}
        for i, machine in enumerate(testhosts.hosts)
    }
    values = base_vars(
        testhosts,
        dcp_idc="bj-1",
        dcp_docker_registry_mirrors={"bj-1": "http://mirror-bj.dcp.test:5000"},
        dcp_registry_url=REGISTRY_URL,
        dcp_registry_username="puller",
    )
    (path / "hosts.json").write_text(json.dumps({"all": {"hosts": hostvars, "vars": values}}))
    # The password as DCP's runner passes it: in an extra vars file, never in the inventory or the command line.
    (path / "secrets.json").write_text(json.dumps({"dcp_registry_password": PASSWORD}))
    return path


def play(workdir: Path, playbook: str, host: str, *args: str, extra: dict | None = None):
    """ansible-playbook PLAYBOOK (in playbooks/, or a path) on one host.

    Returns the completed process and the host's recap counts ({"changed": n, "failed": n, ...}).
    """
    command = [str(ANSIBLE_PLAYBOOK), "-i", str(workdir / "hosts.json"), "-l", host, str(PLAYBOOKS / playbook)]
    command += ["-e", f"@{workdir / 'secrets.json'}", *args]
    if extra:
        command += ["-e", json.dumps(extra)]
    env = {
        **ansible_env(workdir),
        "ANSIBLE_ROLES_PATH": str(PLAYBOOKS / "roles"),
        "ANSIBLE_HOST_KEY_CHECKING": "False",
        "ANSIBLE_PIPELINING": "True",
        "ANSIBLE_SSH_ARGS": "-o ControlMaster=auto -o ControlPersist=60s -o UserKnownHostsFile=/dev/null",
    }
    run = subprocess.run(command, capture_output=True, text=True, env=env, timeout=1500)
    recap = re.search(rf"^{host}\s+:\s+(.*)$", run.stdout, re.M)
    counts = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", recap.group(1))} if recap else {}
    return run, counts


def snapshot(machine) -> str:
    return machine.run(["sh", "-c", SNAPSHOT], check=True).stdout


def assert_check_mode_changes_nothing(workdir, machine, playbook: str, host: str) -> None:
    """Check mode on a fresh host reports the base state it would bring and changes nothing."""
    before = snapshot(machine)
    run, counts = play(workdir, playbook, host, "--check", "--diff")
    assert run.returncode == 0 and counts.get("failed") == 0, run.stdout[-4000:]
    assert counts["changed"] > 0, run.stdout[-4000:]
    assert snapshot(machine) == before
    assert PASSWORD not in run.stdout + run.stderr


def initialize(workdir, playbook: str, host: str, extra: dict | None = None):
    run, counts = play(workdir, playbook, host, extra=extra)
    assert PASSWORD not in run.stdout + run.stderr
    return run, counts


def test_ansible_check_mode_on_a_fresh_host(testhosts, workdir):
    machine = testhosts.hosts[0]
    assert_check_mode_changes_nothing(workdir, machine, "site.yml", "h0")
    assert not machine.exists("/etc/chrony/chrony.conf")
    run, counts = initialize(workdir, "site.yml", "h0")
    assert run.returncode == 0 and counts["changed"] > 0, run.stdout[-4000:]
    # On the initialized host, check mode finds nothing to change and changes nothing: test_drift.py shows it
    # through DCP's own check jobs, on both paths, reading the host back before and after.


# Two full Puppet-path runs (puppet-agent installed by the second): longer than the suite's 600 s default on a
# loaded machine.
@pytest.mark.timeout(1800)
def test_puppet_check_mode_exact_copy_and_no_secrets_left(testhosts, workdir):
    """A fresh host with stale Puppet code on it: check mode leaves it; the apply removes what puppet/ lacks and
    the secrets file (check mode on the initialized host: test_drift.py)."""
    machine = testhosts.hosts[1]
    stale = [f"{PUPPET_DIR}/modules/dcp_gone/manifests/init.pp", f"{PUPPET_DIR}/manifests/gone.pp"]
    for path in stale:
        machine.run(["sh", "-c", f"mkdir -p {Path(path).parent} && echo 'class dcp_gone {{}}' > {path}"], check=True)
    assert_check_mode_changes_nothing(workdir, machine, "puppet.yml", "h1")

    run, counts = initialize(workdir, "puppet.yml", "h1")
    assert run.returncode == 0 and counts["changed"] > 0, run.stdout[-4000:]
    # The first run writes puppet/ as one archive, not file by file.
    assert "TASK [dcp_puppet : Unpack it on the host]" in run.stdout, run.stdout[-6000:]
    assert task_items(run.stdout, "dcp_puppet : Copy DCP's Puppet code to the host") == [], run.stdout[-6000:]
    copied = machine.run(["find", PUPPET_DIR, "-type", "f", "-printf", "%P\\n"], check=True).stdout.split()
    source = Path(PLAYBOOKS.parent / "puppet")
    wanted = {str(p.relative_to(source)) for p in source.rglob("*") if p.is_file()}
    wanted = {p for p in wanted if p == "hiera.yaml" or p.startswith(("manifests/", "modules/"))}
    assert set(copied) == wanted | {"data/dcp.yaml"}
    assert_exact_copy(machine)
    assert not any(machine.exists(path) for path in stale)
    assert not machine.exists(SECRETS)


def assert_exact_copy(machine) -> None:
    """The host's copy of the Puppet code is puppet/'s shipped part entry by entry: path, type, mode (files
    0600, directories 0700), owner root and content."""
    listing = ["find", PUPPET_DIR, "-path", f"{PUPPET_DIR}/data", "-prune", "-o", "-printf", "%P %y %m %U %G\n"]
    on_host = sorted(machine.run(listing, check=True).stdout.split("\n")[:-1])
    source = Path(PLAYBOOKS.parent / "puppet")
    shipped = [p for p in source.rglob("*") if str(p.relative_to(source)).split("/")[0] in SHIPPED]
    wanted = sorted(f"{p.relative_to(source)} {'d 700' if p.is_dir() else 'f 600'} 0 0" for p in shipped)
    assert on_host[1:] == wanted  # [0]: the directory itself ("" d 700)
    for path in shipped:
        if path.is_file():
            assert machine.read_file(f"{PUPPET_DIR}/{path.relative_to(source)}") == path.read_text(), path


def task_items(output: str, task: str) -> list[tuple[str, str]]:
    """(outcome, item) of each loop item a task reported, in every section of the output that runs it."""
    items = []
    for section in re.split(r"^TASK \[", output, flags=re.M)[1:]:
        if section.startswith(f"{task}]"):
            items += re.findall(r"^(\w+): \[\w+\] => \(item=([^)]*)\)", section, re.M)
    return items


def test_puppet_code_changed_on_the_host_is_reported_then_rewritten_alone(testhosts, workdir):
    """On an initialized host, only what differs from puppet/ is written: a file edited by hand, a file whose
    mode was changed and a file puppet/ lacks are reported by check mode (which changes nothing), then a run
    rewrites or removes exactly those, and the host's copy is puppet/ again, file for file."""
    machine = testhosts.hosts[1]
    if not machine.exists(f"{PUPPET_DIR}/modules/dcp_ntp"):
        initialize(workdir, "puppet.yml", "h1")
    edited, loosened, stale = "modules/dcp_ntp/manifests/init.pp", "hiera.yaml", "modules/dcp_ntp/manifests/old.pp"
    machine.run(["sh", "-c", f"echo '# edited by hand' >> {PUPPET_DIR}/{edited}"], check=True)
    machine.run(["chmod", "0644", f"{PUPPET_DIR}/{loosened}"], check=True)
    machine.run(["sh", "-c", f"echo 'class dcp_ntp::old {{}}' > {PUPPET_DIR}/{stale}"], check=True)
    copy = "dcp_puppet : Copy DCP's Puppet code to the host"
    remove = "dcp_puppet : Remove what the source no longer has"

    before = snapshot(machine)
    check, counts = play(workdir, "puppet.yml", "h1", "--check", "--diff")
    assert check.returncode == 0 and counts.get("failed") == 0, check.stdout[-4000:]
    # The host's copy (changed), then the scratch copy that started from it (reported ok: not the host's state).
    written = [loosened, edited]  # in the order of their paths
    assert task_items(check.stdout, copy) == [("changed", p) for p in written] + [("ok", p) for p in written], (
        check.stdout[-6000:]
    )
    assert task_items(check.stdout, remove) == [("changed", stale), ("ok", stale)], check.stdout[-6000:]
    assert "+# edited by hand" not in check.stdout and "-# edited by hand" in check.stdout
    assert snapshot(machine) == before

    run, counts = initialize(workdir, "puppet.yml", "h1")
    assert run.returncode == 0 and counts.get("failed") == 0, run.stdout[-4000:]
    assert task_items(run.stdout, copy) == [("changed", p) for p in written], run.stdout[-6000:]
    assert task_items(run.stdout, remove) == [("changed", stale)], run.stdout[-6000:]
    assert_exact_copy(machine)

    again, _ = initialize(workdir, "puppet.yml", "h1")
    assert task_items(again.stdout, copy) == [] and task_items(again.stdout, remove) == [], again.stdout[-6000:]


def test_puppet_failed_apply_leaves_no_secrets(testhosts, workdir):
    machine = testhosts.hosts[1]
    failing = {"dcp_sysctl_overrides": {"vm.no_such_key": 1}}
    run, _ = initialize(workdir, "puppet.yml", "h1", extra=failing)
    assert run.returncode != 0 and "vm.no_such_key: unknown sysctl key" in run.stdout, run.stdout[-4000:]
    assert not machine.exists(SECRETS)
    leftover = machine.run(["grep", "-rl", PASSWORD, "/etc/dcp", "/tmp"])  # noqa: S108 - the host's, read only
    assert leftover.returncode == 1, leftover.stdout  # grep found the password in no file


def puppet_apply(machine, manifest: str, hiera: dict | None, *args: str):
    """puppet apply -e MANIFEST with DCP's modules on the host and this data as the only Hiera data (None: none,
    so only the modules' own data)."""
    levels = []
    if hiera is not None:
        machine.run(["sh", "-c", "cat > /root/test-data.json"], input=json.dumps(hiera), check=True)
        levels = [{"name": "test", "data_hash": "json_data", "path": "/root/test-data.json"}]
    config_text = json.dumps({"version": 5, "hierarchy": levels})  # JSON is YAML
    machine.run(["sh", "-c", "cat > /root/test-hiera.yaml"], input=config_text, check=True)
    config = "/root/test-hiera.yaml"
    command = ["puppet", "apply", "--detailed-exitcodes", "--color=false", f"--modulepath={PUPPET_DIR}/modules"]
    return machine.run([*command, f"--hiera_config={config}", *args, "-e", manifest])


def test_puppet_classes_work_with_a_plain_include(testhosts, workdir):
    """Module data gives every parameter a default: with no Hiera data at all, `include dcp_ntp` compiles and
    would write Debian's pool (noop: the test host may not run chronyd without -x); with only what a test host
    needs, it applies and finds the host as DCP left it (the other parameters from the module's data)."""
    machine = testhosts.hosts[1]
    if not machine.exists(f"{PUPPET_DIR}/modules/dcp_ntp"):
        initialize(workdir, "puppet.yml", "h1")
    bare = puppet_apply(machine, "include dcp_ntp", None, "--noop")
    assert bare.returncode == 0, bare.stdout + bare.stderr
    assert "/File[/etc/chrony/chrony.conf]/content" in bare.stdout and "(noop)" in bare.stdout
    before = machine.read_file("/etc/chrony/chrony.conf")
    host_only = {"dcp_ntp::servers": [testhosts.ntp_server], "dcp_ntp::control_clock": False}
    applied = puppet_apply(machine, "include dcp_ntp", host_only)
    assert applied.returncode == 0, applied.stdout + applied.stderr  # 0: nothing to change
    assert machine.read_file("/etc/chrony/chrony.conf") == before and "makestep 1.0 3" in before
    sysctl = puppet_apply(machine, "include dcp_sysctl", None)  # 2 when an earlier test left other settings
    assert sysctl.returncode in (0, 2) and "Error" not in sysctl.stderr, sysctl.stdout + sysctl.stderr
    assert "vm.swappiness = 1" in machine.read_file("/etc/sysctl.d/90-dcp.conf")  # the module's default


def test_unreadable_docker_config_fails_naming_the_file(testhosts, workdir):
    """Both paths refuse to merge the login into a config.json they cannot parse, naming the file and not
    quoting it (it may hold other registries' credentials)."""
    broken = '{"auths": {"other.example.com": {"auth": "b3RoZXI6c2VjcmV0"}'  # cut short: not JSON
    message = "/root/.docker/config.json cannot be read as a JSON object; fix or remove it"
    ansible_host, puppet_host = testhosts.hosts
    for machine in (ansible_host, puppet_host):
        machine.run(["sh", "-c", "mkdir -p /root/.docker && cat > /root/.docker/config.json"], input=broken, check=True)

    playbook = workdir / "registry.yml"
    playbook.write_text(json.dumps([{"hosts": "h0", "gather_facts": True, "roles": ["dcp_registry"]}]))
    run, _ = play(workdir, str(playbook), "h0")
    assert run.returncode != 0 and message in run.stdout, run.stdout[-3000:]
    assert "b3RoZXI6c2VjcmV0" not in run.stdout + run.stderr

    if not puppet_host.exists(f"{PUPPET_DIR}/modules/dcp_registry"):
        initialize(workdir, "puppet.yml", "h1")
    data = {"dcp_registry::url": REGISTRY_URL, "dcp_registry::username": "puller", "dcp_registry::password": "x"}
    applied = puppet_apply(puppet_host, "include dcp_registry", data)
    assert applied.returncode != 0 and message in applied.stderr, applied.stdout + applied.stderr
    assert "b3RoZXI6c2VjcmV0" not in applied.stdout + applied.stderr
    for machine in (ansible_host, puppet_host):
        assert machine.read_file("/root/.docker/config.json") == broken  # left as it was
