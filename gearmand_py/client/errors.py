"""What the client library raises, under python-gearman 2.0.2's names."""

from __future__ import annotations


class GearmanError(Exception):
    """Every error of the library."""


class ServerUnavailable(GearmanError):
    """No server in the list could be reached."""


class ConnectionLost(GearmanError):
    """A server closed the connection, did not answer in time, or could not be reached."""


class ProtocolError(ConnectionLost):
    """A server sent something the protocol does not allow there; the connection is closed as
    if lost, so it is retried or failed over the same way."""


class InvalidAdminClientState(GearmanError):
    """An admin reply did not match what was asked (e.g. an echo came back different)."""
