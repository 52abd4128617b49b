"""What ``mechbus dashboard`` and ``mechbus bridge`` share to serve HTTP: the listening
options, the certificate pair, and a socket bound before serving."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Annotated

import typer

from adapters.cli.common import console
from adapters.i18n import _

HostOpt = Annotated[str, typer.Option(help="Address to listen on.")]
PortOpt = Annotated[int, typer.Option(help="Port (0: any free port, printed).")]
TlsCertOpt = Annotated[Path | None, typer.Option(help="Serve HTTPS with this certificate.")]
TlsKeyOpt = Annotated[Path | None, typer.Option(help="The certificate's private key.")]


def check_tls_pair(cert: Path | None, key: Path | None) -> None:
    if (cert is None) != (key is None):
        said = _("give both --tls-cert and --tls-key, or neither")
        console.print(f"[red]{said}[/]")
        raise typer.Exit(2)


def bound_socket(host: str, port: int, cert: Path | None, what: str, path: str) -> socket.socket:
    """A socket bound to ``host:port`` before serving, so that port 0 can be printed (tests
    start servers that way); says where ``what`` is served."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)  # a client told the URL below waits in the queue, not refused
    scheme = "https" if cert else "http"
    url = f"{scheme}://{host}:{sock.getsockname()[1]}{path}"
    console.print(_("{what} on {url} ; Ctrl-C stops").format(what=what, url=url))
    return sock
