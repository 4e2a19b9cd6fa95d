"""Imported first by every script here: refuses any connection that would leave 127.0.0.1."""
import socket

_ALLOWED = {"127.0.0.1", "localhost", "::1"}
_connect = socket.socket.connect
_create_connection = socket.create_connection


def _check(address):
    if isinstance(address, tuple) and address and address[0] not in _ALLOWED:
        raise ConnectionRefusedError(f"test refused a connection to {address[0]}")


def _guarded_connect(self, address):
    _check(address)
    return _connect(self, address)


def _guarded_create_connection(address, *args, **kwargs):
    _check(address)
    return _create_connection(address, *args, **kwargs)


socket.socket.connect = _guarded_connect
socket.create_connection = _guarded_create_connection
