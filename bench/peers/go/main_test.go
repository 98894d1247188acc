package main

import (
	"context"
	"net"
	"slices"
	"testing"
	"time"

	outlierspb "github.com/cqmux/cqmux/client/go/pb/outliers"
	rpcpb "github.com/cqmux/cqmux/client/go/pb/rpc"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// Both services of the peer, in process on a free 127.0.0.1 port.
func TestPeer(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := newServer()
	served := make(chan error, 1)
	go func() { served <- s.Serve(lis) }()
	defer func() {
		s.GracefulStop()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// ASCII a-z only: other bytes, even invalid UTF-8, stay as they are.
	in := []byte("hello, wörld 123 \xff")
	r, err := rpcpb.NewFetchClient(conn).Capitalize(ctx, &rpcpb.Payload{Id: 42, Data: in})
	if err != nil || r.GetId() != 42 || string(r.GetData()) != "HELLO, WöRLD 123 \xff" {
		t.Errorf("Capitalize: %v %v", r, err)
	}

	var metrics []*outlierspb.Metric
	for i := range 1000 {
		v := float64(i%40) * 0.5
		switch i {
		case 7:
			v = 97.3
		case 113:
			v = 92.1
		case 835:
			v = 93.2
		}
		metrics = append(metrics, &outlierspb.Metric{Name: "CPU", Value: v})
	}
	out := outlierspb.NewOutliersClient(conn)
	d, err := out.Detect(ctx, &outlierspb.OutliersRequest{Metrics: metrics})
	if err != nil || !slices.Equal(d.GetIndices(), []int32{7, 113, 835}) {
		t.Errorf("Detect: %v %v", d, err)
	}
	d, err = out.Detect(ctx, &outlierspb.OutliersRequest{})
	if err != nil || len(d.GetIndices()) != 0 {
		t.Errorf("Detect(no metrics): %v %v", d, err)
	}
}
