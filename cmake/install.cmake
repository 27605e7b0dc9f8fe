# `cmake --install <build> --prefix P`: the public headers, libsendpath.so and
# libsendpath.a, a pkg-config file and a CMake package under P:
#
#   P/include/sendpath/{api,socket,stack}.hpp
#   P/lib/libsendpath.so.0.1, libsendpath.so.0, libsendpath.so, libsendpath.a
#   P/lib/libsendpath-preload.so           LD_PRELOAD shim (src/preload/)
#   P/lib/pkgconfig/sendpath.pc            pkg-config --cflags --libs sendpath
#   P/lib/cmake/sendpath/sendpathConfig.cmake (+ version, targets)
#                                          find_package(sendpath) -> sendpath::sendpath
include(CMakePackageConfigHelpers)

set(SP_INSTALL_LIBDIR lib)
set(SP_INSTALL_CMAKEDIR ${SP_INSTALL_LIBDIR}/cmake/sendpath)

install(TARGETS sendpath_shared EXPORT sendpathTargets
  LIBRARY DESTINATION ${SP_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${SP_INSTALL_LIBDIR}
  INCLUDES DESTINATION include)
install(TARGETS sendpath_static EXPORT sendpathStaticTargets
  ARCHIVE DESTINATION ${SP_INSTALL_LIBDIR}
  INCLUDES DESTINATION include)
install(TARGETS sendpath_preload LIBRARY DESTINATION ${SP_INSTALL_LIBDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/sendpath DESTINATION include
  FILES_MATCHING PATTERN "*.hpp")

install(EXPORT sendpathTargets NAMESPACE sendpath:: DESTINATION ${SP_INSTALL_CMAKEDIR})
install(EXPORT sendpathStaticTargets NAMESPACE sendpath:: DESTINATION ${SP_INSTALL_CMAKEDIR})
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/sendpathConfig.cmake.in
  ${PROJECT_BINARY_DIR}/sendpathConfig.cmake
  INSTALL_DESTINATION ${SP_INSTALL_CMAKEDIR})
# 0.x: a minor release may change the API.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/sendpathConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/sendpathConfig.cmake
              ${PROJECT_BINARY_DIR}/sendpathConfigVersion.cmake
        DESTINATION ${SP_INSTALL_CMAKEDIR})

configure_file(${CMAKE_CURRENT_LIST_DIR}/sendpath.pc.in ${PROJECT_BINARY_DIR}/sendpath.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/sendpath.pc DESTINATION ${SP_INSTALL_LIBDIR}/pkgconfig)
