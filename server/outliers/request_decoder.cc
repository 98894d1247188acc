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
#include <cstdint>
#include <cstring>

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
    while (p < end_) {
      uint32_t tag;
      if (!ReadTag(p, end_, &tag)) return Error(p, "bad tag");
      if (tag == MakeTag(1, kLengthDelimited)) {
        uint32_t size;
        if (!ReadSize(p, end_, &size)) return Error(p, "bad metric length");
        const uint8_t* metric_end = p + size;
        uint64_t bits = 0;
        if (!ParseMetric(p, metric_end, kRecursionLimit - 1, &bits)) {
          return Error(p, "bad metric");
        }
        values->push_back(std::bit_cast<double>(bits));
        p = metric_end;
      } else if (!SkipField(tag, p, end_, kRecursionLimit)) {
        return Error(p, "bad field");
      }
    }
    return absl::OkStatus();
  }

 private:
  absl::Status Error(const uint8_t* p, absl::string_view what) const {
    return absl::InvalidArgumentError(
        absl::StrCat("malformed OutliersRequest: ", what, " near byte ",
                     p - begin_, " of ", end_ - begin_));
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
