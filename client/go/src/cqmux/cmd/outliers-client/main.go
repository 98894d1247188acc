// Command outliers-client is the outliers tutorial's Go client
// (https://github.com/ardanlabs/python-go/blob/master/grpc/client.go) made
// configurable: it sends N CPU metrics, normally below 40%, with three
// outliers at indices 7, 113 and 835, and logs the indices the server found.
// Unlike the original, the metrics really are one second apart.
package main

import (
	"context"
	"flag"
	"log"
	"math/rand"
	"time"

	pb "cqmux/pb/outliers"

	"github.com/golang/protobuf/ptypes/timestamp"
	"google.golang.org/grpc"
)

var (
	addr    = flag.String("addr", "localhost:50051", "Address of the outliers service")
	size    = flag.Int("n", 1000, "Number of metrics to send")
	seed    = flag.Int64("seed", 0, "Random seed (0 = time based)")
	timeout = flag.Duration("timeout", 10*time.Second, "Deadline of the call")
)

func main() {
	flag.Parse()
	conn, err := grpc.Dial(*addr, grpc.WithInsecure(), grpc.WithBlock())
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()

	client := pb.NewOutliersClient(conn)
	req := &pb.OutliersRequest{Metrics: dummyData(*size)}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	resp, err := client.Detect(ctx, req)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("outliers at: %v", resp.Indices)
}

func dummyData(size int) []*pb.Metric {
	s := *seed
	if s == 0 {
		s = time.Now().UnixNano()
	}
	rng := rand.New(rand.NewSource(s))
	out := make([]*pb.Metric, size)
	t := time.Date(2020, 5, 22, 14, 13, 11, 0, time.UTC)
	for i := 0; i < size; i++ {
		out[i] = &pb.Metric{
			Time: &timestamp.Timestamp{Seconds: t.Unix(), Nanos: int32(t.Nanosecond())},
			Name: "CPU",
			// normally we're below 40% CPU utilization
			Value: rng.Float64() * 40,
		}
		t = t.Add(time.Second)
	}
	// Create some outliers
	for index, value := range map[int]float64{7: 97.3, 113: 92.1, 835: 93.2} {
		if index < size {
			out[index].Value = value
		}
	}
	return out
}
