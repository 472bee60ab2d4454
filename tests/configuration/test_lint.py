"""The initialization content against its communities' checks: the commands `make lint` runs, the roles' and
modules' metadata, and the refusal of a platform the content does not support.

The linters run for real (ansible-lint from the virtualenv, Debian's puppet-lint, Puppet's parser). Each runs on a
temporary copy with one violation seeded in it, and must report that violation and nothing else: so the same run
shows the real content passes and the linter would catch a change that breaks its rules. No host is needed.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.configuration.test_content import (
    HOST_VARS,
    PLAYBOOKS,
    PUPPET,
    ROLE_NAMES,
    ROLES,
    ROOT,
    compile_catalog,
    controller_play,
    hiera_data,
    needs_puppet,
)

ANSIBLE_LINT = Path(sys.executable).parent / "ansible-lint"
PUPPET_LINT = shutil.which("puppet-lint")
MODULES = sorted(path.name for path in (PUPPET / "modules").iterdir() if (path / "manifests").is_dir())


def makefile_lint_commands() -> list[str]:
    """The recipe lines of the Makefile's lint target."""
    text = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^lint:.*\n((?:\t.*\n)+)", text, re.M).group(1)
    return [line.strip() for line in recipe.splitlines()]


def test_make_lint_runs_the_three_content_linters():
    commands = makefile_lint_commands()
    assert any("ansible-lint" in c and c.endswith("playbooks") for c in commands), commands
    assert any(c.startswith("puppet-lint --fail-on-warnings puppet") for c in commands), commands
    assert any(c.startswith("puppet parser validate") for c in commands), commands
    config = yaml.safe_load((ROOT / ".ansible-lint").read_text())
    assert config["profile"] == "production" and not config.get("skip_list") and not config.get("warn_list")


def seeded_copy(tmp_path: Path, relative: str, edit) -> Path:
    """A copy of the repository's playbooks/, puppet/ and .ansible-lint with one file changed by edit(text)."""
    copy = tmp_path / "repo"
    shutil.copytree(PLAYBOOKS, copy / "playbooks")
    shutil.copytree(PUPPET, copy / "puppet")
    shutil.copy(ROOT / ".ansible-lint", copy / ".ansible-lint")
    target = copy / relative
    target.write_text(edit(target.read_text()))
    return copy


def test_ansible_lint_passes_and_catches_a_seeded_violation(tmp_path):
    """A role variable without the role's prefix: the one failure in an otherwise clean run."""
    copy = seeded_copy(
        tmp_path,
        "playbooks/roles/dcp_ntp/defaults/main.yml",
        lambda text: text + "\n# chrony_pool: seeded, lacks the role prefix.\nchrony_pool: pool.example.com\n",
    )
    run = subprocess.run(
        [str(ANSIBLE_LINT), "--nocolor", "-f", "json", "playbooks"],
        cwd=copy,
        capture_output=True,
        text=True,
        timeout=600,
        env={"PATH": f"{ANSIBLE_LINT.parent}:/usr/bin:/bin", "HOME": str(tmp_path), "NO_COLOR": "1"},
    )
    assert run.returncode != 0, run.stdout + run.stderr
    found = json.loads(run.stdout)
    assert [(f["check_name"], f["location"]["path"]) for f in found] == [
        ("var-naming[no-role-prefix]", "playbooks/roles/dcp_ntp/defaults/main.yml")
    ], run.stdout
    assert "chrony_pool" in found[0]["description"]


@pytest.mark.skipif(PUPPET_LINT is None, reason="puppet-lint is not installed (CI installs Debian's puppet-lint)")
def test_puppet_lint_passes_and_catches_a_seeded_violation(tmp_path):
    """A selector inside a resource: the one warning, and --fail-on-warnings fails on it."""
    clean = subprocess.run(
        [PUPPET_LINT, "--fail-on-warnings", str(PUPPET)], capture_output=True, text=True, timeout=300
    )
    assert clean.returncode == 0, clean.stdout + clean.stderr
    copy = seeded_copy(
        tmp_path,
        "puppet/modules/dcp_ntp/manifests/init.pp",
        lambda text: text.replace(
            "  package { 'chrony':\n    ensure => installed,",
            "  package { 'chrony':\n    ensure => $control_clock ? {\n      true    => installed,\n"
            "      default => latest,\n    },",
        ),
    )
    run = subprocess.run(
        [PUPPET_LINT, "--fail-on-warnings", str(copy / "puppet")], capture_output=True, text=True, timeout=300
    )
    assert run.returncode != 0, run.stdout + run.stderr
    problems = [line for line in run.stdout.splitlines() if " - WARNING: " in line or " - ERROR: " in line]
    assert len(problems) == 1 and "selector_inside_resource" in problems[0], run.stdout
    assert "dcp_ntp/manifests/init.pp" in problems[0]


