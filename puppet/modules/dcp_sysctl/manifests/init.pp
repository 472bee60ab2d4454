# @summary Kernel settings for container hosts, persisted in
#   /etc/sysctl.d/90-dcp.conf and applied live key by key. The same state as
#   the Ansible role dcp_sysctl.
#
# A key read-only on this host (containers, hosts in their own network
# namespace) is a warning and waits for the next boot, or fails when
# $strict; an unknown key or a value the kernel rejects fails. See the
# dcp_sysctl_key type.
#
# @param defaults
#   DCP's settings: sysctl key to an integer or a string of integers.
#   Ansible: dcp_sysctl_defaults.
# @param overrides
#   The pool's changes, merged over $defaults. Ansible: dcp_sysctl_overrides.
# @param strict
#   Fail on keys that are read-only on this host instead of warning.
#   Ansible: dcp_sysctl_strict.
# @param optional_prefixes
#   Key prefixes whose entries exist only while a kernel module is loaded
#   (net.bridge.: br_netfilter); skipped when absent.
#   Ansible: dcp_sysctl_optional_prefixes.
class dcp_sysctl (
  Hash[Pattern[/\A[A-Za-z0-9_][A-Za-z0-9_.\/-]*\z/], Variant[Integer, Pattern[/\A\s*-?[0-9]+(\s+-?[0-9]+)*\s*\z/]]] $defaults,
  Hash[Pattern[/\A[A-Za-z0-9_][A-Za-z0-9_.\/-]*\z/], Variant[Integer, Pattern[/\A\s*-?[0-9]+(\s+-?[0-9]+)*\s*\z/]]] $overrides,
  Boolean $strict,
  Array[String[1]] $optional_prefixes,
) {
  # The platforms of metadata.json; anywhere else, say so before changing anything.
  unless $facts['os']['name'] == 'Debian' and $facts['os']['release']['major'] == '12' {
    fail("dcp_sysctl supports Debian 12 (bookworm) only; this host runs ${facts['os']['name']} ${facts['os']['release']['full']}")
  }

  $settings = $defaults + $overrides

  file { '/etc/sysctl.d/90-dcp.conf':
    ensure  => file,
    owner   => 'root',
    group   => 'root',
    mode    => '0644',
    content => epp('dcp_sysctl/90-dcp.conf.epp', {
      'settings'          => $settings,
      'optional_prefixes' => $optional_prefixes,
    }),
  }

  $settings.each |String $key, Variant[Integer, String] $value| {
    dcp_sysctl_key { $key:
      value    => String($value),
      strict   => $strict,
      optional => $optional_prefixes.any |$prefix| { $key[0, $prefix.length] == $prefix },
      require  => File['/etc/sysctl.d/90-dcp.conf'],
    }
  }
}
