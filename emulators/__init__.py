"""Emulated clouds (AWS EC2, Aliyun ECS, OpenStack) for the demo, the tests and the benchmarks.

These are equipment, not product: DCP's own code never imports them, and the
production image leaves them (and moto) out. Each runs alone with
``python -m emulators.aws|aliyun|openstack [--port N]``.
"""
