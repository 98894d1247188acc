# cmake -DPYTHON3=python3 -DVENV=dir -DPACKAGE=client/python -DSTAMP=file -P make_venv.cmake
#
# Creates the venv VENV with PYTHON3 unless a working one is there, installs
# PACKAGE[test] into it with pip (which builds the package: grpcio-tools
# generates cqmux.pb) and touches STAMP. pip uses the machine's configuration.
foreach(_var PYTHON3 VENV PACKAGE STAMP)
  if(NOT DEFINED ${_var})
    message(FATAL_ERROR "make_venv.cmake: -D${_var}=... is required")
  endif()
endforeach()

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
  COMMAND ${_python} -m pip install --disable-pip-version-check -q "${PACKAGE}[test]"
  COMMAND_ERROR_IS_FATAL ANY)
file(TOUCH ${STAMP})
