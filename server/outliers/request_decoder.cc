// The wire rules below mirror protobuf 3.21's parser (parse_context.h,
// generated outliers.pb.cc, timestamp.pb.cc) case by case:
// - tags: at most 5 bytes, value taken modulo 2^32; tag 0 or an unexpected
//   END_GROUP ends a message, which is an error for a length-delimited one;
// - varints: at most 10 bytes; lengths: at most 5 bytes, the fifth < 8;
// - unknown fields of any field number > 0 and wire type 0, 1, 2, 3, 5 are
//   skipped (groups parsed recursively up to the matching END_GROUP); wire
//   types 6 and 7 and field number 0 are errors;
// - a known field number with the wrong wire type is an unknown field;
// - `name` (proto3 string) must be valid UTF-8; `time` is parsed as a
//   Timestamp message (so it must be well formed); `value` last one wins;
// - every message and group nests one level; more than 100 levels fail.
#include "server/outliers/request_decoder.h"

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "absl/base/optimization.h"
#include "absl/strings/str_cat.h"

namespace cqmux::outliers {
namespace {

constexpr int kRecursionLimit = 100;

enum WireType : uint32_t {
  kVarint = 0,
  kFixed64 = 1,
  kLengthDelimited = 2,
  kStartGroup = 3,
  kEndGroup = 4,
  kFixed32 = 5,
};

constexpr uint32_t MakeTag(uint32_t field, WireType type) {
  return (field << 3) | type;
}

class Decoder {
 public:
  Decoder(const uint8_t* begin, const uint8_t* end) : begin_(begin), end_(end) {}

  absl::Status Run(AlignedBuffer<double>* values) {
    const uint8_t* p = begin_;
    // The output is written through local pointers (not push_back, whose
    // size_ and data_ live in memory the compiler must reload around every
    // store); `values` is brought up to date before anything else touches it.
    double* out = values->data();
    double* out_end = out + values->capacity();
    Shape shape;
    while (p < end_) {
      if (out == out_end) {
        const size_t size = out - values->data();
        values->set_size(size);
        values->reserve(size < 32 ? 64 : 2 * size);
        out = values->data() + size;
        out_end = values->data() + values->capacity();
      }
      uint64_t bits;
      if (end_ - p >= kShapeBytes && shape.Matches(p)) {
        p = MatchRun(shape, p, end_, &out, out_end);
        continue;
      }
      const uint8_t* next = FastMetric(p, end_, &bits);
      if (ABSL_PREDICT_TRUE(next != nullptr)) {
        if (next - p <= kShapeBytes && end_ - p >= kShapeBytes) {
          shape.Learn(p, next);
        }
        std::memcpy(out++, &bits, 8);
        p = next;
        continue;
      }
      // Anything else, in full generality (also a metric the fast path
      // declined, parsed again from its tag).
      uint32_t tag;
      if (!ReadTag(p, end_, &tag)) return Error(p, "bad tag");
      if (tag == MakeTag(1, kLengthDelimited)) {
        uint32_t size;
        if (!ReadSize(p, end_, &size)) return Error(p, "bad metric length");
        const uint8_t* metric_end = p + size;
        bits = 0;
        if (!ParseMetric(p, metric_end, kRecursionLimit - 1, &bits)) {
          return Error(p, "bad metric");
        }
        std::memcpy(out++, &bits, 8);
        p = metric_end;
      } else if (!SkipField(tag, p, end_, kRecursionLimit)) {
        return Error(p, "bad field");
      }
    }
    values->set_size(out - values->data());
    return absl::OkStatus();
  }

 private:
  absl::Status Error(const uint8_t* p, absl::string_view what) const {
    return absl::InvalidArgumentError(
        absl::StrCat("malformed OutliersRequest: ", what, " near byte ",
                     p - begin_, " of ", end_ - begin_));
  }

  // The fastest path: a request's metrics usually all have the same layout
  // (same fields, lengths and varint sizes; only the varints' and the
  // value's bits differ). A Shape remembers the layout of a metric the fast
  // path below accepted, as the bytes its decision depended on: the tag and
  // length bytes in full, the high bit of every varint and name byte (varint
  // ends, ASCII), nothing of the value. A metric equal to it under that mask
  // would take the same decisions in FastMetric, so it is accepted with its
  // value at the same offset, from four masked 8-byte compares.
  static constexpr ptrdiff_t kShapeBytes = 32;

