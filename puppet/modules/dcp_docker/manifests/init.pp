# @summary Docker engine pulling from the registry mirror of the host's IDC.
#   The same state as the Ansible role dcp_docker.
#
# @param idc
#   The host's IDC (zone); key into $registry_mirrors. Ansible: dcp_docker_idc
#   (which defaults to dcp_idc, set by DCP's inventory).
# @param registry_mirrors
#   IDC name to registry mirror URL. Ansible: dcp_docker_registry_mirrors.
# @param registry_mirror_default
#   Mirror URL for IDCs without their own; '' for none.
#   Ansible: dcp_docker_registry_mirror_default.
# @param insecure_registries
#   Registries reached over plain HTTP or untrusted TLS.
#   Ansible: dcp_docker_insecure_registries.
# @param log_max_size
#   json-file log driver max-size, e.g. 100m. Ansible: dcp_docker_log_max_size.
# @param log_max_file
#   json-file log driver max-file. Ansible: dcp_docker_log_max_file.
# @param data_root
#   Docker's data-root. Ansible: dcp_docker_data_root.
# @param daemon_extra
#   More daemon.json settings, merged over the ones above.
#   Ansible: dcp_docker_daemon_extra.
# @param service_state
#   started or stopped; the service is enabled either way.
#   Ansible: dcp_docker_service_state.
# @param repo_url
#   Docker's apt repository; '' installs the distribution's docker.io.
#   Ansible: dcp_docker_repo_url.
# @param repo_key_url
#   Signing key of $repo_url; '' means "${repo_url}/gpg".
#   Ansible: dcp_docker_repo_key_url.
# @param packages
#   Docker's packages; [] picks them by source. Ansible: dcp_docker_packages.
# @param install_recommends
#   Install the packages' recommended packages too; false on hosts that do not
#   boot with systemd (docker.io's recommends pull in systemd-sysv, which
#   replaces /sbin/init). Ansible: dcp_docker_install_recommends.
class dcp_docker (
  String $idc,
  Hash[String, Pattern[/\Ahttps?:\/\/[^\s\/]+/]] $registry_mirrors,
  Variant[Enum[''], Pattern[/\Ahttps?:\/\/[^\s\/]+/]] $registry_mirror_default,
  Array[String[1]] $insecure_registries,
  Pattern[/\A[0-9]+[kmg]?\z/] $log_max_size,
  Integer[1] $log_max_file,
  Pattern[/\A\//] $data_root,
  Hash[String[1], Data] $daemon_extra,
  Enum['started', 'stopped'] $service_state,
  Variant[Enum[''], Pattern[/\Ahttps?:\/\//]] $repo_url,
  Variant[Enum[''], Pattern[/\Ahttps?:\/\//]] $repo_key_url,
  Array[String[1]] $packages,
  Boolean $install_recommends,
) {
  # The platforms of metadata.json; anywhere else, say so before changing anything.
  unless $facts['os']['name'] == 'Debian' and $facts['os']['release']['major'] == '12' {
    fail("dcp_docker supports Debian 12 (bookworm) only; this host runs ${facts['os']['name']} ${facts['os']['release']['full']}")
  }

  $mirror = $registry_mirrors[$idc] ? {
    undef   => $registry_mirror_default,
    default => $registry_mirrors[$idc],
  }
  if $mirror == '' {
    $known = $registry_mirrors.keys.join(', ')
    fail(@("MSG"/L))
      No registry mirror for IDC '${idc}': dcp_docker::registry_mirrors has [${known}] \
      and dcp_docker::registry_mirror_default is empty. Add the IDC to \
      dcp_docker::registry_mirrors or set dcp_docker::registry_mirror_default.
      | MSG
  }

  $from_repo = $repo_url != ''
  $docker_packages = $packages ? {
    []      => $from_repo ? {
      true    => ['docker-ce', 'docker-ce-cli', 'containerd.io'],
      default => ['docker.io'],
    },
    default => $packages,
  }

  if $from_repo {
    $key_url = $repo_key_url ? {
      ''      => "${regsubst($repo_url, '/+\z', '')}/gpg",
      default => $repo_key_url,
    }
    file { '/etc/apt/keyrings':
      ensure => directory,
      owner  => 'root',
      group  => 'root',
      mode   => '0755',
    }
    file { '/etc/apt/keyrings/docker.asc':
      ensure => file,
      owner  => 'root',
      group  => 'root',
      mode   => '0644',
      source => $key_url,
      notify => Exec['dcp_docker: apt-get update'],
    }
    file { '/etc/apt/sources.list.d/docker.sources':
      ensure  => file,
      owner   => 'root',
      group   => 'root',
      mode    => '0644',
      content => epp('dcp_docker/docker.sources.epp', {
        'repo_url'     => $repo_url,
        'codename'     => $facts['os']['distro']['codename'],
        'architecture' => $facts['os']['architecture'],
      }),
      notify  => Exec['dcp_docker: apt-get update'],
    }
    exec { 'dcp_docker: apt-get update':
      command     => 'apt-get update',
      path        => ['/usr/sbin', '/usr/bin', '/sbin', '/bin'],
      refreshonly => true,
      before      => Package[$docker_packages],
    }
  }

  $daemon = {
    'registry-mirrors'    => [$mirror],
    'insecure-registries' => $insecure_registries,
    'log-driver'          => 'json-file',
    'log-opts'            => {
      'max-size' => $log_max_size,
      'max-file' => String($log_max_file),
    },
    'data-root'           => $data_root,
  } + $daemon_extra

  # daemon.json is written before the package is installed: the package
  # starts dockerd, and its first start must already use the mirror and
  # data-root.
  file { '/etc/docker':
    ensure => directory,
    owner  => 'root',
    group  => 'root',
    mode   => '0755',
  }

  file { '/etc/docker/daemon.json':
    ensure       => file,
    owner        => 'root',
    group        => 'root',
    mode         => '0644',
    content      => "${dcp_docker::to_json($daemon)}\n",
    validate_cmd => "/usr/bin/python3 -c 'import json, sys; json.load(open(sys.argv[1]))' %",
    before       => Package[$docker_packages],
    notify       => Service['docker'],
  }

  $install_options = $install_recommends ? {
    true    => [],
    default => ['--no-install-recommends'],
  }

  if $service_state == 'stopped' {
    # Stopped also keeps the packages' install scripts from starting dockerd:
    # apt runs with a policy-rc.d that exits 101 (any existing one is put
    # back afterwards), as the Ansible role's apt policy_rc_d does.
    $package_names = $docker_packages.join(' ')
    $options = $install_options.join(' ')
    exec { 'dcp_docker: install Docker without starting it':
      command  => @("CMD"/$L),
        set -e; p=/usr/sbin/policy-rc.d; \
        if [ -e \$p ]; then mv \$p \$p.dcp-saved; fi; \
        trap 'rm -f \$p; if [ -e \$p.dcp-saved ]; then mv \$p.dcp-saved \$p; fi' EXIT; \
        printf '#!/bin/sh\nexit 101\n' > \$p; chmod 0755 \$p; \
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o Dpkg::Options::=--force-confold \
        ${options} ${package_names}
        | CMD
      unless   => @("CMD"/$L),
        test "\$(dpkg-query -W -f='\${db:Status-Abbrev}\n' ${package_names} 2>/dev/null \
        | grep -c '^ii')" -eq ${docker_packages.length}
        | CMD
      provider => shell,
      path     => ['/usr/sbin', '/usr/bin', '/sbin', '/bin'],
      timeout  => 1800,
      before   => Package[$docker_packages],
    }
  }

  package { $docker_packages:
    ensure          => installed,
    install_options => $install_options,
  }

  $service_ensure = $service_state ? {
    'started' => running,
    default   => stopped,
  }
  service { 'docker':
    ensure  => $service_ensure,
    enable  => true,
    require => Package[$docker_packages],
  }

  if $service_state == 'started' {
    exec { 'dcp_docker: wait for dockerd to answer':
      command   => @(CMD/L),
        for i in $(seq 15); do docker version --format "{{.Server.Version}}" >/dev/null 2>&1 && exit 0; \
        sleep 2; done; echo 'dockerd did not answer within 30 seconds of being started. \
        End of /var/log/docker.log (journalctl -u docker where systemd runs):'; \
        tail -n 20 /var/log/docker.log; exit 1
        | CMD
      unless    => 'docker version --format "{{.Server.Version}}"',
      provider  => shell,
      path      => ['/usr/sbin', '/usr/bin', '/sbin', '/bin'],
      timeout   => 120,
      logoutput => on_failure,
      require   => Service['docker'],
    }
  }
}
