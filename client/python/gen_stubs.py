#!/usr/bin/python3
"""Generates the Python stubs of every cqmux proto at build time.

Writes two trees:
  --flat DIR     protoc's output as is (top-level modules such as books_pb2),
                 which is what the tutorials' own clients import;
  --package DIR  the same modules inside the package cqmux.pb, with protoc's
                 absolute imports of sibling modules rewritten to relative ones.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--protoc", default="protoc")
    parser.add_argument("--plugin", default="/usr/bin/grpc_python_plugin")
    parser.add_argument("--include", default="/usr/include",
                        help="where google/protobuf/*.proto live")
    parser.add_argument("--flat", required=True)
    parser.add_argument("--package", required=True)
    parser.add_argument("protos", nargs="+", help="paths of .proto files; "
                        "each file's directory is its import root")
    args = parser.parse_args()

    os.makedirs(args.flat, exist_ok=True)
    for proto in args.protos:
        root = os.path.dirname(os.path.abspath(proto))
        subprocess.run(
            [args.protoc, "-I", root, "-I", args.include,
             "--python_out=" + args.flat, "--grpc_out=" + args.flat,
             "--plugin=protoc-gen-grpc=" + args.plugin,
             os.path.abspath(proto)],
            check=True)

    ours = {os.path.splitext(os.path.basename(p))[0] + "_pb2" for p in args.protos}
    # protoc writes "import books_pb2 as books__pb2"; inside a package that
    # must be a relative import or it only works with the directory on sys.path.
    absolute = re.compile(r"^import (\w+_pb2) as (\w+)$", re.MULTILINE)

    def relative(match):
        if match.group(1) in ours:
            return "from . import %s as %s" % (match.group(1), match.group(2))
        return match.group(0)

    if os.path.isdir(args.package):
        shutil.rmtree(args.package)
    os.makedirs(args.package)
    with open(os.path.join(args.package, "__init__.py"), "w") as out:
        out.write('"""Generated protobuf and gRPC modules of every cqmux service."""\n')
    for name in sorted(os.listdir(args.flat)):
        if not name.endswith(".py"):
            continue
        with open(os.path.join(args.flat, name)) as src:
            text = absolute.sub(relative, src.read())
        with open(os.path.join(args.package, name), "w") as dst:
            dst.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
