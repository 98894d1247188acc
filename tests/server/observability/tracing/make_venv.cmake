# cmake -DPYTHON3=python3 -DVENV=dir -DREQUIREMENTS=file -DSTAMP=file -P make_venv.cmake
#
# Creates the venv VENV with PYTHON3 unless a working one is there, installs
# the pinned REQUIREMENTS into it with pip and touches STAMP. Nothing is
# installed outside VENV.
foreach(_var PYTHON3 VENV REQUIREMENTS STAMP)
  if(NOT DEFINED ${_var})
    message(FATAL_ERROR "make_venv.cmake: -D${_var}=... is required")
  endif()
endforeach()

file(REMOVE ${STAMP})
set(_python ${VENV}/bin/python)
if(NOT (EXISTS ${VENV}/pyvenv.cfg AND EXISTS ${_python}))
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
  COMMAND ${_python} -m pip install --disable-pip-version-check -q -r ${REQUIREMENTS}
  COMMAND_ERROR_IS_FATAL ANY)
file(TOUCH ${STAMP})
