// Peer 4: rpc.Fetch/Capitalize and pb.Outliers/Detect on grpc-go (Debian's
// golang-google-grpc-dev), the way grpc-go's examples write a server.
// Built offline in GOPATH mode by bench/peers/CMakeLists.txt (target peer-go).
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"math"
	"net"

	"google.golang.org/grpc"

	outlierspb "cqmuxpeer/pb/outliers"
	rpcpb "cqmuxpeer/pb/rpc"
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

func main() {
	port := flag.Int("port", 50064, "TCP port to listen on (all addresses); GOMAXPROCS sets the threads")
	flag.Parse()
	lis, err := net.Listen("tcp", fmt.Sprintf("0.0.0.0:%d", *port))
	if err != nil {
		log.Fatalf("peer-go: %v", err)
	}
	s := grpc.NewServer()
	rpcpb.RegisterFetchServer(s, fetchServer{})
	outlierspb.RegisterOutliersServer(s, outliersServer{})
	log.Printf("peer-go listening on %s", lis.Addr())
	if err := s.Serve(lis); err != nil {
		log.Fatalf("peer-go: %v", err)
	}
}
