"""Static checks of the initialization content: playbooks/ (Ansible) and puppet/ (Puppet).

No host is needed and nothing is applied to this machine: Ansible only
syntax-checks, and the few plays that run target an inventory host whose
tasks are controller-side actions (argument-spec validation, assert, debug),
which never touch the target. Puppet only parses and compiles catalogs.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOKS = ROOT / "playbooks"
ROLES = PLAYBOOKS / "roles"
PUPPET = ROOT / "puppet"
ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"

ROLE_NAMES = sorted(path.name for path in ROLES.iterdir() if (path / "tasks" / "main.yml").exists())
BASE_ROLES = ("dcp_ntp", "dcp_sysctl", "dcp_docker", "dcp_registry")
SECRET_MARKERS = ("dcp_registry_password", "dcp_puppet_secrets")
# Modules whose tasks run on the controller only: the only ones a validate.yml may use.
CONTROLLER_ONLY = {"ansible.builtin.assert", "ansible.builtin.fail", "ansible.builtin.debug"}
TASK_KEYWORDS = {
    "name", "when", "vars", "register", "loop", "loop_control", "notify", "no_log", "changed_when",
    "failed_when", "until", "retries", "delay", "environment", "tags", "timeout", "ignore_errors",
    "become", "delegate_to", "run_once", "block", "rescue", "always", "listen", "check_mode", "args",
}  # fmt: skip
PUPPET_BIN = shutil.which("puppet")
needs_puppet = pytest.mark.skipif(
    PUPPET_BIN is None, reason="puppet is not installed (CI installs Debian's puppet-agent)"
)


def load_yaml(path: Path):
    return yaml.safe_load(path.read_text())


def role_defaults(role: str) -> dict:
    return load_yaml(ROLES / role / "defaults" / "main.yml") or {}


def role_options(role: str) -> dict:
    specs = load_yaml(ROLES / role / "meta" / "argument_specs.yml")
    return specs["argument_specs"]["main"]["options"]


def hiera_map() -> dict[str, str]:
    return load_yaml(ROLES / "dcp_puppet" / "vars" / "main.yml")["dcp_puppet_hiera_map"]


def common_data() -> dict:
    """Every module's own data (modules/*/data/common.yaml), merged: the defaults of the Puppet classes."""
    merged: dict = {"lookup_options": {}}
    for path in sorted(PUPPET.glob("modules/*/data/common.yaml")):
        data = load_yaml(path) or {}
        merged["lookup_options"].update(data.pop("lookup_options", {}))
        merged.update(data)
    return merged


def ansible_env(tmp_path: Path) -> dict[str, str]:
    """Ansible isolated in tmp_path, reading no configuration of this machine's user."""
    return {
        **os.environ,
        "ANSIBLE_CONFIG": str(tmp_path / "none.cfg"),
        "ANSIBLE_HOME": str(tmp_path / "ansible-home"),
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-tmp"),
        "ANSIBLE_ROLES_PATH": str(ROLES),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
        "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.default",
        "ANSIBLE_CALLBACK_RESULT_FORMAT": "json",
        "PATH": f"{ANSIBLE_PLAYBOOK.parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }


def controller_play(
    tmp_path: Path, tasks: list, extra_vars: dict | None = None, allowed_extra: frozenset = frozenset()
) -> subprocess.CompletedProcess:
    """Run tasks of controller-side modules only against an inventory host; gather_facts off."""
    used = {next(k for k in task if k not in TASK_KEYWORDS) for task in tasks}
    allowed = CONTROLLER_ONLY | {"ansible.builtin.validate_argument_spec", "ansible.builtin.include_role"}
    allowed |= allowed_extra
    assert used <= allowed, f"controller plays may only use {sorted(allowed)}, not {sorted(used - allowed)}"
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(
        yaml.safe_dump(
            {
                "all": {
                    "hosts": {"target": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}}
                }
            }
        )
    )
    playbook = tmp_path / "play.yml"
    playbook.write_text(yaml.safe_dump([{"hosts": "target", "gather_facts": False, "tasks": tasks}], sort_keys=False))
    command = [str(ANSIBLE_PLAYBOOK), "-i", str(inventory), str(playbook)]
    if extra_vars is not None:
        vars_file = tmp_path / "vars.json"
        vars_file.write_text(json.dumps(extra_vars))
        command += ["-e", f"@{vars_file}"]
    return subprocess.run(command, capture_output=True, text=True, env=ansible_env(tmp_path), timeout=300)


