"""The dcp command groups, one module per resource."""
