#!/usr/bin/python3
"""Writes the seed corpus of request_decoder_fuzzer into fuzz_seeds/:
small serialized OutliersRequests exercising every wire feature the decoder
handles. Run: /usr/bin/python3 make_fuzz_seeds.py"""
import os
import struct


def varint(v):
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def tag(field, wire):
    return varint(field << 3 | wire)


def ld(field, body):
    return tag(field, 2) + varint(len(body)) + body


def value(v):
    return tag(3, 1) + struct.pack("<d", v)


def metric(body):
    return ld(1, body)


def tutorial(v, seconds=1590156791):
    return metric(ld(1, tag(1, 0) + varint(seconds)) + ld(2, b"CPU") + value(v))


SEEDS = {
    "empty": b"",
    "tutorial_example": b"".join(tutorial(v) for v in [1, 2, 100, 1, 3, 200, 1]),
    "value_only": metric(value(1.5)) + metric(value(-2.25)),
    "missing_value": metric(ld(2, b"mem")) + metric(b""),
    "repeated_value": metric(value(1) + value(2) + ld(2, b"x") + value(3)),
    "unknown_fields": tag(2, 0) + varint(300) + tag(3, 5) + b"abcd" + tag(4, 1)
    + b"12345678" + ld(5, b"junk") + metric(tag(9, 0) + varint(1) + value(4)),
    "groups": tag(5, 3) + tag(1, 0) + varint(1) + tag(6, 3) + value(1) + tag(6, 4)
    + tag(5, 4) + metric(tag(7, 3) + tag(7, 4) + value(5)),
    "timestamp_nanos": metric(ld(1, tag(1, 0) + varint(1) + tag(2, 0) + varint(999))
                              + value(6)),
    "utf8_name": metric(ld(2, "h\u00e9llo \u20ac \U0001F600".encode()) + value(7)),
    "wrong_wire_types": metric(tag(3, 0) + varint(8) + tag(1, 0) + varint(2)
                               + tag(2, 5) + b"wxyz"),
    "non_minimal": bytes([0x8A, 0x80, 0x80, 0x80, 0x00]) + bytes([0x89, 0x80, 0x00])
    + value(8) + b"",
    "nan_inf": metric(value(float("nan"))) + metric(value(float("inf"))),
    # The decoder's fast path (metrics of the common shape with at least 8
    # bytes after them) next to its near misses.
    "fast_path_shapes": b"".join([
        tutorial(1), tutorial(2, seconds=1 << 55), tutorial(3, seconds=1 << 56),
        metric(ld(1, tag(2, 0) + varint(5) + tag(1, 0) + varint(6))
               + ld(2, b"12345678901234567") + value(4)),
        metric(ld(2, "\u00e9".encode()) + value(5)),
        metric(value(6) + ld(2, b"x") + ld(1, b"")), metric(b""),
        tutorial(7), tutorial(8), tutorial(9)]),
}


def main():
    d = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fuzz_seeds")
    os.makedirs(d, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
    print(f"{len(SEEDS)} seeds in {d}")


if __name__ == "__main__":
    main()
