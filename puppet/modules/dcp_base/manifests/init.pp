# @summary The DCP base state: clock in sync, kernel tuned for container
#   hosts, Docker pulling from the IDC's registry mirror, logged in to the
#   private registry. The same state as playbooks/site.yml.
class dcp_base {
  # The platforms of metadata.json; anywhere else, say so before changing anything.
  unless $facts['os']['name'] == 'Debian' and $facts['os']['release']['major'] == '12' {
    fail("dcp_base supports Debian 12 (bookworm) only; this host runs ${facts['os']['name']} ${facts['os']['release']['full']}")
  }

  contain dcp_ntp
  contain dcp_sysctl
  contain dcp_docker
  contain dcp_registry

  Class['dcp_ntp'] -> Class['dcp_sysctl'] -> Class['dcp_docker'] -> Class['dcp_registry']
}
