// Parsers of the propagation formats; see trace_context.h.
#include "server/observability/tracing/trace_context.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_split.h"

namespace cqmux::tracing {
namespace {

// -1 unless `c` is a lowercase hex digit: W3C forbids uppercase.
int LowerHex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// Decodes exactly 2*N lowercase hex digits into `out`.
template <size_t N>
bool DecodeHex(absl::string_view hex, std::array<uint8_t, N>* out) {
  if (hex.size() != 2 * N) return false;
  for (size_t i = 0; i < N; ++i) {
    const int hi = LowerHex(hex[2 * i]);
    const int lo = LowerHex(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    (*out)[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return true;
}

template <size_t N>
bool AllZero(const std::array<uint8_t, N>& id) {
  return std::all_of(id.begin(), id.end(), [](uint8_t b) { return b == 0; });
}

bool KeyChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '*' || c == '/';
}

// simple-key = lcalpha 0*255(keychar);
// multi-tenant-key = (lcalpha / DIGIT) 0*240(keychar) "@" lcalpha 0*13(keychar)
bool ValidKey(absl::string_view key) {
  const size_t at = key.find('@');
  if (at == absl::string_view::npos) {
    if (key.empty() || key.size() > 256) return false;
    if (!(key[0] >= 'a' && key[0] <= 'z')) return false;
    return std::all_of(key.begin(), key.end(), KeyChar);
  }
  const absl::string_view tenant = key.substr(0, at);
  const absl::string_view system = key.substr(at + 1);
  if (tenant.empty() || tenant.size() > 241 || system.empty() || system.size() > 14) {
    return false;
  }
  if (!((tenant[0] >= 'a' && tenant[0] <= 'z') || (tenant[0] >= '0' && tenant[0] <= '9'))) {
    return false;
  }
  if (!(system[0] >= 'a' && system[0] <= 'z')) return false;
  return std::all_of(tenant.begin(), tenant.end(), KeyChar) &&
         std::all_of(system.begin(), system.end(), KeyChar);
}

// value = 0*255(chr) nblk-chr; chr = %x20 / nblk-chr;
// nblk-chr = %x21-2B / %x2D-3C / %x3E-7E (printable, no ',' and '=').
bool ValidValue(absl::string_view value) {
  if (value.empty() || value.size() > 256 || value.back() == ' ') return false;
  return std::all_of(value.begin(), value.end(), [](char c) {
    return c >= 0x20 && c <= 0x7e && c != ',' && c != '=';
  });
}

}  // namespace

std::optional<SpanContext> ParseTraceparent(absl::string_view value) {
  // HTTP's optional whitespace around a header value is not part of it.
  value = absl::StripAsciiWhitespace(value);
  // version "-" trace-id "-" parent-id "-" trace-flags: 2+1+32+1+16+1+2.
  constexpr size_t kLength = 55;
  if (value.size() < kLength) return std::nullopt;
  const int v_hi = LowerHex(value[0]);
  const int v_lo = LowerHex(value[1]);
  if (v_hi < 0 || v_lo < 0) return std::nullopt;
  const int version = v_hi << 4 | v_lo;
  if (version == 0xff) return std::nullopt;
  // Version 00 is exactly 55 characters; a later version may append fields,
  // which must be introduced by a dash.
  if (version == 0 && value.size() != kLength) return std::nullopt;
  if (value.size() > kLength && value[kLength] != '-') return std::nullopt;
  if (value[2] != '-' || value[35] != '-' || value[52] != '-') return std::nullopt;
  SpanContext context;
  std::array<uint8_t, 1> flags;
  if (!DecodeHex(value.substr(3, 32), &context.trace_id) ||
      !DecodeHex(value.substr(36, 16), &context.span_id) ||
      !DecodeHex(value.substr(53, 2), &flags)) {
    return std::nullopt;
  }
  if (AllZero(context.trace_id) || AllZero(context.span_id)) return std::nullopt;
  context.sampled = (flags[0] & 0x01) != 0;
  return context;
}

bool ValidTraceState(absl::string_view value) {
  if (value.size() > kMaxTraceStateBytes) return false;
  std::vector<absl::string_view> keys;
  for (absl::string_view member : absl::StrSplit(value, ',')) {
    // Blanks (space, tab) may surround members; empty members are allowed.
    member = absl::StripAsciiWhitespace(member);
    if (member.empty()) continue;
    const size_t eq = member.find('=');
    if (eq == absl::string_view::npos) return false;
    const absl::string_view key = member.substr(0, eq);
    if (!ValidKey(key) || !ValidValue(member.substr(eq + 1))) return false;
    if (std::find(keys.begin(), keys.end(), key) != keys.end()) return false;
    keys.push_back(key);
    if (keys.size() > 32) return false;
  }
  return true;
}

std::optional<SpanContext> ParseGrpcTraceBin(absl::string_view bytes) {
  if (bytes.empty() || bytes[0] != 0) return std::nullopt;  // version 0
  SpanContext context;
  bool have_trace = false;
  bool have_span = false;
  size_t pos = 1;
  while (pos < bytes.size()) {
    const uint8_t field = static_cast<uint8_t>(bytes[pos]);
    const absl::string_view rest = bytes.substr(pos + 1);
    if (field == 0 && rest.size() >= 16) {
      std::copy_n(rest.data(), 16, context.trace_id.begin());
      have_trace = true;
      pos += 17;
    } else if (field == 1 && rest.size() >= 8) {
      std::copy_n(rest.data(), 8, context.span_id.begin());
      have_span = true;
      pos += 9;
    } else if (field == 2 && !rest.empty()) {
      context.sampled = (static_cast<uint8_t>(rest[0]) & 0x01) != 0;
      pos += 2;
    } else if (field <= 2) {
      return std::nullopt;  // a known field cut short
    } else {
      break;  // an unknown field: its length is unknown, so stop here
    }
  }
  if (!have_trace || !have_span || AllZero(context.trace_id) ||
      AllZero(context.span_id)) {
    return std::nullopt;
  }
  return context;
}

std::string ToHex(const uint8_t* data, size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex(2 * size, '0');
  for (size_t i = 0; i < size; ++i) {
    hex[2 * i] = kDigits[data[i] >> 4];
    hex[2 * i + 1] = kDigits[data[i] & 0xf];
  }
  return hex;
}

}  // namespace cqmux::tracing
