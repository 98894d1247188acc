"""Runs the README's example commands against a real cqmux-server, so that the
README cannot drift from what the tools do. (Its "Server flags" block is
checked against --help by ServerBinaryTest.ReadmeShowsTheHelpVerbatim.)

Every ```sh block of the sections "Calling it", "Load testing and
benchmarks" and "HTTP gateway and web console" runs, line by line, in order, as a newcomer would paste it, with
`localhost:50051` pointing at a server started for this test (literally in
the commands, and through CQMUX_TARGET for the CLI's default), `localhost:8080`
at its HTTP gateway, and build/
meaning the build under test (CQMUX_BUILD_DIR; build/venv is CQMUX_VENV,
which a sanitizer build shares with the release build); build/bin is on PATH,
as the README asks, and so is the go command (CQMUX_GO) with the build's Go
environment. A block preceded by `<!-- readme-test: skip (reason) -->` is not
run (the reason says what covers it instead). Per line:
  - the exit code must be 0, or N when the comment says "(exit code N)";
  - a comment "# → TEXT" means stdout or stderr must contain TEXT;
  - `cd DIR` changes the directory for the rest of the block;
  - a line ending in `&` runs in the background: the next line starts only
    once it wrote its first line to stderr (our CLI's watch says when it is
    live), and `wait` waits for it (exit code 0 required).
"""
import os
import re
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "interop"))
import cqmux_server  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
BUILD = os.path.abspath(os.environ["CQMUX_BUILD_DIR"])
VENV = os.path.abspath(os.environ["CQMUX_VENV"])
GO_BIN_DIR = os.path.dirname(os.environ["CQMUX_GO"])
SECTIONS = ("## Calling it", "## Load testing and benchmarks", "## HTTP gateway and web console")
SKIP = re.compile(r"<!-- readme-test: skip \((.+)\) -->")
LINE_TIMEOUT_S = 300


def readme_blocks():
    """[(section, [logical line, ...])] for each runnable sh block."""
    with open(os.path.join(REPO, "README.md")) as f:
        lines = f.read().split("\n")
    blocks, section, i = [], None, 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("## "):
            section = line if line in SECTIONS else None
        if section and line == "```sh":
            skipped = any(SKIP.search(prev) for prev in lines[max(0, i - 2):i])
            body = []
            i += 1
            while lines[i] != "```":
                body.append(lines[i])
                i += 1
            if not skipped:
                blocks.append((section, join_continuations(body)))
        i += 1
    return blocks


def join_continuations(body):
    out, pending = [], ""
    for line in body:
        if line.endswith("\\"):
            pending += line[:-1] + " "
        else:
            out.append(pending + line)
            pending = ""
    return [line for line in out if line.strip()]


def split_comment(line):
    """('command', 'comment'): the comment starts at a " #" outside quotes."""
    quote = None
    for pos, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (pos == 0 or line[pos - 1] == " "):
            return line[:pos].rstrip(), line[pos + 1:].strip()
    return line.rstrip(), ""


def http_port(server):
    """The HTTP gateway's port, from the server's log line (polled, bounded)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        m = re.search(r"http gateway listening on \S+ \(port (\d+)\)", server.log())
        if m:
            return int(m.group(1))
        time.sleep(0.01)
    raise RuntimeError("no HTTP port in the server log:\n" + server.log())


class ReadmeExamples(unittest.TestCase):
    def test_every_example_command(self):
        blocks = readme_blocks()
        self.assertGreaterEqual(len(blocks), 5, "README sections or blocks not found")
        env = dict(os.environ, PATH=os.pathsep.join([os.path.join(BUILD, "bin"), GO_BIN_DIR,
                                                     os.environ["PATH"]]))
        ran = 0
        with cqmux_server.Server(["--http-listen=127.0.0.1:0"]) as server:
            env["CQMUX_TARGET"] = server.target
            self.http_target = "127.0.0.1:%d" % http_port(server)
            for section, lines in blocks:
                cwd = REPO
                background = []
                for line in lines:
                    command, comment = split_comment(line)
                    with self.subTest(section=section, line=command):
                        cwd = self.run_line(command, comment, cwd, env, server, background)
                        ran += 1
                self.assertEqual(background, [], "a block left a background command: add `wait`")
        print("README: %d example commands ran" % ran)

    def run_line(self, command, comment, cwd, env, server, background):
        shell = command.replace("localhost:50051", server.target).replace(
            "localhost:8080", self.http_target)
        for prefix, path in (("build/venv/", VENV + "/"), ("build/", BUILD + "/")):
            shell = re.sub(r"(^|[\s|])" + prefix, lambda m: m.group(1) + path, shell)
        if shell.startswith("cd "):
            return os.path.normpath(os.path.join(cwd, shell[3:].strip()))
        if shell == "wait":
            while background:
                proc, text = background.pop()
                out, err = proc.communicate(timeout=LINE_TIMEOUT_S)
                self.assertEqual(proc.returncode, 0, text + "\n" + out + err)
                self.check_output(comment, text, out + err)
            return cwd
        expected_rc = 0
        m = re.search(r"\(exit code (\d+)\)", comment)
        if m:
            expected_rc = int(m.group(1))
        if shell.endswith("&"):
            proc = subprocess.Popen(["bash", "-c", shell[:-1]], cwd=cwd, env=env, text=True,
                                    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE)
            first = proc.stderr.readline()  # blocks until the command says it is live
            self.assertTrue(first, "background command wrote nothing to stderr: " + command)
            background.append((proc, command))
            return cwd
        r = subprocess.run(["bash", "-c", shell], cwd=cwd, env=env, text=True,
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=LINE_TIMEOUT_S)
        self.assertEqual(r.returncode, expected_rc,
                         "%s\nstdout:\n%s\nstderr:\n%s" % (command, r.stdout, r.stderr))
        self.check_output(comment, command, r.stdout + r.stderr)
        return cwd

    def check_output(self, comment, command, output):
        m = re.search(r"→ (.+)$", comment)
        if m:
            self.assertIn(m.group(1).strip(), output, command)


if __name__ == "__main__":
    unittest.main(verbosity=2)
