#!/usr/bin/python3
"""Times numpy's find_outliers (the tutorial's Python server) at the sizes
outliers_benchmark uses, on the same distribution (uniform [0, 40) with
planted outliers), and prints ns per value.

Run with Debian's interpreter: taskset -c 1 /usr/bin/python3 numpy_outliers.py [sizes...]
"""
import sys
import time
import timeit

import numpy as np


def find_outliers(data):
    """Return indices where values more than 2 standard deviations from mean"""
    out = np.where(np.abs(data - data.mean()) > 2 * data.std())
    return out[0]


def main():
    sizes = [int(a) for a in sys.argv[1:]] or [1000, 100000, 10000000]
    print(f"numpy {np.__version__}, python {sys.version.split()[0]}")
    rng = np.random.default_rng(1)
    for n in sizes:
        d = rng.random(n) * 40.0
        d[7::997] = 95.0
        find_outliers(d)  # warm up
        # Enough repetitions for ~0.2 s per sample; best of 5 samples of
        # process CPU time (what Google Benchmark's "CPU" column reports, so
        # both are comparable on a shared machine).
        number = max(1, int(2e7 // (n * 10)))
        best = min(timeit.repeat(lambda: find_outliers(d), number=number, repeat=5,
                                 timer=time.process_time))
        per_call = best / number
        print(f"find_outliers n={n:>9}: {per_call * 1e6:12.1f} us/call "
              f"{per_call * 1e9 / n:8.3f} ns/value")


if __name__ == "__main__":
    main()
