"""``-S`` of gearman-py and gearadmin-py: the files libgearman 1.1.20 reads for it.

libgearman's ``gearman`` and ``gearadmin`` take no file options: ``-S`` loads the CA file
``$GEARMAND_CA_CERTIFICATE`` and the client certificate and key ``$GEARMAN_CLIENT_PEM`` and
``$GEARMAN_CLIENT_KEY``, else the files under ``$(sysconfdir)/ssl/certs`` (``/etc`` on Debian),
all three required. libgearman loads the CA but never verifies the server with it; here the
server's certificate must be signed by that CA and name the host given with ``-h``.
"""

from __future__ import annotations

import errno
import ssl
from collections.abc import Mapping
from typing import NamedTuple

from gearmand_py.client.tls import tls_context
from gearmand_py.settings import DEFAULT_SSL_FILES

#: (environment variable, default) for the CA, the client certificate and its key.
CA_FILE = DEFAULT_SSL_FILES["ssl_ca_file"][::-1]
CLIENT_PEM = ("GEARMAN_CLIENT_PEM", "/etc/ssl/certs/gearman.pem")
CLIENT_KEY = ("GEARMAN_CLIENT_KEY", "/etc/ssl/certs/gearman.key")


class Wording(NamedTuple):
    """A tool's error lines for each file it fails to read, as libgearman words them (``%s``:
    the path; an open failure appends ``(errno: strerror)`` when the tool checks that first)."""

    check_open: bool
    ca: str
    certificate: str
    key: str
    mismatch: str


#: libgearman's client and worker (``universal.cc``), which open each file first.
GEARMAN = Wording(True, "Failed to load CA certificate %s", "Failed to load certificate %s",
                  "Failed to load certificate key %s", "Failed to check private key")
#: gearadmin (``util/instance.cc``).
GEARADMIN = Wording(False, "Error loading CA file %s", "Error loading certificate file %s",
                    "Error loading private key file %s", "Error checking private key")
_OPENING = {"ca": "Failed to open CA certificate %s",
            "certificate": "Failed to open certificate %s",
            "key": "Failed to open certificate key %s"}


class TlsSetupError(Exception):
    """A file ``-S`` needs is missing or not usable; the message is the tool's error line."""


def context(environ: Mapping[str, str], wording: Wording) -> ssl.SSLContext:
    """The context ``-S`` connects with."""
    paths = {what: environ.get(variable) or default
             for what, (variable, default) in (("ca", CA_FILE), ("certificate", CLIENT_PEM),
                                               ("key", CLIENT_KEY))}
    for what, path in paths.items():
        try:
            with open(path, "rb") as pem:
                text = pem.read()
        except OSError as exc:
            if wording.check_open:
                code = exc.errno or errno.EIO
                raise TlsSetupError(f"{_OPENING[what] % path} ({code}: {exc.strerror})") \
                    from None
            raise TlsSetupError(getattr(wording, what) % path) from None
        if what == "certificate" and b"-----BEGIN CERTIFICATE-----" not in text:
            raise TlsSetupError(wording.certificate % path)
    try:
        ctx = tls_context(paths["ca"])
    except ssl.SSLError:
        raise TlsSetupError(wording.ca % paths["ca"]) from None
    try:
        ctx.load_cert_chain(paths["certificate"], paths["key"])
    except ssl.SSLError as exc:
        if exc.reason == "KEY_VALUES_MISMATCH":
            raise TlsSetupError(wording.mismatch) from None
        # The certificate has its PEM block (checked above), so what failed to load is
        # most likely the key.
        raise TlsSetupError(wording.key % paths["key"]) from None
    return ctx

