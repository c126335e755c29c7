"""What the client library raises, under python-gearman 2.0.2's names."""

from __future__ import annotations


class GearmanError(Exception):
    """Every error of the library."""


class ServerUnavailable(GearmanError):
    """No server in the list could be reached; ``causes`` says why for each try."""

    def __init__(self, message: str, causes: tuple[GearmanError, ...] = ()) -> None:
        super().__init__(message)
        self.causes = causes


class ConnectionLost(GearmanError):
    """A server closed the connection, did not answer in time, or could not be reached."""


class CouldNotConnect(ConnectionLost):
    """The server's address refused the TCP connection, did not answer it in time, or did not
    resolve."""


class TlsFailed(ConnectionLost):
    """The TLS handshake failed or timed out (a plaintext server, a certificate not accepted
    either way), or the server ended the connection with a TLS alert (a client certificate it
    refused after a TLS 1.3 handshake); counts as the server being down, so the next server is
    tried."""


class ProtocolError(ConnectionLost):
    """A server sent something the protocol does not allow there; the connection is closed as
    if lost, so it is retried or failed over the same way."""


class InvalidAdminClientState(GearmanError):
    """An admin reply did not match what was asked (e.g. an echo came back different)."""


class SubmitRejected(GearmanError):
    """The server answered a submit with ERROR (e.g. ``QUEUE_ERROR``: its queue is full)."""


class JobFailed(GearmanError):
    """The worker failed the job (WORK_FAIL); a task raises it to fail its job that way."""

    def __init__(self, handle: str | None = None,
                 message: str = "the worker failed the job") -> None:
        super().__init__(f"{handle}: {message}")
        self.handle = handle


class JobException(JobFailed):
    """The worker failed the job with an exception (WORK_EXCEPTION); ``message`` is its text."""

    def __init__(self, handle: str | None, message: str | bytes) -> None:
        text = message.decode("utf-8", "replace") if isinstance(message, bytes) else message
        super().__init__(handle, text)
        self.message = text
