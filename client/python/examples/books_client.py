#!/usr/bin/env python3
"""The books codelab's command-line client (books.BookService):

  books_client.py list                           list all books
  books_client.py insert ID TITLE AUTHOR         insert a book
  books_client.py get ID                         get a book by its id
  books_client.py delete ID                      delete a book by its id
  books_client.py watch [--count N]              print books as they are inserted

It prints what the codelab's client prints: "Server sent N book(s).", "Server
response:" or "Server stream data received:" and the messages as protobuf
text (--json: as JSON), or "GetBook failed with StatusCode.NOT_FOUND: ..."
(then the exit status is 1)."""
import json
import sys

import grpc
from google.protobuf import json_format

import _common
from cqmux.pb import books_pb2, books_pb2_grpc


def main():
    p = _common.parser(__doc__)
    p.add_argument("--timeout", type=float, default=10.0,
                   help="deadline of each call but watch, in seconds (default %(default)g)")
    p.add_argument("--count", type=int, default=0, help="watch: stop after N books")
    p.add_argument("--json", action="store_true", help="print messages as JSON")
    p.add_argument("command", choices=["list", "insert", "get", "delete", "watch"])
    p.add_argument("args", nargs="*", help="ID, or ID TITLE AUTHOR for insert")
    a = p.parse_args()
    wanted = {"insert": 3, "get": 1, "delete": 1}.get(a.command, 0)
    if len(a.args) != wanted:
        p.error("%s takes %d argument(s)" % (a.command, wanted))
    if wanted and not a.args[0].lstrip("-").isdigit():
        p.error("the book id must be an integer: %r" % a.args[0])

    def show(message):
        if a.json:
            print(json.dumps(json_format.MessageToDict(message), indent=2), flush=True)
        else:
            print(message, flush=True)

    with _common.channel(a) as channel:
        stub = books_pb2_grpc.BookServiceStub(channel)
        method = {"list": "ListBooks", "insert": "InsertBook", "get": "GetBook",
                  "delete": "DeleteBook", "watch": "WatchBooks"}[a.command]
        try:
            if a.command == "list":
                books = stub.List(books_pb2.Empty(), timeout=a.timeout)
                print("Server sent %d book(s).\n" % len(books.books))
                show(books)
            elif a.command == "watch":
                print("Server stream data received:", flush=True)
                stream = stub.Watch(books_pb2.Empty())
                for seen, book in enumerate(stream, 1):
                    show(book)
                    if seen == a.count:
                        stream.cancel()
                        break
            else:
                book_id = int(a.args[0])
                if a.command == "insert":
                    response = stub.Insert(books_pb2.Book(id=book_id, title=a.args[1],
                                                          author=a.args[2]), timeout=a.timeout)
                else:
                    call = stub.Get if a.command == "get" else stub.Delete
                    response = call(books_pb2.BookIdRequest(id=book_id), timeout=a.timeout)
                print("Server response:")
                show(response)
        except grpc.RpcError as e:
            print("%s failed with %s: %s" % (method, e.code(), e.details()), flush=True)
            return 1
        except KeyboardInterrupt:
            return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