def debug_results(output: str) -> list:
    """The JSON results of the play's debug tasks, from the default callback's json result format."""
    decoder = json.JSONDecoder()
    results = []
    for match in re.finditer(r"^ok: \[target\] => ", output, re.M):
        value, _ = decoder.raw_decode(output, match.end())
        results.append(value)
    return results


def iter_tasks(tasks, inherited_no_log=False):
    """Every task in a task list, recursing into blocks; yields (task, effective no_log)."""
    for task in tasks or []:
        no_log = bool(task.get("no_log", inherited_no_log))
        if "block" in task:
            for section in ("block", "rescue", "always"):
                yield from iter_tasks(task.get(section), no_log)
        else:
            yield task, no_log


def task_files() -> list[Path]:
    files = [PLAYBOOKS / "site.yml", PLAYBOOKS / "puppet.yml"]
    for role in ROLE_NAMES:
        files += sorted((ROLES / role / "tasks").glob("*.yml"))
        files += sorted((ROLES / role / "handlers").glob("*.yml"))
    return files


def tasks_of(path: Path) -> list:
    data = load_yaml(path) or []
    if path.parent == PLAYBOOKS:  # a playbook: its plays' task sections
        return [task for play in data for section in ("pre_tasks", "tasks", "post_tasks", "handlers")
                for task in play.get(section) or []]  # fmt: skip
    return data


# --- Ansible -----------------------------------------------------------------------------------


