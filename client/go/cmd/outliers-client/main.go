// Command outliers-client is the outliers tutorial's Go client
// (https://github.com/ardanlabs/python-go/blob/master/grpc/client.go) made
// configurable: it sends N CPU metrics, normally below 40%, with three
// outliers at indices 7, 113 and 835, and logs the indices the server found
// ("outliers at: [7 113 835]" on stderr, as the tutorial's client does).
// By default it sends exactly the tutorial's 1,000 values (seed 1, see
// internal/tutorial). Unlike the original, the metrics really are one second
// apart.
package main

import (
	"context"
	"flag"
	"log"
	"time"

	"github.com/cqmux/cqmux/client/go/internal/clientflags"
	"github.com/cqmux/cqmux/client/go/internal/tutorial"
	pb "github.com/cqmux/cqmux/client/go/pb/outliers"

	"google.golang.org/grpc"
)

var (
	addr    = flag.String("addr", "localhost:50051", "Address of the outliers service")
	size    = flag.Int("n", tutorial.Size, "Number of metrics to send")
	seed    = flag.Int64("seed", tutorial.Seed, "Random seed (1 = the tutorial's values, 0 = time based)")
	timeout = flag.Duration("timeout", 10*time.Second, "Deadline of the call, including waiting for the server")
	tlsArgs = clientflags.RegisterTLS(flag.CommandLine)
)

func main() {
	flag.Parse()
	transport, err := tlsArgs.DialOption()
	if err != nil {
		log.Fatal(err)
	}
	conn, err := grpc.NewClient(*addr, transport)
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()

	s := *seed
	if s == 0 {
		s = time.Now().UnixNano()
	}
	client := pb.NewOutliersClient(conn)
	req := &pb.OutliersRequest{Metrics: tutorial.Metrics(*size, s)}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	// Like the tutorial's grpc.WithBlock(): wait for the server to be
	// reachable (within the deadline) instead of failing at once.
	resp, err := client.Detect(ctx, req, grpc.WaitForReady(true))
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("outliers at: %v", resp.Indices)
}
