# `sendpath sim --size 16M --json` must exit 0 and report digest_ok true
# (the command line, the JSON and the transfer checked together). The tool
# is not built in the sanitizer tree (SP_TOOLS=OFF), so the test is skipped
# there.
if(TARGET sendpath)
  set(_sim_check ${CMAKE_CURRENT_BINARY_DIR}/sim_check.cmake)
  file(WRITE ${_sim_check} [=[
execute_process(COMMAND ${SENDPATH} sim --size 16M --json --quiet
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message(STATUS "${out}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "sendpath sim exited with ${rc}: ${err}")
endif()
string(JSON ok ERROR_VARIABLE jerr GET "${out}" digest_ok)
if(jerr)
  message(FATAL_ERROR "output is not the expected JSON object: ${jerr}")
endif()
if(NOT ok STREQUAL "ON" AND NOT ok STREQUAL "true")
  message(FATAL_ERROR "digest_ok is ${ok}")
endif()
string(JSON received GET "${out}" bytes_received)
if(NOT received EQUAL 16777216)
  message(FATAL_ERROR "bytes_received is ${received}, expected 16777216")
endif()
]=])
  add_test(NAME cli_sim_json
           COMMAND ${CMAKE_COMMAND} -DSENDPATH=$<TARGET_FILE:sendpath> -P ${_sim_check})
  set_tests_properties(cli_sim_json PROPERTIES LABELS "e2e" TIMEOUT 300)
endif()
