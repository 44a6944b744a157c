"""The test run itself cannot reach beyond loopback (support.loopback's audit hook)."""

from __future__ import annotations

import socket
import sys

import pytest

from support.loopback import NonLoopbackConnection, is_loopback


@pytest.mark.parametrize("address", [("192.0.2.1", 443), ("example.com", 80), ("10.0.0.1", 9)])
def test_a_connection_beyond_loopback_is_refused_before_sending(address: tuple[str, int]) -> None:
    # The audit event a real connect() raises, sent through the live hook: no packet
    # leaves even if the hook were broken.
    with socket.socket() as sock, pytest.raises(NonLoopbackConnection):
        sys.audit("socket.connect", sock, address)


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        (("127.0.0.1", 80), True),
        (("127.8.9.10", 80), True),
        (("::1", 80, 0, 0), True),
        (("localhost", 80), True),
        ("/tmp/socket", True),
        (("169.254.169.254", 80), False),
        (("0.0.0.0", 80), False),
    ],
)
def test_loopback_rule(address: object, allowed: bool) -> None:
    assert is_loopback(address) is allowed


def test_a_loopback_connection_still_works() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
