# frozen_string_literal: true

Puppet::Type.newtype(:dcp_sysctl_key) do
  @doc = <<~DOC
    One kernel setting applied live through /proc/sys and read back.

    The value is compared whitespace-insensitively. When it differs and the
    entry is read-only on this host (read-only /proc/sys in a container, a key
    owned by another namespace, an entry without write permission), or the key
    is a global net.* key absent from this host's network namespace, the
    resource logs a warning and stays in sync: the persisted sysctl.d file sets
    it at the next boot. With strict => true that is a failure instead. An
    optional key (its kernel module is not loaded) is skipped when absent. An
    unknown key, a value the kernel rejects or reads back differently fails.
  DOC

  newparam(:name, namevar: true) do
    desc 'The sysctl key, e.g. net.core.somaxconn (a key with "/" uses "/" as separator).'
    validate do |value|
      raise ArgumentError, "invalid sysctl key #{value.inspect}" unless value.to_s.match?(%r{\A[A-Za-z0-9_][A-Za-z0-9_./-]*\z})
    end
  end

  newparam(:strict, boolean: true, parent: Puppet::Parameter::Boolean) do
    desc 'Fail instead of warning when the key cannot be set on this host.'
    defaultto false
  end

  newparam(:optional, boolean: true, parent: Puppet::Parameter::Boolean) do
    desc 'The entry exists only while a kernel module is loaded: skip it when absent.'
    defaultto false
  end

  newproperty(:value) do
    desc 'The value: an integer or integers separated by whitespace.'

    validate do |value|
      raise ArgumentError, "sysctl value must be an integer or a string of integers, got #{value.inspect}" \
        unless value.to_s.match?(%r{\A\s*-?[0-9]+(\s+-?[0-9]+)*\s*\z})
    end

    munge do |value|
      value.to_s.split.join(' ')
    end

    def insync?(is)
      return true if is == should

      key = resource[:name]
      if is == :absent
        if resource[:optional]
          notice("#{key}: not set now, its kernel module is not loaded (persisted for when it is)")
          return true
        end
        raise Puppet::Error, "#{key}: unknown sysctl key (no #{provider.path})" unless provider.global_key_outside_netns?

        return provider.not_settable_here(
          "#{key}: global key not present in this host's network namespace, left to /etc/sysctl.d/90-dcp.conf",
          resource[:strict],
        )
      end
      return false if provider.writable?

      provider.not_settable_here(
        "#{key}: read-only on this host (live #{is.inspect}, wanted #{should.inspect}), " \
        'left to /etc/sysctl.d/90-dcp.conf for the next boot',
        resource[:strict],
      )
    end
  end
end
