"""`python -m dcp_cli` runs the dcp command."""

from dcp_cli.main import main

main()
