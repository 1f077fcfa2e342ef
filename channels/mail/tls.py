"""Client-side TLS for the mail servers we connect to (IMAP, SMTP relay).

A private CA is trusted through a CA file (IMAP_CA_FILE, SMTP_CA_FILE) instead of clear-text
logins or a process-wide environment variable; a client certificate (mutual TLS) is optional.
"""

from __future__ import annotations

import ssl
from pathlib import Path


def client_context(
    *, ca_file: Path | None = None, cert_file: Path | None = None, key_file: Path | None = None
) -> ssl.SSLContext:
    """A verifying client context: system CAs, or only ``ca_file`` when one is given."""
    context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    if cert_file is not None:
        context.load_cert_chain(str(cert_file), str(key_file) if key_file else None)
    return context
