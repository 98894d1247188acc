package tutorial

import (
	"bufio"
	"math"
	"os"
	"strconv"
	"testing"
	"time"
)

// The repository keeps the tutorial's values as float64 bit patterns; the
// server's tests and cqmux-load use the same file.
const valuesFile = "../../../../bench/load/tutorial_values.txt"

func TestMetricsAreTheTutorials(t *testing.T) {
	f, err := os.Open(valuesFile)
	if os.IsNotExist(err) {
		t.Skipf("%s not found (not in a cqmux checkout)", valuesFile)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var want []float64
	lines := bufio.NewScanner(f)
	for lines.Scan() {
		bits, err := strconv.ParseUint(lines.Text(), 16, 64)
		if err != nil {
			t.Fatalf("%s: %v", valuesFile, err)
		}
		want = append(want, math.Float64frombits(bits))
	}
	if err := lines.Err(); err != nil {
		t.Fatal(err)
	}
	got := Metrics(Size, Seed)
	if len(got) != len(want) {
		t.Fatalf("%d metrics, %s has %d", len(got), valuesFile, len(want))
	}
	for i, m := range got {
		if m.Value != want[i] {
			t.Fatalf("metric %d: %v, want %v", i, m.Value, want[i])
		}
	}
}

func TestMetrics(t *testing.T) {
	got := Metrics(5, 42)
	if len(got) != 5 {
		t.Fatalf("len %d", len(got))
	}
	start := time.Date(2020, 5, 22, 14, 13, 11, 0, time.UTC)
	for i, m := range got {
		if m.Name != "CPU" || m.Value < 0 || m.Value >= 40 {
			t.Errorf("metric %d: %v", i, m)
		}
		if want := start.Add(time.Duration(i) * time.Second); !m.Time.AsTime().Equal(want) {
			t.Errorf("metric %d at %v, want %v", i, m.Time.AsTime(), want)
		}
	}
	if big := Metrics(1000, 42); big[7].Value != 97.3 || big[113].Value != 92.1 || big[835].Value != 93.2 {
		t.Errorf("outliers not planted: %v %v %v", big[7].Value, big[113].Value, big[835].Value)
	}
}
