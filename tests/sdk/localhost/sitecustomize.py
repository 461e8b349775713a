"""CI only (tests/sdk/run.sh, suite `examples`): `*.localhost` -> 127.0.0.1 in this process.

Put on PYTHONPATH, Python imports this module at start (site.py's `sitecustomize` hook), so
an unmodified script (examples/storage_cmk.py) reaches https://default.vault.localhost:PORT on
machines whose resolver does not answer `*.localhost` (where it does, this is not needed). Only
the address lookup changes: TLS SNI and hostname verification still see the vault's name.
"""

import socket

_original_getaddrinfo = socket.getaddrinfo


def _localhost_getaddrinfo(host, *args, **kwargs):
    name = host.decode("ascii", "replace") if isinstance(host, (bytes, bytearray)) else host
    if isinstance(name, str) and name.rstrip(".").lower().endswith(".localhost"):
        host = "127.0.0.1"
    return _original_getaddrinfo(host, *args, **kwargs)


socket.getaddrinfo = _localhost_getaddrinfo
