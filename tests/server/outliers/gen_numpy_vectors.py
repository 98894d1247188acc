#!/usr/bin/python3
"""Writes numpy_vectors.bin: inputs with numpy 1.24's mean, std and outlier
indices (np.where(np.abs(d - d.mean()) > 2 * d.std())[0]), the reference the
C++ kernel must match bit for bit.

Run with Debian's interpreter: /usr/bin/python3 gen_numpy_vectors.py
Format (little-endian): u32 case count, then per case: u32 name length, name,
u64 n, n float64, float64 mean, float64 std, u64 k, k int64 indices.
"""
import os
import struct
import sys

import numpy as np

SIZES = ([1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 31, 33, 63, 64, 65, 100, 127, 128,
          129, 130, 135, 136, 255, 256, 257, 300, 383, 385, 511, 512, 513,
          1000, 1023, 1024, 1025, 2048, 4096, 8191, 8192,
          8193, 8200, 24653])


def find_outliers(d):
    return np.where(np.abs(d - d.mean()) > 2 * d.std())[0]


def naive_sum(d):
    t = 0.0
    for x in d.tolist():
        t += x
    return t


def distributions(rng, n):
    """(name, values) pairs exercising different magnitudes."""
    normal = rng.normal(50.0, 10.0, n)
    normal[rng.integers(0, n, max(1, n // 50))] += rng.choice([-1, 1]) * 45.0
    yield "normal", normal
    yield "tutorial_uniform", rng.random(n) * 40.0
    # Magnitudes from 1e-5 to 1e16: the association order decides the sum.
    yield "wide", rng.standard_normal(n) * 10.0 ** rng.integers(-5, 17, n)
    # Big values that cancel, around small ones.
    cancel = rng.random(n)
    big = rng.integers(0, n, max(1, n // 3))
    cancel[big] = rng.choice([-1.0, 1.0], len(big)) * 1e16 * (1 + rng.random(len(big)))
    yield "cancel", cancel
    yield "offset", 1e9 + rng.standard_normal(n)


def threshold_case(rng, n):
    """Data with one value on numpy's decision boundary, chosen so that a
    naively summed mean/std would classify it differently."""
    for _ in range(40):
        d = 1e6 + rng.standard_normal(n) * 10.0 ** rng.uniform(-3, 1)
        d[1:] += rng.standard_normal(n - 1) * 1e-3

        def is_out(x, summer):
            e = d.copy()
            e[0] = x
            if summer is None:
                return bool(abs(x - e.mean()) > 2 * e.std())
            m = summer(e) / n
            s = np.sqrt(summer((e - m) * (e - m)) / n)
            return bool(abs(x - m) > 2 * s)

        lo, hi = d.mean(), d.mean() + 100 * d.std() + 1.0
        if is_out(lo, None) or not is_out(hi, None):
            continue
        for _ in range(200):  # bisect down to adjacent doubles
            mid = lo + (hi - lo) / 2
            if mid in (lo, hi):
                break
            if is_out(mid, None):
                hi = mid
            else:
                lo = mid
        x = lo
        for _ in range(64):
            for cand in (x, hi):
                if is_out(cand, None) != is_out(cand, naive_sum):
                    e = d.copy()
                    e[0] = cand
                    return e
            x = np.nextafter(x, -np.inf)
            hi = np.nextafter(hi, np.inf)
    return None


def main():
    rng = np.random.default_rng(20240604)
    cases = [("tutorial_example", np.array([1, 2, 100, 1, 3, 200, 1], dtype=np.float64)),
             ("constant_0.1_x1000", np.full(1000, 0.1)),
             ("constant_7_x300", np.full(300, 7.0)),
             ("negative_zero", np.array([-0.0] * 9 + [0.0])),
             ("subnormal", rng.random(777) * 5e-324 * 1000),
             ("tiny_squares_underflow", np.array([0.0, 0.0, 0.0, 1e-200])),
             ("overflowing_sum", np.array([1.5e308, 1.5e308, -1.0, 2.0])),
             ("huge_deviation", np.array([1e200, -1e200, 3.0, 1e154] * 3))]
    dists = ["normal", "tutorial_uniform", "wide", "cancel", "offset"]
    for i, n in enumerate(SIZES):
        gens = dict(distributions(rng, n))
        name = dists[i % len(dists)]
        cases.append((f"{name}_{n}", gens[name]))
        if 100 <= n < 2000 and name != "wide":
            cases.append((f"wide_{n}", gens["wide"]))
    adversarial = 0
    for n in [200, 1000, 8193]:
        d = threshold_case(rng, n)
        if d is not None:
            cases.append((f"threshold_naive_flips_{n}", d))
            adversarial += 1
    if adversarial == 0:
        sys.exit("no threshold case found")

    # The generator must actually exercise pairwise-vs-naive differences.
    with np.errstate(all="ignore"):
        differ = sum(1 for _, d in cases if naive_sum(d) != float(np.sum(d)))
    if differ < 10:
        sys.exit(f"only {differ} cases where naive summation differs")

    out = bytearray(struct.pack("<I", len(cases)))
    with np.errstate(all="ignore"):
        for name, d in cases:
            d = np.ascontiguousarray(d, dtype=np.float64)
            idx = find_outliers(d).astype(np.int64)
            out += struct.pack("<I", len(name)) + name.encode()
            out += struct.pack("<Q", len(d)) + d.tobytes()
            out += struct.pack("<dd", d.mean(), d.std())
            out += struct.pack("<Q", len(idx)) + idx.tobytes()
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "numpy_vectors.bin")
    with open(path, "wb") as f:
        f.write(out)
    print(f"{path}: {len(cases)} cases, {differ} where naive summation differs, "
          f"{adversarial} threshold cases, numpy {np.__version__}")


if __name__ == "__main__":
    main()
