# The conformance figure: the whole shared packetdrill corpus against
# conformance/expectations.txt. A script listed as pass that does not pass
# fails the test; the output has the counts.
if(TARGET sendpath)
  add_test(NAME conformance_corpus
           COMMAND sendpath drill ${PROJECT_SOURCE_DIR}/../shared/conformance/packetdrill
                   --expect ${PROJECT_SOURCE_DIR}/conformance/expectations.txt)
  set_tests_properties(conformance_corpus PROPERTIES LABELS conformance TIMEOUT 900)
endif()
# The switches that bring back an older kernel's behaviour, where newest Linux
# deliberately changed it (see the expectations file): with them the two
# scripts written against that behaviour pass.
if(TARGET sendpath)
  set(corpus ${PROJECT_SOURCE_DIR}/../shared/conformance/packetdrill/gtests/net)
  add_test(NAME conformance_older_kernel_switches
           COMMAND sendpath drill
                   --sysctl net.ipv4.tcp_syn_linear_timeouts=0
                   --sysctl sendpath.tcp_lone_fin_ignores_cwnd=1
                   ${corpus}/packetdrill/tests/packet-timeout.pkt
                   ${corpus}/tcp/shutdown/shutdown-rdwr-write-queue-close.pkt)
  set_tests_properties(conformance_older_kernel_switches PROPERTIES LABELS conformance TIMEOUT 300)
  add_test(NAME conformance_drill_rejects_unknown_sysctl
           COMMAND sendpath drill --sysctl net.ipv4.no_such_knob=1
                   ${corpus}/packetdrill/tests/packet-timeout.pkt)
  set_tests_properties(conformance_drill_rejects_unknown_sysctl PROPERTIES LABELS conformance
                       WILL_FAIL TRUE)
endif()
# The host's event latency (--event-latency-us; docs/linux-differences.md,
# "Event latency"): the two scripts whose outcome hangs on it fail on the pure
# virtual clock, where their times tie exactly, and pass with any small
# latency.
if(TARGET sendpath)
  set(corpus ${PROJECT_SOURCE_DIR}/../shared/conformance/packetdrill/gtests/net/tcp)
  set(latency_scripts ${corpus}/shutdown/shutdown-rdwr-send-queue-ack-close.pkt
                      ${corpus}/eor/no-coalesce-retrans.pkt)
  add_test(NAME conformance_drill_event_latency_zero_ties
           COMMAND sendpath drill --event-latency-us 0 ${latency_scripts})
  set_tests_properties(conformance_drill_event_latency_zero_ties PROPERTIES LABELS conformance
                       TIMEOUT 300 PASS_REGULAR_EXPRESSION
                       "send-queue-ack-close.pkt:33: .*no-coalesce-retrans.pkt:68: .*total 2: 0 passed, 2 failed")
  add_test(NAME conformance_drill_event_latency_one_us
           COMMAND sendpath drill --event-latency-us 1 ${latency_scripts})
  set_tests_properties(conformance_drill_event_latency_one_us PROPERTIES LABELS conformance
                       TIMEOUT 300 PASS_REGULAR_EXPRESSION "total 2: 2 passed, 0 failed")
  add_test(NAME conformance_drill_rejects_negative_event_latency
           COMMAND sendpath drill --event-latency-us -1 ${latency_scripts})
  set_tests_properties(conformance_drill_rejects_negative_event_latency PROPERTIES
                       LABELS conformance WILL_FAIL TRUE)
endif()
