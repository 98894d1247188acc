# Build step: console.in.html with the outliers tutorial's 1,000 values
# (bench/load/tutorial_values.txt, hex bits, one per line) in place of
# @TUTORIAL_HEX@, so the page's "Tutorial data" is exactly the tutorial's.
#   cmake -DTEMPLATE=console.in.html -DVALUES=tutorial_values.txt -DOUTPUT=console.html -P make_console.cmake
file(READ "${TEMPLATE}" page)
file(STRINGS "${VALUES}" lines REGEX "^[0-9a-f]+$")
string(JOIN "" hex ${lines})
string(REPLACE "@TUTORIAL_HEX@" "${hex}" page "${page}")
file(WRITE "${OUTPUT}.tmp" "${page}")
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUTPUT}.tmp")