  struct Shape {
    uint64_t mask[kShapeBytes / 8] = {};  // all zero: matches nothing
    uint64_t bits[kShapeBytes / 8] = {~0ull};
    ptrdiff_t size = 0;      // of the whole metric, tag and length included
    ptrdiff_t value_at = 0;  // offset of the value's 8 bytes; 0: no value

    // [p, p + kShapeBytes) must be readable.
    bool Matches(const uint8_t* p) const {
      uint64_t diff = 0;
      for (size_t i = 0; i < kShapeBytes / 8; ++i) {
        diff |= (Load64(p + 8 * i) & mask[i]) ^ bits[i];
      }
      return diff == 0;
    }

    // From the metric [p, metric_end) FastMetric just accepted, at most
    // kShapeBytes long, with [p, p + kShapeBytes) readable.
    void Learn(const uint8_t* p, const uint8_t* metric_end) {
      uint8_t m[kShapeBytes] = {};
      const ptrdiff_t n = metric_end - p;
      std::memset(m, 0xff, n);
      const uint8_t* q = p + 2;
      value_at = 0;
      if (q < metric_end && *q == MakeTag(1, kLengthDelimited)) {
        const uint8_t* const ts_end = q + 2 + q[1];
        for (q += 2; q < ts_end;) {
          ++q;  // the tag
          do m[q - p] = 0x80; while (*q++ & 0x80);
        }
      }
      if (q < metric_end && *q == MakeTag(2, kLengthDelimited)) {
        const uint8_t len = q[1];
        q += 2;
        std::memset(m + (q - p), 0x80, len);
        q += len;
      }
      if (q < metric_end && *q == MakeTag(3, kFixed64)) {
        value_at = q + 1 - p;
        std::memset(m + value_at, 0, 8);
      }
      for (size_t i = 0; i < kShapeBytes / 8; ++i) {
        std::memcpy(&mask[i], m + 8 * i, 8);
        bits[i] = Load64(p + 8 * i) & mask[i];
      }
      size = n;
    }
  };

  // Accepts metrics of `shape` from p on, while they match, fit in
  // [out, out_end) and leave kShapeBytes readable; returns where it stopped.
  // The shape is copied into locals so that its words stay in registers.
  static const uint8_t* MatchRun(const Shape& shape, const uint8_t* p,
                                 const uint8_t* end, double** out_ptr,
                                 double* out_end) {
    const uint64_t m0 = shape.mask[0], m1 = shape.mask[1],
                   m2 = shape.mask[2], m3 = shape.mask[3];
    const uint64_t b0 = shape.bits[0], b1 = shape.bits[1],
                   b2 = shape.bits[2], b3 = shape.bits[3];
    const ptrdiff_t size = shape.size, value_at = shape.value_at;
    double* out = *out_ptr;
    // The last p from which kShapeBytes are readable, as a count of bytes
    // from p (no pointer is formed outside `bytes`).
    ptrdiff_t left = end - p - kShapeBytes;
    while (left >= 0 && out != out_end) {
      const uint64_t diff = ((Load64(p) & m0) ^ b0) |
                            ((Load64(p + 8) & m1) ^ b1) |
                            ((Load64(p + 16) & m2) ^ b2) |
                            ((Load64(p + 24) & m3) ^ b3);
      if (diff != 0) break;
      const uint64_t bits = value_at != 0 ? Load64(p + value_at) : 0;
      std::memcpy(out++, &bits, 8);
      p += size;
      left -= size;
    }
    *out_ptr = out;
    return p;
  }

  // The fast path: one metric of the common shape, returned past its end
  // with its value in *bits, or nullptr to let the general path decide (never
  // an error by itself). The shape, all lengths one byte (< 128):
  //   0a L [0a T (08|10 <varint of at most 8 bytes>)*] [12 N <ASCII>]
  //        [19 <8 bytes>]
  // in this order, each part at most once, filling the L bytes exactly. Every
  // part is what the general path would accept with the same result (a
  // Timestamp of known varint fields, a valid UTF-8 name, the last value),
  // so the decision for such a metric is the same on both paths.
  // It reads up to kOverhang bytes past the metric (whole 8-byte words
  // instead of byte-by-byte bounds checks), hence the first test.
  static constexpr ptrdiff_t kOverhang = 8;

