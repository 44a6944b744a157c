"""Loopback only, enforced: refuse any connection from this process beyond the machine.

An audit hook sees every ``socket.connect``; a non-loopback address (or a host name
that would need DNS) raises :class:`NonLoopbackConnection` before a packet is sent.
So an SDK that silently falls back to a real cloud endpoint or a metadata server
fails at once and loudly, instead of timing out or, worse, succeeding.
"""

from __future__ import annotations

import ipaddress
import sys

__all__ = ["NonLoopbackConnection", "is_loopback", "refuse_non_loopback_connections"]

_installed = False


class NonLoopbackConnection(RuntimeError):
    """Something tried to connect beyond this machine."""


def is_loopback(address: object) -> bool:
    if isinstance(address, (str, bytes)):  # AF_UNIX path
        return True
    if not isinstance(address, tuple) or not address:
        return False
    host = address[0]
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False  # a host name: it would need DNS, which is not loopback


def _audit(event: str, args: tuple[object, ...]) -> None:
    if event == "socket.connect" and not is_loopback(args[1]):
        raise NonLoopbackConnection(f"refused a connection to {args[1]!r}: loopback only")


def refuse_non_loopback_connections() -> None:
    """Install the hook in this process (audit hooks cannot be removed; idempotent)."""
    global _installed
    if not _installed:
        sys.addaudithook(_audit)
        _installed = True
