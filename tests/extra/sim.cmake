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

# `sim --gro`: the receivers coalesce (gro.coalesced > 0 in the JSON) and
# the data still arrives intact; `--sysctl` sets a stack sysctl on both
# stacks and refuses a name the table does not have.
if(TARGET sendpath)
  set(_sim_gro_check ${CMAKE_CURRENT_BINARY_DIR}/sim_gro_check.cmake)
  file(WRITE ${_sim_gro_check} [=[
execute_process(COMMAND ${SENDPATH} sim --size 4M --gro --sysctl net.ipv4.tcp_sack=0 --json --quiet
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "sendpath sim --gro exited with ${rc}: ${err}")
endif()
string(JSON ok GET "${out}" digest_ok)
string(JSON on GET "${out}" gro on)
string(JSON coalesced GET "${out}" gro coalesced)
if(NOT ok STREQUAL "ON" AND NOT ok STREQUAL "true")
  message(FATAL_ERROR "digest_ok is ${ok}")
endif()
if(NOT on STREQUAL "ON" AND NOT on STREQUAL "true")
  message(FATAL_ERROR "gro.on is ${on}")
endif()
if(NOT coalesced GREATER 0)
  message(FATAL_ERROR "gro.coalesced is ${coalesced}: nothing was coalesced")
endif()
execute_process(COMMAND ${SENDPATH} sim --size 64k --sysctl net.ipv4.no_such=1 --quiet
                RESULT_VARIABLE rc2 OUTPUT_QUIET ERROR_VARIABLE err2)
if(NOT rc2 EQUAL 2)
  message(FATAL_ERROR "an unknown --sysctl was accepted (exit ${rc2})")
endif()
]=])
  add_test(NAME cli_sim_gro_and_sysctl
           COMMAND ${CMAKE_COMMAND} -DSENDPATH=$<TARGET_FILE:sendpath> -P ${_sim_gro_check})
  set_tests_properties(cli_sim_gro_and_sysctl PROPERTIES LABELS "cli" TIMEOUT 300)
endif()

# `sim --fail-alloc`: allocations of every kind fail one in 50 on both
# stacks over a lossy link; the transfer still arrives intact and the JSON
# counts the failures. A malformed spec is refused with exit 2.
if(TARGET sendpath)
  set(_sim_fail_check ${CMAKE_CURRENT_BINARY_DIR}/sim_fail_alloc_check.cmake)
  file(WRITE ${_sim_fail_check} [=[
execute_process(COMMAND ${SENDPATH} sim --size 2M --rate 100m --rtt 2ms --loss 0.01
                        --fail-alloc all:1/50@3 --json --quiet
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message(STATUS "${out}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "sendpath sim --fail-alloc exited with ${rc}: ${err}")
endif()
string(JSON ok GET "${out}" digest_ok)
if(NOT ok STREQUAL "ON" AND NOT ok STREQUAL "true")
  message(FATAL_ERROR "digest_ok is ${ok}")
endif()
string(JSON failed GET "${out}" fail_alloc skb failed)
string(JSON calls GET "${out}" fail_alloc skb calls)
if(failed LESS 10 OR calls LESS 1000)
  message(FATAL_ERROR "expected skb allocations to fail one in 50: ${failed} of ${calls}")
endif()
execute_process(COMMAND ${SENDPATH} sim --size 1M --fail-alloc disk:1/2 --quiet
                RESULT_VARIABLE rc2 OUTPUT_VARIABLE out2 ERROR_VARIABLE err2)
if(NOT rc2 EQUAL 2 OR NOT err2 MATCHES "unknown allocation kind")
  message(FATAL_ERROR "a bad --fail-alloc gave ${rc2}: ${err2}")
endif()
]=])
  add_test(NAME cli_sim_fail_alloc
           COMMAND ${CMAKE_COMMAND} -DSENDPATH=$<TARGET_FILE:sendpath> -P ${_sim_fail_check})
  set_tests_properties(cli_sim_fail_alloc PROPERTIES LABELS "e2e" TIMEOUT 300)
endif()
