"""Ports for the services a test starts: a free one, and a check that one is open."""

from __future__ import annotations

import socket
from collections.abc import Callable

#: A readiness check: True once the thing it watches is up.
Health = Callable[[], bool]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def port_open(port: int, host: str = "127.0.0.1") -> Health:
    def check() -> bool:
        with socket.socket() as s:
            s.settimeout(0.5)
            return s.connect_ex((host, port)) == 0

    return check
