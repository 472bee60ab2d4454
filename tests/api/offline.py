"""Run a program in a process that can reach only loopback addresses: ``python -m tests.api.offline gunicorn|st ...``.

The schemathesis run fuzzes a live server: it may ask the server to create a
provider account whose ``endpoint_url`` names any host on the Internet, and the
server would then check those credentials over the network. Neither the server
nor schemathesis may send traffic anywhere but this machine, so both run under
this guard: a name that is not ``localhost`` is never resolved, and a connection
to an address outside 127.0.0.0/8 and ::1 is refused before a packet leaves.
The server answers such a provider as it answers an unreachable one.
Schemathesis also gets a workaround for one of its bugs (_tolerate_unparsable_urls).
"""

import ipaddress
import socket
import sys

_getaddrinfo = socket.getaddrinfo
_connect = socket.socket.connect
_connect_ex = socket.socket.connect_ex


def is_loopback(host) -> bool:
    """Whether host (a name or an address, str or bytes) is this machine."""
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if host is None or host == "localhost":
        return True
    try:
        return ipaddress.ip_address(str(host).strip("[]").split("%")[0]).is_loopback
    except ValueError:
        return False


def _refuse(host) -> OSError:
    return ConnectionRefusedError(111, f"offline test process: {host} is not a loopback address")


def _guarded_getaddrinfo(host, *args, **kwargs):
    if not is_loopback(host):
        raise socket.gaierror(socket.EAI_NONAME, f"offline test process: {host} is not resolved")
    return _getaddrinfo(host, *args, **kwargs)


def _inet_host(sock, address):
    """The host an AF_INET/AF_INET6 address names; None for other families (Unix sockets)."""
    if sock.family in (socket.AF_INET, socket.AF_INET6) and isinstance(address, tuple):
        return address[0]
    return None


def _guarded_connect(sock, address):
    host = _inet_host(sock, address)
    if host is not None and not is_loopback(host):
        raise _refuse(host)
    return _connect(sock, address)


def _guarded_connect_ex(sock, address):
    host = _inet_host(sock, address)
    if host is not None and not is_loopback(host):
        return 111
    return _connect_ex(sock, address)


def install() -> None:
    """From now on this process (and the processes it forks) reaches only loopback addresses."""
    socket.getaddrinfo = _guarded_getaddrinfo
    socket.socket.connect = _guarded_connect
    socket.socket.connect_ex = _guarded_connect_ex


def _tolerate_unparsable_urls() -> None:
    """Work around schemathesis 4.32.5 stopping the whole run on a stored text like "http://[".

    It looks for links in every string of every answer and hands those that
    start with http:// to urlsplit, which raises on an unbalanced "[": DCP
    stores and answers such text (a description, a registry's address) as
    given, which is right, so such a string is simply not taken for a link.
    """
    from schemathesis.engine import observations

    same_origin_path = observations._same_origin_path

    def tolerant(value, origin):
        try:
            return same_origin_path(value, origin)
        except ValueError:
            return None

    observations._same_origin_path = tolerant


def main(argv: list[str]) -> int:
    """Install the guard, then run gunicorn or schemathesis with the rest of argv."""
    install()
    program, *args = argv
    sys.argv = [program, *args]
    if program == "gunicorn":
        from gunicorn.app.wsgiapp import run

        return run()
    if program == "st":
        from schemathesis.cli import schemathesis

        _tolerate_unparsable_urls()
        return schemathesis(args=args, prog_name="st")
    raise SystemExit(f"usage: python -m tests.api.offline gunicorn|st ARGS (not {program!r})")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
