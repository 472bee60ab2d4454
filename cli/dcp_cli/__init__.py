"""The dcp command line: DCP's REST API for people at a terminal and for scaling scripts."""

__version__ = "0.1.0"
