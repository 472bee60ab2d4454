# frozen_string_literal: true

require 'json'

# Renders data as JSON the way Ansible's to_nice_json(indent=2) does (keys
# sorted, two-space indent, non-ASCII escaped), so that the Ansible and the
# Puppet path write the same daemon.json.
Puppet::Functions.create_function(:'dcp_docker::to_json') do
  dispatch :to_json do
    param 'Data', :data
    return_type 'String'
  end

  def to_json(data)
    JSON.pretty_generate(sort_keys(data), ascii_only: true)
  end

  def sort_keys(value)
    case value
    when Hash then value.keys.sort.to_h { |key| [key, sort_keys(value[key])] }
    when Array then value.map { |item| sort_keys(item) }
    else value
    end
  end
end
