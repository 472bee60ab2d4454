"""Local emulators of the clouds DCP drives, speaking each provider's real wire protocol.

Used by the tests, the benchmarks and the one-command demo, so that the real
SDKs are exercised end to end over HTTP without a real cloud.
"""
