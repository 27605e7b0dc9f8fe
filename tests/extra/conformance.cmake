# The conformance figure: the whole shared packetdrill corpus against
# conformance/expectations.txt. A script listed as pass that does not pass
# fails the test; the output has the counts.
if(TARGET sendpath)
  add_test(NAME conformance_corpus
           COMMAND sendpath drill ${PROJECT_SOURCE_DIR}/../shared/conformance/packetdrill
                   --expect ${PROJECT_SOURCE_DIR}/conformance/expectations.txt)
  set_tests_properties(conformance_corpus PROPERTIES LABELS conformance TIMEOUT 900)
endif()
