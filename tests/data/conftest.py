"""Fixtures of the data tests."""

import socket
import time

import pytest


@pytest.fixture
def at_once(monkeypatch, tmp_path):
    """Fails the test if the code under it would wait or fetch: opening a network connection
    or sleeping raises, and nothing may be written under ``tmp_path`` (no partial download).

    Whether an error comes at once is then a property of what the code does, not of the clock.
    """

    def refuse(what):
        def call(*args, **kwargs):
            raise AssertionError(f"{what} where an immediate error was expected")

        return call

    monkeypatch.setattr(socket.socket, "connect", refuse("a network connection"))
    monkeypatch.setattr(socket, "create_connection", refuse("a network connection"))
    monkeypatch.setattr(time, "sleep", refuse("a wait (time.sleep)"))
    before = sorted(tmp_path.rglob("*"))
    yield
    assert sorted(tmp_path.rglob("*")) == before, "files were written for a dataset that is missing"
