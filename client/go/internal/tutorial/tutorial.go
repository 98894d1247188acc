// Package tutorial builds the outliers tutorial's request: 1,000 CPU metrics,
// normally below 40%, with outliers planted at indices 7, 113 and 835, as the
// tutorial's client.go (https://github.com/ardanlabs/python-go/blob/master/grpc/client.go)
// makes them.
package tutorial

import (
	"math/rand"
	"time"

	"github.com/cqmux/cqmux/client/go/pb/outliers"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Seed reproduces the tutorial's values: its client draws from math/rand's
// global source without seeding it, which Go seeded with 1 until Go 1.20.
// These are the values of bench/load/tutorial_values.txt.
const Seed = 1

// Size is the number of metrics the tutorial sends.
const Size = 1000

// Outliers are the indices and values of the tutorial's planted outliers.
var Outliers = map[int]float64{7: 97.3, 113: 92.1, 835: 93.2}

// OutlierIndices is what pb.Outliers/Detect returns for the tutorial's request.
var OutlierIndices = []int32{7, 113, 835}

// Metrics returns n metrics one second apart from 2020-05-22 14:13:11 UTC with
// values rand.Float64()*40 from a source seeded with seed, then overwrites
// the planted outliers (those below n). Metrics(Size, Seed) is the tutorial's
// request, except that its client.go meant the times to be one second apart
// but left them all equal.
func Metrics(n int, seed int64) []*outliers.Metric {
	rng := rand.New(rand.NewSource(seed))
	out := make([]*outliers.Metric, n)
	t := time.Date(2020, 5, 22, 14, 13, 11, 0, time.UTC)
	for i := range out {
		out[i] = &outliers.Metric{
			Time: timestamppb.New(t),
			Name: "CPU",
			// normally we're below 40% CPU utilization
			Value: rng.Float64() * 40,
		}
		t = t.Add(time.Second)
	}
	for index, value := range Outliers {
		if index < n {
			out[index].Value = value
		}
	}
	return out
}