  static const uint8_t* FastMetric(const uint8_t* p, const uint8_t* end,
                                   uint64_t* bits) {
    if (end - p < 2 + kOverhang || p[0] != MakeTag(1, kLengthDelimited) ||
        p[1] >= 0x80) {
      return nullptr;
    }
    // Pointers are formed only once they are known to stay inside `bytes`.
    if (end - p - 2 - kOverhang < p[1]) return nullptr;
    const uint8_t* q = p + 2;
    const uint8_t* const metric_end = q + p[1];
    if (q < metric_end && *q == MakeTag(1, kLengthDelimited)) {
      if (q[1] >= 0x80 || metric_end - q - 2 < q[1]) return nullptr;
      const uint8_t* const ts_end = q + 2 + q[1];
      q += 2;
      while (q < ts_end) {
        if (*q != MakeTag(1, kVarint) && *q != MakeTag(2, kVarint)) {
          return nullptr;
        }
        // The varint's last byte is the first without the high bit.
        const uint64_t stops = ~Load64(q + 1) & 0x8080808080808080ull;
        if (stops == 0) return nullptr;
        q += 2 + (std::countr_zero(stops) >> 3);
      }
      if (q != ts_end) return nullptr;
    }
    if (q < metric_end && *q == MakeTag(2, kLengthDelimited)) {
      const ptrdiff_t n = q[1];
      if (n >= 0x80 || metric_end - q - 2 < n) return nullptr;
      q += 2;
      uint64_t high = 0;
      ptrdiff_t i = 0;
      for (; i + 8 <= n; i += 8) high |= Load64(q + i);
      if (i < n) high |= Load64(q + i) & (~0ull >> (64 - 8 * (n - i)));
      if (high & 0x8080808080808080ull) return nullptr;  // UTF-8: general path
      q += n;
    }
    *bits = 0;
    if (q < metric_end && *q == MakeTag(3, kFixed64)) {
      if (metric_end - q < 9) return nullptr;
      *bits = Load64(q + 1);
      q += 9;
    }
    return q == metric_end ? q : nullptr;
  }

  static uint64_t Load64(const uint8_t* p) {
    uint64_t w;
    std::memcpy(&w, p, 8);  // little-endian, as the wire
    return w;
  }

  static bool ReadTag(const uint8_t*& p, const uint8_t* end, uint32_t* tag) {
    if (p < end && *p < 0x80) {
      *tag = *p++;
      return true;
    }
    uint32_t res = 0;
    for (int i = 0; i < 5; ++i) {
      if (p + i >= end) return false;
      const uint32_t b = p[i];
      res |= (b & 0x7f) << (7 * i);  // the fifth byte's high bits drop out
      if (b < 0x80) {
        p += i + 1;
        *tag = res;
        return true;
      }
    }
    return false;
  }

  // A length prefix that also fits in the remaining bytes.
  static bool ReadSize(const uint8_t*& p, const uint8_t* end, uint32_t* size) {
    uint32_t res = 0;
    for (int i = 0; i < 5; ++i) {
      if (p + i >= end) return false;
      const uint32_t b = p[i];
      if (i == 4 && b >= 8) return false;
      res |= (b & 0x7f) << (7 * i);
      if (b < 0x80) {
        p += i + 1;
        if (res > static_cast<size_t>(end - p)) return false;
        *size = res;
        return true;
      }
    }
    return false;
  }

  static bool SkipVarint(const uint8_t*& p, const uint8_t* end) {
    for (int i = 0; i < 10; ++i) {
      if (p + i >= end) return false;
      if (p[i] < 0x80) {
        p += i + 1;
        return true;
      }
    }
    return false;
  }

  static bool Skip(const uint8_t*& p, const uint8_t* end, size_t n) {
    if (static_cast<size_t>(end - p) < n) return false;
    p += n;
    return true;
  }

  // Skips an unknown field whose tag was just read; `depth` is the nesting
  // budget left at the level containing the field. Returns false for an
  // END_GROUP or zero tag: outside the matching group that is an error.
  static bool SkipField(uint32_t tag, const uint8_t*& p, const uint8_t* end,
                        int depth) {
    if ((tag >> 3) == 0) return false;  // also tag 0 and field-0 END_GROUP
    switch (tag & 7) {
      case kVarint:
        return SkipVarint(p, end);
      case kFixed64:
        return Skip(p, end, 8);
      case kLengthDelimited: {
        uint32_t size;
        if (!ReadSize(p, end, &size)) return false;
        p += size;
        return true;
      }
      case kStartGroup:
        return SkipGroup(tag, p, end, depth - 1);
      case kFixed32:
        return Skip(p, end, 4);
      default:  // END_GROUP out of place, wire types 6 and 7
        return false;
    }
  }

