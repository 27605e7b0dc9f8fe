# The sendpath command against Linux through scripts/netns-lab (label
# interop; skipped without root).
if(TARGET sendpath)
  add_test(NAME interop_cli_send_serve
           COMMAND ${PROJECT_SOURCE_DIR}/tests/interop/cli_check.sh $<TARGET_FILE:sendpath>
                   ${PROJECT_SOURCE_DIR}/scripts/netns-lab)
  set_tests_properties(interop_cli_send_serve PROPERTIES LABELS interop SKIP_RETURN_CODE 77
                       TIMEOUT 240)
endif()

# scripts/compare (issue #15's harness): sendpath's sender beside Linux's
# through one lossy router; the deterministic pattern's counts asserted.
if(TARGET sendpath_preload)
  add_test(NAME interop_compare_every_20th
           COMMAND ${PROJECT_SOURCE_DIR}/tests/interop/compare_check.sh
                   ${PROJECT_SOURCE_DIR}/scripts/compare $<TARGET_FILE:sendpath_preload>)
  set_tests_properties(interop_compare_every_20th PROPERTIES LABELS interop SKIP_RETURN_CODE 77
                       TIMEOUT 420 RUN_SERIAL TRUE)
endif()

# scripts/compare's per-loss attribution: which mechanism repaired each
# drop, asserted for sendpath from its trace on deterministic patterns.
if(TARGET sendpath_preload)
  add_test(NAME interop_compare_losses
           COMMAND ${PROJECT_SOURCE_DIR}/tests/interop/compare_losses_check.sh
                   ${PROJECT_SOURCE_DIR}/scripts/compare $<TARGET_FILE:sendpath_preload>)
  set_tests_properties(interop_compare_losses PROPERTIES LABELS interop SKIP_RETURN_CODE 77
                       TIMEOUT 600 RUN_SERIAL TRUE)
endif()
