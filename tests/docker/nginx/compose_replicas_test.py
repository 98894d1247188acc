#!/usr/bin/env python3
"""docker/compose.replicas.yaml, checked without a container engine (podman here
cannot run compose's bridge networks, see docker/README.md): the file parses, runs
PostgreSQL, three replicas with --store=postgres on it and nginx; nginx's start
command is run as written (its paths and the replicas' names mapped to this
machine) and the nginx.conf it renders from docker/nginx passes `nginx -t`, with
one upstream server per replica service.

Run with Debian's python3 (python3-yaml); ctest sets CQMUX_SOURCE_DIR.
"""
import os
import re
import shutil
import subprocess
import tempfile
import unittest

import yaml

SOURCE_DIR = os.environ["CQMUX_SOURCE_DIR"]
COMPOSE = os.path.join(SOURCE_DIR, "docker", "compose.replicas.yaml")


class ComposeReplicasTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        with open(COMPOSE) as f:
            cls.compose = yaml.safe_load(f)
        cls.services = cls.compose["services"]
        cls.replicas = sorted(s for s in cls.services if re.fullmatch(r"replica\d+", s))

    def test_postgres_and_three_replicas_on_it(self):
        self.assertEqual(self.replicas, ["replica1", "replica2", "replica3"])
        self.assertIn("postgres", self.services["postgres"]["image"])
        self.assertIn("healthcheck", self.services["postgres"])
        for name in self.replicas:
            replica = self.services[name]
            self.assertEqual(replica["image"], "localhost/cqmux:latest", name)
            self.assertIn("--store=postgres", replica["command"], name)
            conninfo = [a for a in replica["command"] if a.startswith("--postgres=")]
            self.assertEqual(len(conninfo), 1, name)
            self.assertIn("host=postgres", conninfo[0], name)
            self.assertEqual(replica["depends_on"]["postgres"]["condition"], "service_healthy")
            self.assertNotIn("ports", replica, "%s: only nginx is published" % name)
        self.assertEqual(self.services["replica1"]["build"]["dockerfile"], "docker/Dockerfile")

    def test_nginx_runs_the_shipped_config_for_every_replica(self):
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        self.assertTrue(os.path.exists(nginx), "nginx missing: run scripts/install-deps test")
        service = self.services["nginx"]
        self.assertEqual(service["volumes"], ["./nginx:/etc/cqmux-nginx:ro"])
        self.assertEqual(service["ports"], ["50051:50051"])
        self.assertEqual(set(service["depends_on"]), set(self.replicas))
        entry = service["entrypoint"]
        self.assertEqual(entry[:2], ["/bin/sh", "-c"])
        script = entry[2]
        # The replicas nginx is given are exactly the replica services.
        named = re.findall(r"\b(replica\d+):50051\b", script)
        self.assertEqual(named, self.replicas)
        work = tempfile.mkdtemp(prefix="cqmux-compose-check-")
        try:
            # The container's paths -> this checkout and a temporary directory; the
            # replicas' names -> loopback addresses; the final `exec nginx ... -g
            # 'daemon off;'` -> `nginx -t` on the same files.
            local = script.replace("/etc/cqmux-nginx", os.path.join(SOURCE_DIR, "docker", "nginx"))
            local = local.replace("/tmp/nginx", work)
            for n, name in enumerate(self.replicas):
                local = local.replace("%s:50051" % name, "127.0.0.%d:50051" % (n + 1))
            local, count = re.subn(r"exec nginx (.*) -g 'daemon off;'$",
                                   r"%s -t -q \1" % nginx, local)
            self.assertEqual(count, 1, "nginx's start command changed: update this test")
            r = subprocess.run(["/bin/sh", "-c", local], capture_output=True, text=True,
                               timeout=60)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            with open(os.path.join(work, "nginx.conf")) as f:
                conf = f.read()
            servers = re.findall(r"^\s*server (\S+) max_fails=\d+ fail_timeout=\S+;$", conf, re.M)
            self.assertEqual(servers, ["127.0.0.%d:50051" % (n + 1)
                                       for n in range(len(self.replicas))])
            self.assertIn("listen 0.0.0.0:50051 http2;", conf)
            self.assertIn("error_log stderr warn;", conf)
        finally:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
