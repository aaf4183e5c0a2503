import socket

import pytest

from tests.conftest import NonLoopbackConnectionError


def test_a_connection_to_a_non_loopback_address_fails_the_test() -> None:
    with pytest.raises(NonLoopbackConnectionError), socket.socket() as s:
        s.connect(("192.0.2.1", 80))


def test_loopback_connections_are_allowed() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        with socket.socket() as client:
            client.connect(server.getsockname())
