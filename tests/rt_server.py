"""A throwaway Request Tracker 5 instance on 127.0.0.1 for tests and demos.

The instance uses Debian's RT packages (scripts/install-rt installs them) and keeps all of
its state in one directory: a site config selected by RT_SITE_CONFIG (nothing under /etc
changes), an SQLite database, a self-signed certificate and the logs. RT serves HTTPS
itself through `rt-server --server Standalone --ssl 1`.

Why Standalone and not nginx in front of Starlet: it is one process with no extra package,
and it keeps up with the tests. It serves one connection at a time, so concurrent requests
queue. Measured on 2 cores: 50 concurrent ticket creates all returned 201 in 7.9 s (about
0.15 s each), 50 concurrent searches took 0.9 s. Its weak spot is that a client which opens
a connection and sends nothing blocks every other client until it closes. Tests that need
stalled or half-open connections therefore use a local fault server, not this instance.

Run `python -m tests.rt_server` to start one by hand; see `main` for the options.
"""

# Every subprocess here runs RT, openssl or perl with arguments this module builds.
# ruff: noqa: S603

from __future__ import annotations

import argparse
import contextlib
import json
import os
import select
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NoReturn, Self

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from types import FrameType, TracebackType

RT_SERVER = Path("/usr/share/request-tracker5/libexec/rt-server")
RT_SETUP_DATABASE = Path("/usr/sbin/rt-setup-database-5")
PROVISION_SCRIPT = Path(__file__).with_name("rt_provision.pl")

QUEUE = "Facilities"
CATALOG = "Home Assistant Devices"
API_USER = "ha"

# RT 5.0.3 responds to an unauthenticated request with a 302 to its login page instead of
# a 401 when the User-Agent contains "Mozilla", so the readiness probe names itself.
USER_AGENT = "ha_rt-tests"

START_TIMEOUT = 90.0
STOP_TIMEOUT = 10.0
PERL_TIMEOUT = 120.0
PORT_ATTEMPTS = 3


class RTServerError(Exception):
    """The RT instance failed to start, stop or run a Perl snippet."""


def rt_installed() -> bool:
    """Return whether the Debian RT 5 packages and tools this module needs are installed."""
    tools = ("perl", "openssl")
    return (
        RT_SERVER.is_file()
        and RT_SETUP_DATABASE.is_file()
        and all(shutil.which(tool) for tool in tools)
    )


