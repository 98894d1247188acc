# Creates or refreshes a Python venv of the build (never a system Python):
#
#   cmake -DPYTHON3=python3 -DVENV=dir -DSTAMP=file
#         (-DPACKAGE=dir | -DREQUIREMENTS=file) -P cmake/make_venv.cmake
#
# Creates VENV with PYTHON3 unless a working venv is there (refusing to
# replace a directory that is not one), then pip-installs into it either the
# package PACKAGE with its [test] extra (pip builds it) or the pinned
# REQUIREMENTS, and touches STAMP. pip uses the machine's configuration.
foreach(_var PYTHON3 VENV STAMP)
  if(NOT DEFINED ${_var})
    message(FATAL_ERROR "make_venv.cmake: -D${_var}=... is required")
  endif()
endforeach()
if(DEFINED PACKAGE AND NOT DEFINED REQUIREMENTS)
  set(_what "${PACKAGE}[test]")
elseif(DEFINED REQUIREMENTS AND NOT DEFINED PACKAGE)
  set(_what -r ${REQUIREMENTS})
else()
  message(FATAL_ERROR "make_venv.cmake: give exactly one of -DPACKAGE=... and -DREQUIREMENTS=...")
endif()

file(REMOVE ${STAMP})
set(_python ${VENV}/bin/python)
set(_usable FALSE)
if(EXISTS ${VENV}/pyvenv.cfg AND EXISTS ${_python})
  execute_process(COMMAND ${_python} -c "import sys; sys.exit(sys.prefix == sys.base_prefix)"
    RESULT_VARIABLE _rc OUTPUT_QUIET ERROR_QUIET)
  if(_rc EQUAL 0)
    set(_usable TRUE)
  endif()
endif()
if(NOT _usable)
  if(EXISTS ${VENV} AND NOT EXISTS ${VENV}/pyvenv.cfg)
    file(GLOB _contents ${VENV}/*)
    if(_contents)
      message(FATAL_ERROR "${VENV} exists and is not a Python venv: not replacing it")
    endif()
  endif()
  message(STATUS "Creating the Python venv ${VENV} with ${PYTHON3}")
  execute_process(COMMAND ${PYTHON3} -m venv --clear ${VENV} COMMAND_ERROR_IS_FATAL ANY)
endif()
execute_process(
  COMMAND ${_python} -m pip install --disable-pip-version-check -q ${_what}
  COMMAND_ERROR_IS_FATAL ANY)
file(TOUCH ${STAMP})
