"""The ``mechbus`` command's entry point: says what to install when the federal extra is missing.

An agency installs ``mechbus`` alone for the SDK (bus.runtime.agency); the command line runs
the federal services, whose dependencies come with ``mechbus[federal]``.
"""

from __future__ import annotations

import sys

# Top-level modules that only the federal extra brings (pyproject.toml).
FEDERAL_MODULES = frozenset(
    {
        "aiosmtplib",
        "alembic",
        "argon2",
        "babel",
        "cryptography",
        "fastapi",
        "faststream",
        "httpx",
        "itsdangerous",
        "jinja2",
        "multipart",
        "platformdirs",
        "psycopg",
        "python_multipart",
        "rich",
        "sqlalchemy",
        "sqlmodel",
        "starlette",
        "typer",
        "uvicorn",
    }
)

MISSING = "mechbus: the federal services need more: pip install 'mechbus[federal]'"


def main() -> None:
    try:
        from adapters.cli import main as cli_main
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in FEDERAL_MODULES:
            raise
        print(MISSING, file=sys.stderr)
        raise SystemExit(2) from None
    cli_main()
