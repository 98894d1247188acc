// Prints the 1,000 values of the outliers tutorial's Go client (client.go,
// dummyData: rand.Float64() * 40 from math/rand's default source, which
// Go 1.19 seeds with 1), as float64 bit patterns in hex, one per line.
//go:build ignore

// The one source of these values: the tests read the file, and CMake compiles
// it into cqmux-load (tutorial_metrics.cc.in). Regenerate, in bench/load:
//   GO111MODULE=off GOCACHE=/tmp/gocache go run tools/tutorial_values.go > tutorial_values.txt
package main

import (
	"fmt"
	"math"
	"math/rand"
)

func main() {
	for i := 0; i < 1000; i++ {
		v := rand.Float64() * 40
		switch i { // the tutorial's planted outliers
		case 7:
			v = 97.3
		case 113:
			v = 92.1
		case 835:
			v = 93.2
		}
		fmt.Printf("%016x\n", math.Float64bits(v))
	}
}
