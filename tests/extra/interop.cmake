# The sendpath command against Linux through scripts/netns-lab (label
# interop; skipped without root).
if(TARGET sendpath)
  add_test(NAME interop_cli_send_serve
           COMMAND ${PROJECT_SOURCE_DIR}/tests/interop/cli_check.sh $<TARGET_FILE:sendpath>
                   ${PROJECT_SOURCE_DIR}/scripts/netns-lab)
  set_tests_properties(interop_cli_send_serve PROPERTIES LABELS interop SKIP_RETURN_CODE 77
                       TIMEOUT 240)
endif()
