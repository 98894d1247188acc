"""What the example clients share: --target, the TLS options and the token."""
import argparse
import os

import cqmux


def parser(description):
    p = argparse.ArgumentParser(description=description,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--target", default=cqmux.DEFAULT_TARGET,
                   help="server address (default %(default)s)")
    tls = p.add_argument_group("TLS and tokens")
    tls.add_argument("--tls", action="store_true",
                     help="connect with TLS, verifying the server with the system's roots")
    tls.add_argument("--tls-ca", metavar="FILE",
                     help="PEM root certificate(s) that sign the server's (implies --tls)")
    tls.add_argument("--tls-cert", metavar="FILE",
                     help="PEM client certificate for mutual TLS (implies --tls)")
    tls.add_argument("--tls-key", metavar="FILE", help="PEM private key of --tls-cert")
    tls.add_argument("--tls-server-name", metavar="NAME",
                     help="name the server's certificate must carry instead of the target's host")
    tls.add_argument("--token", default=os.environ.get("CQMUX_TOKEN") or None,
                     help='write token, sent as "authorization: Bearer TOKEN" on every call '
                          "(default $CQMUX_TOKEN)")
    return p


def channel(args):
    """The channel the parsed options ask for (cqmux.channel)."""
    if bool(args.tls_cert) != bool(args.tls_key):
        raise SystemExit("error: --tls-cert and --tls-key go together")
    if args.tls_server_name and not (args.tls or args.tls_ca or args.tls_cert):
        raise SystemExit("error: --tls-server-name needs --tls (or --tls-ca)")
    try:
        return cqmux.channel(args.target, tls=args.tls, ca=args.tls_ca, cert=args.tls_cert,
                             key=args.tls_key, server_name=args.tls_server_name,
                             token=args.token)
    except ValueError as e:
        raise SystemExit("error: %s" % e)
