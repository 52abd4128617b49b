"""The deployment examples (examples/deploy/) and docs/deployment.md hold true of this code:
the systemd units pass ``systemd-analyze verify`` and are hardened, the NATS nodes' configs
load in nats-server with the authorization ``mechbus creds authorization`` writes, the
Prometheus rules and scrape config pass promtool and name only series mechbus exposes, the
TLS proxy's config passes ``nginx -t``, and every ``mechbus`` command line they show names
options its command has."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer.main
import yaml
from prometheus_client import Counter, Gauge, Histogram
from typer.testing import CliRunner

from adapters.cli import app
from adapters.natsserver.binary import find_nats_server
from adapters.natsserver.tls import make_development_tls
from bus.runtime import metrics
from tests.cli_processes import MECHBUS

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "examples" / "deploy"
SYSTEMD = DEPLOY / "systemd"
UNITS = sorted([*SYSTEMD.glob("*.service"), *SYSTEMD.glob("*.timer")])
MECHBUS_UNITS = [u for u in UNITS if u.name.startswith("mechbus-") and u.suffix == ".service"]
ENV_FILE = SYSTEMD / "mechbus.env"
NATS_CONFS = sorted((DEPLOY / "nats").glob("nats-*.conf"))
RULES = DEPLOY / "prometheus" / "mechbus.rules.yml"
PROMETHEUS = DEPLOY / "prometheus" / "prometheus.yml"
RULE_TESTS = ROOT / "tests" / "data" / "prometheus" / "mechbus.rules.test.yml"
NGINX = DEPLOY / "proxy" / "nginx.conf"
GUIDE = ROOT / "docs" / "deployment.md"
INSTALLED_MECHBUS = "/opt/mechbus/.venv/bin/mechbus"
INSTALLED_NATS_SERVER = "/usr/local/bin/nats-server"
STORE_KEY = "mk" + "0123456789abcdef" * 3  # what `mechbus up` makes: a letter, then hex


# -- reading the files ----------------------------------------------------------------------


def terminated(*processes: subprocess.Popen[Any]) -> None:
    """SIGTERM to each, then wait for each (killed if it takes over 30 s)."""
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def unit_entries(path: Path) -> dict[str, dict[str, list[str]]]:
    """A unit file as {section: {key: [values, in order]}}; continued lines joined."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    text = re.sub(r"\\\n\s*", " ", path.read_text(encoding="utf-8"))
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
            continue
        key, _, value = line.partition("=")
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def environment_file() -> dict[str, str]:
    """The variables mechbus.env sets (comments and commented-out variables left out)."""
    found = {}
    for line in ENV_FILE.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            found[name.strip()] = value.strip()
    return found


def metric_series() -> dict[str, set[str]]:
    """Each metric bus/runtime/metrics.py declares, as an operator looks it up, with the
    series it exposes: a counter ``_total``, the histogram ``_bucket``, ``_sum`` and
    ``_count``, a gauge its name, and so the gauges read at scrape time (``SCRAPED``)."""
    found = {name: {name} for name in metrics.SCRAPED}
    for value in vars(metrics).values():
        if isinstance(value, Counter):
            found[f"{value._name}_total"] = {f"{value._name}_total"}
        elif isinstance(value, Histogram):
            found[value._name] = {f"{value._name}{end}" for end in ("_bucket", "_sum", "_count")}
        elif isinstance(value, Gauge):
            found[value._name] = {value._name}
    return found


def exposed_series() -> set[str]:
    return set().union(*metric_series().values())


def alerts() -> list[dict[str, Any]]:
    document = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    return [rule for group in document["groups"] for rule in group["rules"] if "alert" in rule]


def fenced_blocks(text: str) -> Iterator[str]:
    for match in re.finditer(r"^[ \t]*```[a-z]*\n(.*?)^[ \t]*```", text, flags=re.S | re.M):
        yield match.group(1)