  static bool SkipGroup(uint32_t start_tag, const uint8_t*& p,
                        const uint8_t* end, int depth) {
    if (depth < 0) return false;
    while (p < end) {
      uint32_t tag;
      if (!ReadTag(p, end, &tag)) return false;
      if ((tag & 7) == kEndGroup) return tag == start_tag + 1;
      if (!SkipField(tag, p, end, depth)) return false;
    }
    return false;  // no END_GROUP before the enclosing limit
  }

  // google.protobuf.Timestamp: only its well-formedness matters here.
  static bool ParseTimestamp(const uint8_t*& p, const uint8_t* end,
                             int depth) {
    if (depth < 0) return false;
    while (p < end) {
      uint32_t tag;
      if (!ReadTag(p, end, &tag)) return false;
      if (tag == MakeTag(1, kVarint) || tag == MakeTag(2, kVarint)) {
        if (!SkipVarint(p, end)) return false;
      } else if (!SkipField(tag, p, end, depth)) {
        return false;
      }
    }
    return true;
  }

  static bool ParseMetric(const uint8_t*& p, const uint8_t* end, int depth,
                          uint64_t* value_bits) {
    if (depth < 0) return false;
    while (p < end) {
      uint32_t tag;
      if (!ReadTag(p, end, &tag)) return false;
      switch (tag) {
        case MakeTag(3, kFixed64):
          if (end - p < 8) return false;
          std::memcpy(value_bits, p, 8);  // little-endian, as the wire
          p += 8;
          break;
        case MakeTag(1, kLengthDelimited): {
          uint32_t size;
          if (!ReadSize(p, end, &size)) return false;
          const uint8_t* ts_end = p + size;
          if (!ParseTimestamp(p, ts_end, depth - 1)) return false;
          break;
        }
        case MakeTag(2, kLengthDelimited): {
          uint32_t size;
          if (!ReadSize(p, end, &size)) return false;
          if (!IsValidUtf8(p, size)) return false;
          p += size;
          break;
        }
        default:
          if (!SkipField(tag, p, end, depth)) return false;
      }
    }
    return true;
  }

  // Well-formed UTF-8 (Unicode 3.9, table 3-7): no overlong forms, no
  // surrogates, nothing above U+10FFFF.
  static bool IsValidUtf8(const uint8_t* s, size_t n) {
    size_t i = 0;
    while (i < n) {
      // ASCII fast path, 8 bytes at a time.
      while (i + 8 <= n) {
        uint64_t w;
        std::memcpy(&w, s + i, 8);
        if (w & 0x8080808080808080ull) break;
        i += 8;
      }
      if (i >= n) break;
      const uint8_t c = s[i];
      if (c < 0x80) {
        ++i;
        continue;
      }
      size_t len;
      uint8_t lo = 0x80, hi = 0xBF;  // bounds of the second byte
      if (c < 0xC2) {
        return false;
      } else if (c < 0xE0) {
        len = 2;
      } else if (c < 0xF0) {
        len = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
      } else if (c < 0xF5) {
        len = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
      } else {
        return false;
      }
      if (n - i < len) return false;
      if (s[i + 1] < lo || s[i + 1] > hi) return false;
      for (size_t k = 2; k < len; ++k) {
        if (s[i + k] < 0x80 || s[i + k] > 0xBF) return false;
      }
      i += len;
    }
    return true;
  }

  const uint8_t* begin_;
  const uint8_t* end_;
};

}  // namespace

absl::Status DecodeOutliersRequest(absl::string_view bytes,
                                   AlignedBuffer<double>* values) {
  values->clear();
  // A metric with a value takes at least 11 bytes; the tutorial's ~30.
  values->reserve(bytes.size() / 16 + 16);
  const auto* begin = reinterpret_cast<const uint8_t*>(bytes.data());
  absl::Status st = Decoder(begin, begin + bytes.size()).Run(values);
  if (!st.ok()) values->clear();
  return st;
}

}  // namespace cqmux::outliers
