"""Every example client in client/python/examples, run as a user runs it
(`python examples/X.py --target=...` with the installed package), against the
real server; outputs asserted. The tutorials' transcripts on a fresh server
are in tests/interop/tutorial_transcripts_test.py."""
import json
import re
import threading


def test_capitalize_client(run_example):
    r = run_example("capitalize_client.py", stdin="hello\nwörld 1\n")
    assert (r.returncode, r.stderr) == (0, "")
    assert r.stdout == "> < HELLO\n\n> < WöRLD 1\n\n> \n"


def test_users_client_defaults(run_example):
    # The README's command: no arguments creates tom and looks him up.
    r = run_example("users_client.py")
    assert (r.returncode, r.stderr) == (0, "")
    m = re.fullmatch(r'User created: tom\nuser \{\n  username: "tom"\n  user_id: (\d+)\n\}\n\n',
                     r.stdout)
    assert m, r.stdout
    r = run_example("users_client.py")
    assert (r.returncode, r.stdout) == (1, "")
    assert r.stderr.startswith("CreateUser failed with StatusCode.ALREADY_EXISTS: "), r.stderr


def test_users_client(run_example):
    r = run_example("users_client.py", "--email=ex@example.com", "--password=pw", "ex-ann")
    assert r.returncode == 0, r.stderr
    ann_id = int(re.search(r"user_id: (\d+)", r.stdout).group(1))
    r = run_example("users_client.py", "--ip=10.1.2.3", "ex-bob", "ex-ann", str(ann_id), "ex-bob")
    assert r.returncode == 0, r.stderr
    bob_id = int(re.findall(r"user_id: (\d+)", r.stdout)[-1])
    entry = 'user {\n  username: "%s"\n  user_id: %d\n}\n\n'
    assert r.stdout == ("User created: ex-bob\n" + entry % ("ex-ann", ann_id)
                        + entry % ("ex-ann", ann_id) + entry % ("ex-bob", bob_id))
    r = run_example("users_client.py", "ex-carl", "ex-nobody")
    assert (r.returncode, r.stdout) == (1, "User created: ex-carl\n")
    assert r.stderr.startswith("GetUsers failed with StatusCode.NOT_FOUND: "), r.stderr
    r = run_example("users_client.py", "--email=not-an-email", "ex-eve")
    assert r.returncode == 1
    assert r.stderr.startswith("CreateUser failed with StatusCode.INVALID_ARGUMENT: "), r.stderr
    # A GetUsers deadline already past when the call starts (a deadline of a
    # few microseconds may or may not expire first: see the transcripts test).
    r = run_example("users_client.py", "--timeout=-1", "ex-slow")
    assert r.stdout.startswith("User created: ex-slow\n"), r.stdout
    assert r.returncode == 1 and "StatusCode.DEADLINE_EXCEEDED" in r.stderr, r.stderr


def test_books_client(run_example, start_example):
    r = run_example("books_client.py", "insert", "801", "Example Title", "Example Author")
    assert (r.returncode, r.stdout) == (0, "Server response:\n\n"), r.stderr
    r = run_example("books_client.py", "get", "801")
    assert (r.returncode, r.stdout) == (0, 'Server response:\nid: 801\ntitle: "Example Title"\n'
                                           'author: "Example Author"\n\n'), r.stderr
    r = run_example("books_client.py", "--json", "get", "801")
    assert json.loads(r.stdout.split("\n", 1)[1]) == {
        "id": 801, "title": "Example Title", "author": "Example Author"}
    r = run_example("books_client.py", "list")
    assert re.match(r"Server sent \d+ book\(s\)\.\n\nbooks \{\n  id: ", r.stdout), r.stdout
    assert 'books {\n  id: 801\n  title: "Example Title"\n  author: "Example Author"\n}\n' \
        in r.stdout
    r = run_example("books_client.py", "--json", "list")
    assert {"id": 801, "title": "Example Title", "author": "Example Author"} in \
        json.loads(r.stdout.split("\n\n", 1)[1])["books"]
    r = run_example("books_client.py", "insert", "801", "Again", "Someone")
    assert r.returncode == 1
    assert r.stdout.startswith("InsertBook failed with StatusCode.ALREADY_EXISTS: "), r.stdout
    r = run_example("books_client.py", "delete", "801")
    assert (r.returncode, r.stdout) == (0, "Server response:\n\n"), r.stderr
    r = run_example("books_client.py", "get", "801")
    assert (r.returncode, r.stdout) == (
        1, "GetBook failed with StatusCode.NOT_FOUND: No book with id 801 was found\n")
    r = run_example("books_client.py", "get", "x")
    assert r.returncode == 2 and "integer" in r.stderr

    watch = start_example("books_client.py", "--count=2", "watch")
    lines = []
    got_probe = threading.Event()

    def pump():
        for line in watch.stdout:
            lines.append(line)
            if line.startswith("id: 80"):
                got_probe.set()
    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        # The watch starts when the server accepts it, which the client
        # cannot see: insert probes until one is delivered.
        for probe in range(8000, 8020):
            run_example("books_client.py", "insert", str(probe), "probe", "example")
            if got_probe.wait(timeout=0.5):
                break
        else:
            raise AssertionError("no probe delivered to the watcher: %r" % lines)
        run_example("books_client.py", "insert", "8501", "Late", "Example")
        assert watch.wait(timeout=30) == 0, watch.stderr.read()
        reader.join(timeout=30)
    finally:
        if watch.poll() is None:
            watch.kill()
            watch.wait()
    text = "".join(lines)
    assert text.startswith("Server stream data received:\nid: 80"), text
    assert text.endswith('id: 8501\ntitle: "Late"\nauthor: "Example"\n\n'), text
    assert text.count("id: ") == 2, text


def test_displacement_client(run_example):
    r = run_example("displacement_client.py", "0", "0", "3", "4")
    assert (r.returncode, r.stdout) == (0, "distance: 5\n"), r.stderr
    r = run_example("displacement_client.py", "--", "-3", "0", "0", "-4")
    assert (r.returncode, r.stdout) == (0, "distance: 5\n"), r.stderr


def test_request_streaming_client(run_example):
    r = run_example("request_streaming_client.py", "ok:fine", "thirsty:water", "TIRED")
    assert (r.returncode, r.stdout) == (0, "Sent 3 message(s).\n"), r.stderr
    r = run_example("request_streaming_client.py", "HUNGRY:x")
    assert r.returncode == 2 and "unknown status" in r.stderr


def test_outliers_client(run_example):
    r = run_example("outliers_client.py", "--seed", "7")
    assert (r.returncode, r.stdout) == (0, "outliers at: [7, 113, 835]\n"), r.stderr
    r = run_example("outliers_client.py", "-n", "100", "--seed", "7")
    assert (r.returncode, r.stdout) == (0, "outliers at: [7]\n"), r.stderr
