#!/usr/bin/python3
"""The users tutorial's sample client: creates a user with `ip` metadata, then
streams GetUsers for the given names, with a deadline on every call."""
import sys

import _common  # noqa: F401
import grpc
from cqmux.pb import users_pb2_grpc as users_service
from cqmux.pb import users_types_pb2 as users_messages


def main():
    p = _common.parser(__doc__)
    p.add_argument("--timeout", type=float, default=10.0, help="deadline of each call (s)")
    p.add_argument("--ip", default="127.0.0.1", help="value of the ip metadata")
    p.add_argument("--email", default="")
    p.add_argument("username", help="user to create")
    p.add_argument("lookup", nargs="*", help="users to fetch afterwards (names)")
    args = p.parse_args()
    with grpc.insecure_channel(args.target) as channel:
        try:
            grpc.channel_ready_future(channel).result(timeout=args.timeout)
        except grpc.FutureTimeoutError:
            sys.exit("Error connecting to server")
        stub = users_service.UsersStub(channel)
        metadata = [("ip", args.ip)]
        try:
            response = stub.CreateUser(
                users_messages.CreateUserRequest(username=args.username, email=args.email),
                metadata=metadata, timeout=args.timeout)
            print("User created:", response.user.username, "user_id", response.user.user_id)
            request = users_messages.GetUsersRequest(
                user=[users_messages.User(username=name) for name in args.lookup])
            for resp in stub.GetUsers(request, metadata=metadata, timeout=args.timeout):
                print(resp.user.username, resp.user.user_id)
        except grpc.RpcError as e:
            print("%s: %s" % (e.code().name, e.details()), file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
