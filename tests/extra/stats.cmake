# `sendpath sim --stats`: the nstat and ss views of both stacks, in order --
# the per-socket view when the last byte is acknowledged (the client
# ESTABLISHED with every byte acknowledged: 1 MiB plus the SYN, as Linux
# counts bytes_acked), then `nstat -a` of each stack after the close, then
# the run's summary. The JSON form carries the same views as samples.
if(TARGET sendpath)
  add_test(NAME cli_sim_stats COMMAND sendpath sim --size 1M --loss 0.01 --stats --quiet)
  set_tests_properties(cli_sim_stats PROPERTIES LABELS "e2e" TIMEOUT 120
    PASS_REGULAR_EXPRESSION
    "--- t=[0-9.]+s client: ss -tina \\(last byte acknowledged\\) ---\nState +Recv-Q +Send-Q +Local Address:Port +Peer Address:Port ?Process\nESTAB +0 +0 +10\\.0\\.0\\.1:[0-9]+ +10\\.0\\.0\\.2:5001\n\t cubic wscale:7,7 rto:[0-9]+ rtt:[0-9.]+/[0-9.]+ mss:1448 pmtu:1500 [^\n]* bytes_acked:1048577 [^\n]* retrans:0/[1-9][0-9]* [^\n]*\n.*--- t=[0-9.]+s server: ss -tina \\(last byte acknowledged\\) ---\n[^\n]*\nLISTEN +0 +128 +10\\.0\\.0\\.2:5001 +0\\.0\\.0\\.0:\\*\n\t cubic cwnd:10\nESTAB [^\n]*\n\t cubic [^\n]* bytes_received:1048576 .*--- t=[0-9.]+s client: nstat -a \\(after close\\) ---\n#kernel\nIpInReceives +[0-9]+ +0\\.0\n.*\nTcpRetransSegs +[1-9][0-9]* +0\\.0\n.*--- t=[0-9.]+s client: ss -tina \\(after close\\) ---\n[^\n]*\nTIME-WAIT .*digest +OK")

  add_test(NAME cli_sim_stats_interval_json
           COMMAND sendpath sim --size 1M --loss 0.01 --stats-interval 100ms --json --quiet)
  set_tests_properties(cli_sim_stats_interval_json PROPERTIES LABELS "e2e" TIMEOUT 120
    PASS_REGULAR_EXPRESSION
    "\"digest_ok\":true.*\"stats\":\\[\\{\"t\":0\\.100000,\"stack\":\"client\",\"when\":\"interval\",\"nstat\":\\{\"kernel\":\\{\"IpInReceives\":[0-9]+.*\"when\":\"last_byte\",\"sockets\":\\[\\{\"state\":\"ESTAB\".*\"tcpi_bytes_acked\":1048577,.*\"when\":\"closed\",\"nstat\":\\{\"kernel\":\\{.*\"TcpRetransSegs\":[1-9]")
endif()
