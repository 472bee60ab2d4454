#!/usr/bin/python
"""Apply kernel settings through /proc/sys, key by key, and read them back."""

from __future__ import annotations

import errno
import os

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
---
module: dcp_sysctl
short_description: Apply sysctl settings live, telling read-only keys from wrong ones
description:
  - Writes each setting to its /proc/sys entry when the live value differs,
    then reads it back and compares (whitespace-insensitive).
  - A key whose entry is read-only here (read-only /proc/sys in a container,
    a key owned by another namespace, an entry without write permission) is
    reported in C(readonly) and left to the persisted sysctl.d file for the
    next boot; with I(strict) it fails instead.
  - A C(net.*) key that only exists in the initial network namespace (GLOBAL_NET_KEYS),
    on a host that runs in another one, is reported in C(unavailable) the same way.
  - A key starting with one of I(optional_prefixes) (entries a kernel module
    creates, such as C(net.bridge.) for br_netfilter) is skipped when absent.
  - Any other failure fails the module: unknown key, value the kernel rejects,
    value the kernel reads back differently.
options:
  settings:
    description: Key to value; values are integers or strings of integers.
    type: dict
    required: true
  strict:
    description: Fail on keys that are read-only here instead of warning.
    type: bool
    default: false
  optional_prefixes:
    description: Key prefixes whose entries may be absent (module not loaded).
    type: list
    elements: str
    default: []
"""

RETURN = r"""
applied:
  description: Keys written in this run.
  type: list
readonly:
  description: Keys whose live value differs and whose entry is read-only here.
  type: list
unavailable:
  description: Global net.* keys not present in this host's network namespace.
  type: list
absent:
  description: Optional keys whose entry does not exist (module not loaded).
  type: list
values:
  description: Live value of every key that exists, after the run.
  type: dict
"""

PROC_SYS = "/proc/sys"
# Registered only in the initial network namespace (net/core/sysctl_net_core.c,
# the init_net table): absent means this host runs in another network namespace.
INITIAL_NETNS_MARKER = "/proc/sys/net/core/netdev_max_backlog"
READONLY_ERRNOS = (errno.EROFS, errno.EACCES, errno.EPERM)
# net.* keys the kernel registers only in the initial network namespace (kept
# equal to GLOBAL_NET_KEYS in puppet/modules/dcp_sysctl): absent elsewhere,
# while any other missing key is unknown.
GLOBAL_NET_KEYS = (
    "net.core.",
    "net.ipv4.neigh.default.",
    "net.ipv6.neigh.default.",
    "net.ipv4.route.",
    "net.ipv4.cipso_",
    "net.ipv4.fib_sync_mem",
    "net.ipv4.inet_peer_",
    "net.ipv4.ipfrag_secret_interval",
    "net.ipv4.tcp_available_ulp",
    "net.ipv4.tcp_low_latency",
    "net.ipv4.tcp_max_orphans",
    "net.ipv4.tcp_mem",
    "net.ipv4.udp_mem",
    "net.ipv6.calipso_",
    "net.ipv6.mld_max_msf",
    "net.ipv6.mld_qrv",
    "net.netfilter.nf_log_all_netns",
    "net.nf_conntrack_max",
)


def entry_path(key: str) -> str:
    """The /proc/sys file of a key ("net.ipv4.ip_forward"; a key with "/" uses "/" as separator)."""
    relative = key.strip("/") if "/" in key else key.replace(".", "/")
    return os.path.join(PROC_SYS, relative)


def normalize(value) -> str:
    """Compare values the way the kernel prints them: fields separated by single spaces."""
    return " ".join(str(value).split())


def read_entry(path: str) -> str:
    with open(path, encoding="ascii", errors="replace") as handle:
        return normalize(handle.read())


def write_entry(path: str, value: str) -> None:
    """Write unbuffered, so the kernel's error surfaces here and not at close time."""
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
    try:
        os.write(fd, value.encode("ascii"))
    finally:
        os.close(fd)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "settings": {"type": "dict", "required": True},
            "strict": {"type": "bool", "default": False},
            "optional_prefixes": {"type": "list", "elements": "str", "default": []},
        },
        supports_check_mode=True,
    )
    settings = module.params["settings"]
    prefixes = tuple(module.params["optional_prefixes"])
    initial_netns = os.path.exists(INITIAL_NETNS_MARKER)

    applied, readonly, unavailable, absent, errors = [], [], [], [], []
    values, was = {}, {}
    for key in sorted(settings):
        want = normalize(settings[key])
        path = entry_path(key)
        if not os.path.exists(path):
            if key.startswith(prefixes):
                absent.append(key)
            elif key.replace("/", ".").startswith(GLOBAL_NET_KEYS) and not initial_netns:
                unavailable.append(key)
            else:
                errors.append(f"{key}: unknown key (no {path})")
            continue
        try:
            have = read_entry(path)
        except OSError as exc:
            errors.append(f"{key}: cannot read {path}: {exc.strerror}")
            continue
        values[key] = have
        if have == want:
            continue
        # Asked without writing, so check mode sees what a real run would: the entry's write bits (procfs
        # holds root to them), then access(2), which refuses a read-only mount and a key owned by another
        # namespace.
        if not os.stat(path).st_mode & 0o222 or not os.access(path, os.W_OK):
            readonly.append(key)
            continue
        was[key] = have
        if module.check_mode:
            applied.append(key)
            continue
        try:
            write_entry(path, want)
        except OSError as exc:
            if exc.errno in READONLY_ERRNOS:
                readonly.append(key)
            else:
                errors.append(f"{key}: the kernel rejected {want!r}: {exc.strerror}")
            continue
        values[key] = read_entry(path)
        if values[key] != want:
            errors.append(f"{key}: wrote {want!r} but the kernel reads back {values[key]!r}")
        else:
            applied.append(key)

    result = {
        "changed": bool(applied),
        "applied": applied,
        "readonly": readonly,
        "unavailable": unavailable,
        "absent": absent,
        "values": values,
    }
    if module._diff and applied:
        # --diff: the live values before and after, one "key = value" line each.
        result["diff"] = {
            "before_header": "live kernel settings",
            "after_header": "live kernel settings",
            "before": "".join(f"{key} = {was[key]}\n" for key in applied),
            "after": "".join(f"{key} = {normalize(settings[key])}\n" for key in applied),
        }
    not_here = readonly + unavailable
    if errors:
        module.fail_json(msg="Could not apply sysctl settings: " + "; ".join(errors), **result)
    if not_here and module.params["strict"]:
        module.fail_json(
            msg=(
                "Sysctl keys that cannot be set on this host (read-only here, or global keys outside "
                "this network namespace) and dcp_sysctl_strict is true: " + ", ".join(not_here)
            ),
            **result,
        )
    if readonly:
        module.warn(
            "Sysctl keys read-only on this host, left to /etc/sysctl.d/90-dcp.conf for the next boot: "
            + ", ".join(readonly)
        )
    if unavailable:
        module.warn(
            "Global sysctl keys not present in this host's network namespace, "
            "left to /etc/sysctl.d/90-dcp.conf: " + ", ".join(unavailable)
        )
    module.exit_json(**result)


if __name__ == "__main__":
    main()
