# frozen_string_literal: true

Puppet::Type.type(:dcp_sysctl_key).provide(:procfs) do
  desc 'Reads and writes /proc/sys directly.'

  # The errors of an entry that is read-only here rather than of a wrong value.
  def self.readonly_errors
    [Errno::EROFS, Errno::EACCES, Errno::EPERM]
  end

  def path
    key = resource[:name]
    relative = key.include?('/') ? key.delete_prefix('/').delete_suffix('/') : key.tr('.', '/')
    File.join('/proc/sys', relative)
  end

  def value
    return :absent unless File.exist?(path)

    File.read(path).split.join(' ')
  end

  def value=(wanted)
    write(wanted)
    now = value
    return if now == wanted

    raise Puppet::Error, "#{resource[:name]}: wrote #{wanted.inspect} but the kernel reads back #{now.inspect}"
  rescue *self.class.readonly_errors => e
    raise Puppet::Error, "#{resource[:name]}: cannot write #{path}: #{e.message}"
  rescue SystemCallError => e
    raise Puppet::Error, "#{resource[:name]}: the kernel rejected #{wanted.inspect}: #{e.message}"
  end

  # net.* keys the kernel registers only in the initial network namespace
  # (kept equal to GLOBAL_NET_KEYS in playbooks/roles/dcp_sysctl/library/dcp_sysctl.py):
  # absent elsewhere, while any other missing key is unknown.
  def self.global_net_keys
    [
      'net.core.',
      'net.ipv4.neigh.default.',
      'net.ipv6.neigh.default.',
      'net.ipv4.route.',
      'net.ipv4.cipso_',
      'net.ipv4.fib_sync_mem',
      'net.ipv4.inet_peer_',
      'net.ipv4.ipfrag_secret_interval',
      'net.ipv4.tcp_available_ulp',
      'net.ipv4.tcp_low_latency',
      'net.ipv4.tcp_max_orphans',
      'net.ipv4.tcp_mem',
      'net.ipv4.udp_mem',
      'net.ipv6.calipso_',
      'net.ipv6.mld_max_msf',
      'net.ipv6.mld_qrv',
      'net.netfilter.nf_log_all_netns',
      'net.nf_conntrack_max',
    ]
  end

  # A global net.* key on a host that runs in another network namespace than
  # the initial one. The marker entry exists only in the initial namespace
  # (init_net table of net/core/sysctl_net_core.c).
  def global_key_outside_netns?
    resource[:name].tr('/', '.').start_with?(*self.class.global_net_keys) &&
      !File.exist?('/proc/sys/net/core/netdev_max_backlog')
  end

  # Whether the entry can be written here, asked without writing, so insync?
  # has no side effect, in noop as in a real run: the entry's write bits
  # (procfs holds root to them), then access(2), which refuses a read-only
  # mount (EROFS) and a key owned by another namespace.
  def writable?
    (File.stat(path).mode & 0o222).nonzero? && File.writable?(path)
  end

  # A key that cannot be set on this host: a warning, in sync (the persisted
  # file sets it at the next boot), or a failure when strict.
  def not_settable_here(message, strict)
    raise Puppet::Error, "#{message} (dcp_sysctl::strict is true)" if strict

    resource.warning(message)
    true
  end

  private

  def write(value)
    File.open(path, File::WRONLY | File::TRUNC) { |f| f.syswrite(value) }
  end
end
