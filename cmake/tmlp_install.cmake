# Installs the library, its public headers and a CMake package, so that another project can do
#   find_package(tmlp REQUIRED)
#   target_link_libraries(app PRIVATE tmlp::tmlp)
include(CMakePackageConfigHelpers)

set(TMLP_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/tmlp)

install(TARGETS tmlp EXPORT tmlpTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/tmlp DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.hpp" PATTERN "*.h")
install(EXPORT tmlpTargets NAMESPACE tmlp:: DESTINATION ${TMLP_INSTALL_CMAKEDIR})

configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/tmlpConfig.cmake.in
  ${PROJECT_BINARY_DIR}/tmlpConfig.cmake INSTALL_DESTINATION ${TMLP_INSTALL_CMAKEDIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/tmlpConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/tmlpConfig.cmake ${PROJECT_BINARY_DIR}/tmlpConfigVersion.cmake
  DESTINATION ${TMLP_INSTALL_CMAKEDIR})