def command_lines() -> list[tuple[str, str]]:
    """(where, the mechbus command line) of every unit's Exec lines and of every shell line of
    docs/deployment.md that runs ``mechbus``; ${VARIABLES} as mechbus.env sets them."""
    variables = environment_file()
    found: list[tuple[str, str]] = []
    for unit in UNITS:
        for key, values in unit_entries(unit).get("Service", {}).items():
            for value in values:
                if INSTALLED_MECHBUS in value:
                    line = value[value.index(INSTALLED_MECHBUS) + len(INSTALLED_MECHBUS) :]
                    found.append((f"{unit.name} {key}", "mechbus" + line.rstrip("'")))
    for block in fenced_blocks(GUIDE.read_text(encoding="utf-8")):
        for line in re.sub(r"\\\n\s*", " ", block).splitlines():
            if line.strip().startswith("mechbus "):
                found.append(("docs/deployment.md", line.strip()))
    return [
        (where, re.sub(r"\$\{(\w+)\}", lambda m: variables.get(m.group(1), "x"), line))
        for where, line in found
    ]


# -- systemd ---------------------------------------------------------------------------------


def installed_here(unit: Path, into: Path) -> Path:
    """``unit`` as this machine can verify it: mechbus and nats-server from this environment
    (systemd-analyze checks that ExecStart's binary exists), run as root."""
    text = unit.read_text(encoding="utf-8")
    text = text.replace(INSTALLED_MECHBUS, str(_venv_mechbus()))
    text = text.replace(INSTALLED_NATS_SERVER, str(find_nats_server()))
    text = re.sub(r"^(User|Group)=.*$", r"\1=root", text, flags=re.M)
    copy = into / unit.name
    copy.write_text(text, encoding="utf-8")
    return copy


def _venv_mechbus() -> Path:
    """The ``mechbus`` script of the environment running these tests."""
    return Path(sys.executable).parent / "mechbus"


