#!/usr/bin/env python3
"""The users tutorial's client: creates USERNAME with the metadata ip=IP, then
asks GetUsers for each LOOKUP (a name, or a number for a user id) and prints
every reply as protobuf text, followed by a blank line.

With no arguments it creates "tom" and looks him up. The tutorial's demo
(users alexa and christie created beforehand):
    users_client.py tom alexa christie
and its timeout variant, a 10 microsecond deadline on GetUsers:
    users_client.py --timeout=0.00001 tom alexa christie
An error is printed to stderr ("GetUsers failed with StatusCode.NOT_FOUND:
...") with exit status 1."""
import sys

import grpc

import _common
from cqmux.pb import users_pb2_grpc, users_types_pb2


def lookup(arg):
    return users_types_pb2.User(user_id=int(arg)) if arg.isdigit() else \
        users_types_pb2.User(username=arg)


def main():
    p = _common.parser(__doc__)
    p.add_argument("--timeout", type=float, default=10.0,
                   help="deadline of the GetUsers call in seconds (default %(default)g)")
    p.add_argument("--ip", default="127.0.0.1", help="value of the ip metadata of CreateUser")
    p.add_argument("--email", default="")
    p.add_argument("--password", default="")
    p.add_argument("username", nargs="?", default="tom", help="user to create (default tom)")
    p.add_argument("lookup", nargs="*", help="users to fetch afterwards (default: USERNAME)")
    args = p.parse_args()
    with _common.channel(args) as channel:
        try:
            grpc.channel_ready_future(channel).result(timeout=10)
        except grpc.FutureTimeoutError:
            sys.exit("Error connecting to server")
        stub = users_pb2_grpc.UsersStub(channel)
        method = "CreateUser"
        try:
            response = stub.CreateUser(
                users_types_pb2.CreateUserRequest(username=args.username, email=args.email,
                                                  password=args.password),
                metadata=[("ip", args.ip)], timeout=10)
            print("User created:", response.user.username)
            method = "GetUsers"
            request = users_types_pb2.GetUsersRequest(
                user=[lookup(name) for name in args.lookup or [args.username]])
            for reply in stub.GetUsers(request, timeout=args.timeout):
                print(reply, flush=True)
        except grpc.RpcError as e:
            print("%s failed with %s: %s" % (method, e.code(), e.details()), file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