@pytest.mark.parametrize("playbook", ["site.yml", "puppet.yml"])
def test_playbook_syntax(tmp_path, playbook):
    inventory = tmp_path / "hosts.ini"
    inventory.write_text("localhost ansible_connection=local\n")
    run = subprocess.run(
        [str(ANSIBLE_PLAYBOOK), "-i", str(inventory), "--syntax-check", str(PLAYBOOKS / playbook)],
        capture_output=True,
        text=True,
        env=ansible_env(tmp_path),
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_base_and_example_roles_exist():
    assert set(BASE_ROLES) | {"dcp_profile_example", "dcp_puppet"} <= set(ROLE_NAMES)


@pytest.mark.parametrize("role", ROLE_NAMES)
def test_role_files(role):
    for part in ("defaults/main.yml", "tasks/main.yml", "meta/argument_specs.yml"):
        assert (ROLES / role / part).is_file(), f"{role} lacks {part}"
    for path in (ROLES / role).rglob("*.yml"):
        assert path.read_text().startswith("---\n"), f"{path.relative_to(ROOT)} must start with ---"


@pytest.mark.parametrize("role", ROLE_NAMES)
def test_defaults_are_documented(role):
    """Every variable in defaults/main.yml has a comment right above it."""
    lines = (ROLES / role / "defaults" / "main.yml").read_text().splitlines()
    for number, line in enumerate(lines):
        key = re.match(r"^([A-Za-z_][A-Za-z0-9_]*):", line)
        if not key:
            continue
        previous = next((lines[i] for i in range(number - 1, -1, -1) if lines[i].strip()), "")
        assert previous.startswith("#"), f"{role}: {key.group(1)} has no comment above it"
        assert key.group(1).startswith("dcp_"), f"{role}: {key.group(1)} must be prefixed dcp_"


@pytest.mark.parametrize("role", ROLE_NAMES)
def test_argument_specs_cover_defaults(role):
    """argument_specs lists exactly the defaults, with matching types and defaults."""
    defaults, options = role_defaults(role), role_options(role)
    assert set(options) == set(defaults), f"{role}: argument_specs and defaults/main.yml list different variables"
    python_types = {
        "str": str,
        "path": str,
        "int": int,
        "float": (int, float),
        "bool": bool,
        "list": list,
        "dict": dict,
    }
    for name, spec in options.items():
        assert spec.get("description"), f"{role}: {name} has no description in argument_specs"
        assert isinstance(defaults[name], python_types[spec["type"]]), f"{role}: {name} default is not a {spec['type']}"
        if "default" in spec:
            assert spec["default"] == defaults[name], f"{role}: {name} default differs from defaults/main.yml"
        if "choices" in spec:
            assert defaults[name] in spec["choices"], f"{role}: {name} default is not one of its choices"


@pytest.mark.parametrize("path", task_files(), ids=lambda p: str(p.relative_to(PLAYBOOKS)))
def test_tasks_use_fqcn_and_names(path):
    for task, _ in iter_tasks(tasks_of(path)):
        module = next(k for k in task if k not in TASK_KEYWORDS)
        assert task.get("name"), f"{path.name}: a {module} task has no name"
        assert module.startswith("ansible.builtin.") or module == "dcp_sysctl", f"{task['name']}: {module} is not FQCN"


@pytest.mark.parametrize("path", task_files(), ids=lambda p: str(p.relative_to(PLAYBOOKS)))
def test_no_log_on_every_task_that_carries_the_password(path):
    for task, no_log in iter_tasks(tasks_of(path)):
        text = yaml.safe_dump(task)
        if any(marker in text for marker in SECRET_MARKERS):
            assert no_log, f"{path.relative_to(PLAYBOOKS)}: task {task.get('name')!r} carries a secret without no_log"


def test_password_option_is_no_log():
    assert role_options("dcp_registry")["dcp_registry_password"].get("no_log") is True


@pytest.mark.parametrize("role", ROLE_NAMES)
def test_validate_tasks_are_controller_only(role):
    """validate.yml runs on the controller: the tests below run it against an inventory host."""
    path = ROLES / role / "tasks" / "validate.yml"
    if not path.exists():
        pytest.skip(f"{role} has no validate.yml")
    for task, _ in iter_tasks(load_yaml(path)):
        module = next(k for k in task if k not in TASK_KEYWORDS)
        assert module in CONTROLLER_ONLY, f"{role}/tasks/validate.yml: {module} would touch the host"


@pytest.mark.parametrize(
    ("role", "bad", "expected"),
    [
        ("dcp_ntp", {"dcp_ntp_servers": {"ntp1": "x"}}, "dcp_ntp_servers"),
        ("dcp_ntp", {"dcp_ntp_control_clock": "perhaps"}, "dcp_ntp_control_clock"),
        ("dcp_sysctl", {"dcp_sysctl_overrides": ["vm.swappiness=1"]}, "dcp_sysctl_overrides"),
        ("dcp_docker", {"dcp_docker_service_state": "running"}, "dcp_docker_service_state"),
        ("dcp_docker", {"dcp_docker_log_max_file": "many"}, "dcp_docker_log_max_file"),
    ],
)
def test_argument_specs_reject_wrong_values(tmp_path, role, bad, expected):
    spec = role_options(role)
    task = {
        "name": "Validate",
        "ansible.builtin.validate_argument_spec": {"argument_spec": spec, "provided_arguments": bad},
    }
    run = controller_play(tmp_path, [task])
    assert run.returncode != 0, run.stdout
    assert "Validation of arguments failed" in run.stdout, run.stdout
    assert expected in run.stdout, run.stdout


@pytest.mark.parametrize(
    ("role", "bad", "expected"),
    [
        ("dcp_ntp", {"dcp_ntp_servers": "not-a-list"}, "dcp_ntp_servers must list at least one server"),
        ("dcp_ntp", {"dcp_ntp_servers": []}, "dcp_ntp_servers must list at least one server"),
        ("dcp_sysctl", {"dcp_sysctl_overrides": {"vm.swappiness": "fast"}}, "sysctl values must be integers"),
        ("dcp_sysctl", {"dcp_sysctl_overrides": {"vm.swappiness": True}}, "sysctl values must be integers"),
        ("dcp_docker", {"dcp_idc": "nowhere"}, "No registry mirror for IDC 'nowhere'"),
        (
            "dcp_docker",
            {"dcp_docker_registry_mirror_default": "mirror.example.com"},
            "must be a URL starting with http",
        ),
        ("dcp_registry", {"dcp_registry_url": "registry.example.com"}, "dcp_registry_username must be set"),
        ("dcp_profile_example", {"dcp_profile_example_packages": "jq"}, "dcp_profile_example_packages must be a list"),
    ],
)
def test_role_value_checks_fail_clearly(tmp_path, role, bad, expected):
    """The value checks argument_specs can't express: the roles' validate.yml, run on the controller."""
    values = {**role_defaults(role), "dcp_ntp_servers": ["ntp.example.com"], **bad}
    task = {"name": "Validate", "ansible.builtin.include_role": {"name": role, "tasks_from": "validate"}}
    run = controller_play(tmp_path, [task], values)
    assert run.returncode != 0, run.stdout
    assert expected in run.stdout, run.stdout


def test_role_value_checks_pass_good_values(tmp_path):
    values = {
        "dcp_ntp_servers": ["ntp1.example.com", "10.0.0.123"],
        "dcp_sysctl_overrides": {"vm.swappiness": "10", "net.ipv4.ip_local_port_range": "20000 60999"},
        "dcp_idc": "idc1",
        "dcp_docker_registry_mirrors": {"idc1": "https://mirror-idc1.example.com"},
        "dcp_registry_url": "registry.example.com",
        "dcp_registry_username": "pull",
        "dcp_registry_password": "secret",
        "dcp_profile_example_packages": ["jq"],
    }
    tasks = [
        {"name": f"Validate {role}", "ansible.builtin.include_role": {"name": role, "tasks_from": "validate"}}
        for role in (*BASE_ROLES, "dcp_profile_example")
    ]
    run = controller_play(tmp_path, tasks, values)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "secret" not in run.stdout


def load_sysctl_module(proc_sys: Path, initial_netns: bool):
    """The role's dcp_sysctl module, pointed at a fake /proc/sys tree."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("dcp_sysctl", ROLES / "dcp_sysctl" / "library" / "dcp_sysctl.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.PROC_SYS = str(proc_sys)
    # The real marker is a /proc/sys entry; here a file beside the tree says which namespace the "host" is in.
    marker = proc_sys.parent / "initial-netns-marker"
    if initial_netns:
        marker.touch()
    module.INITIAL_NETNS_MARKER = str(marker)
    return module


def run_sysctl_module(module, capsys, **args) -> dict:
    from ansible.module_utils.testing import patch_module_args

    with patch_module_args(args), pytest.raises(SystemExit):
        module.main()
    return json.loads(capsys.readouterr().out)


@pytest.fixture
def proc_sys(tmp_path):
    """A fake /proc/sys: writable entries, a read-only one, a per-namespace net key."""
    entries = {
        "vm/swappiness": ("60\n", 0o644),
        "net/ipv4/ip_local_port_range": ("32768\t60999\n", 0o644),
        "net/core/somaxconn": ("4096\n", 0o644),
        "fs/file-nr": ("1 0 100\n", 0o444),
    }
    for name, (value, mode) in entries.items():
        path = tmp_path / "proc" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(value)
        path.chmod(mode)
    return tmp_path / "proc"


def test_sysctl_module_applies_reads_back_and_is_idempotent(proc_sys, capsys):
    module = load_sysctl_module(proc_sys, initial_netns=False)
    settings = {"vm.swappiness": 1, "net.ipv4.ip_local_port_range": "10240  65535"}
    first = run_sysctl_module(module, capsys, settings=settings)
    assert first["changed"] is True and first["applied"] == ["net.ipv4.ip_local_port_range", "vm.swappiness"]
    assert (proc_sys / "vm/swappiness").read_text() == "1"
    assert first["values"]["net.ipv4.ip_local_port_range"] == "10240 65535"
    second = run_sysctl_module(module, capsys, settings=settings)
    assert second["changed"] is False and second["applied"] == []


def test_sysctl_module_reports_keys_it_cannot_set_here(proc_sys, capsys):
    module = load_sysctl_module(proc_sys, initial_netns=False)
    settings = {
        "fs.file-nr": "2 0 100",  # no write permission: read-only here
        "net.core.netdev_max_backlog": 16384,  # global key, host in its own network namespace
        "net.bridge.bridge-nf-call-iptables": 1,  # br_netfilter not loaded
        "net.core.somaxconn": 32768,
    }
    result = run_sysctl_module(module, capsys, settings=settings, optional_prefixes=["net.bridge."])
    assert result.get("failed") is not True, result
    assert result["readonly"] == ["fs.file-nr"]
    assert result["unavailable"] == ["net.core.netdev_max_backlog"]
    assert result["absent"] == ["net.bridge.bridge-nf-call-iptables"]
    assert result["applied"] == ["net.core.somaxconn"]
    assert "fs.file-nr" in json.dumps(result["warnings"])
    strict = run_sysctl_module(module, capsys, settings=settings, strict=True, optional_prefixes=["net.bridge."])
    assert strict["failed"] is True and "dcp_sysctl_strict is true" in strict["msg"]
    assert "fs.file-nr" in strict["msg"] and "net.core.netdev_max_backlog" in strict["msg"]


@pytest.mark.parametrize(
    ("initial_netns", "key"),
    [(True, "net.core.netdev_max_backlog"), (False, "net.ipv4.tcp_tw_reuze"), (False, "vm.swapiness")],
)
def test_sysctl_module_fails_on_unknown_keys(proc_sys, capsys, initial_netns, key):
    module = load_sysctl_module(proc_sys, initial_netns=initial_netns)
    result = run_sysctl_module(module, capsys, settings={key: 1})
    assert result["failed"] is True
    assert f"{key}: unknown key" in result["msg"]


def test_global_net_keys_agree_between_ansible_and_puppet():
    python = (ROLES / "dcp_sysctl" / "library" / "dcp_sysctl.py").read_text()
    ruby = (PUPPET / "modules/dcp_sysctl/lib/puppet/provider/dcp_sysctl_key/procfs.rb").read_text()
    python_keys = re.findall(r'"(net\.[^"]*)",', python.split("GLOBAL_NET_KEYS = (", 1)[1].split(")", 1)[0])
    ruby_keys = re.findall(r"'(net\.[^']*)',", ruby.split("def self.global_net_keys", 1)[1].split("]", 1)[0])
    assert python_keys and python_keys == ruby_keys


# --- Puppet ------------------------------------------------------------------------------------


def puppet_manifests() -> list[Path]:
    return [PUPPET / "manifests" / "site.pp", *sorted(PUPPET.glob("modules/*/manifests/*.pp"))]


def class_parameters() -> dict[str, list[str]]:
    """Parameters of every class in puppet/modules, by class name."""
    found = {}
    for path in sorted(PUPPET.glob("modules/*/manifests/*.pp")):
        text = re.sub(r"#.*", "", path.read_text())
        for match in re.finditer(r"^class\s+([a-z_:]+)\s*(\((.*?)\n\))?\s*\{", text, re.M | re.S):
            found[match.group(1)] = re.findall(r"\$(\w+)\s*[,=\n]", match.group(3) or "")
    return found


@needs_puppet
def test_puppet_parser_validate():
    run = subprocess.run(
        [PUPPET_BIN, "parser", "validate", *map(str, puppet_manifests())], capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stdout + run.stderr


@needs_puppet
def test_puppet_templates_validate():
    templates = sorted(PUPPET.glob("modules/*/templates/*.epp"))
    run = subprocess.run(
        [PUPPET_BIN, "epp", "validate", *map(str, templates)], capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_hiera_config():
    """DCP's layer holds only what it writes per host; each module carries its own defaults (module data)."""
    config = load_yaml(PUPPET / "hiera.yaml")
    assert config["version"] == 5
    assert config["defaults"]["datadir"] == "data"
    assert [level["path"] for level in config["hierarchy"]] == ["dcp-secrets.yaml", "dcp.yaml"]
    for module in ("dcp_ntp", "dcp_sysctl", "dcp_docker", "dcp_registry"):
        module_config = load_yaml(PUPPET / "modules" / module / "hiera.yaml")
        assert module_config["version"] == 5
        assert [level["path"] for level in module_config["hierarchy"]] == ["common.yaml"]
        keys = set(load_yaml(PUPPET / "modules" / module / "data" / "common.yaml")) - {"lookup_options"}
        assert keys and all(key.startswith(f"{module}::") for key in keys), f"{module} data holds other keys"


def test_common_yaml_keys_are_class_parameters():
    params = class_parameters()
    assert set(params) >= {"dcp_base", "dcp_ntp", "dcp_sysctl", "dcp_docker", "dcp_registry"}
    data = common_data()
    keys = {key for key in data if key != "lookup_options"}
    wanted = {f"{name}::{param}" for name, names in params.items() for param in names}
    assert keys == wanted, f"only in common.yaml: {keys - wanted}; without a default: {wanted - keys}"
    assert data["lookup_options"]["dcp_registry::password"]["convert_to"] == "Sensitive"


# Role variables whose value DCP's inventory gives under another name (dcp_docker_idc defaults to dcp_idc).
INVENTORY_NAMES = {"dcp_docker_idc": "dcp_idc"}


def test_hiera_map_covers_the_base_roles():
    """One mapping, Ansible variable -> Hiera key, for every variable of the base roles."""
    mapping = hiera_map()
    variables = {INVENTORY_NAMES.get(name, name) for role in BASE_ROLES for name in role_defaults(role)}
    assert set(mapping) == variables
    assert set(mapping.values()) == {key for key in common_data() if key != "lookup_options"}


def test_common_yaml_defaults_match_role_defaults():
    """Both paths start from the same defaults."""
    defaults = {name: value for role in BASE_ROLES for name, value in role_defaults(role).items()}
    defaults.update(dict.fromkeys(INVENTORY_NAMES.values(), ""))
    data = common_data()
    for name, key in hiera_map().items():
        assert data[key] == defaults[name], f"{key} in common.yaml differs from {name} in the role's defaults"


COMPILE_RB = textwrap.dedent(
    """
    require 'puppet_pal'
    require 'json'
    root, work, os_facts = ARGV
    Puppet.initialize_settings(%w[confdir vardir codedir logdir rundir].flat_map { |s| ["--#{s}", "#{work}/#{s}"] } +
                               ['--hiera_config', "#{work}/hiera.yaml"])
    facts = { 'os' => { 'name' => 'Debian', 'family' => 'Debian', 'architecture' => 'amd64',
                        'release' => { 'major' => '12', 'full' => '12.8' }, 'distro' => { 'codename' => 'bookworm' } },
              'kernel' => 'Linux' }
    facts['os'].merge!(JSON.parse(os_facts))
    Puppet::Pal.in_tmp_environment('dcp', modulepath: ["#{root}/modules"], facts: facts) do |pal|
      pal.with_catalog_compiler(manifest_file: "#{root}/manifests/site.pp") do |compiler|
        compiler.compile_additions
        puts compiler.with_json_encoding { |encoder| encoder.encode }
      end
    end
    """
)


def compile_catalog(
    tmp_path: Path, data: dict, secrets: dict | None = None, os_facts: dict | None = None
) -> subprocess.CompletedProcess:
    """Compile (never apply) the site catalog with this host data, as puppet apply would on a host."""
    work = tmp_path / "puppet"
    (work / "data").mkdir(parents=True)
    shutil.copy(PUPPET / "hiera.yaml", work / "hiera.yaml")
    (work / "data" / "dcp.yaml").write_text(yaml.safe_dump(data))
    (work / "data" / "dcp-secrets.yaml").write_text(yaml.safe_dump(secrets or {}))
    (tmp_path / "compile.rb").write_text(COMPILE_RB)
    ruby = shutil.which("ruby") or "ruby"
    return subprocess.run(
        [ruby, str(tmp_path / "compile.rb"), str(PUPPET), str(work), json.dumps(os_facts or {})],
        capture_output=True,
        text=True,
        timeout=300,
    )


HOST_VARS = {
    "dcp_ntp_servers": ["ntp1.example.com", "10.0.0.123"],
    "dcp_ntp_control_clock": False,
    "dcp_sysctl_overrides": {"vm.swappiness": 10, "net.core.somaxconn": "65535"},
    "dcp_idc": "idc1",
    "dcp_docker_registry_mirrors": {"idc1": "https://mirror-idc1.example.com"},
    "dcp_docker_registry_mirror_default": "https://mirror.example.com",
    "dcp_docker_insecure_registries": ["registry.example.com:5000"],
    "dcp_docker_daemon_extra": {"live-restore": True},
    "dcp_registry_url": "registry.example.com:5000",
    "dcp_registry_username": "pull",
}


def hiera_data(values: dict) -> dict:
    mapping = hiera_map()
    return {mapping[name]: value for name, value in values.items()}


def strip_sensitive(data):
    """Catalog data without its Sensitive values (rich data: {"__ptype": "Sensitive", "__pvalue": ...})."""
    if isinstance(data, dict):
        if data.get("__ptype") == "Sensitive":
            return "<sensitive>"
        return {key: strip_sensitive(value) for key, value in data.items()}
    if isinstance(data, list):
        return [strip_sensitive(item) for item in data]
    return data


@needs_puppet
def test_puppet_catalog_compiles(tmp_path):
    run = compile_catalog(tmp_path, hiera_data(HOST_VARS), {"dcp_registry::password": "s3cr3t"})
    assert run.returncode == 0, run.stderr
    catalog = json.loads(run.stdout)
    resources = {(r["type"], r["title"]): r for r in catalog["resources"]}
    for path in ("/etc/chrony/chrony.conf", "/etc/default/chrony", "/etc/sysctl.d/90-dcp.conf",
                 "/etc/docker/daemon.json", "/root/.docker/config.json"):  # fmt: skip
        assert ("File", path) in resources, path
    assert resources[("File", "/root/.docker/config.json")]["parameters"]["mode"] == "0600"
    assert ("Service", "chrony") in resources and ("Service", "docker") in resources
    assert ("Dcp_sysctl_key", "vm.swappiness") in resources
    # The password reaches the host only as a Sensitive parameter (redacted in logs and reports).
    registry = resources[("Class", "Dcp_registry")]
    assert registry["sensitive_parameters"] == ["password"]
    others = [r for key, r in resources.items() if key != ("Class", "Dcp_registry")]
    assert "s3cr3t" not in json.dumps(strip_sensitive(others))


@needs_puppet
@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"dcp_ntp_servers": "not-a-list"}, "parameter 'servers' expects an Array value"),
        ({"dcp_ntp_servers": []}, "parameter 'servers'"),
        ({"dcp_sysctl_overrides": {"vm.swappiness": "fast"}}, "parameter 'overrides'"),
        ({"dcp_docker_service_state": "running"}, "parameter 'service_state'"),
        ({"dcp_idc": "nowhere", "dcp_docker_registry_mirror_default": ""}, "No registry mirror for IDC 'nowhere'"),
    ],
)
def test_puppet_rejects_wrong_values(tmp_path, values, expected):
    run = compile_catalog(tmp_path, hiera_data({**HOST_VARS, **values}), {"dcp_registry::password": "s3cr3t"})
    assert run.returncode != 0
    assert expected in run.stderr, run.stderr