def _executable(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        msg = f"{name} not found on PATH: install it (scripts/install-rt does)"
        raise RTServerError(msg)
    return path


def _perl_string(value: str) -> str:
    """Quote a value as a single-quoted Perl string literal."""
    escaped = value.replace("\\", "\\\\").replace("'", "\\'")
    return f"'{escaped}'"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _with_parent_death_signal(command: list[str]) -> list[str]:
    """Prefix a command so that Linux sends it SIGTERM when the thread that started it exits.

    Without this an RT server outlives a test run killed with SIGKILL and keeps its port.
    setpriv (util-linux 2.33+) sets the signal and then execs the command, so the process id
    stays the same. Without setpriv the command runs unchanged.
    """
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return command
    return [setpriv, "--pdeathsig", "TERM", "--", *command]


def _tail(path: Path, lines: int = 20) -> str:
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return f"({path} does not exist)"
    return "\n".join(text.splitlines()[-lines:])


class RTServer:
    """A private RT 5 instance serving REST2 over HTTPS on 127.0.0.1.

    Use it as a context manager, or call `open` and `close`. `open` creates the instance in
    `directory` (a new temporary directory by default), or reuses the instance a previous
    `open` left there, and starts the web server. `stop` and `start` end and restart the web
    server on the same port with the same data, for outage tests.
    """

    def __init__(self, directory: Path | None = None, port: int | None = None) -> None:
        """Prepare an instance. Nothing runs until `open`."""
        self._owns_directory = directory is None
        self.directory = (
            Path(tempfile.mkdtemp(prefix="ha_rt-rt5-")) if directory is None else directory
        )
        self._fixed_port = port is not None
        self.port = port or 0

        self.queue = QUEUE
        self.catalog = CATALOG
        self.api_user = API_USER
        self.token = ""
        self.admin_token = ""

        self.site_config = self.directory / "RT_SiteConfig.pm"
        self.database = self.directory / "rt.sqlite"
        self.ca_file = self.directory / "cert.pem"
        self.key_file = self.directory / "key.pem"
        self.server_log = self.directory / "rt-server.log"
        self.perl_log = self.directory / "perl.log"
        self.state_file = self.directory / "instance.json"

        self._server: subprocess.Popen[bytes] | None = None
        self._perl: subprocess.Popen[bytes] | None = None
        self._perl_buffer = b""

    @property
    def url(self) -> str:
        """Base URL clients use; RT builds every REST2 link from it ($WebBaseURL)."""
        return f"https://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        """Process id of the running web server, or None while it is stopped."""
        if self._server is None or self._server.poll() is not None:
            return None
        return self._server.pid

    def __enter__(self) -> Self:
        """Open the instance."""
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Close the instance."""
        self.close()

    def open(self) -> None:
        """Create the instance, or reuse the one in `directory`, and start the web server.

        On failure the processes are stopped but the directory stays, with its logs.
        """
        try:
            self._open()
        except BaseException:
            self.stop()
            self._stop_perl()
            raise

    def _open(self) -> None:
        if self.state_file.exists():
            self._load_state()
            self.start()
            return

        self._create_files()
        self._init_database()

        # RT's web server and the Perl helper each need about 2 s to load RT, so the
        # provisioning runs while the web server starts.
        self._spawn_server()
        self._provision()
        self._wait_until_ready_on_free_port()
        self._save_state()

    def close(self) -> None:
        """Stop the web server and the Perl helper, and remove a temporary directory."""
        self.stop()
        self._stop_perl()

        if self._owns_directory:
            shutil.rmtree(self.directory, ignore_errors=True)

    def start(self) -> None:
        """Start the web server on the same port and data, and wait until it responds.

        Call it from the main thread: Linux stops the server when the thread that started
        it exits (see _with_parent_death_signal).
        """
        if self.pid is not None:
            return

        self._spawn_server()
        self._wait_until_ready()

    def stop(self) -> None:
        """Stop the web server: SIGTERM, then SIGKILL when it is still running after 10 s.

        Never SIGINT: as root, rt-server's SIGINT handler (RT 5.0.3) runs a recursive chown
        on /var/lib/request-tracker5.
        """
        process = self._server
        self._server = None
        if process is None or process.poll() is not None:
            return

        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def ssl_context(self) -> ssl.SSLContext:
        """Return a client SSL context that trusts this instance's certificate."""
        return ssl.create_default_context(cafile=self.ca_file)

    def perl(self, code: str, args: Mapping[str, Any] | None = None) -> str:
        """Run Perl code with RT loaded against this instance and return what it printed.

        The code runs as a request to tests/rt_provision.pl. It gets `args` as the hash
        reference $args and may call that script's helpers (create_queue, create_catalog,
        create_user, create_token, grant_rights, custom_field). Use RT->SystemUser for
        objects, for example:
            RT::Queue->new(RT->SystemUser)->Load($args->{name})
        Raises RTServerError with Perl's message when the code dies.
        """
        reply = self._perl_request({"code": code, "args": dict(args or {})})
        if not reply.get("ok"):
            msg = f"Perl code failed on the RT instance in {self.directory}: {reply.get('error')}"
            raise RTServerError(msg)

        output: str = reply["output"]
        return output

    def create_queue(
        self,
        name: str,
        custom_fields: Sequence[str] | None = None,
        rights: Sequence[str] | None = None,
    ) -> int:
        """Create a queue for the API user and return its id.

        By default the queue has the four ticket custom fields and the rights the
        integration needs. Pass `custom_fields` or `rights` to leave some out.
        """
        output = self.perl(
            "print create_queue($args->{name},"
            " CustomFields => $args->{custom_fields}, Rights => $args->{rights});",
            {"name": name, "custom_fields": custom_fields, "rights": rights},
        )
        return int(output)

    def create_catalog(
        self,
        name: str,
        custom_fields: Sequence[str] | None = None,
        rights: Sequence[str] | None = None,
    ) -> int:
        """Create an asset catalog for the API user and return its id.

        By default the catalog has all ten asset custom fields, Area and Address included,
        and the rights the integration needs. Pass `custom_fields` or `rights` to change that.
        """
        output = self.perl(
            "print create_catalog($args->{name},"
            " CustomFields => $args->{custom_fields}, Rights => $args->{rights});",
            {"name": name, "custom_fields": custom_fields, "rights": rights},
        )
        return int(output)

    def _environment(self) -> dict[str, str]:
        # RT_SITE_CONFIG_DIR replaces /etc/request-tracker5/RT_SiteConfig.d, whose Debian
        # snippets would otherwise set the database and paths.
        return {
            **os.environ,
            "RT_SITE_CONFIG": str(self.site_config),
            "RT_SITE_CONFIG_DIR": str(self.directory / "RT_SiteConfig.d"),
        }

    def _create_files(self) -> None:
        for name in ("RT_SiteConfig.d", "var", "mason", "session"):
            (self.directory / name).mkdir(parents=True, exist_ok=True)

        command = [
            _executable("openssl"), "req", "-x509", "-newkey", "rsa:2048", "-nodes",
            "-days", "30", "-subj", "/CN=localhost",
            "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout", str(self.key_file), "-out", str(self.ca_file),
        ]  # fmt: skip
        subprocess.run(command, check=True, capture_output=True)

    def _write_site_config(self) -> None:
        directory = self.directory
        settings = {
            "rtname": _perl_string("ha_rt-test"),
            "Organization": _perl_string("ha-rt.test"),
            "WebDomain": _perl_string("127.0.0.1"),
            "WebPort": str(self.port),
            "WebPath": _perl_string(""),
            "WebBaseURL": _perl_string(self.url),
            "DatabaseType": _perl_string("SQLite"),
            "DatabaseName": _perl_string(str(self.database)),
            "DatabaseUser": _perl_string(""),
            "DatabasePassword": _perl_string(""),
            # Outgoing mail goes to an mbox file under $RT::VarPath and is never sent.
            "MailCommand": _perl_string("mbox"),
            "LogToSyslog": "undef",
            "LogToFile": "undef",
            "LogToSTDERR": _perl_string("warning"),
            # At RT's default cost (12) checking a token costs ~220 ms per request. The cost
            # is stored with each token, so it must be set before tokens are created.
            "BcryptCost": "4",
        }
        lines = [f"Set(${name}, {value});" for name, value in settings.items()]

        # Install paths are package variables from RT::Generated, not Set() options. RT's
        # web handler dies when the session directory is missing.
        lines += [
            f"$RT::VarPath = {_perl_string(str(directory / 'var'))};",
            f"$RT::MasonDataDir = {_perl_string(str(directory / 'mason'))};",
            f"$RT::MasonSessionDir = {_perl_string(str(directory / 'session'))};",
            "1;",
        ]
        self.site_config.write_text("\n".join(lines) + "\n")

    def _init_database(self) -> None:
        self.port = self.port or _free_port()
        self._write_site_config()

        password_file = self.directory / "root-password"
        password_file.write_text("password\n")
        command = [
            str(RT_SETUP_DATABASE), "--action", "init", "--root-password-file", str(password_file),
        ]  # fmt: skip
        result = subprocess.run(
            command,
            env=self._environment(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            msg = (
                f"rt-setup-database failed with exit code {result.returncode} for "
                f"{self.database}:\n{result.stdout}{result.stderr}"
            )
            raise RTServerError(msg)

    def _provision(self) -> None:
        output = self.perl(
            """
            create_user($API_USER);
            create_queue($args->{queue});
            create_catalog($args->{catalog});
            print JSON::encode_json({
                token       => create_token($API_USER, 'ha_rt tests'),
                admin_token => create_token('root', 'ha_rt tests (superuser)'),
            });
            """,
            {"queue": self.queue, "catalog": self.catalog},
        )
        tokens = json.loads(output)
        self.token = tokens["token"]
        self.admin_token = tokens["admin_token"]

    def _save_state(self) -> None:
        state = {
            "port": self.port,
            "token": self.token,
            "admin_token": self.admin_token,
            "queue": self.queue,
            "catalog": self.catalog,
        }
        self.state_file.write_text(json.dumps(state, indent=2) + "\n")

    def _load_state(self) -> None:
        state = json.loads(self.state_file.read_text())
        if self._fixed_port and self.port != state["port"]:
            msg = (
                f"the RT instance in {self.directory} was made for port {state['port']}, "
                f"not {self.port}: omit the port or use a new directory"
            )
            raise RTServerError(msg)

        self.port = state["port"]
        self.token = state["token"]
        self.admin_token = state["admin_token"]
        self.queue = state["queue"]
        self.catalog = state["catalog"]

    def _wait_until_ready_on_free_port(self) -> None:
        """Wait for the spawned web server; move to a new port if another process took it.

        _free_port only finds a port that was free a moment ago. rt-server prints "RT couldn't
        start up a web server on port N" and exits when the port is in use by then.
        """
        for attempt in range(1, PORT_ATTEMPTS + 1):
            try:
                self._wait_until_ready()
            except RTServerError:
                port_taken = "couldn't start up a web server" in _tail(self.server_log)
                if self._fixed_port or not port_taken or attempt == PORT_ATTEMPTS:
                    raise
            else:
                return

            self.port = _free_port()
            self._write_site_config()
            # The Perl helper read the old $WebBaseURL; the next perl() call restarts it.
            self._stop_perl()
            self._spawn_server()

    def _spawn_server(self) -> None:
        command = [
            str(RT_SERVER), "--server", "Standalone",
            "--ssl", "1",
            "--ssl-key-file", str(self.key_file),
            "--ssl-cert-file", str(self.ca_file),
            "--host", "127.0.0.1", "--port", str(self.port),
        ]  # fmt: skip

        with self.server_log.open("ab") as log:
            # A Ctrl-C in the terminal sends SIGINT to the foreground process group. The new
            # session keeps rt-server out of it (stop() says why SIGINT must never reach it).
            self._server = subprocess.Popen(
                _with_parent_death_signal(command),
                env=self._environment(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )

    def _wait_until_ready(self) -> None:
        """Poll GET /REST/2.0/rt until RT returns 401, its status for a request without token."""
        context = self.ssl_context()
        # The URL is always https://127.0.0.1:<port>, built by this class.
        request = urllib.request.Request(  # noqa: S310
            f"{self.url}/REST/2.0/rt", headers={"User-Agent": USER_AGENT}
        )
        deadline = time.monotonic() + START_TIMEOUT

        while True:
            process = self._server
            if process is None or process.poll() is not None:
                code = None if process is None else process.returncode
                msg = (
                    f"rt-server exited with code {code} before answering on {self.url}; "
                    f"its log {self.server_log} ends with:\n{_tail(self.server_log)}"
                )
                raise RTServerError(msg)

            try:
                with urllib.request.urlopen(request, context=context, timeout=5):  # noqa: S310
                    pass
            except urllib.error.HTTPError as err:
                if err.code == 401:
                    return
            except OSError:
                pass

            if time.monotonic() > deadline:
                self.stop()
                msg = (
                    f"rt-server did not answer 401 on {self.url}/REST/2.0/rt within "
                    f"{START_TIMEOUT:.0f} s; its log {self.server_log} ends with:\n"
                    f"{_tail(self.server_log)}"
                )
                raise RTServerError(msg)
            time.sleep(0.1)

    def _start_perl(self) -> subprocess.Popen[bytes]:
        if self._perl is not None and self._perl.poll() is None:
            return self._perl

        with self.perl_log.open("ab") as log:
            self._perl = subprocess.Popen(
                [_executable("perl"), str(PROVISION_SCRIPT)],
                env=self._environment(),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                start_new_session=True,
            )
        self._perl_buffer = b""
        return self._perl

    def _stop_perl(self) -> None:
        process = self._perl
        self._perl = None
        if process is None:
            return

        # The helper exits when its stdin closes.
        if process.stdin is not None:
            with contextlib.suppress(BrokenPipeError):
                process.stdin.close()
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()

    def _perl_request(self, request: Mapping[str, Any]) -> dict[str, Any]:
        process = self._start_perl()
        stdin: IO[bytes] | None = process.stdin
        stdout: IO[bytes] | None = process.stdout
        if stdin is None or stdout is None:
            msg = "the Perl helper has no pipes"
            raise RTServerError(msg)

        try:
            stdin.write(json.dumps(request).encode() + b"\n")
            stdin.flush()
        except BrokenPipeError:
            self._perl_failed("exited before it read the request")

        line = self._read_perl_line(process, stdout.fileno())
        reply: dict[str, Any] = json.loads(line)
        return reply

    def _read_perl_line(self, process: subprocess.Popen[bytes], fd: int) -> bytes:
        deadline = time.monotonic() + PERL_TIMEOUT

        while b"\n" not in self._perl_buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                process.kill()
                process.wait()
                self._perl_failed(f"did not reply within {PERL_TIMEOUT:.0f} s and was killed")

            readable, _, _ = select.select([fd], [], [], remaining)
            if not readable:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                process.wait()
                self._perl_failed(f"exited with code {process.returncode}")
            self._perl_buffer += chunk

        line, _, self._perl_buffer = self._perl_buffer.partition(b"\n")
        return line

    def _perl_failed(self, reason: str) -> NoReturn:
        self._perl = None
        msg = (
            f"the Perl helper {PROVISION_SCRIPT.name} {reason}; its log {self.perl_log} "
            f"ends with:\n{_tail(self.perl_log)}"
        )
        raise RTServerError(msg)


def _raise_system_exit(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    """Start an instance, print how to reach it, and serve until SIGTERM or Ctrl-C."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.rt_server",
        description=(
            "Start a throwaway RT 5 on https://127.0.0.1 and print its settings as "
            "shell variables (RT_URL, RT_TOKEN, ...). Stops on SIGTERM or Ctrl-C."
        ),
    )
    parser.add_argument(
        "--dir",
        type=Path,
        help="instance directory, kept after exit and reused by the next run "
        "(default: a temporary directory, removed on exit)",
    )
    parser.add_argument("--port", type=int, help="HTTPS port on 127.0.0.1 (default: a free one)")
    options = parser.parse_args(argv)

    if not rt_installed():
        sys.stderr.write(f"error: {RT_SERVER} not found: install RT 5 with scripts/install-rt\n")
        return 1

    signal.signal(signal.SIGTERM, _raise_system_exit)
    if options.dir is not None:
        options.dir.mkdir(parents=True, exist_ok=True)

    with RTServer(options.dir, options.port) as server:
        settings = {
            "RT_URL": server.url,
            "RT_TOKEN": server.token,
            "RT_ADMIN_TOKEN": server.admin_token,
            "RT_QUEUE": server.queue,
            "RT_CATALOG": server.catalog,
            "RT_CA_FILE": str(server.ca_file),
            "RT_PID": str(server.pid),
            "RT_DIR": str(server.directory),
        }
        for name, value in settings.items():
            sys.stdout.write(f"{name}={shlex.quote(value)}\n")
        sys.stdout.flush()

        with contextlib.suppress(KeyboardInterrupt):
            while True:
                signal.pause()
    return 0


if __name__ == "__main__":
    sys.exit(main())
