# @summary Docker login credentials for the private registry, merged into
#   /root/.docker/config.json (mode 0600). The same state as the Ansible role
#   registry. Nothing to do when $url is empty.
#
# @param url
#   Registry address as Docker names it in config.json "auths" (host[:port];
#   a scheme or trailing "/" is dropped); '' skips the login.
#   Ansible: dcp_registry_url.
# @param username
#   Account to log in with; required when $url is set.
#   Ansible: dcp_registry_username.
# @param password
#   Password or token of that account; Sensitive, so it is redacted in logs
#   and reports (Hiera converts it: lookup_options in data/common.yaml).
#   Ansible: dcp_registry_password.
class dcp_registry (
  Variant[Enum[''], Pattern[/\A([a-z]+:\/\/)?[A-Za-z0-9.-]+(:[0-9]+)?\/*\z/]] $url,
  Pattern[/\A[^:]*\z/] $username,
  Sensitive[String] $password,
) {
  # The platforms of metadata.json; anywhere else, say so before changing anything.
  unless $facts['os']['name'] == 'Debian' and $facts['os']['release']['major'] == '12' {
    fail("dcp_registry supports Debian 12 (bookworm) only; this host runs ${facts['os']['name']} ${facts['os']['release']['full']}")
  }

  if $url == '' {
    notice('dcp_registry::url is empty, no registry login configured')
  } else {
    if $username == '' {
      fail("dcp_registry::username must be set when dcp_registry::url is (${url})")
    }
    if $password.unwrap == '' {
      fail("dcp_registry::password must be set when dcp_registry::url is (${url})")
    }
    $registry = regsubst(regsubst($url, '\A[a-z]+://', ''), '/+\z', '')

    file { '/root/.docker':
      ensure => directory,
      owner  => 'root',
      group  => 'root',
      mode   => '0700',
    }

    # Written as a file, never with "docker login -p", which would show the
    # password in the process list. The content is computed on the host
    # (Deferred) from the existing file, and is Sensitive.
    file { '/root/.docker/config.json':
      ensure    => file,
      owner     => 'root',
      group     => 'root',
      mode      => '0600',
      show_diff => false,
      content   => Deferred('dcp_registry::docker_config', [
        '/root/.docker/config.json', $registry, $username, $password,
      ]),
    }
  }
}
