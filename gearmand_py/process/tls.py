"""The TLS context for ``--ssl``, loaded at startup while the process may still read root's files.

Never silently plaintext (Debian's gearmand 1.1.20 logs "SSL: true" and serves plaintext): a
certificate or key that is missing, unreadable or not PEM, or a key that does not match the
certificate, stops startup with a line naming the file. The CA file is read when client
certificates are verified (``--ssl-verify-clients``) or when it was named by its option or
``$GEARMAND_CA_CERTIFICATE``; gearmand's default path is not required otherwise, since without
verification nothing uses it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gearmand_py.process.errors import SetupError
from gearmand_py.settings import TlsConfig

if TYPE_CHECKING:
    import ssl


def context(config: TlsConfig) -> ssl.SSLContext | None:
    """The server context for ``config``, or None without ``--ssl``."""
    if not config.ssl:
        if config.ssl_verify_clients:
            raise SetupError("--ssl-verify-clients needs --ssl")
        return None
    import ssl  # here, not at the top: a server without --ssl never loads it (about 5 MB)

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    # A renegotiation would make a write wait for a read; the I/O loop need not handle that.
    ctx.options |= ssl.OP_NO_RENEGOTIATION
    for path, what in ((config.ssl_certificate, "--ssl-certificate"),
                       (config.ssl_key, "--ssl-key")):
        _readable(path, what)
    try:
        ctx.load_cert_chain(config.ssl_certificate, config.ssl_key)
    except ssl.SSLError as exc:
        raise SetupError(f"--ssl-certificate {config.ssl_certificate} and --ssl-key "
                         f"{config.ssl_key}: {_reason(exc)}") from None
    if config.ssl_verify_clients or "ssl_ca_file" in config.given:
        _readable(config.ssl_ca_file, "--ssl-ca-file")
        try:
            ctx.load_verify_locations(cafile=config.ssl_ca_file)
        except ssl.SSLError as exc:
            raise SetupError(f"--ssl-ca-file {config.ssl_ca_file}: {_reason(exc)}") from None
    if config.ssl_verify_clients:
        ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def _readable(path: str, what: str) -> None:
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise SetupError(f"{what} {path}: {exc.strerror or exc}") from None


def _reason(exc: ssl.SSLError) -> str:
    """OpenSSL's reason (``KEY_VALUES_MISMATCH``, ``NO_START_LINE``) in words."""
    reason = exc.reason or str(exc)
    return {
        "KEY_VALUES_MISMATCH": "the key does not match the certificate",
        "NO_START_LINE": "not a PEM file",
        "PEM_LIB": "not a valid PEM certificate or key",
        "NO_CERTIFICATE_OR_CRL_FOUND": "no certificate in it",
    }.get(reason, reason)
