# `sendpath skb` and `sendpath trace` run one real write through the stack and
# print what its tracepoints recorded. The skb view follows the first
# segment's transmit clone down the layers: TCP (32 bytes with timestamps),
# IPv4 (20) and Ethernet (14) are pushed into the 320-byte headroom that
# tcp_stream_alloc_skb reserved, so the frame starts at offset 254.
if(TARGET sendpath)
  add_test(NAME cli_skb_json COMMAND $<TARGET_FILE:sendpath> skb --json)
  set_tests_properties(cli_skb_json PROPERTIES
    LABELS cli
    PASS_REGULAR_EXPRESSION "\"step\":\"tcp_transmit_skb\",\"pushed\":32,\"head\":0,\"data\":288,.*\"step\":\"ip_queue_xmit\",\"pushed\":20,\"head\":0,\"data\":268,.*\"step\":\"neigh_output\",\"pushed\":14,\"head\":0,\"data\":254,\"tail\":320,")
  add_test(NAME cli_skb_paged_json COMMAND $<TARGET_FILE:sendpath> skb --json --size 3000)
  set_tests_properties(cli_skb_paged_json PROPERTIES
    LABELS cli
    PASS_REGULAR_EXPRESSION "\"step\":\"dev_queue_xmit\",\"pushed\":0,\"head\":0,\"data\":254,\"tail\":320,\"end\":[0-9]+,\"len\":3066,\"data_len\":3000,")
  # Without scatter-gather the payload is copied into the linear part.
  add_test(NAME cli_skb_linear_json COMMAND $<TARGET_FILE:sendpath> skb --json --linear --size 900)
  set_tests_properties(cli_skb_linear_json PROPERTIES
    LABELS cli
    PASS_REGULAR_EXPRESSION "\"step\":\"neigh_output\",\"pushed\":14,\"head\":0,\"data\":254,\"tail\":1220,[^}]*\"data_len\":0,[^}]*\"nr_frags\":0")

  # The seed note's example: 3000 bytes at MSS 1000 leave as one TSO frame.
  add_test(NAME cli_trace_one_write COMMAND $<TARGET_FILE:sendpath> trace --size 3000 --mss 1000)
  set_tests_properties(cli_trace_one_write PROPERTIES
    LABELS cli
    PASS_REGULAR_EXPRESSION "sock_sendmsg +size=3000.*tcp_skb_entail.*skb_push\\(32\\) TCP header.*skb_push\\(20\\) IPv4 header.*skb_push\\(14\\) Ethernet header.*sent frame 3066 B.*retransmit queue.*stopped: empty.*1 frame\\(s\\) left the device")
  set(_trace_check ${CMAKE_CURRENT_BINARY_DIR}/trace_check.cmake)
  file(WRITE ${_trace_check} [=[
execute_process(COMMAND ${SENDPATH} trace --size 3000 --mss 1000 --no-tso --json
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "sendpath trace exited with ${rc}: ${err}")
endif()
string(JSON frames GET "${out}" frames)
if(NOT frames EQUAL 4)
  message(FATAL_ERROR "expected 4 frames without TSO, got ${frames}")
endif()
string(JSON n LENGTH "${out}" events)
set(gso 0)
math(EXPR last "${n} - 1")
foreach(i RANGE ${last})
  string(JSON ev GET "${out}" events ${i} event)
  if(ev STREQUAL "sendpath:skb_gso_segment")
    string(JSON segs GET "${out}" events ${i} segs)
    set(gso ${segs})
  endif()
endforeach()
if(NOT gso EQUAL 4)
  message(FATAL_ERROR "expected one skb_gso_segment into 4, got '${gso}'")
endif()
]=])
  add_test(NAME cli_trace_json_no_tso
           COMMAND ${CMAKE_COMMAND} -DSENDPATH=$<TARGET_FILE:sendpath> -P ${_trace_check})
  set_tests_properties(cli_trace_json_no_tso PROPERTIES LABELS cli)
endif()
