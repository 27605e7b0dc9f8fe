# The benchmarks are not timed tests; these only check that each trace-cost
# program runs its transfer to the end (a benchmark that errors prints
# "ERROR OCCURRED" and still exits 0).
if(TARGET bench_trace_cost)
  foreach(b bench_trace_cost bench_trace_cost_notrace)
    add_test(NAME ${b}_runs COMMAND $<TARGET_FILE:${b}> --benchmark_min_time=0.01)
    set_tests_properties(${b}_runs PROPERTIES
      LABELS cli
      PASS_REGULAR_EXPRESSION "BM_transfer_"
      FAIL_REGULAR_EXPRESSION "ERROR OCCURRED")
  endforeach()
endif()
