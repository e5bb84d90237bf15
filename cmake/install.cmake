# make install (included by the top-level CMakeLists.txt): what `cmake --install` puts
# under the prefix, GNUInstallDirs layout:
#   bin/sockit
#   LIBDIR/libsockit.so -> libsockit.so.0 -> libsockit.so.0.1.0, LIBDIR/libsockit.a
#   include/sockit.h, include/sockit/*.h         the public headers (never src/*.h)
#   LIBDIR/pkgconfig/sockit.pc                   pkg-config
#   LIBDIR/cmake/sockit/sockitConfig*.cmake      find_package(sockit): sockit::sockit
#                                                (shared), sockit::sockit_static
#   share/man/manN/*.N                           whatever man/*.[1-9] exists
#   share/doc/sockit/                            README.md, docs/*.md
# LIBDIR is GNUInstallDirs' CMAKE_INSTALL_LIBDIR: `lib` for every prefix but /usr, where
# Debian's is lib/<multiarch> (lib/x86_64-linux-gnu), the directory its linker and
# pkg-config search. sockit.pc and the CMake files follow it whatever it is.
include(CMakePackageConfigHelpers)

set(SOCKIT_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/sockit)

install(TARGETS sockit RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS sockit_shared sockit_static EXPORT sockitTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.h")

# pkg-config: written at install time, for the prefix actually installed to.
install(CODE "
  set(SOCKIT_PC_IN [[${CMAKE_CURRENT_LIST_DIR}/sockit.pc.in]])
  set(SOCKIT_PC_OUT [[${PROJECT_BINARY_DIR}/sockit.pc]])
  set(SOCKIT_PC_VERSION [[${PROJECT_VERSION}]])
  set(SOCKIT_LIBDIR [[${CMAKE_INSTALL_LIBDIR}]])
  set(SOCKIT_INCLUDEDIR [[${CMAKE_INSTALL_INCLUDEDIR}]])
  include([[${CMAKE_CURRENT_LIST_DIR}/sockit-pc.cmake]])")
install(FILES ${PROJECT_BINARY_DIR}/sockit.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# CMake: relocatable (paths relative to the installed files themselves).
install(EXPORT sockitTargets NAMESPACE sockit:: DESTINATION ${SOCKIT_CMAKEDIR})
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/sockitConfig.cmake.in
  ${PROJECT_BINARY_DIR}/sockitConfig.cmake INSTALL_DESTINATION ${SOCKIT_CMAKEDIR})
# SOVERSION is the major version: any 0.x satisfies find_package(sockit 0.1).
write_basic_package_version_file(${PROJECT_BINARY_DIR}/sockitConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/sockitConfig.cmake
  ${PROJECT_BINARY_DIR}/sockitConfigVersion.cmake DESTINATION ${SOCKIT_CMAKEDIR})

# Man pages and docs: globbed (CONFIGURE_DEPENDS, so a new page is picked up by the
# next build); man/NAME.N goes to share/man/manN.
file(GLOB SOCKIT_MAN_PAGES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/man/*.[1-9])
foreach(page ${SOCKIT_MAN_PAGES})
  string(REGEX MATCH "[1-9]$" section ${page})
  install(FILES ${page} DESTINATION ${CMAKE_INSTALL_MANDIR}/man${section})
endforeach()
file(GLOB SOCKIT_DOCS CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/docs/*.md)
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${SOCKIT_DOCS} DESTINATION ${CMAKE_INSTALL_DOCDIR})
