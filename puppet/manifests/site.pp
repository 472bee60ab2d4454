# DCP base state, Puppet path: every host DCP runs puppet apply on gets the
# base classes; parameters come from Hiera (data/dcp.yaml written by DCP,
# data/common.yaml defaults).
node default {
  include dcp_base
}
