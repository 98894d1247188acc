#!/usr/bin/env python3
"""A private, real PostgreSQL server for tests: Debian's PostgreSQL (15) in a
temporary directory on a free 127.0.0.1 port, run as the `postgres` user when
the test runs as root (the server refuses root), stopped by its PID. Never
the machine's default cluster. Standard library only.

As a Python module:

    with real_postgres.RealPostgres() as pg:      # initdb + start
        pg.conninfo        # "host=127.0.0.1 port=N user=postgres dbname=postgres"
        pg.sql("SELECT 1") # runs psql, returns its unaligned output
        pg.create_database("t1")  -> conninfo of a fresh database
        pg.stop()          # fast shutdown (pg.stop(immediate=True): crash-like)
                           # RealPostgres(fsync=True) for fsync=on (default off)
        pg.start()         # again, same data directory and port

As a command (the ctest fixture and C++ tests use this):

    real_postgres.py start DIR    initdb when missing (the cluster goes to a
                                  new /tmp/cqmux-pg-* directory named in
                                  DIR/base_dir), start, write DIR/conninfo,
                                  DIR/port and DIR/pid, exit 0 with the
                                  server left running
    real_postgres.py stop DIR     stop the server whose PID is in DIR/pid and
                                  wait for it (the data directory stays)
    real_postgres.py destroy DIR  stop at once (no checkpoint), then delete DIR
                                  and the cluster's directory

A missing PostgreSQL installation is an error (exit 1 with a message), never
a skip: scripts/install-deps test installs it.
"""
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

START_TIMEOUT_S = 60
STOP_TIMEOUT_S = 60


def pg_bin_dir():
    """Newest /usr/lib/postgresql/<version>/bin, or an error naming the fix."""
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                  key=lambda d: int(d.split("/")[-2]) if d.split("/")[-2].isdigit() else 0)
    for d in reversed(dirs):
        if os.path.exists(os.path.join(d, "postgres")):
            return d
    raise RuntimeError("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/postgres): "
                       "run scripts/install-deps test")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still answers kill(0): reap it if it is ours.
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:
        return True


