# Unmodified Debian programs over the LD_PRELOAD shim (issue #18): iperf3,
# curl, socat, nc and nginx against Linux in a namespace, each also run on the
# kernel over a veth pair in the same test for the figure (FIGURE lines in the
# output). One ctest per scenario of tests/interop/programs/run.sh, which
# documents how to run one by hand.
#
# Label interop; exit 77 (skipped, with the reason) without root,
# /dev/net/tun or the program. RUN_SERIAL: ctest -j must not run them beside
# each other or beside the other tests (goodput figures on a 2-core machine).
# Not in the sanitizer tree: an ASan-built shim cannot be preloaded into
# programs that are not (the ASan runtime must come first), and that tree runs
# only -L 'unit|e2e' anyway.
if(TARGET sendpath_preload AND NOT SP_SANITIZE)
  set(_programs_run ${PROJECT_SOURCE_DIR}/tests/interop/programs/run.sh)
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${_programs_run})
  execute_process(COMMAND bash ${_programs_run} --list
                  OUTPUT_VARIABLE _programs RESULT_VARIABLE _rc)
  if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "${_programs_run} --list exited with ${_rc}")
  endif()
  string(REPLACE "\n" ";" _programs "${_programs}")
  foreach(s ${_programs})
    if(s STREQUAL "")
      continue()
    endif()
    add_test(NAME programs_${s}
             COMMAND bash ${_programs_run} $<TARGET_FILE:sendpath_preload> ${s})
    # The runner stops itself after SP_BUDGET_SECONDS (90) and cleans up;
    # ctest's TIMEOUT is only the backstop.
    set_tests_properties(programs_${s} PROPERTIES
      LABELS interop
      SKIP_RETURN_CODE 77
      TIMEOUT 110
      RUN_SERIAL TRUE
      FAIL_REGULAR_EXPRESSION "programs: FAIL")
  endforeach()
endif()
