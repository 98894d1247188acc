// Package interop has no code, only tests: they call every method of every
// cqmux service through the generated packages (pb/...) and grpc-go's own
// health client against the real cqmux-server (see internal/testserver),
// including the error paths NOT_FOUND, INVALID_ARGUMENT, ALREADY_EXISTS and
// DEADLINE_EXCEEDED. Each test starts a fresh server (book 123 seeded, no users).
package interop
