# `sendpath sim --trace FILE`: the tracepoints as JSON lines. The default
# set has Linux's systems and two send-path events but not the per-skb
# steps of the send chain; every line parses as an object with t_ns, stack
# and event; an unknown --trace-events name is refused.
if(TARGET sendpath)
  set(_sim_trace_check ${CMAKE_CURRENT_BINARY_DIR}/sim_trace_check.cmake)
  file(WRITE ${_sim_trace_check} [=[
cmake_policy(SET CMP0057 NEW)
set(f ${OUT_DIR}/cli_sim_trace.jsonl)
file(REMOVE ${f})
execute_process(COMMAND ${SENDPATH} sim --size 300k --rate 100m --loss 0.02 --seed 3 --quiet
                        --trace ${f}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "sendpath sim --trace exited with ${rc}: ${out} ${err}")
endif()
file(STRINGS ${f} lines)
list(LENGTH lines n)
if(n LESS 100)
  message(FATAL_ERROR "only ${n} trace lines")
endif()
set(seen "")
foreach(line IN LISTS lines)
  string(JSON t ERROR_VARIABLE e1 GET "${line}" t_ns)
  string(JSON stack ERROR_VARIABLE e2 GET "${line}" stack)
  string(JSON event ERROR_VARIABLE e3 GET "${line}" event)
  if(e1 OR e2 OR e3)
    message(FATAL_ERROR "not an event line: ${line}")
  endif()
  if(NOT stack MATCHES "^(client|server)$")
    message(FATAL_ERROR "stack ${stack}: ${line}")
  endif()
  list(APPEND seen ${event})
endforeach()
list(REMOVE_DUPLICATES seen)
foreach(want tcp:tcp_probe tcp:tcp_retransmit_skb tcp:tcp_cong_state_set sock:inet_sock_set_state
        net:net_dev_xmit net:netif_receive_skb sendpath:tcp_write_xmit sendpath:tcp_recovery_event)
  if(NOT want IN_LIST seen)
    message(FATAL_ERROR "no ${want} in the default trace (saw ${seen})")
  endif()
endforeach()
if("sendpath:tcp_transmit_skb" IN_LIST seen)
  message(FATAL_ERROR "per-skb send-chain steps are not in the default set")
endif()
execute_process(COMMAND ${SENDPATH} sim --size 10k --quiet --trace ${f} --trace-events nosuch
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(rc EQUAL 0 OR NOT "${out}${err}" MATCHES "unknown trace event: nosuch")
  message(FATAL_ERROR "an unknown event was accepted: ${rc} ${out} ${err}")
endif()
]=])
  add_test(NAME cli_sim_trace
           COMMAND ${CMAKE_COMMAND} -DSENDPATH=$<TARGET_FILE:sendpath>
                   -DOUT_DIR=${CMAKE_CURRENT_BINARY_DIR} -P ${_sim_trace_check})
  set_tests_properties(cli_sim_trace PROPERTIES LABELS cli TIMEOUT 120)
endif()

# --trace-format text: the text sink, one ftrace-like line per event
# ("server 0.030014592: tcp:tcp_probe: saddr=10.0.0.2 ..."), to stdout with -.
# The client closes at once after its 64 KiB, so its ACKs arrive in
# FIN_WAIT1, where Linux fires no tcp_probe either; the server's do.
if(TARGET sendpath)
  add_test(NAME cli_sim_trace_text
           COMMAND $<TARGET_FILE:sendpath> sim --size 64k --quiet --trace - --trace-format text
                   --trace-events tcp:tcp_probe,sock:inet_sock_set_state)
  set_tests_properties(cli_sim_trace_text PROPERTIES
    LABELS cli
    PASS_REGULAR_EXPRESSION "client [0-9]+\\.[0-9]+: sock:inet_sock_set_state: .*oldstate=TCP_CLOSE newstate=TCP_SYN_SENT.*server [0-9]+\\.[0-9]+: tcp:tcp_probe: saddr=10\\.0\\.0\\.2 daddr=10\\.0\\.0\\.1 sport=5001 dport=[0-9]+ mark=0 data_len=1448 ")
endif()