class RealPostgres:
    """One private PostgreSQL server. `base_dir` (made when None) holds
    data/ (the cluster), the socket directory and server.log."""

    def __init__(self, base_dir=None, port=None, fsync=False):
        self.bin = pg_bin_dir()
        self._owns_dir = base_dir is None
        self.base_dir = base_dir or tempfile.mkdtemp(prefix="cqmux-pg-")
        os.makedirs(self.base_dir, exist_ok=True)
        self.data_dir = os.path.join(self.base_dir, "data")
        self.log_path = os.path.join(self.base_dir, "server.log")
        self.host = "127.0.0.1"
        self.port = port
        self.pid = None
        self._proc = None
        # fsync=False (the default) is safe for tests: stops, restarts and
        # crashes of PostgreSQL keep everything committed (the kernel has
        # it); only a machine crash would not. It makes CREATE DATABASE and
        # checkpoints cheap on a busy CI disk.
        self.fsync = fsync
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            shutil.chown(self.base_dir, "postgres", "postgres")
            os.chmod(self.base_dir, 0o700)

    # --- connection strings -------------------------------------------------
    @property
    def user(self):
        return "postgres"

    def conninfo_for(self, dbname):
        return "host=%s port=%d user=%s dbname=%s" % (self.host, self.port, self.user, dbname)

    @property
    def conninfo(self):
        return self.conninfo_for("postgres")

    def env(self):
        """The standard libpq variables for this server (PGHOST etc.)."""
        return {"PGHOST": self.host, "PGPORT": str(self.port), "PGUSER": self.user,
                "PGDATABASE": "postgres"}

    # --- running binaries as the right user --------------------------------
    def _run(self, argv, **kw):
        if self._as_postgres:
            kw.setdefault("user", "postgres")
            kw.setdefault("group", "postgres")
            kw.setdefault("extra_groups", [])
        return subprocess.run(argv, cwd=self.base_dir, **kw)

    def _initdb(self):
        r = self._run([os.path.join(self.bin, "initdb"), "-D", self.data_dir, "-A", "trust",
                       "-U", "postgres", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"],
                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if r.returncode != 0:
            raise RuntimeError("initdb failed:\n" + r.stdout)

    # --- lifecycle ----------------------------------------------------------
    def start(self):
        """Starts the server (initdb on first use) and waits until it accepts
        connections. Keeps the port of an earlier start."""
        if self.pid is not None and _pid_alive(self.pid):
            return self
        if not os.path.exists(os.path.join(self.data_dir, "PG_VERSION")):
            self._initdb()
        attempts = 1 if self.port else 5
        for attempt in range(attempts):
            port = self.port or free_port()
            if self._launch(port):
                self.port = port
                return self
            if attempt + 1 == attempts:
                break
        raise RuntimeError("PostgreSQL did not start; its log:\n" + self._log_tail())

    def _launch(self, port):
        log = open(self.log_path, "ab")
        kw = {}
        if self._as_postgres:
            kw = {"user": "postgres", "group": "postgres", "extra_groups": []}
        # Its own session: a test's Ctrl-C or process group signal does not
        # reach it; we stop it by PID.
        self._proc = subprocess.Popen(
            [os.path.join(self.bin, "postgres"), "-D", self.data_dir, "-p", str(port),
             "-k", self.base_dir, "-h", "127.0.0.1",
             "-c", "max_connections=200", "-c", "fsync=%s" % ("on" if self.fsync else "off"),
             "-c", "synchronous_commit=on"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
            cwd=self.base_dir, **kw)
        log.close()
        self.pid = self._proc.pid
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                self.pid = None
                return False
            r = subprocess.run([os.path.join(self.bin, "pg_isready"), "-q", "-h", "127.0.0.1",
                                "-p", str(port), "-U", "postgres", "-d", "postgres"])
            if r.returncode == 0:
                return True
            time.sleep(0.05)  # polling interval of a bounded wait, not synchronisation
        self._kill(signal.SIGKILL)
        raise RuntimeError("PostgreSQL did not accept connections within %ds; its log:\n%s"
                           % (START_TIMEOUT_S, self._log_tail()))

    def _kill(self, sig):
        if self.pid is None:
            return
        try:
            os.kill(self.pid, sig)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while _pid_alive(self.pid):
            if self._proc is not None:
                try:
                    self._proc.wait(timeout=0.1)
                    break
                except subprocess.TimeoutExpired:
                    pass
            else:
                time.sleep(0.05)
            if time.monotonic() > deadline:
                os.kill(self.pid, signal.SIGKILL)
                deadline = time.monotonic() + STOP_TIMEOUT_S
        self.pid = None
        self._proc = None

    def stop(self, immediate=False):
        """Fast shutdown (SIGINT: open sessions are ended, committed data is
        kept); immediate=True is SIGQUIT (no checkpoint, crash recovery on the
        next start). Waits until the postmaster has exited."""
        self._kill(signal.SIGQUIT if immediate else signal.SIGINT)

    def close(self):
        """Stops the server and deletes the directory if this object made it
        (then without a shutdown checkpoint: the data is thrown away)."""
        self.stop(immediate=self._owns_dir)
        if self._owns_dir:
            shutil.rmtree(self.base_dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    # --- SQL through psql ---------------------------------------------------
    def sql(self, statement, dbname="postgres"):
        """Runs `statement` with psql; returns its unaligned, tuples-only
        output. Raises with psql's message on error."""
        r = subprocess.run(
            [os.path.join(self.bin, "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
             "-h", self.host, "-p", str(self.port), "-U", self.user, "-d", dbname,
             "-c", statement],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if r.returncode != 0:
            raise RuntimeError("psql failed (%s): %s" % (statement, r.stderr.strip()))
        return r.stdout.strip()

    def create_database(self, dbname):
        """Creates an empty database; returns its conninfo."""
        self.sql('CREATE DATABASE "%s"' % dbname)
        return self.conninfo_for(dbname)

    def _log_tail(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-30:])
        except OSError:
            return "(no log)"


# --- command line: the ctest fixture and C++ tests -----------------------------
def _write(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def _base_dir(state_dir):
    """The cluster's directory: in /tmp, not under DIR, because the
    `postgres` user must be able to reach it (a build tree under /root is
    not); its path is kept in DIR/base_dir."""
    path_file = os.path.join(state_dir, "base_dir")
    if os.path.exists(path_file):
        return open(path_file).read().strip()
    base = tempfile.mkdtemp(prefix="cqmux-pg-")
    _write(path_file, base + "\n")
    return base


def _cmd_start(state_dir):
    os.makedirs(state_dir, exist_ok=True)
    port = None
    port_file = os.path.join(state_dir, "port")
    if os.path.exists(port_file):
        port = int(open(port_file).read())
    pg = RealPostgres(base_dir=_base_dir(state_dir), port=port)
    pg.start()
    # The postmaster must outlive this command: detach from the Popen object.
    pg._proc = None
    _write(os.path.join(state_dir, "port"), "%d\n" % pg.port)
    _write(os.path.join(state_dir, "pid"), "%d\n" % pg.pid)
    _write(os.path.join(state_dir, "conninfo"), pg.conninfo + "\n")
    print("real_postgres: started pid %d on 127.0.0.1:%d (%s)" % (pg.pid, pg.port, state_dir))


def _cmd_stop(state_dir, immediate=False):
    pid_file = os.path.join(state_dir, "pid")
    if not os.path.exists(pid_file):
        print("real_postgres: not running (%s)" % state_dir)
        return
    pg = RealPostgres.__new__(RealPostgres)
    pg.pid = int(open(pid_file).read())
    pg._proc = None
    pg._kill(signal.SIGQUIT if immediate else signal.SIGINT)
    os.unlink(pid_file)
    print("real_postgres: stopped (%s)" % state_dir)


def main(argv):
    if len(argv) != 3 or argv[1] not in ("start", "stop", "destroy"):
        print("usage: real_postgres.py start|stop|destroy DIR", file=sys.stderr)
        return 2
    cmd, state_dir = argv[1], os.path.abspath(argv[2])
    try:
        if cmd == "start":
            _cmd_start(state_dir)
        elif cmd == "stop":
            _cmd_stop(state_dir)
        else:
            _cmd_stop(state_dir, immediate=True)  # no checkpoint: it is deleted next
            path_file = os.path.join(state_dir, "base_dir")
            if os.path.exists(path_file):
                shutil.rmtree(open(path_file).read().strip(), ignore_errors=True)
            shutil.rmtree(state_dir, ignore_errors=True)
    except RuntimeError as e:
        print("real_postgres: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
