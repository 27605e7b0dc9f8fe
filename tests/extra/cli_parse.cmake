# The command-line values every subcommand shares (tools/cli_parse.cpp):
# sizes, rates and durations with their suffixes are read, malformed ones
# rejected with exit status 2 before anything runs.
if(TARGET sendpath)
  add_test(NAME cli_parse_sim_suffixes
           COMMAND sendpath sim --size 64k --rate 10mbps --rtt 2ms --jitter 100us --json --quiet)
  set_tests_properties(cli_parse_sim_suffixes PROPERTIES LABELS cli
                       PASS_REGULAR_EXPRESSION "\"bytes_received\":65536,\"digest_ok\":true")
  add_test(NAME cli_parse_sim_rejects_bad_size COMMAND sendpath sim --size 1.5x --quiet)
  set_tests_properties(cli_parse_sim_rejects_bad_size PROPERTIES LABELS cli
                       PASS_REGULAR_EXPRESSION "bad --size")
  add_test(NAME cli_parse_send_rejects_bad_size COMMAND sendpath send 10.0.0.1:1 --size 1x)
  set_tests_properties(cli_parse_send_rejects_bad_size PROPERTIES LABELS cli
                       PASS_REGULAR_EXPRESSION "send: bad --size 1x")
endif()
