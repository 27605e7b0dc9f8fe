# `sendpath bench --quick --json` must print every figure, each well-formed:
# a name, a positive value, a unit, a reference (an object, or null when it
# was skipped, with a note saying why) and the ratio. Not a timing
# assertion: --quick runs are far too short to mean anything. The tap/
# figures appear only when the bench can make a namespace and a tap (root);
# when they do, they are checked like the others.
if(TARGET sendpath)
  set(_bench_check ${CMAKE_CURRENT_BINARY_DIR}/bench_check.cmake)
  file(WRITE ${_bench_check} [=[
cmake_minimum_required(VERSION 3.25)
execute_process(COMMAND ${SENDPATH} bench --quick --json
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 240)
message(STATUS "${out}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "sendpath bench exited with ${rc}: ${err}")
endif()
string(JSON n ERROR_VARIABLE jerr LENGTH "${out}")
if(jerr)
  message(FATAL_ERROR "output is not a JSON array: ${jerr}")
endif()
set(expected)
foreach(cfg tso sg_csum sw_csum)
  foreach(ws 1 16 64)
    list(APPEND expected "send_path/${cfg}/write_${ws}k")
  endforeach()
endforeach()
list(APPEND expected e2e/tso_gro e2e/no_tso_gro e2e_vs_lwip/sw_csum
     scale/sack_ack/inflight_100 scale/sack_ack/inflight_1000
     scale/conn_memory scale/conn_setup scale/conn_teardown)
set(seen)
math(EXPR last "${n} - 1")
foreach(i RANGE ${last})
  string(JSON name GET "${out}" ${i} name)
  list(APPEND seen "${name}")
  string(JSON value GET "${out}" ${i} value)
  string(JSON unit GET "${out}" ${i} unit)
  if(NOT value GREATER 0 OR NOT unit MATCHES "^(B/cpu-s|B/s|ns/ack|B/socket|conn/cpu-s)$")
    message(FATAL_ERROR "${name}: value ${value} ${unit}")
  endif()
  string(JSON err_type ERROR_VARIABLE none TYPE "${out}" ${i} error)
  if(NOT none)
    string(JSON e GET "${out}" ${i} error)
    message(FATAL_ERROR "${name}: ${e}")
  endif()
  string(JSON ref_type TYPE "${out}" ${i} reference)
  string(JSON ratio_type TYPE "${out}" ${i} ratio)
  if(ref_type STREQUAL "OBJECT")
    string(JSON rname GET "${out}" ${i} reference name)
    string(JSON rvalue GET "${out}" ${i} reference value)
    string(JSON ratio GET "${out}" ${i} ratio)
    if(rname STREQUAL "" OR NOT rvalue GREATER 0 OR NOT ratio_type STREQUAL "NUMBER" OR NOT ratio GREATER 0)
      message(FATAL_ERROR "${name}: reference ${rname} ${rvalue}, ratio ${ratio}")
    endif()
  elseif(ref_type STREQUAL "NULL")
    string(JSON note GET "${out}" ${i} note)
    if(NOT note MATCHES "skipped" OR NOT ratio_type STREQUAL "NULL")
      message(FATAL_ERROR "${name}: no reference and no reason given")
    endif()
  else()
    message(FATAL_ERROR "${name}: reference is ${ref_type}")
  endif()
  if(name MATCHES "^e2e")
    string(JSON ok GET "${out}" ${i} details pattern_ok)
    if(NOT ok EQUAL 1)
      message(FATAL_ERROR "${name}: the payload failed its pattern check")
    endif()
  endif()
endforeach()
foreach(e ${expected})
  if(NOT e IN_LIST seen)
    message(FATAL_ERROR "figure ${e} missing")
  endif()
endforeach()
# docs/bench-scale.svg is drawn from this output by scripts/plot-scale: the
# script must accept it and draw the ACK-cost line and the three bar pairs.
file(WRITE ${WORK}/bench_quick.json "${out}")
execute_process(COMMAND python3 ${PLOT} ${WORK}/bench_quick.json "ctest"
                RESULT_VARIABLE rc OUTPUT_VARIABLE svg ERROR_VARIABLE err TIMEOUT 60)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "plot-scale failed: ${err}")
endif()
file(WRITE ${WORK}/bench_quick.svg "${svg}")
execute_process(COMMAND python3 -c "
import sys, xml.etree.ElementTree as ET
ns = '{http://www.w3.org/2000/svg}'
root = ET.parse(sys.argv[1]).getroot()
lines = [p.get('points').split() for p in root.iter(ns + 'polyline')]
rects = [r for r in root.iter(ns + 'rect') if r.get('fill') in ('#2471a3', '#7f8c8d')]
ok = len(lines) == 1 and len(lines[0]) >= 2 and len(rects) >= 3
sys.exit(0 if ok else f'svg: {len(lines)} lines, {len(rects)} bars')
" ${WORK}/bench_quick.svg RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "plot-scale drew the wrong picture: ${err}")
endif()
]=])
  add_test(NAME cli_bench_quick_json
           COMMAND ${CMAKE_COMMAND} -DSENDPATH=$<TARGET_FILE:sendpath>
                   -DPLOT=${PROJECT_SOURCE_DIR}/scripts/plot-scale
                   -DWORK=${CMAKE_CURRENT_BINARY_DIR} -P ${_bench_check})
  set_tests_properties(cli_bench_quick_json PROPERTIES LABELS "cli;bench" TIMEOUT 300 RUN_SERIAL ON)
endif()
