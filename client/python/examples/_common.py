"""What the example clients share: the --target option."""
import argparse

import cqmux


def parser(description):
    p = argparse.ArgumentParser(description=description,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--target", default=cqmux.DEFAULT_TARGET,
                   help="server address (default %(default)s)")
    return p
