# Run at install time (install(CODE) in cmake/install.cmake): writes sockit.pc for the
# prefix being installed to, which `cmake --install --prefix DIR` may change after
# configuring. The caller sets SOCKIT_PC_IN, SOCKIT_PC_OUT, SOCKIT_PC_VERSION and the
# install dirs SOCKIT_LIBDIR and SOCKIT_INCLUDEDIR (relative to the prefix, or absolute).
# DESTDIR is not part of the prefix: the file names where the files end up, not the
# staging directory.
set(SOCKIT_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
foreach(kind LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${SOCKIT_${kind}}")
    set(SOCKIT_PC_${kind} "${SOCKIT_${kind}}")
  else()
    set(SOCKIT_PC_${kind} "\${prefix}/${SOCKIT_${kind}}")
  endif()
endforeach()
configure_file("${SOCKIT_PC_IN}" "${SOCKIT_PC_OUT}" @ONLY)
