"""The init roles' variables: their specs (from each role's meta/argument_specs.yml) and each host's values.

The roles' own argument specs are the one source of truth: the API checks a
template's ``init_vars`` against them, so a wrong value is refused with a 400
that names the variable before any host is touched; Ansible checks them again
on the host.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from django.conf import settings

#: Roles every host gets, in order; a template's profile roles come after them.
BASE_ROLES = ("dcp_ntp", "dcp_sysctl", "dcp_docker", "dcp_registry")
#: Variables DCP fills from its own records (the registry, the host); a template may not set them.
MANAGED = {
    "dcp_registry_url",
    "dcp_registry_username",
    "dcp_registry_password",
    "dcp_docker_registry_mirrors",
    "dcp_docker_registry_mirror_default",
    "dcp_idc",
    "dcp_docker_idc",
    "dcp_pool",
    "dcp_cluster",
    "dcp_profile_roles",
}
#: How DCP reaches the host, not a role's variable.
CONNECTION = {
    "dcp_ssh_user": {"type": "str"},
    "dcp_ssh_port": {"type": "int"},
    "dcp_ssh_via": {"type": "str"},
    "dcp_connect_timeout": {"type": "int"},
}
#: Variables a template that initializes hosts must set: the roles have no sensible company-wide default.
REQUIRED = {"dcp_ntp_servers": 'the company\'s NTP servers, e.g. ["ntp1.example.com"]'}
#: The extra role each init method runs before the base roles' state is reached.
METHOD_ROLES = {"ansible": (), "puppet": ("dcp_puppet",)}
TYPES = {
    "str": (str,),
    "path": (str,),
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
    "list": (list,),
    "dict": (dict,),
}


def roles_dir() -> Path:
    """Where the playbooks' roles live."""
    return Path(settings.DCP_PLAYBOOKS_DIR) / "roles"


@lru_cache(maxsize=32)
def role_options(role: str) -> dict[str, dict]:
    """The options a role declares in meta/argument_specs.yml (entry point main)."""
    path = roles_dir() / role / "meta" / "argument_specs.yml"
    if not path.exists():
        return {}
    specs = yaml.safe_load(path.read_text()) or {}
    return dict(((specs.get("argument_specs") or {}).get("main") or {}).get("options") or {})


def profile_roles(init_profile: str) -> list[str]:
    """The profile roles a template names, in order."""
    return [name.strip() for name in (init_profile or "").split(",") if name.strip()]


def check_profile(init_profile: str) -> list[str]:
    """Profile role names that don't exist under playbooks/roles (empty when all do)."""
    return [
        name
        for name in profile_roles(init_profile)
        if name in BASE_ROLES or not (roles_dir() / name / "tasks" / "main.yml").exists()
    ]


def _type_error(name: str, spec: dict, value: Any) -> str | None:
    wanted = spec.get("type", "str")
    kinds = TYPES.get(wanted)
    if kinds and (not isinstance(value, kinds) or (wanted in ("int", "float") and isinstance(value, bool))):
        return f"Variable {name} must be a {wanted}, not {type(value).__name__} ({value!r})."
    if spec.get("choices") and value not in spec["choices"]:
        return f"Variable {name} must be one of {', '.join(map(str, spec['choices']))}, not {value!r}."
    element = spec.get("elements")
    if wanted == "list" and element in TYPES:
        for item in value:
            if not isinstance(item, TYPES[element]) or (element == "int" and isinstance(item, bool)):
                return f"Variable {name} must be a list of {element}, but holds {item!r}."
    return None


def check(init_vars: Any, init_profile: str = "", init_method: str = "none") -> list[str]:
    """Everything wrong with a template's init_vars, each as a sentence that says what to fix."""
    if not isinstance(init_vars, dict):
        return ['Give an object of variables, e.g. {"dcp_ntp_servers": ["ntp1.example.com"]}.']
    known = dict(CONNECTION)
    for role in (*METHOD_ROLES.get(init_method, ()), *BASE_ROLES, *profile_roles(init_profile)):
        known.update(role_options(role))
    errors = [
        f"Variable {name} is required when hosts are initialized ({init_method}): give {what}."
        for name, what in REQUIRED.items()
        if init_method in METHOD_ROLES and not init_vars.get(name)
    ]
    for name, value in sorted(init_vars.items()):
        if name in MANAGED:
            errors.append(f"Variable {name} is set by DCP (from the template's registry and the host); remove it.")
        elif name not in known:
            roles = f"{', '.join(BASE_ROLES)} and the profile"
            errors.append(f"Unknown variable {name}: not a variable of the init roles ({roles}); remove or rename it.")
        elif (problem := _type_error(name, known[name], value)) is not None:
            errors.append(problem)
    if init_vars.get("dcp_ssh_via", "private") not in ("private", "public"):
        errors.append("Variable dcp_ssh_via must be private or public.")
    return errors


def registry_vars(registry) -> tuple[dict[str, Any], dict[str, str]]:
    """The registry's variables, split into (plain, secret); the secret goes only to the runner's vars file."""
    if registry is None:
        return {}, {}
    plain = {
        "dcp_registry_url": registry.url,
        "dcp_registry_username": registry.username,
        "dcp_docker_registry_mirrors": dict(registry.mirrors or {}),
        "dcp_docker_registry_mirror_default": registry.default_mirror,
    }
    if registry.insecure:
        addresses = [registry.url, *registry.mirrors.values(), registry.default_mirror]
        plain["dcp_docker_insecure_registries"] = sorted({_host_port(a) for a in addresses if a})
    return plain, {"dcp_registry_password": registry.password} if registry.password else {}


def _host_port(address: str) -> str:
    """registry.example.com:5000 from http://registry.example.com:5000/, as Docker's insecure list wants."""
    return address.split("://", 1)[-1].split("/", 1)[0]


def host_vars(host) -> dict[str, Any]:
    """The non-secret variables of one host: its template's, the registry's, and where it is."""
    template = host.template
    plain, _ = registry_vars(template.registry)
    values = {k: v for k, v in (template.init_vars or {}).items() if k not in CONNECTION}
    values["dcp_connect_timeout"] = (template.init_vars or {}).get("dcp_connect_timeout", 120)
    values.update(plain)
    values.update(
        {
            "dcp_idc": host.zone or template.region or host.provider.region,
            "dcp_pool": host.pool.name,
            "dcp_cluster": host.pool.cluster.name,
            "dcp_profile_roles": profile_roles(template.init_profile),
        }
    )
    return values
