"""A throwaway Warden cloud for tests that talk to it from outside (API fuzzing, browser tests).

`with CloudStack() as s:` starts, in a fresh temporary folder on free loopback ports, what scripts/demo-cloud starts:
PostgreSQL 15, mosquitto with per-client passwords and the project's ACL, and `warden-cloud serve` with its HTTP API,
seeded with two orgs (acme, globex), an admin with a password and a write token in each. `CloudStack(board=True)`
also runs a simulated board (wardend on boards/sim.yaml) syncing with it as lock-front. Everything is stopped and
removed on exit, also after an exception, SIGINT or SIGTERM; a failure prints the tail of every log.

Standard library only. It builds nothing: binaries come from $WARDEN_BIN, else from `swift build --show-bin-path`
(callers build first). `python3 scripts/cloudstack.py [--board]` starts one and waits for Ctrl-C.
$WARDEN_PG_OPTIONS adds PostgreSQL settings (`-c synchronous_commit=off`: a diagnostic for benchmarks, never for tests).
"""

import ctypes
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PG_BIN = "/usr/lib/postgresql/15/bin"
AUTHORITY_KID = "acme-2026"
LOCK_ID = "lock-front"


class StackError(RuntimeError):
    """Something did not come up (the message names it) or a command failed."""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _child_setup():
    # Children die with us even if we are SIGKILLed (no stray brokers or servers on later runs), and get their
    # own session so a terminal's Ctrl-C reaches only us: we stop them in order.
    os.setsid()
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def wait_for(cond, timeout, interval=0.2):
    """Polls `cond()` until it returns something truthy (returned at once) or `timeout` seconds pass (then its
    last value). An exception counts as "not yet": a part that is still starting answers with errors for a moment;
    the caller's check of the value says what went wrong."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = cond()
        except Exception:  # noqa: BLE001 - see the docstring
            value = None
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def _tail(path, lines=40):
    try:
        with open(path, "rb") as f:
            data = f.read()[-16384:].decode("utf-8", "replace").splitlines()
    except OSError:
        return None
    return "\n".join(data[-lines:])


class CloudStack:
    def __init__(self, board: bool = False, tmp_prefix="warden-stack"):
        self.board = board
        self.tmp_prefix = tmp_prefix
        self.tmp = None
        self.bin = None
        self.url = None
        self.token = self.other_token = None
        self.admin_email, self.admin_password = "ada@acme.example", None
        self.other_email, self.other_password = "gus@globex.example", None
        self.authority_key = self.authority_pub = None
        self.authority_kid = AUTHORITY_KID
        self.lock_id = LOCK_ID
        self.control_socket = self.present_socket = None
        self.cloud_log = self.config = None
        self._procs = []  # (name, Popen, log path), in start order
        self._logs_extra = []  # logs of what we do not start ourselves (PostgreSQL, through pg_ctl)
        self._pg_data = None
        self._old_handlers = {}
        self._stopping = False
        # Config keys come from the file only: a developer's WARDEN_DB_* or WARDEN_BROKER would override it.
        self._env = {k: v for k, v in os.environ.items() if not k.startswith("WARDEN_")}

    # -- context manager -------------------------------------------------------------------------------------------

    def __enter__(self):
        self._install_signal_handlers()
        try:
            self.start()
        except BaseException as e:
            if not isinstance(e, (KeyboardInterrupt, SystemExit)):
                self.dump_logs()
            self.stop()
            raise
        return self

    def __exit__(self, kind, value, tb):
        if kind is not None and not issubclass(kind, (KeyboardInterrupt, SystemExit)):
            self.dump_logs()
        self.stop()
        return False

    def _install_signal_handlers(self):
        if threading.current_thread() is not threading.main_thread():
            return

        def on_signal(signum, frame):
            if self._stopping:
                return
            # Unwinds through __exit__ (or __enter__'s cleanup), which stops everything.
            raise SystemExit(128 + signum) if signum == signal.SIGTERM else KeyboardInterrupt()

        for sig in (signal.SIGTERM, signal.SIGINT):
            self._old_handlers[sig] = signal.signal(sig, on_signal)

    # -- start -----------------------------------------------------------------------------------------------------

    def start(self):
        self.bin = self._find_bin()
        for exe in ("warden-cloud", "wardenctl") + (("wardend",) if self.board else ()):
            if not os.access(os.path.join(self.bin, exe), os.X_OK):
                raise StackError(f"{exe} is not built in {self.bin} (build it first, or set WARDEN_BIN)")
        self.tmp = tempfile.mkdtemp(prefix=self.tmp_prefix + ".")
        # The postgres and mosquitto users must be able to enter it (mkdtemp makes it 0700).
        os.chmod(self.tmp, 0o755)
        self.cloud_log = self._path("cloud.log")
        self._start_postgres()
        self._start_mosquitto()
        self._configure_cloud()
        self._seed()
        self._start_cloud()
        if self.board:
            self._start_board()

    def _find_bin(self):
        if os.environ.get("WARDEN_BIN"):
            return os.path.abspath(os.environ["WARDEN_BIN"])
        try:
            out = subprocess.run(
                ["swift", "build", "--show-bin-path"], cwd=REPO, capture_output=True, text=True, timeout=300
            )
        except (OSError, subprocess.TimeoutExpired) as e:
            raise StackError(f"cannot find the binaries: `swift build --show-bin-path` failed ({e}); set WARDEN_BIN")
        if out.returncode != 0:
            raise StackError(f"`swift build --show-bin-path` failed: {out.stderr.strip()}; set WARDEN_BIN")
        return out.stdout.strip().splitlines()[-1]

    def _path(self, *parts):
        return os.path.join(self.tmp, *parts)

    def _run(self, argv, what, timeout=60, as_postgres=False, env=None):
        if as_postgres:
            argv = ["runuser", "-u", "postgres", "--"] + argv
        try:
            # From the temporary folder: the postgres user cannot enter a checkout in a 0700 folder.
            p = subprocess.run(
                argv, cwd=self.tmp, capture_output=True, text=True, timeout=timeout, env=env or self._env,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired:
            raise StackError(f"{what}: no answer within {timeout} s ({' '.join(argv)})")
        if p.returncode != 0:
            raise StackError(f"{what} failed (exit {p.returncode}): {(p.stderr or p.stdout).strip()}")
        return p.stdout

    def _spawn(self, name, argv, log):
        f = open(log, "ab")
        try:
            p = subprocess.Popen(
                argv, cwd=self.tmp, stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT, env=self._env,
                preexec_fn=_child_setup,
            )
        finally:
            f.close()
        self._procs.append((name, p, log))
        return p

    def _wait(self, what, ready, timeout, proc=None, interval=0.1):
        """Polls `ready()` until it is true; fails naming `what` on timeout or when `proc` exits first."""
        deadline = time.monotonic() + timeout
        last = None
        while True:
            try:
                if ready():
                    return
            except Exception as e:  # the thing polled is not up yet
                last = e
            if proc is not None and proc.poll() is not None:
                raise StackError(f"{what}: the process exited with status {proc.returncode} before it came up")
            if time.monotonic() > deadline:
                detail = f" (last error: {last})" if last else ""
                raise StackError(f"{what}: not up within {timeout} s{detail}")
            time.sleep(interval)

    def _start_postgres(self):
        self.pg_port = free_port()
        pg = self._path("pg")
        os.mkdir(pg)
        shutil.chown(pg, "postgres")
        self._pg_data = os.path.join(pg, "data")
        self._run(
            [f"{PG_BIN}/initdb", "-D", self._pg_data, "-U", "warden", "--auth=trust", "-E", "UTF8",
             "--locale=C.UTF-8"],
            "initdb", timeout=120, as_postgres=True,
        )
        self._run(
            [f"{PG_BIN}/pg_ctl", "-D", self._pg_data, "-l", os.path.join(pg, "log"), "-w", "-t", "60",
             "-o", f"-c listen_addresses=127.0.0.1 -p {self.pg_port} -k {pg} {os.environ.get('WARDEN_PG_OPTIONS', '')}",
             "start"],
            "PostgreSQL (pg_ctl start)", timeout=90, as_postgres=True,
        )
        self._logs_extra = [("postgresql", os.path.join(pg, "log"))]
        self._psql("postgres", "CREATE DATABASE warden")

    def _psql(self, db, query, timeout=60):
        return self._run(
            ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", str(self.pg_port),
             "-U", "warden", "-d", db, "-c", query],
            f"psql {query[:60]!r}", timeout=timeout,
        )

    def _start_mosquitto(self):
        """mosquitto configured by the project's own script (provisioning/mosquitto/warden-broker-config): the
        cloud's password listener, and the boards' mutual-TLS listener trusting the device CA, whose key and first
        revocation list `warden-cloud device-ca-init` makes; the broker's server certificate from the local CA
        recipe (provisioning/ca/warden-local-ca)."""
        self.mqtt_port = free_port()
        self.mqtt_tls_port = free_port()
        self.cloud_mqtt_password = secrets.token_urlsafe(16)
        self.board_mqtt_password = secrets.token_urlsafe(16)
        passwd = self._path("mosquitto.passwd")
        self._run(["mosquitto_passwd", "-c", "-b", passwd, "cloud", self.cloud_mqtt_password], "mosquitto_passwd")
        self._run(["mosquitto_passwd", "-b", passwd, LOCK_ID, self.board_mqtt_password], "mosquitto_passwd")
        os.chmod(passwd, 0o644)
        for name, pw in (("cloud.password", self.cloud_mqtt_password), ("board.password", self.board_mqtt_password)):
            self._write(name, pw, 0o600)
        self.pki = self._path("pki")
        self._run([os.path.join(REPO, "provisioning/ca/warden-local-ca"), "--out", self.pki, "--host", "127.0.0.1"],
                  "warden-local-ca")
        self.broker_ca = os.path.join(self.pki, "broker-ca.pem")
        self.device_ca = self._path("device-ca.pem")
        self.crl = self._path("device-ca.crl")
        self._run([os.path.join(self.bin, "warden-cloud"), "device-ca-init", "--key", self._path("device-ca.key"),
                   "--cert", self.device_ca, "--crl", self.crl, "--name", "Stack device CA"], "device-ca-init")
        os.chmod(self.crl, 0o644)
        self._run([os.path.join(REPO, "provisioning/mosquitto/warden-broker-config"), "--out", self._path("mosquitto"),
                   "--device-ca", self.device_ca, "--crl", self.crl,
                   "--server-cert", os.path.join(self.pki, "broker.pem"),
                   "--server-key", os.path.join(self.pki, "broker.key"), "--password-file", passwd,
                   "--tls-port", str(self.mqtt_tls_port), "--tls-bind", "127.0.0.1",
                   "--local-port", str(self.mqtt_port), "--no-persistence"], "warden-broker-config")
        self._mosquitto = self._spawn("mosquitto", ["mosquitto", "-c", self._path("mosquitto/warden.conf")],
                                      self._path("mosquitto.log"))

        def listening():
            for port in (self.mqtt_port, self.mqtt_tls_port):
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    pass
            return True

        self._wait(f"mosquitto on 127.0.0.1:{self.mqtt_port} and :{self.mqtt_tls_port}", listening, 15,
                   proc=self._mosquitto)

    def reload_broker(self):
        """SIGHUP: mosquitto reads its revocation list again (what the warden-crl.path unit does in production)."""
        self._mosquitto.send_signal(signal.SIGHUP)

    def _write(self, name, text, mode):
        path = self._path(name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(path, mode)
        return path

    def _configure_cloud(self):
        self.http_port = free_port()
        self.url = f"http://127.0.0.1:{self.http_port}"
        self.authority_key = self._path("authority.pem")
        self.authority_pub = self.authority_key + ".pub"
        self.ctl("dev", "authority-keygen", "--out", self.authority_key)
        self.config = self._write(
            "cloud.yaml",
            f"database: {{host: 127.0.0.1, port: {self.pg_port}, user: warden, name: warden}}\n"
            f"broker: {{host: 127.0.0.1, port: {self.mqtt_port}, username: cloud, password_file: cloud.password}}\n"
            f"authority: {{key: authority.pem, kid: {AUTHORITY_KID}}}\n"
            "resend_interval_ms: 2000\n"
            f"provisioning: {{ca_key: device-ca.key, ca_cert: device-ca.pem, crl: device-ca.crl, "
            f"broker: \"127.0.0.1:{self.mqtt_tls_port}\", broker_ca: {self.broker_ca}}}\n"
            f"http: {{host: 127.0.0.1, port: {self.http_port}}}\n",
            0o644,
        )
        self.cloud("check")

    def _seed(self):
        c = self.cloud
        c("migrate", timeout=120)
        c("org-add", "--id", "acme", "--name", "Acme Corp")
        c("site-add", "--org", "acme", "--id", "hq", "--name", "Head office", "--time-zone", "Europe/Berlin")
        c("door-add", "--org", "acme", "--site", "hq", "--id", "front", "--name", "Front door")
        c("device-add", "--org", "acme", "--door", "front", "--id", LOCK_ID)
        c("org-add", "--id", "globex", "--name", "Globex Corporation")
        c("site-add", "--org", "globex", "--id", "g-hq", "--name", "Globex HQ", "--time-zone", "America/New_York")
        c("door-add", "--org", "globex", "--site", "g-hq", "--id", "g-door", "--name", "Globex door")
        self.admin_password = secrets.token_urlsafe(18)  # 24 characters
        self.other_password = secrets.token_urlsafe(18)
        pw = self._write("ada.password", self.admin_password, 0o600)
        c("user-add", "--org", "acme", "--id", "ada", "--email", self.admin_email, "--name", "Ada Lovelace",
          "--role", "admin", "--password-file", pw)
        self.token = c("token-add", "--org", "acme", "--user", "ada", "--name", "stack", "--write").strip()
        pw = self._write("gus.password", self.other_password, 0o600)
        c("user-add", "--org", "globex", "--id", "gus", "--email", self.other_email, "--name", "Gus Globex",
          "--role", "admin", "--password-file", pw)
        self.other_token = c("token-add", "--org", "globex", "--user", "gus", "--name", "stack", "--write").strip()
        for t in (self.token, self.other_token):
            if not t.startswith("wdn_"):
                raise StackError(f"token-add printed {t!r}, not a token")

    def _start_cloud(self):
        p = self._spawn("warden-cloud", [os.path.join(self.bin, "warden-cloud"), "serve", "--config", self.config],
                        self.cloud_log)

        def healthy():
            with urllib.request.urlopen(self.url + "/healthz", timeout=2) as r:
                return r.status == 200

        self._wait(f"warden-cloud serve (GET {self.url}/healthz answering 200)", healthy, 60, proc=p, interval=0.2)

    def _start_board(self):
        ctl = self.ctl
        ctl("dev", "device-keygen", "--out", self._path("device.pem"))
        ctl("dev", "lock-cert", "--authority", self.authority_key, "--kid", AUTHORITY_KID, "--lock-id", LOCK_ID,
            "--device-key", self._path("device.pem.pub"), "--out", self._path("lock.cert"))
        self.control_socket = self._path("control.sock")
        self.present_socket = self._path("present.sock")
        self._write(
            "warden.yaml",
            f"door: {{ id: front, lock_id: {LOCK_ID} }}\n"
            "identity: { device_key: device.pem, lock_certificate: lock.cert }\n"
            "presentation: { unix: present.sock, ble: false }\n"
            f"board: {REPO}/boards/sim.yaml\n"
            "site: { time_zone: Europe/Berlin }\n"
            f"authority_keys: {{ {AUTHORITY_KID}: authority.pem.pub }}\n"
            # Any authority-signed credential that is not revoked opens: tests need not grant first.
            "access: { require_listed: false }\n"
            "state_dir: state\n"
            "control_socket: control.sock\n"
            f'sync: {{ org: acme, broker: "127.0.0.1:{self.mqtt_port}", username: {LOCK_ID}, '
            "password_file: board.password, ack_timeout_ms: 3000 }\n"
            "metrics: { text_file: metrics.prom, interval_s: 1 }\n"
            # The simulated board's software facts live in its folder (docs/packaging.md): tests play warden-updater.
            "software: { version_file: version, update_order: update-order.json, update_report: update.json }\n",
            0o644,
        )
        self._write("version", "1.0.0\n", 0o644)
        p = self._spawn("wardend", [os.path.join(self.bin, "wardend"), "--config", self._path("warden.yaml")],
                        self._path("wardend.log"))

        def synced():
            # The board has fetched the cloud's access list (v1 on a fresh stack)...
            out = self.ctl("status", "--socket", self.control_socket, "--json", timeout=5)
            return json.loads(out).get("accessListVersion", 0) >= 1

        self._wait("the board (wardend) syncing its access list from the cloud", synced, 45, proc=p, interval=0.2)
        # ...and the cloud has seen it come online.
        self._wait(f"{LOCK_ID} online in the cloud's devices table",
                   lambda: self.sql(f"SELECT online FROM devices WHERE id = '{LOCK_ID}'") == "t", 30, proc=p)

    # -- use -------------------------------------------------------------------------------------------------------

    def sql(self, query) -> str:
        """Runs one statement in the warden database; its rows unaligned, without headers."""
        return self._psql("warden", query).strip()

    def api(self, method, path, body=None):
        """The managers' API as the org's admin (acme's write token): the JSON answer, or urllib's HTTPError."""
        req = urllib.request.Request(
            self.url + path, method=method, data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": "Bearer " + self.token, "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.load(r)

    def cloud(self, *args, timeout=60) -> str:
        """`warden-cloud SUBCOMMAND --config cloud.yaml ARGS...`; its stdout, or StackError with its stderr."""
        if not args:
            raise ValueError("cloud() needs a subcommand")
        argv = [os.path.join(self.bin, "warden-cloud"), args[0], "--config", self.config, *args[1:]]
        return self._run(argv, f"warden-cloud {args[0]}", timeout=timeout)

    def ctl(self, *args, timeout=60) -> str:
        """`wardenctl ARGS...`; its stdout, or StackError with its stderr."""
        return self._run([os.path.join(self.bin, "wardenctl"), *args], f"wardenctl {' '.join(args[:2])}",
                         timeout=timeout)

    def phone_unlock(self, credential_path, key_path, timeout=30):
        """Presents a credential to the board's presentation socket: (exit status, stdout and stderr)."""
        if not self.board:
            raise StackError("phone_unlock needs CloudStack(board=True)")
        argv = [os.path.join(self.bin, "wardenctl"), "phone", "unlock", "--unix", self.present_socket,
                "--lock", LOCK_ID, "--authority", f"{AUTHORITY_KID}={self.authority_pub}",
                "--credential", str(credential_path), "--key", str(key_path)]
        try:
            p = subprocess.run(argv, cwd=self.tmp, capture_output=True, text=True, timeout=timeout, env=self._env,
                               stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return 124, f"wardenctl phone unlock: no answer within {timeout} s"
        return p.returncode, (p.stdout + p.stderr).strip()

    def logs(self):
        """(name, path) of every log, in start order."""
        out = list(self._logs_extra)
        seen = {path for _, path in out}
        for name, _, path in self._procs:
            if path not in seen:
                out.append((name, path))
                seen.add(path)
        return out

    def logs(self):
        """Every log of the run so far, by path in the stack's folder: ours (*.log) and PostgreSQL's (pg/log)."""
        out = {}
        for dirpath, _, files in os.walk(self.tmp):
            for name in files:
                path = os.path.join(dirpath, name)
                rel = os.path.relpath(path, self.tmp)
                if name.endswith(".log") or rel == os.path.join("pg", "log"):
                    with open(path, "rb") as f:
                        out[rel] = f.read().decode("utf-8", "replace")
        return out

    def dump_logs(self, lines=40, file=sys.stderr):
        for name, path in self.logs():
            text = _tail(path, lines)
            if text:
                print(f"---- {name}: last {lines} lines of {path}", file=file)
                print(text, file=file)
        file.flush()

    # -- stop ------------------------------------------------------------------------------------------------------

    def stop(self):
        """Stops the board, warden-cloud, mosquitto and PostgreSQL, and removes the folder. Safe to call twice."""
        self._stopping = True
        try:
            for name, p, _ in reversed(self._procs):
                if p.poll() is None:
                    p.terminate()
                    try:
                        p.wait(10)
                    except subprocess.TimeoutExpired:
                        print(f"cloudstack: {name} ignored SIGTERM for 10 s; killing it", file=sys.stderr)
                        p.kill()
                        p.wait(5)
            self._procs.clear()
            if self._pg_data and os.path.isdir(self._pg_data):
                try:
                    subprocess.run(
                        ["runuser", "-u", "postgres", "--", f"{PG_BIN}/pg_ctl", "-D", self._pg_data, "-m", "fast",
                         "-w", "-t", "30", "stop"],
                        cwd=self.tmp, capture_output=True, timeout=45, stdin=subprocess.DEVNULL,
                    )
                except subprocess.TimeoutExpired:
                    print("cloudstack: PostgreSQL did not stop within 45 s", file=sys.stderr)
                self._pg_data = None
            if self.tmp and os.path.isdir(self.tmp):
                shutil.rmtree(self.tmp, ignore_errors=True)
        finally:
            for sig, old in self._old_handlers.items():
                signal.signal(sig, old)
            self._old_handlers.clear()


def _main():
    try:
        with CloudStack(board="--board" in sys.argv[1:]) as s:
            print(f"url          {s.url}\ntoken        {s.token}\nother_token  {s.other_token}\n"
                  f"admin        {s.admin_email} / {s.admin_password}\nfolder       {s.tmp}")
            if s.board:
                print(f"board        wardenctl status --socket {s.control_socket}")
            print("Ctrl-C stops everything", flush=True)
            signal.pause()
    except KeyboardInterrupt:
        return 130
    except StackError as e:
        print(f"cloudstack: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(_main())
