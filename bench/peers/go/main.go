// Peer 4: rpc.Fetch/Capitalize and pb.Outliers/Detect on grpc-go, the way
// grpc-go's examples write a server, with the generated stubs of the client
// module (client/go, see the replace directive in go.mod). Built by
// bench/peers/go/CMakeLists.txt (target peer-go, run by bench/compare as
// `peer-go --port=N`).
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"math"
	"net"

	outlierspb "github.com/cqmux/cqmux/client/go/pb/outliers"
	rpcpb "github.com/cqmux/cqmux/client/go/pb/rpc"

	"google.golang.org/grpc"
)

type fetchServer struct {
	rpcpb.UnimplementedFetchServer
}

// Capitalize upper-cases ASCII a-z and leaves every other byte alone
// (bytes.ToUpper would rewrite non-UTF-8 bytes and non-ASCII letters).
func (fetchServer) Capitalize(ctx context.Context, in *rpcpb.Payload) (*rpcpb.Payload, error) {
	data := make([]byte, len(in.Data))
	for i, c := range in.Data {
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		data[i] = c
	}
	return &rpcpb.Payload{Id: in.Id, Data: data}, nil
}

type outliersServer struct {
	outlierspb.UnimplementedOutliersServer
}

// Detect returns the indices of values more than 2 standard deviations from the mean.
func (outliersServer) Detect(ctx context.Context, in *outlierspb.OutliersRequest) (*outlierspb.OutliersResponse, error) {
	out := &outlierspb.OutliersResponse{}
	n := float64(len(in.Metrics))
	if n == 0 {
		return out, nil
	}
	sum := 0.0
	for _, m := range in.Metrics {
		sum += m.Value
	}
	mean := sum / n
	squares := 0.0
	for _, m := range in.Metrics {
		squares += (m.Value - mean) * (m.Value - mean)
	}
	std := math.Sqrt(squares / n)
	for i, m := range in.Metrics {
		if math.Abs(m.Value-mean) > 2*std {
			out.Indices = append(out.Indices, int32(i))
		}
	}
	return out, nil
}

// newServer returns a grpc-go server with both services registered.
func newServer() *grpc.Server {
	s := grpc.NewServer()
	rpcpb.RegisterFetchServer(s, fetchServer{})
	outlierspb.RegisterOutliersServer(s, outliersServer{})
	return s
}

func main() {
	port := flag.Int("port", 50064, "TCP port to listen on (all addresses); GOMAXPROCS sets the threads")
	flag.Parse()
	lis, err := net.Listen("tcp", fmt.Sprintf("0.0.0.0:%d", *port))
	if err != nil {
		log.Fatalf("peer-go: %v", err)
	}
	s := newServer()
	log.Printf("peer-go listening on %s", lis.Addr())
	if err := s.Serve(lis); err != nil {
		log.Fatalf("peer-go: %v", err)
	}
}
