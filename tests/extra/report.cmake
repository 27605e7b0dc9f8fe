# The HTML report, checked in a real browser (Debian's chromium, headless):
# a SimLink transfer with a fixed loss seed writes a report; chromium loads
# it, the page writes #sp-status once every chart has drawn (or a JavaScript
# error happened), and the check reads it back from the DOM:
#   - no JavaScript error, every chart drew;
#   - the time-sequence graph drew one retransmission per TcpRetransSegs of
#     the run, at the times tshark (an independent reading of the same
#     capture) flags as retransmitted or out-of-order data;
#   - every other chart drew its series.
# Labelled "browser"; not built in the sanitizer tree (no tools there).
if(TARGET sendpath)
  set(_report_check ${CMAKE_CURRENT_BINARY_DIR}/report_check.cmake)
  file(WRITE ${_report_check} [=[
set(dir ${WORK})
file(MAKE_DIRECTORY ${dir})
execute_process(COMMAND ${SENDPATH} sim --size 2M --loss 0.02 --seed 7 --quiet --json
                        --report ${dir}/r.html --pcap ${dir}/r.pcap
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "sendpath sim exited with ${rc}: ${err}")
endif()
string(JSON retransmits GET "${out}" retransmits)
message(STATUS "sim: TcpRetransSegs ${retransmits}")
if(retransmits LESS 5)
  message(FATAL_ERROR "the scenario should lose and resend data; retransmits = ${retransmits}")
endif()

find_program(CHROMIUM NAMES chromium chromium-browser REQUIRED)
execute_process(COMMAND ${CHROMIUM} --headless --no-sandbox --disable-gpu --no-first-run
                        --virtual-time-budget=10000 --dump-dom file://${dir}/r.html
                RESULT_VARIABLE rc OUTPUT_VARIABLE dom ERROR_VARIABLE cerr TIMEOUT 120)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "chromium exited with ${rc}: ${cerr}")
endif()
string(REGEX MATCH "<pre id=\"sp-status\"[^>]*>([^<]*)</pre>" m "${dom}")
set(status "${CMAKE_MATCH_1}")
string(REPLACE "&quot;" "\"" status "${status}")
string(REPLACE "&lt;" "<" status "${status}")
string(REPLACE "&gt;" ">" status "${status}")
string(REPLACE "&amp;" "&" status "${status}")
if(status STREQUAL "")
  message(FATAL_ERROR "the page wrote no status (did its script run?)")
endif()
message(STATUS "page status: ${status}")
string(JSON nerr LENGTH "${status}" errors)
if(NOT nerr EQUAL 0)
  string(JSON errs GET "${status}" errors)
  message(FATAL_ERROR "JavaScript errors: ${errs}")
endif()
string(JSON ready GET "${status}" ready)
if(NOT ready)
  message(FATAL_ERROR "not every chart drew")
endif()

# The time-sequence graph: every retransmission, at the capture's times.
string(JSON drawn_rtx GET "${status}" charts tsg0 drawn rtx)
if(NOT drawn_rtx EQUAL retransmits)
  message(FATAL_ERROR "drew ${drawn_rtx} retransmissions, the run counted ${retransmits}")
endif()
foreach(s seg ack rwnd sack dup mark)
  string(JSON n GET "${status}" charts tsg0 drawn ${s})
  if(n EQUAL 0)
    message(FATAL_ERROR "the time-sequence graph drew no '${s}'")
  endif()
endforeach()
string(JSON times GET "${status}" charts tsg0 rtx_times)
find_program(TSHARK tshark)
if(TSHARK)
  execute_process(COMMAND ${TSHARK} -r ${dir}/r.pcap -T fields -e frame.time_relative -Y
    "tcp.len > 0 and (tcp.analysis.retransmission or tcp.analysis.fast_retransmission or tcp.analysis.spurious_retransmission or tcp.analysis.out_of_order)"
    OUTPUT_VARIABLE tsh RESULT_VARIABLE rc ERROR_QUIET)
  string(STRIP "${tsh}" tsh)
  string(REPLACE "\n" ";" tsh "${tsh}")
  list(LENGTH tsh ntsh)
  if(NOT ntsh EQUAL drawn_rtx)
    message(FATAL_ERROR "tshark sees ${ntsh} resent segments, the page drew ${drawn_rtx}")
  endif()
  math(EXPR last "${ntsh} - 1")
  foreach(i RANGE ${last})
    list(GET tsh ${i} want)
    string(JSON got GET "${times}" ${i})
    # Nanosecond timestamps on both sides; compare to the microsecond.
    string(REGEX REPLACE "^([0-9]+)\\.([0-9][0-9][0-9][0-9][0-9][0-9]).*" "\\1\\2" w_us "${want}")
    string(REGEX REPLACE "^([0-9]+)\\.([0-9][0-9][0-9][0-9][0-9][0-9]).*" "\\1\\2" g_us "${got}000000")
    if(NOT w_us EQUAL g_us)
      message(FATAL_ERROR "retransmission ${i}: page drew it at ${got} s, tshark says ${want} s")
    endif()
  endforeach()
  message(STATUS "retransmissions at tshark's times: ${ntsh}")
endif()

# With the sender's trace: tcp:tcp_retransmit_skb fired at the times the
# capture shows the resent segments leave (both read the stack's clock).
string(JSON ntrace ERROR_VARIABLE no_trace LENGTH "${status}" charts tsg0 trace_rtx_times)
if(NOT no_trace AND ntrace GREATER 0)
  if(NOT ntrace EQUAL drawn_rtx)
    message(FATAL_ERROR "the trace has ${ntrace} tcp_retransmit_skb, the capture ${drawn_rtx} resent segments")
  endif()
  math(EXPR last "${ntrace} - 1")
  foreach(i RANGE ${last})
    string(JSON a GET "${status}" charts tsg0 trace_rtx_times ${i})
    string(JSON b GET "${times}" ${i})
    if(NOT a EQUAL b)
      message(FATAL_ERROR "retransmission ${i}: traced at ${a} s, captured at ${b} s")
    endif()
  endforeach()
  message(STATUS "tcp_retransmit_skb at the capture's times: ${ntrace}")
endif()

# The skb picture: one segment from tcp_skb_entail down to dev_queue_xmit,
# with the TCP, IP and Ethernet headers pushed on the way.
string(JSON skb_rows GET "${status}" charts skb0 rows)
string(JSON npushed LENGTH "${status}" charts skb0 pushed)
set(pushed)
if(npushed GREATER 0)
  math(EXPR last "${npushed} - 1")
  foreach(i RANGE ${last})
    string(JSON h GET "${status}" charts skb0 pushed ${i})
    list(APPEND pushed ${h})
  endforeach()
endif()
if(skb_rows LESS 6 OR NOT pushed STREQUAL "TCP;IP;Ethernet")
  message(FATAL_ERROR "the skb picture has ${skb_rows} rows and headers '${pushed}'")
endif()
message(STATUS "skb picture: ${skb_rows} rows, headers ${pushed}")
# The state bands: why tcp_write_xmit stopped, all along; loss events when
# the trace has them.
string(JSON stops GET "${status}" charts state0 drawn stop)
if(stops EQUAL 0)
  message(FATAL_ERROR "no tcp_write_xmit stop reasons drawn")
endif()
string(JSON nev GET "${status}" charts state0 events)
string(JSON drawn_ev GET "${status}" charts state0 drawn events)
if(NOT nev EQUAL drawn_ev)
  message(FATAL_ERROR "drew ${drawn_ev} of ${nev} loss events")
endif()

# The other charts: each drew something.
string(JSON nchart LENGTH "${status}" charts)
math(EXPR last "${nchart} - 1")
foreach(i RANGE ${last})
  string(JSON id MEMBER "${status}" charts ${i})
  string(JSON kind GET "${status}" charts ${id} kind)
  if(kind STREQUAL "lines")
    string(JSON np LENGTH "${status}" charts ${id} points)
    math(EXPR lp "${np} - 1")
    foreach(j RANGE ${lp})
      string(JSON series MEMBER "${status}" charts ${id} points ${j})
      string(JSON n GET "${status}" charts ${id} points ${series})
      if(n EQUAL 0)
        message(FATAL_ERROR "chart ${id}: series '${series}' drew no point")
      endif()
    endforeach()
  endif()
endforeach()
]=])
  add_test(NAME report_browser
           COMMAND ${CMAKE_COMMAND} -DSENDPATH=$<TARGET_FILE:sendpath>
                   -DWORK=${CMAKE_CURRENT_BINARY_DIR}/report_browser -P ${_report_check})
  set_tests_properties(report_browser PROPERTIES LABELS "browser" TIMEOUT 300)

  # `sendpath report` on a capture alone, and two side by side: a file
  # with the data and the inlined chart library, no network reference.
  set(_report_cli ${CMAKE_CURRENT_BINARY_DIR}/report_cli.cmake)
  file(WRITE ${_report_cli} [=[
set(dir ${WORK})
file(MAKE_DIRECTORY ${dir})
foreach(seed 3 4)
  execute_process(COMMAND ${SENDPATH} sim --size 1M --loss 0.01 --seed ${seed} --quiet
                          --pcap ${dir}/s${seed}.pcap RESULT_VARIABLE rc OUTPUT_QUIET)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "sendpath sim exited with ${rc}")
  endif()
endforeach()
execute_process(COMMAND ${SENDPATH} report ${dir}/s3.pcap ${dir}/s4.pcap -o ${dir}/two.html
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "sendpath report exited with ${rc}: ${err}")
endif()
file(READ ${dir}/two.html html)
foreach(want "\"runs\":[" "s3.pcap" "s4.pcap" "\"tsg\":" "uPlot")
  string(FIND "${html}" "${want}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "the report lacks ${want}")
  endif()
endforeach()
foreach(net "src=\"http" "href=\"http" "src=\"//" "@import")
  string(FIND "${html}" "${net}" at)
  if(NOT at EQUAL -1)
    message(FATAL_ERROR "the report references the network: ${net}")
  endif()
endforeach()
execute_process(COMMAND ${SENDPATH} report ${dir}/missing.pcap -o ${dir}/x.html
                RESULT_VARIABLE rc OUTPUT_QUIET ERROR_QUIET)
if(rc EQUAL 0)
  message(FATAL_ERROR "a missing capture must fail")
endif()
]=])
  add_test(NAME cli_report_pcap
           COMMAND ${CMAKE_COMMAND} -DSENDPATH=$<TARGET_FILE:sendpath>
                   -DWORK=${CMAKE_CURRENT_BINARY_DIR}/report_cli -P ${_report_cli})
  set_tests_properties(cli_report_pcap PROPERTIES LABELS "e2e" TIMEOUT 300)
endif()

# tests/unit/report/ becomes unit_report (tests/CMakeLists.txt); it needs the
# report library too.
if(TARGET unit_report)
  target_link_libraries(unit_report PRIVATE sp_report)
endif()
