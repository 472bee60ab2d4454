# frozen_string_literal: true

require 'base64'
require 'json'

# The content of a Docker client config.json with a login for one registry,
# merged into the existing file: other registries and settings are kept.
#
# Called as a Deferred function, so it runs on the host being configured and
# reads that host's file. It returns the existing text unchanged when that
# already holds the same data (another tool's formatting is not a change),
# and otherwise JSON formatted like Ansible's to_nice_json(indent=2), as the
# Ansible role dcp_registry writes it.
Puppet::Functions.create_function(:'dcp_registry::docker_config') do
  dispatch :docker_config do
    param 'String[1]', :path
    param 'String[1]', :registry
    param 'String[1]', :username
    param 'Sensitive[String[1]]', :password
    return_type 'Sensitive[String]'
  end

  def docker_config(path, registry, username, password)
    existing = File.exist?(path) ? File.read(path) : nil
    current = existing.nil? || existing.strip.empty? ? {} : JSON.parse(existing)
    raise unreadable(path) unless current.is_a?(Hash)

    auth = Base64.strict_encode64("#{username}:#{password.unwrap}")
    auths = (current['auths'] || {}).merge(registry => { 'auth' => auth })
    wanted = current.merge('auths' => auths)
    return Puppet::Pops::Types::PSensitiveType::Sensitive.new(existing) if wanted == current

    # Written as daemon.json is, so both paths (and both files) share one JSON style.
    text = call_function('dcp_docker::to_json', wanted)
    Puppet::Pops::Types::PSensitiveType::Sensitive.new("#{text}\n")
  rescue JSON::ParserError, SystemCallError
    # The parser's message would quote the file, which may hold credentials.
    raise unreadable(path)
  end

  # The same message as the Ansible role dcp_registry's.
  def unreadable(path)
    Puppet::Error.new("#{path} cannot be read as a JSON object; fix or remove it")
  end
end
