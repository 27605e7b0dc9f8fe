# cmake -DDOXYGEN=... -DDOXYFILE=... -DOUT=... [-DSKIP_IF_MISSING=ON] -P run_doxygen.cmake
# Runs Doxygen and prints its warnings; fails when any warning was given.
# Without doxygen it fails, or (SKIP_IF_MISSING, for ctest) prints a line
# the test's SKIP_REGULAR_EXPRESSION turns into a skip.
if(NOT DOXYGEN OR NOT EXISTS "${DOXYGEN}")
  set(msg "SKIP: doxygen is not installed (scripts/setup installs Debian's doxygen package)")
  if(SKIP_IF_MISSING)
    message("${msg}")
    return()
  endif()
  message(FATAL_ERROR "${msg}")
endif()
file(MAKE_DIRECTORY "${OUT}")
file(REMOVE "${OUT}/warnings.log")
execute_process(COMMAND "${DOXYGEN}" "${DOXYFILE}" RESULT_VARIABLE rc)
if(EXISTS "${OUT}/warnings.log")
  file(READ "${OUT}/warnings.log" warnings)
endif()
if(NOT rc EQUAL 0 OR warnings)
  message(FATAL_ERROR "doxygen failed (warnings are errors for the public headers):\n${warnings}")
endif()
message("docs: ${OUT}/html/index.html")
