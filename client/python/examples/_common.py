"""Shared bits of the example clients: finds the cqmux package and parses --target."""
import argparse
import os
import sys

# The package is generated into <build>/python; CQMUX_PYTHONPATH or
# PYTHONPATH may point there, else assume the default build directory.
_default = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..",
                        "build", "python")
sys.path.insert(0, os.environ.get("CQMUX_PYTHONPATH", _default))


def parser(description):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--target", default="localhost:50051", help="server address")
    return p
