# Wire formats: replay each fuzz target's seed corpus (valid packets and past
# findings) as an ordinary test, so every build, the sanitizer one included,
# runs the round-trip checks without libFuzzer.
foreach(n ethernet arp ipv4 tcp icmp)
  add_executable(replay_fuzz_${n}
    ${PROJECT_SOURCE_DIR}/tests/fuzz/fuzz_${n}.cpp
    ${PROJECT_SOURCE_DIR}/tests/fuzz/replay_main.cpp)
  target_link_libraries(replay_fuzz_${n} PRIVATE sp_wire)
  add_test(NAME wire_fuzz_corpus_replay_${n}
           COMMAND replay_fuzz_${n} ${PROJECT_SOURCE_DIR}/tests/fuzz/corpus/fuzz_${n})
  set_tests_properties(wire_fuzz_corpus_replay_${n} PROPERTIES LABELS unit)
endforeach()

# The whole input path (a stack with a listener) replays its seeds too.
add_executable(replay_fuzz_stack_rx
  ${PROJECT_SOURCE_DIR}/tests/fuzz/fuzz_stack_rx.cpp
  ${PROJECT_SOURCE_DIR}/tests/fuzz/replay_main.cpp)
target_link_libraries(replay_fuzz_stack_rx PRIVATE sp_stack)
add_test(NAME wire_fuzz_corpus_replay_stack_rx
         COMMAND replay_fuzz_stack_rx ${PROJECT_SOURCE_DIR}/tests/fuzz/corpus/fuzz_stack_rx)
set_tests_properties(wire_fuzz_corpus_replay_stack_rx PROPERTIES LABELS unit)

# The two-stack program fuzzer (fuzz_stack_ops) replays its seeds and past
# findings: every build runs its invariants on them.
add_executable(replay_fuzz_stack_ops
  ${PROJECT_SOURCE_DIR}/tests/fuzz/fuzz_stack_ops.cpp
  ${PROJECT_SOURCE_DIR}/tests/fuzz/replay_main.cpp)
target_link_libraries(replay_fuzz_stack_ops PRIVATE sp_stack)
add_test(NAME wire_fuzz_corpus_replay_stack_ops
         COMMAND replay_fuzz_stack_ops ${PROJECT_SOURCE_DIR}/tests/fuzz/corpus/fuzz_stack_ops)
set_tests_properties(wire_fuzz_corpus_replay_stack_ops PROPERTIES LABELS unit)
