"""TLS for the client library: the context every connection of a client, worker or admin
client wraps its socket in, and how TLS failures read.

A server started with ``--ssl`` speaks TLS on its whole port; a client needs the CA that
signed the server's certificate, and with ``--ssl-verify-clients`` a certificate of its own.
The handshake itself is done by ``connection``, bounded by the connection timeout.
"""

from __future__ import annotations

import ssl

#: A send or recv that cannot go on now, over TCP or TLS: TLS reports would-block as
#: ``SSLWantReadError``/``SSLWantWriteError``, which are not ``BlockingIOError``.
WOULD_BLOCK = (BlockingIOError, InterruptedError, ssl.SSLWantReadError, ssl.SSLWantWriteError)


def tls_context(ca_file: str | None = None, certificate: str | None = None,
                key: str | None = None, check_hostname: bool = True) -> ssl.SSLContext:
    """A context that accepts only a server certificate signed by ``ca_file`` (None: the
    system's CAs) and, with ``check_hostname``, naming the host as written in the server list;
    ``certificate`` and ``key`` (default: in ``certificate``) are the client's own, for a
    server that verifies clients. Files that are missing or not PEM raise ``OSError`` or
    ``ssl.SSLError`` here, not at the first connection."""
    context = ssl.create_default_context(cafile=ca_file)
    context.check_hostname = check_hostname
    if certificate is not None:
        context.load_cert_chain(certificate, key)
    elif key is not None:
        raise ValueError("a client key needs its certificate")
    return context


def describe(exc: OSError) -> str:
    """What went wrong on a TLS connection, in words a user can act on."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"server certificate not accepted: {exc.verify_message}"
    if isinstance(exc, ssl.SSLError):
        reason = exc.reason or ""
        hint = _HINTS.get(reason)
        if hint is None and reason.endswith("CERTIFICATE_REQUIRED"):
            hint = "the server requires a client certificate (certificate=, key=)"
        if hint is None and isinstance(exc, ssl.SSLEOFError):
            hint = "the server closed the connection (is it a TLS server?)"
        return f"{hint} ({reason or exc})" if hint else f"TLS error: {reason or exc}"
    return str(exc)


def closed_after_handshake(exc: OSError) -> str:
    """Why a TLS server that ends the connection before answering anything, with no alert left
    to read, most likely did: in TLS 1.3 it checks the client certificate after the client's
    side of the handshake is done, so a certificate it refuses shows only at the first send."""
    detail = getattr(exc, "reason", None) or exc.strerror or str(exc)
    return ("the server closed the TLS connection before answering anything (does it accept "
            f"the client certificate?) ({detail})")


_HINTS = {
    "WRONG_VERSION_NUMBER": "the server does not speak TLS (started without --ssl?)",
    "RECORD_LAYER_FAILURE": "the server does not speak TLS (started without --ssl?)",
    "PACKET_LENGTH_TOO_LONG": "the server does not speak TLS (started without --ssl?)",
    "TLSV1_ALERT_UNKNOWN_CA": "the server does not accept the client certificate",
    "SSLV3_ALERT_BAD_CERTIFICATE": "the server does not accept the client certificate",
}
