# ctest -L install: the examples (examples/) built against the INSTALLED tree,
# as a program outside the project would: `cmake --install` into a fresh
# prefix, examples/ configured as a project of its own, once finding
# sendpath through pkg-config and once through find_package, and each
# example run (exit 0 and its expected last line).
foreach(how pkgconfig find_package)
  add_test(NAME install_examples_${how}
    COMMAND ${PROJECT_SOURCE_DIR}/tests/install/examples.sh ${how}
            ${PROJECT_BINARY_DIR} ${PROJECT_SOURCE_DIR}/examples
            ${PROJECT_BINARY_DIR}/install-test-${how})
  set_tests_properties(install_examples_${how} PROPERTIES LABELS install TIMEOUT 600)
endforeach()
