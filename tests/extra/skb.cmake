# `sendpath skb` builds a real frame with the skb API and the wire emitters,
# then parses it back and verifies both checksums; it exits non-zero when the
# frame does not check out.
if(TARGET sendpath)
  add_test(NAME cli_skb_json COMMAND $<TARGET_FILE:sendpath> skb --json)
  set_tests_properties(cli_skb_json PROPERTIES
    LABELS cli
    PASS_REGULAR_EXPRESSION "\"step\":\"skb_push\\(14\\) ethernet\",\"head\":0,\"data\":254,.*\"frame_ok\":true")
  add_test(NAME cli_skb_paged_json COMMAND $<TARGET_FILE:sendpath> skb --json --paged --payload 3000)
  set_tests_properties(cli_skb_paged_json PROPERTIES
    LABELS cli
    PASS_REGULAR_EXPRESSION "\"data_len\":3000,.*\"frame_ok\":true")
endif()
