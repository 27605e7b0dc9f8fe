# The preload shim (src/preload/): shim_check is a plain program (no sendpath
# in it) run under LD_PRELOAD against Linux peers in a namespace (label
# interop; skipped without root).
if(TARGET sendpath_preload)
  add_executable(shim_check ${PROJECT_SOURCE_DIR}/tests/preload/shim_check.cpp)
  target_link_libraries(shim_check PRIVATE GTest::gtest Threads::Threads)
  add_test(NAME interop_preload_shim
           COMMAND ${PROJECT_SOURCE_DIR}/tests/preload/run.sh $<TARGET_FILE:sendpath_preload>
                   $<TARGET_FILE:shim_check>)
  set_tests_properties(interop_preload_shim PROPERTIES LABELS interop SKIP_RETURN_CODE 77
                       TIMEOUT 300 RUN_SERIAL TRUE)
endif()
