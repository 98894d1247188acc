// Package clientflags holds the connection flags the module's commands share:
// -tls, -tls-ca, -tls-cert, -tls-key and -tls-server-name for servers that
// serve TLS or mutual TLS (cqmux-server --tls-cert/--tls-key/--tls-client-ca),
// and -token for servers that protect writes (cqmux-server --auth-tokens).
package clientflags

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"os"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// TLS is the TLS flags of a command.
type TLS struct {
	Enabled    bool   // -tls: TLS with the system's root certificates
	CA         string // -tls-ca: PEM roots that sign the server's certificate (implies -tls)
	Cert       string // -tls-cert: PEM client certificate for mutual TLS (implies -tls)
	Key        string // -tls-key: its private key
	ServerName string // -tls-server-name: the name to verify instead of the target's host
}

// RegisterTLS defines the TLS flags on fs.
func RegisterTLS(fs *flag.FlagSet) *TLS {
	t := &TLS{}
	fs.BoolVar(&t.Enabled, "tls", false, "Connect with TLS, verifying the server with the system's roots")
	fs.StringVar(&t.CA, "tls-ca", "", "PEM root certificate(s) that sign the server's (implies -tls)")
	fs.StringVar(&t.Cert, "tls-cert", "", "PEM client certificate for mutual TLS (implies -tls)")
	fs.StringVar(&t.Key, "tls-key", "", "PEM private key of -tls-cert")
	fs.StringVar(&t.ServerName, "tls-server-name", "",
		"Name the server's certificate must carry, instead of the target's host")
	return t
}

// On reports whether any flag asks for TLS.
func (t *TLS) On() bool {
	return t.Enabled || t.CA != "" || t.Cert != "" || t.Key != ""
}

// Credentials returns the transport credentials the flags ask for: insecure
// (plaintext) unless one of them asks for TLS. Files are read here, so a bad
// path is reported before any call.
func (t *TLS) Credentials() (credentials.TransportCredentials, error) {
	if !t.On() {
		if t.ServerName != "" {
			return nil, errors.New("-tls-server-name needs -tls (or -tls-ca)")
		}
		return insecure.NewCredentials(), nil
	}
	config := &tls.Config{ServerName: t.ServerName, MinVersion: tls.VersionTLS12}
	if t.CA != "" {
		pem, err := os.ReadFile(t.CA)
		if err != nil {
			return nil, fmt.Errorf("-tls-ca: %w", err)
		}
		config.RootCAs = x509.NewCertPool()
		if !config.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("-tls-ca: %s holds no PEM certificate", t.CA)
		}
	}
	if (t.Cert == "") != (t.Key == "") {
		return nil, errors.New("-tls-cert and -tls-key go together")
	}
	if t.Cert != "" {
		pair, err := tls.LoadX509KeyPair(t.Cert, t.Key)
		if err != nil {
			return nil, fmt.Errorf("-tls-cert/-tls-key: %w", err)
		}
		config.Certificates = []tls.Certificate{pair}
	}
	return credentials.NewTLS(config), nil
}

// DialOption is grpc.WithTransportCredentials(t.Credentials()).
func (t *TLS) DialOption() (grpc.DialOption, error) {
	creds, err := t.Credentials()
	if err != nil {
		return nil, err
	}
	return grpc.WithTransportCredentials(creds), nil
}

// RegisterToken defines -token on fs, default $CQMUX_TOKEN.
func RegisterToken(fs *flag.FlagSet) *string {
	return fs.String("token", os.Getenv("CQMUX_TOKEN"),
		`Write token, sent as "authorization: Bearer TOKEN" on every call (default $CQMUX_TOKEN)`)
}

// TokenOption returns the dial options that send token on every call: none
// for an empty token.
func TokenOption(token string) []grpc.DialOption {
	if token == "" {
		return nil
	}
	return []grpc.DialOption{grpc.WithPerRPCCredentials(bearer(token))}
}

// bearer sends "authorization: Bearer TOKEN". It does not require transport
// security, so that it also works through a TLS-terminating proxy or in a
// test on plaintext; the server decides what it accepts.
type bearer string

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}

func (bearer) RequireTransportSecurity() bool { return false }
