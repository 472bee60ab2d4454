# @summary Chrony following the company's NTP servers, clock synchronisation
#   checked. The same state as the Ansible role dcp_ntp.
#
# @param servers
#   The company's NTP servers (host names or IP addresses), at least one.
#   Ansible: dcp_ntp_servers.
# @param control_clock
#   false runs chronyd with -x: it follows the servers but never steps or
#   slews the system clock (for hosts whose kernel clock is shared).
#   Ansible: dcp_ntp_control_clock.
# @param makestep_threshold
#   Step the clock when it is off by more than this many seconds.
#   Ansible: dcp_ntp_makestep_threshold.
# @param makestep_limit
#   Stepping is allowed during this many first clock updates (-1: always).
#   Ansible: dcp_ntp_makestep_limit.
# @param sync_timeout
#   Seconds to wait for chrony to report the clock synchronised; 0 skips the
#   check. Ansible: dcp_ntp_sync_timeout.
class dcp_ntp (
  Array[Pattern[/\A[A-Za-z0-9][A-Za-z0-9.:_-]*\z/], 1] $servers,
  Boolean $control_clock,
  Numeric $makestep_threshold,
  Integer[-1] $makestep_limit,
  Integer[0] $sync_timeout,
) {
  # The platforms of metadata.json; anywhere else, say so before changing anything.
  unless $facts['os']['name'] == 'Debian' and $facts['os']['release']['major'] == '12' {
    fail("dcp_ntp supports Debian 12 (bookworm) only; this host runs ${facts['os']['name']} ${facts['os']['release']['full']}")
  }

  if $makestep_threshold <= 0 {
    fail("dcp_ntp::makestep_threshold must be greater than 0, got ${makestep_threshold}")
  }

  # The configuration is written before the package is installed: chrony's
  # postinst starts the daemon, and its first start must already use the
  # company's servers and, where the clock is shared, -x.
  file { '/etc/chrony':
    ensure => directory,
    owner  => 'root',
    group  => 'root',
    mode   => '0755',
  }

  file { '/etc/chrony/chrony.conf':
    ensure  => file,
    owner   => 'root',
    group   => 'root',
    mode    => '0644',
    content => epp('dcp_ntp/chrony.conf.epp', {
      'servers'            => $servers,
      'makestep_threshold' => $makestep_threshold,
      'makestep_limit'     => $makestep_limit,
    }),
    before  => Package['chrony'],
    notify  => Service['chrony'],
  }

  file { '/etc/default/chrony':
    ensure  => file,
    owner   => 'root',
    group   => 'root',
    mode    => '0644',
    content => epp('dcp_ntp/chrony.default.epp', { 'control_clock' => $control_clock }),
    before  => Package['chrony'],
    notify  => Service['chrony'],
  }

  package { 'chrony':
    ensure => installed,
  }

  service { 'chrony':
    ensure  => running,
    enable  => true,
    require => Package['chrony'],
  }

  if $sync_timeout > 0 {
    $server_names = $servers.join(', ')
    exec { 'dcp_ntp: wait for chrony to synchronise the clock':
      command   => @("CMD"/L),
        chronyc waitsync ${sync_timeout} 0 0 1 >/dev/null || { \
        echo 'chrony did not synchronise the clock with ${server_names} within ${sync_timeout} seconds'; \
        chronyc -n tracking; chronyc -n sources; exit 1; }
        | CMD
      unless    => "chronyc -n tracking | grep -Eq '^Leap status +: Normal'",
      provider  => shell,
      path      => ['/usr/sbin', '/usr/bin', '/sbin', '/bin'],
      timeout   => $sync_timeout + 60,
      logoutput => on_failure,
      require   => Service['chrony'],
    }
  }
}
