# `ninja docs`: Doxygen (Debian's doxygen package, installed by scripts/setup)
# over include/sendpath/, warnings as errors; HTML in <build>/docs/html.
# ctest docs runs the same (skipped, saying why, when doxygen is missing).
find_program(DOXYGEN_EXECUTABLE doxygen)
configure_file(${CMAKE_CURRENT_LIST_DIR}/Doxyfile.in ${PROJECT_BINARY_DIR}/Doxyfile @ONLY)
set(_docs_args -DDOXYGEN=${DOXYGEN_EXECUTABLE}
    -DDOXYFILE=${PROJECT_BINARY_DIR}/Doxyfile -DOUT=${PROJECT_BINARY_DIR}/docs)
set(_docs_script -P ${CMAKE_CURRENT_LIST_DIR}/run_doxygen.cmake)
add_custom_target(docs COMMAND ${CMAKE_COMMAND} ${_docs_args} ${_docs_script} VERBATIM
  COMMENT "Doxygen: the public API reference (include/sendpath)")
add_test(NAME docs_public_api
  COMMAND ${CMAKE_COMMAND} ${_docs_args} -DSKIP_IF_MISSING=ON ${_docs_script})
set_tests_properties(docs_public_api PROPERTIES LABELS "docs;install"
  SKIP_REGULAR_EXPRESSION "SKIP: doxygen is not installed")
