// Prints the 1,000 values of the outliers tutorial's Go client (client.go,
// dummyData: rand.Float64() * 40 from math/rand's default source, which
// Go 1.19 seeded with 1; Go 1.20 and later seed it randomly, so the source is
// seeded with 1 explicitly here), as float64 bit patterns in hex, one per line.
//go:build ignore

// The one source of these values: the tests read the file, and CMake compiles
// it into cqmux-load (tutorial_metrics.cc.in). Regenerate, in bench/load:
//   go run tools/tutorial_values.go > tutorial_values.txt
package main

import (
	"fmt"
	"math"
	"math/rand"
)

func main() {
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 1000; i++ {
		v := rng.Float64() * 40
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