@needs_puppet
def test_puppet_parser_validate_passes_and_catches_a_seeded_error(tmp_path):
    manifests = sorted(PUPPET.rglob("*.pp"))
    clean = subprocess.run(
        ["puppet", "parser", "validate", *map(str, manifests)], capture_output=True, text=True, timeout=300
    )
    assert clean.returncode == 0, clean.stdout + clean.stderr
    copy = seeded_copy(
        tmp_path, "puppet/modules/dcp_sysctl/manifests/init.pp", lambda text: text.replace("$settings = ", "$settings ")
    )
    run = subprocess.run(
        ["puppet", "parser", "validate", *map(str, sorted((copy / "puppet").rglob("*.pp")))],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode != 0
    assert "dcp_sysctl/manifests/init.pp" in run.stdout + run.stderr


# --- Metadata ----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLE_NAMES)
def test_role_meta_names_platforms_and_minimum_ansible(role):
    info = yaml.safe_load((ROLES / role / "meta" / "main.yml").read_text())["galaxy_info"]
    assert info["role_name"] == role
    assert info["platforms"] == [{"name": "Debian", "versions": ["bookworm"]}]
    assert re.fullmatch(r"2\.\d+", info["min_ansible_version"])
    assert info["description"]


@pytest.mark.parametrize("module", MODULES)
def test_module_metadata_names_systems_and_puppet_versions(module):
    meta = json.loads((PUPPET / "modules" / module / "metadata.json").read_text())
    assert meta["name"] == f"dcp-{module}"
    assert meta["operatingsystem_support"] == [{"operatingsystem": "Debian", "operatingsystemrelease": ["12"]}]
    puppet = next(r for r in meta["requirements"] if r["name"] == "puppet")
    assert re.fullmatch(r">= \d+\.\d+\.\d+ < \d+\.\d+\.\d+", puppet["version_requirement"])
    installed = subprocess.run(["puppet", "--version"], capture_output=True, text=True).stdout.strip()
    low, high = re.findall(r"\d+\.\d+\.\d+", puppet["version_requirement"])
    version = tuple(map(int, installed.split(".")))
    assert tuple(map(int, low.split("."))) <= version < tuple(map(int, high.split("."))), installed


# --- Unsupported platforms ---------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLE_NAMES)
def test_role_refuses_an_unsupported_platform_naming_it(tmp_path, role):
    """The role's first task, given the facts of a CentOS host: a failure that names the platform found."""
    tasks = [
        {
            "name": "Pretend to be a CentOS host",
            "ansible.builtin.set_fact": {
                "ansible_facts": {
                    "distribution": "CentOS",
                    "distribution_major_version": "9",
                    "distribution_version": "9.4",
                }
            },
        },
        {"name": "Check", "ansible.builtin.include_role": {"name": role, "tasks_from": "platform"}},
    ]
    run = controller_play(tmp_path, tasks, allowed_extra=frozenset({"ansible.builtin.set_fact"}))
    assert run.returncode != 0, run.stdout
    assert f"{role} supports Debian 12 (bookworm) only" in run.stdout and "CentOS 9.4" in run.stdout, run.stdout


@needs_puppet
def test_puppet_refuses_an_unsupported_platform_naming_it(tmp_path):
    os_facts = {"name": "Ubuntu", "release": {"major": "24.04", "full": "24.04"}}
    run = compile_catalog(tmp_path, hiera_data(HOST_VARS), {"dcp_registry::password": "s3cr3t"}, os_facts)
    assert run.returncode != 0
    assert "supports Debian 12 (bookworm) only; this host runs Ubuntu 24.04" in run.stderr, run.stderr
