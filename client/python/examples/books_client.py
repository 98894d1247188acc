#!/usr/bin/python3
"""The books codelab's client.py (list, insert, get, delete, watch) with the
codelab's output ("Server sent N book(s)." and JSON); errors go to stderr with
exit status 1."""
import json
import sys

import _common  # noqa: F401
import grpc
from google.protobuf import json_format
from cqmux.pb import books_pb2 as pb
from cqmux.pb import books_pb2_grpc


def as_json(message):
    return json.dumps(json_format.MessageToDict(message), indent=2)


def main():
    p = _common.parser(__doc__)
    p.add_argument("--timeout", type=float, default=10.0)
    p.add_argument("--count", type=int, default=0, help="watch: stop after N books")
    p.add_argument("command", choices=["list", "insert", "get", "delete", "watch"])
    p.add_argument("args", nargs="*")
    a = p.parse_args()
    with grpc.insecure_channel(a.target) as channel:
        stub = books_pb2_grpc.BookServiceStub(channel)
        action = a.command
        try:
            if a.command == "list":
                action = "List books"
                books = stub.List(pb.Empty(), timeout=a.timeout)
                print("Server sent %d book(s)." % len(books.books))
                print(as_json(books))
            elif a.command == "insert":
                book_id, title, author = int(a.args[0]), a.args[1], a.args[2]
                action = "Insert book (%d)" % book_id
                r = stub.Insert(pb.Book(id=book_id, title=title, author=author), timeout=a.timeout)
                print("Server response:")
                print(as_json(r))
            elif a.command in ("get", "delete"):
                book_id = int(a.args[0])
                action = "%s book (%d)" % (a.command.capitalize(), book_id)
                call = stub.Get if a.command == "get" else stub.Delete
                r = call(pb.BookIdRequest(id=book_id), timeout=a.timeout)
                print("Server response:")
                print(as_json(r))
            else:
                action = "Watch books"
                seen = 0
                stream = stub.Watch(pb.Empty())
                for book in stream:
                    print("Server stream data received:")
                    print(as_json(book), flush=True)
                    seen += 1
                    if a.count and seen >= a.count:
                        stream.cancel()
                        break
        except grpc.RpcError as e:
            print("%s: %s: %s" % (action, e.code().name, e.details()), file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