@needs_puppet
def test_both_paths_write_the_same_files(tmp_path):
    """chrony.conf, /etc/default/chrony, 90-dcp.conf and daemon.json: Ansible's templates and Puppet's catalog agree."""
    run = compile_catalog(tmp_path, hiera_data(HOST_VARS), {"dcp_registry::password": "s3cr3t"})
    assert run.returncode == 0, run.stderr
    puppet_files = {
        r["title"]: r["parameters"].get("content") for r in json.loads(run.stdout)["resources"] if r["type"] == "File"
    }
    templates = {
        "/etc/chrony/chrony.conf": ROLES / "dcp_ntp" / "templates" / "chrony.conf.j2",
        "/etc/default/chrony": ROLES / "dcp_ntp" / "templates" / "chrony.default.j2",
        "/etc/sysctl.d/90-dcp.conf": ROLES / "dcp_sysctl" / "templates" / "90-dcp.conf.j2",
        "/etc/docker/daemon.json": ROLES / "dcp_docker" / "templates" / "daemon.json.j2",
    }
    values = {name: value for role in BASE_ROLES for name, value in role_defaults(role).items()}
    values.update(HOST_VARS)
    tasks = [
        {
            "name": f"Render {path}",
            "ansible.builtin.debug": {"msg": f"{{{{ lookup('ansible.builtin.template', '{src}') }}}}"},
        }
        for path, src in templates.items()
    ]
    ansible_run = (
        controller_play(tmp_path / "ansible", tasks, values) if (tmp_path / "ansible").mkdir() is None else None
    )
    assert ansible_run.returncode == 0, ansible_run.stdout + ansible_run.stderr
    rendered = [result["msg"] for result in debug_results(ansible_run.stdout)]
    assert len(rendered) == len(templates)
    for (path, _), text in zip(templates.items(), rendered, strict=True):
        assert text.rstrip("\n") == puppet_files[path].rstrip("\n"), f"{path} differs between Ansible and Puppet"
