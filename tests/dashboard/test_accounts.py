"""The Spanish catalogue is complete and compiled; the `mechbus dashboard user` commands."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from adapters.cli import app as cli_app
from adapters.dashboard.app import create_app
from adapters.dashboard.auth import Accounts
from adapters.i18n import LOCALE_DIR
from adapters.readmodel import columns
from adapters.settings import load_settings
from tests.dashboard.staff import PASSWORD, login
from tests.ledgers import home_ledger

# The dashboard's own strings, and the table headers it shares with the CLI.
SOURCES = (LOCALE_DIR.parent, Path(columns.__file__).parent)

# --- catalogues and accounts -----------------------------------------------------------------


def test_every_string_has_its_spanish_translation_and_the_mo_is_current(tmp_path: Path) -> None:
    pybabel = Path(sys.executable).with_name("pybabel")  # Babel's command, in this venv
    pot = tmp_path / "messages.pot"
    subprocess.run(
        [
            str(pybabel),
            "extract",
            "-F",
            str(LOCALE_DIR.parent / "babel.cfg"),
            "-k",
            "N_",
            "--no-location",
            "--omit-header",
            "-o",
            str(pot),
            *map(str, SOURCES),
        ],
        capture_output=True,
        check=True,
    )
    extracted = pot.read_bytes()
    wanted = {
        m.id if isinstance(m.id, str) else m.id[0] for m in read_po(io.BytesIO(extracted)) if m.id
    }
    with open(LOCALE_DIR / "es" / "LC_MESSAGES" / "messages.po", "rb") as po_file:
        po = read_po(po_file)
    with open(LOCALE_DIR / "es" / "LC_MESSAGES" / "messages.mo", "rb") as mo_file:
        mo = read_mo(mo_file)
    translated = {
        (m.id if isinstance(m.id, str) else m.id[0]): m.string for m in po if m.id and m.string
    }
    assert len(wanted) > 150
    missing = wanted - set(translated)
    assert not missing, f"no Spanish for: {sorted(missing)}"
    compiled = {(m.id if isinstance(m.id, str) else m.id[0]): m.string for m in mo if m.id}
    translated = {k: tuple(v) if isinstance(v, list) else v for k, v in translated.items()}
    compiled = {k: tuple(v) if isinstance(v, list) else v for k, v in compiled.items()}
    assert compiled == translated, "the .mo is older than the .po: run pybabel compile"


def test_user_commands(tmp_path: Path) -> None:
    env = {"MECHBUS_HOME": str(tmp_path), "MECHBUS_LANG": "en"}  # as the words below
    runner = CliRunner()
    assert runner.invoke(cli_app, ["db", "upgrade"], env=env).exit_code == 0  # accounts' tables
    added = runner.invoke(
        cli_app,
        ["dashboard", "user", "add", "lucia", "--role", "operator", "--password-stdin"],
        input=PASSWORD + "\n",
        env=env,
    )
    assert added.exit_code == 0, added.output
    short = runner.invoke(
        cli_app,
        ["dashboard", "user", "add", "pablo", "--role", "viewer", "--password-stdin"],
        input="corta\n",
        env=env,
    )
    assert short.exit_code == 2 and "at least 12 characters" in short.output
    again = runner.invoke(
        cli_app,
        ["dashboard", "user", "add", "lucia", "--role", "viewer", "--password-stdin"],
        input=PASSWORD + "\n",
        env=env,
    )
    assert again.exit_code == 2 and "already" in again.output
    listed = runner.invoke(cli_app, ["dashboard", "user", "list"], env=env)
    assert "lucia\toperator\tenabled" in listed.output
    settings = load_settings(home=tmp_path)
    with TestClient(create_app(settings)) as client:
        login(client, "lucia")
    with TestClient(create_app(settings)) as client:
        login(client, "lucia")
    logins = runner.invoke(cli_app, ["dashboard", "user", "logins"], env=env)
    assert logins.output.count("lucia\tok") == 2
    first = runner.invoke(cli_app, ["dashboard", "user", "logins", "--limit", "1"], env=env)
    assert first.stdout.count("lucia\tok") == 1
    assert "more follow: --offset 1 for the next page, or --all" in first.stderr
    rest = runner.invoke(
        cli_app, ["dashboard", "user", "logins", "--limit", "1", "--offset", "1"], env=env
    )
    assert rest.stdout.count("lucia\tok") == 1 and "more follow" not in rest.stderr
    assert runner.invoke(cli_app, ["dashboard", "user", "disable", "lucia"], env=env).exit_code == 0
    ledger = home_ledger(settings)
    assert Accounts(ledger).get("lucia") is None
    stored = Accounts(ledger).users()[0].password_hash
    ledger.close()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
