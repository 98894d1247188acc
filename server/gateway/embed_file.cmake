# Build step: writes a .cc that defines `absl::string_view NAME()` returning
# the bytes of INPUT, so that the console page and the OpenAPI document are
# shipped inside the binary (no files to install, no network).
#   cmake -DINPUT=file -DOUTPUT=file.cc -DNAME=Function -P embed_file.cmake
file(READ "${INPUT}" hex HEX)
string(LENGTH "${hex}" hex_length)
math(EXPR size "${hex_length} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "(0x[0-9a-f][0-9a-f],){24}" "\\0\n" bytes "${bytes}")
file(WRITE "${OUTPUT}.tmp"
"// Generated from ${INPUT} by embed_file.cmake; do not edit.\n"
"#include \"server/gateway/assets.h\"\n\n"
"namespace cqmux::gateway {\nnamespace {\n"
"const unsigned char kBytes[] = {\n${bytes}0};\n}  // namespace\n\n"
"absl::string_view ${NAME}() {\n"
"  return absl::string_view(reinterpret_cast<const char*>(kBytes), ${size});\n}\n\n"
"}  // namespace cqmux::gateway\n")
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUTPUT}.tmp")