def test_every_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (Debian: the systemd package)")
    assert _venv_mechbus().exists()
    copies = [installed_here(unit, tmp_path) for unit in UNITS]
    done = subprocess.run(
        [analyze, "verify", "--man=no", *map(str, copies)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    # An unknown key is only a warning (exit 0): any word about our units is a failure.
    about_ours = [
        line
        for line in (done.stdout + done.stderr).splitlines()
        if any(copy.name in line or str(tmp_path) in line for copy in copies)
    ]
    assert done.returncode == 0 and not about_ours, done.stdout + done.stderr


def test_the_units_are_the_ones_named() -> None:
    names = {unit.name for unit in UNITS}
    assert names == {
        "mechbus-hub.service",
        "mechbus-bridge.service",
        "mechbus-dashboard.service",
        "mechbus-backup.service",
        "mechbus-backup.timer",
        "nats-server.service",
    }
    assert ENV_FILE.exists()


@pytest.mark.parametrize("unit", [*MECHBUS_UNITS, SYSTEMD / "nats-server.service"], ids=str)
def test_every_service_is_hardened_as_operators_expect(unit: Path) -> None:
    entries = unit_entries(unit)
    service = {key: values[-1] for key, values in entries["Service"].items()}
    user = "nats" if unit.name == "nats-server.service" else "mechbus"
    home = "/var/lib/nats" if user == "nats" else "/var/lib/mechbus"
    assert service["User"] == user
    assert service["ProtectSystem"] == "strict"
    assert service["NoNewPrivileges"] == "yes"
    assert service["PrivateTmp"] == "yes"
    assert service["ProtectHome"] == "yes"
    assert service["CapabilityBoundingSet"] == ""
    assert home in service["ReadWritePaths"].split()
    assert "TimeoutStopSec" in service or service["Type"] == "oneshot"
    assert "network-online.target" in entries["Unit"]["Wants"][0].split()
    after = entries["Unit"]["After"][0].split()
    assert "network-online.target" in after
    if user == "mechbus":
        assert "postgresql.service" in after
        assert "/etc/mechbus/mechbus.env" in entries["Service"]["EnvironmentFile"]
        assert service.get("KillSignal", "SIGTERM") in ("SIGINT", "SIGTERM")  # `up` takes both
    if service["Type"] != "oneshot":
        assert service["Restart"] == "on-failure"


def test_the_backup_timer_starts_the_backup() -> None:
    timer = unit_entries(SYSTEMD / "mechbus-backup.timer")
    assert timer["Timer"]["Unit"] == ["mechbus-backup.service"]
    assert timer["Timer"]["Persistent"] == ["true"]
    assert timer["Install"]["WantedBy"] == ["timers.target"]


def test_each_backup_goes_to_a_new_directory_named_by_the_time() -> None:
    """The backup's shell line as systemd hands it over ($$ and %% unescaped), with echo in
    place of mechbus: a directory named by the UTC time, as `mechbus backup` wants a new one."""
    service = unit_entries(SYSTEMD / "mechbus-backup.service")["Service"]
    line = service["ExecStart"][0].replace("$$", "$").replace("%%", "%")
    line = line.replace(INSTALLED_MECHBUS, "echo")
    words = shlex.split(line)
    assert words[:2] == ["/bin/sh", "-c"]
    done = subprocess.run(words, capture_output=True, text=True, timeout=10)
    assert re.fullmatch(r"backup --to /var/backups/mechbus/\d{8}T\d{6}Z\n", done.stdout), done


def test_the_environment_file_sets_only_what_mechbus_reads_and_no_secret() -> None:
    read = set(re.findall(r"\"(MECHBUS_[A-Z_]+)\"", (ROOT / "adapters/environment.py").read_text()))
    secrets = {"MECHBUS_LEDGER_KEY", "MECHBUS_STORE_KEY", "MECHBUS_SMTP_PASSWORD"}
    secrets.add("MECHBUS_DASHBOARD_SECRET")
    given = environment_file()
    ours = {name for name in given if name.startswith("MECHBUS_")}
    assert ours <= read, f"mechbus reads no {sorted(ours - read)}"
    assert not ours & secrets, "secrets belong in files, not in mechbus.env"
    login = given["MECHBUS_LEDGER_URL"].removeprefix("postgresql+psycopg://").split("@")[0]
    assert ":" not in login, "no password in the ledger's URL"
    for unit in UNITS:  # every variable a unit's command line uses is set there
        text = re.sub(r"\\\n\s*", " ", unit.read_text(encoding="utf-8"))
        for name in re.findall(r"\$\{(\w+)\}", text):
            assert name in given, f"{unit.name} uses ${{{name}}}, which mechbus.env does not set"


# -- NATS ------------------------------------------------------------------------------------


def authorization_file(directory: Path) -> Path:
    """What ``mechbus creds authorization --out`` writes for a fresh home."""
    out = directory / "authorization.conf"
    done = CliRunner(
        env={"MECHBUS_HOME": str(directory / "home"), "MECHBUS_NATS_URL": None}
    ).invoke(app, ["creds", "authorization", "--out", str(out)])
    assert done.exit_code == 0, done.output
    return out


def nats_node_here(conf: Path, directory: Path, http_port: int) -> Path:
    """``conf`` pointing at files of ``directory``: certificates, store, monitoring port."""
    directory.mkdir(parents=True, exist_ok=True)
    tls = make_development_tls(directory / "tls")
    for name in ("route.pem", "route-key.pem"):
        shutil.copy(tls.cert if name == "route.pem" else tls.key, directory / "tls" / name)
    text = conf.read_text(encoding="utf-8")
    text = text.replace("/etc/nats/tls/", f"{directory}/tls/")
    text = text.replace('"/var/lib/nats"', f'"{directory}/store"')
    text = re.sub(r'http: "[^"]+"', f'http: "127.0.0.1:{http_port}"', text)
    copy = directory / "nats-server.conf"
    copy.write_text(text, encoding="utf-8")
    return copy


def test_the_three_nats_nodes_form_one_cluster() -> None:
    assert [conf.name for conf in NATS_CONFS] == ["nats-1.conf", "nats-2.conf", "nats-3.conf"]
    names = []
    for conf in NATS_CONFS:
        text = conf.read_text(encoding="utf-8")
        names.append(re.search(r'^server_name: "([^"]+)"', text, re.M).group(1))  # type: ignore[union-attr]
        assert 'name: "mechbus"' in text
        routes = re.findall(r"nats-route://([\w.-]+):6222", text)
        assert sorted(routes) == sorted(
            f"{other.stem}.mecanismo.internal" for other in NATS_CONFS if other != conf
        )
        # as the embedded servers are written (adapters/natsserver/server.py): fsync, cipher
        assert "sync_interval: always" in text
        assert "cipher: chachapoly" in text and "key: $MECHBUS_STORE_KEY" in text
        assert 'include "authorization.conf"' in text
    assert len(set(names)) == 3


@pytest.mark.parametrize("conf", NATS_CONFS, ids=lambda c: c.name)
def test_each_nats_config_loads_in_nats_server(
    conf: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = nats_node_here(conf, tmp_path / conf.stem, 8222)
    shutil.copy(authorization_file(tmp_path), copy.parent / "authorization.conf")
    monkeypatch.setenv("MECHBUS_STORE_KEY", STORE_KEY)
    done = subprocess.run(
        [str(find_nats_server()), "-t", "-c", str(copy)],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=copy.parent,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "is valid" in done.stdout + done.stderr


def test_the_authorization_block_lists_the_federal_users(tmp_path: Path) -> None:
    text = authorization_file(tmp_path).read_text(encoding="utf-8")
    assert text.startswith("authorization {")
    assert text.count('"nkey"') == 5  # fed.hub, fed.mechanism, fed.board, fed.reception, fed.risk
    printed = CliRunner(env={"MECHBUS_HOME": str(tmp_path / "home")}).invoke(
        app, ["creds", "authorization"]
    )
    assert printed.exit_code == 0 and printed.stdout == text  # the same keys, issued once


def test_a_host_that_only_connects_trusts_the_ca_alone(tmp_path: Path) -> None:
    from adapters.service import compose
    from adapters.settings import load_settings

    settings = load_settings(home=tmp_path, nats_url="nats://nats-1.mecanismo.internal:4222")
    assert compose.tls_context(settings) is None  # no TLS set up yet
    files = make_development_tls(tmp_path / "made")
    settings.tls_files.ca.parent.mkdir(parents=True)
    shutil.copy(files.ca, settings.tls_files.ca)  # the CA only: no server key on this host
    assert compose.tls_context(settings) is not None
    # A home running its own server serves TLS only with a certificate: without one, plain.
    assert compose.tls_context(dataclasses.replace(settings, nats_url=None)) is None


# -- Prometheus ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("check", "path"),
    [
        (["check", "rules"], RULES),
        # promtool's unit tests of the rules (tests/data/prometheus/): no active hub, none
        # scraped at all, two active, slow commits, one state's request waiting over a week
        (["test", "rules"], RULE_TESTS),
        (["check", "config"], PROMETHEUS),
    ],
    ids=["rules", "alerts-fire", "scrape-config"],
)
def test_promtool_passes(check: list[str], path: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (Debian: the prometheus package)")
    done = subprocess.run([promtool, *check, str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_alert_is_complete() -> None:
    found = alerts()
    assert found
    for alert in found:
        assert alert.get("expr") and alert.get("for"), alert["alert"]
        assert alert["labels"]["severity"] in ("critical", "warning", "info"), alert["alert"]
        assert alert["annotations"]["summary"] and alert["annotations"]["description"]
    assert len({alert["alert"] for alert in found}) == len(found)


def test_every_mechbus_series_an_alert_uses_is_exposed() -> None:
    exposed = exposed_series()
    for alert in alerts():
        used = set(re.findall(r"\bmechbus_\w+", alert["expr"]))
        assert used <= exposed, f"{alert['alert']}: {sorted(used - exposed)} not exposed"


def test_the_alerts_cover_what_operators_watch() -> None:
    exprs = " ".join(alert["expr"] for alert in alerts())
    for needed in (
        "mechbus_hub_active",
        "mechbus_consumer_pending_messages",
        "mechbus_consumer_redelivered_messages",
        "mechbus_messages_dead_lettered_total",
        "mechbus_outbox_waiting_messages",
        "mechbus_requests_unanswered_oldest_age_seconds",
        "histogram_quantile(0.99",
        "mechbus_webhook_attempts_total",
        "mechbus_email_attempts_total",
        'probe_success{job="nats-healthz"}',
        'probe_success{job="mechbus-readyz"}',
    ):
        assert needed in exprs, needed
    scraped = yaml.safe_load(PROMETHEUS.read_text(encoding="utf-8"))
    jobs = {job["job_name"] for job in scraped["scrape_configs"]}
    assert {"mechbus-hub", "mechbus-bridge", "mechbus-dashboard", "nats-healthz"} <= jobs
    assert "mechbus-readyz" in jobs


def test_the_guide_explains_every_metric() -> None:
    guide = GUIDE.read_text(encoding="utf-8")
    # each on a row of the table of what to monitor, written as code
    missing = sorted(name for name in metric_series() if f"| `{name}` |" not in guide)
    assert not missing, f"docs/deployment.md does not explain {missing}"
    for alert in alerts():
        assert f"`{alert['alert']}`" in guide, f"docs/deployment.md does not name {alert['alert']}"


# -- the TLS proxy ---------------------------------------------------------------------------


def test_the_proxy_config_passes_nginx(tmp_path: Path) -> None:
    nginx = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx",) if Path(p).exists()), None
    )
    if nginx is None:
        pytest.skip("nginx is not installed (Debian: nginx-light)")
    site = nginx_site_here(tmp_path, 8443, 8080, 8400)
    main = nginx_main(tmp_path, site)
    done = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-e", str(tmp_path / "error.log"), "-c", str(main)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def nginx_site_here(directory: Path, https: int, http: int, dashboard: int) -> Path:
    """The proxy's site on loopback ports, with a development certificate and logs here."""
    tls = make_development_tls(directory / "tls", ("tablero.mecanismo.gob.mx", "127.0.0.1"))
    text = NGINX.read_text(encoding="utf-8")
    text = text.replace("/etc/nginx/tls/tablero.pem", str(tls.cert))
    text = text.replace("/etc/nginx/tls/tablero-key.pem", str(tls.key))
    text = text.replace("/var/log/nginx/", f"{directory}/")
    text = text.replace("listen [::]:443 ssl http2;", "").replace("listen [::]:80;", "")
    text = text.replace("listen 443 ", f"listen 127.0.0.1:{https} ")
    text = text.replace("listen 80;", f"listen 127.0.0.1:{http};")
    text = text.replace("127.0.0.1:8400", f"127.0.0.1:{dashboard}")
    text = text.replace("allow 10.0.1.0/24;", "allow 127.0.0.1;")
    site = directory / "site.conf"
    site.write_text(text, encoding="utf-8")
    return site


def nginx_main(directory: Path, site: Path) -> Path:
    main = directory / "nginx.conf"
    temp = directory / "temp"
    temp.mkdir(exist_ok=True)
    main.write_text(
        f"pid {directory}/nginx.pid;\n"
        f"error_log {directory}/error.log;\n"
        "daemon off;\n"
        "events {}\n"
        "http {\n"
        f"  client_body_temp_path {temp}/body;\n"
        f"  proxy_temp_path {temp}/proxy;\n"
        f"  include {site};\n"
        "}\n",
        encoding="utf-8",
    )
    return main


def test_the_proxy_passes_what_the_dashboard_needs() -> None:
    text = NGINX.read_text(encoding="utf-8")
    assert "proxy_set_header X-Forwarded-Proto $scheme;" in text
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in text
    assert "proxy_set_header Host $host;" in text
    events = text[text.index("location = /events") :]
    assert "proxy_buffering off;" in events.split("}")[0]
    unit = unit_entries(SYSTEMD / "mechbus-dashboard.service")["Service"]["ExecStart"][0]
    assert "--behind-tls-proxy" in unit and "--host 127.0.0.1 --port 8400" in unit
    assert "proxy_pass http://127.0.0.1:8400;" in text
    assert "$request_uri" not in text.split("log_format")[1].split(";")[0]  # no case in logs


# -- the command lines -----------------------------------------------------------------------


# Typer carries its own copy of click, so commands are told apart by what they have: a group
# has ``commands``, an option has ``opts``.
def _option_names(command: Any) -> dict[str, Any]:
    names: dict[str, Any] = {}
    for param in command.params:
        if param.param_type_name == "option":
            for name in (*param.opts, *param.secondary_opts):
                names[name] = param
    return names


def _takes_value(param: Any) -> bool:
    return not (param.is_flag or param.count)


def unknown_options(line: str) -> list[str]:
    """What is wrong with ``line`` (``mechbus ...``): a word naming no command, an option its
    command does not have, a value it refuses, a required one missing; [] when all is well.
    The command's own parser reads the line, as it would when run, without running it."""
    words = shlex.split(line, comments=True)
    for stop in ("|", ">", ">>", "&&", ";", "2>&1"):
        if stop in words:
            words = words[: words.index(stop)]
    assert words[0] == "mechbus"
    command: Any = typer.main.get_command(app)
    rest = words[1:]
    problems: list[str] = []
    path = ["mechbus"]
    mine: list[str] = []  # the words of the command reached so far
    while rest:
        word, rest = rest[0], rest[1:]
        if word.startswith("-"):
            mine.append(word)
            param = _option_names(command).get(word.split("=", 1)[0])
            # an unknown option's value is taken as its value, not as a command's name
            unknown_value = param is None and rest and not rest[0].startswith("-")
            wants = unknown_value or (param is not None and _takes_value(param))
            if wants and "=" not in word and rest:
                mine.append(rest[0])
                rest = rest[1:]
            continue
        commands = getattr(command, "commands", None)
        if commands is not None and word in commands:
            problems += [
                f"{' '.join(path)} has no option {w}"
                for w in mine
                if w.startswith("-") and w.split("=", 1)[0] not in _option_names(command)
            ]
            command, mine = commands[word], []
            path.append(word)
            continue
        if commands is not None:  # a group's parser leaves the word for a command to take
            problems.append(f"{' '.join(path)} has no command {word!r}")
        mine.append(word)
    try:
        command.make_context(" ".join(path), mine)
    except Exception as exc:  # click's usage errors, from Typer's own copy of click
        problems.append(f"{' '.join(path)}: {exc}")
    return problems


COMMAND_LINES = command_lines()


def test_the_command_lines_are_found() -> None:
    units = {where.split()[0] for where, _ in COMMAND_LINES}
    assert {u.name for u in MECHBUS_UNITS} <= units
    assert sum(where == "docs/deployment.md" for where, _ in COMMAND_LINES) >= 10


def test_a_wrong_option_is_caught() -> None:
    assert unknown_options("mechbus up --nats-url nats://a:4222") == []
    assert unknown_options("mechbus up --no-such-option 1") != []
    assert unknown_options("mechbus creds no-such-command") != []
    assert unknown_options("mechbus dashboard --port eighty") != []


# Options and commands other parts of mechbus bring (high availability, health and metrics,
# logs and traces, backups): these lines pass once those are merged with this.
@pytest.mark.parametrize(
    ("where", "line"), COMMAND_LINES, ids=[f"{where}: {line[:60]}" for where, line in COMMAND_LINES]
)
def test_every_mechbus_command_line_names_options_its_command_has(where: str, line: str) -> None:
    assert unknown_options(line) == [], f"{where}: {line}"


# -- the example cluster, running ------------------------------------------------------------


def route_pki(directory: Path) -> tuple[Path, Path, Path]:
    """A CA and one certificate for 127.0.0.1 with both the serverAuth and clientAuth usages,
    as the routes' mutual TLS needs (the CA, the certificate, its key)."""
    import ipaddress
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    def name(common: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])

    now = datetime.now(UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("test CA"))
        .issuer_name(name("test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    usages = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    cert = (
        x509.CertificateBuilder()
        .subject_name(name("127.0.0.1"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True)
    paths = (directory / "ca.pem", directory / "node.pem", directory / "node-key.pem")
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    paths[2].write_bytes(pem)
    return paths


def example_node_here(
    conf: Path, directory: Path, pki: tuple[Path, Path, Path], ports: dict[str, list[int]]
) -> Path:
    """Node ``conf`` of the example cluster on loopback: its ports from ``ports`` (client,
    route, http; one per node), the routes to the other two, the test PKI, a store here."""
    index = NATS_CONFS.index(conf)
    text = conf.read_text(encoding="utf-8")
    for name, path in zip(("ca.pem", "server.pem", "server-key.pem"), pki, strict=True):
        text = text.replace(f"/etc/nats/tls/{name}", str(path))
    text = text.replace("/etc/nats/tls/route.pem", str(pki[1]))
    text = text.replace("/etc/nats/tls/route-key.pem", str(pki[2]))
    text = text.replace('"/var/lib/nats"', f'"{directory}/store"')
    text = text.replace('listen: "0.0.0.0:4222"', f'listen: "127.0.0.1:{ports["client"][index]}"')
    text = text.replace('listen: "0.0.0.0:6222"', f'listen: "127.0.0.1:{ports["route"][index]}"')
    text = re.sub(r'http: "[^"]+"', f'http: "127.0.0.1:{ports["http"][index]}"', text)
    for other, port in zip(NATS_CONFS, ports["route"], strict=True):
        text = text.replace(f"{other.stem}.mecanismo.internal:6222", f"127.0.0.1:{port}")
    directory.mkdir(parents=True)
    copy = directory / "nats-server.conf"
    copy.write_text(text, encoding="utf-8")
    return copy


def healthy(http_port: int) -> bool:
    import urllib.error

    from adapters.natsserver.server import LOOPBACK_HTTP

    try:
        with LOOPBACK_HTTP.open(f"http://127.0.0.1:{http_port}/healthz", timeout=2) as answer:
            return int(answer.status) == 200
    except (urllib.error.URLError, OSError):
        return False


@contextlib.contextmanager
def example_cluster(tmp_path: Path, authorization: Path) -> Iterator[tuple[str, Path]]:
    """The three example nodes running on loopback, once each is healthy (a meta leader
    elected, streams current): their client URLs, comma-separated, and the CA they use."""
    from adapters.natsserver.server import free_ports

    pki = route_pki(tmp_path / "pki")
    found = free_ports("127.0.0.1", 9)
    ports = {"client": found[0:3], "route": found[3:6], "http": found[6:9]}
    nodes = []
    env = {**os.environ, "MECHBUS_STORE_KEY": STORE_KEY}
    try:
        for conf in NATS_CONFS:
            copy = example_node_here(conf, tmp_path / conf.stem, pki, ports)
            shutil.copy(authorization, copy.parent / "authorization.conf")
            log = (copy.parent / "nats-server.log").open("wb")
            nodes.append(
                subprocess.Popen(
                    [str(find_nats_server()), "-c", str(copy)],
                    cwd=copy.parent,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
            log.close()
        deadline = time.monotonic() + 60
        for node, port in zip(nodes, ports["http"], strict=True):
            while not healthy(port):
                assert node.poll() is None, f"a node exited: see {tmp_path}/nats-*/*.log"
                assert time.monotonic() < deadline, "the example cluster did not become healthy"
                time.sleep(0.1)  # another process's state: nothing to wait on but polling
        yield ",".join(f"nats://127.0.0.1:{port}" for port in ports["client"]), pki[0]
    finally:
        terminated(*nodes)


@pytest.mark.integration
@pytest.mark.e2e
def test_a_hub_records_through_the_example_cluster(tmp_path: Path) -> None:
    """The three example configs run as one cluster (routes over mutual TLS, the store
    encrypted, the authorization from ``mechbus creds authorization``), and a hub on a home
    holding only the CA and its seed records a request sent through it."""
    from tests.cli_processes import (
        SEND_PATROL,
        json_lines,
        launch,
        run,
        stop,
        wait_for_hub,
        wait_until_gone,
    )

    home = tmp_path / "home"
    for step in (
        ["creds", "init"],
        ["creds", "issue", "gro.government"],
        ["creds", "authorization", "--out", str(tmp_path / "authorization.conf")],
    ):
        done = run(step, home)
        assert done.returncode == 0, done.stdout + done.stderr
    with example_cluster(tmp_path, tmp_path / "authorization.conf") as (urls, ca):
        (home / "creds" / "tls").mkdir()
        shutil.copy(ca, home / "creds" / "tls" / "ca.pem")  # the CA alone, as a hub host has
        hub = launch(["up", "--cluster", "--nats-url", urls, "--sweep-interval", "600"], home)
        try:
            wait_for_hub(hub)
            sent = run([*SEND_PATROL, "--instructions", "Rondines.", "--nats-url", urls], home)
            assert sent.returncode == 0, sent.stdout + sent.stderr
            deadline = time.monotonic() + 30
            while not json_lines(["requests"], home):
                assert hub.poll() is None, "mechbus up exited"
                assert time.monotonic() < deadline, "the hub did not record the request"
                time.sleep(0.1)  # the hub is another process: poll the ledger it writes
        finally:
            stop(hub)
        assert hub.returncode == 0
    wait_until_gone(str(tmp_path))


def wait_listening(port: int, proc: subprocess.Popen[Any], what: str) -> None:
    """Until ``proc`` accepts connections on ``port`` (a server prints its port once bound,
    before it listens), or fail if it exits or 30 s pass."""
    deadline = time.monotonic() + 30
    while True:
        assert proc.poll() is None, f"{what} exited"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            assert time.monotonic() < deadline, f"{what} does not listen on {port}"
            time.sleep(0.05)  # another process getting to listen(): poll it


@contextlib.contextmanager
def example_proxy(tmp_path: Path, dashboard_port: int) -> Iterator[tuple[int, int, Path]]:
    """nginx with the example site on loopback in front of ``dashboard_port``, once it
    accepts connections: its HTTPS and HTTP ports, and the CA its certificate chains to."""
    from adapters.natsserver.server import free_ports

    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        pytest.skip("nginx is not installed (Debian: nginx-light)")
    https, http = free_ports("127.0.0.1", 2)
    site = nginx_site_here(tmp_path, https, http, dashboard_port)
    main = nginx_main(tmp_path, site)
    if os.geteuid() == 0:  # workers would run as nobody, who cannot read this test's files
        main.write_text("user root;\n" + main.read_text(encoding="utf-8"), encoding="utf-8")
    proxy = subprocess.Popen(
        [nginx, "-p", str(tmp_path), "-e", str(tmp_path / "error.log"), "-c", str(main)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_listening(https, proxy, "nginx")
        yield https, http, tmp_path / "tls" / "ca.pem"
    finally:
        terminated(proxy)


@pytest.mark.integration
@pytest.mark.e2e
def test_the_dashboard_behind_the_example_proxy(tmp_path: Path) -> None:
    """Through the example nginx: HTTPS with HSTS, plain HTTP sent to HTTPS, the session
    cookie Secure, and the login record keeping the proxy's address, not one a browser
    claimed in X-Forwarded-For."""
    import ssl

    import httpx

    from tests.cli_processes import dashboard_url, env_of, launch, run, stop, wait_until_gone

    home = tmp_path / "home"
    done = run(["db", "upgrade"], home)
    assert done.returncode == 0, done.stdout + done.stderr
    added = subprocess.run(
        [*MECHBUS, "dashboard", "user", "add", "ana", "--role", "viewer", "--password-stdin"],
        input="una clave larga y buena\n",
        env=env_of(home),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert added.returncode == 0, added.stdout + added.stderr
    web = launch(["dashboard", "--port", "0", "--behind-tls-proxy"], home)
    try:
        port = int(dashboard_url(web).rstrip("/").rsplit(":", 1)[1])
        wait_listening(port, web, "mechbus dashboard")
        with example_proxy(tmp_path / "proxy", port) as (https, http, ca):
            trust = ssl.create_default_context(cafile=str(ca))
            with httpx.Client(base_url=f"https://127.0.0.1:{https}", verify=trust) as browser:
                page = browser.get("/login")
                assert page.status_code == 200
                assert page.headers["strict-transport-security"].startswith("max-age=")
                assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
                token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
                assert token is not None
                answer = browser.post(
                    "/login",
                    data={
                        "name": "ana",
                        "password": "una clave larga y buena",
                        "csrf_token": token.group(1),
                    },
                    headers={"X-Forwarded-For": "203.0.113.9"},
                )
                assert answer.status_code == 303 and answer.headers["location"] == "/pending"
                cookie = answer.headers["set-cookie"].lower()
                assert "mechbus_session=" in cookie and "secure" in cookie
                assert "httponly" in cookie and "samesite=strict" in cookie
                assert browser.get("/pending").status_code == 200  # the cookie came back
            plain = httpx.get(f"http://127.0.0.1:{http}/login")
            assert plain.status_code == 301 and plain.headers["location"].startswith("https://")
    finally:
        stop(web)
    logins = run(["dashboard", "user", "logins", "--json"], home)
    assert logins.returncode == 0, logins.stdout + logins.stderr
    rows = [json.loads(line) for line in logins.stdout.splitlines() if line.startswith("{")]
    assert rows and {row["client"] for row in rows} == {"127.0.0.1"}, rows
    wait_until_gone(str(home))
