# What `cmake --install` installs, in two components that are also the two Debian packages
# (cmake/EarshotPackage.cmake):
#   node    earshot-node, and the tools for commissioning a node: earshot-vad (try a VAD threshold
#           on a recording, docs/vad.md) and earshot-standin-host (receive a node's audio without a
#           bridge); the unit earshot-node.service; /etc/earshot/node.toml
#   bridge  earshot-bridge; the unit earshot-bridge.service; /etc/earshot/bridge.toml
# Each with its documentation, copyright and changelog in share/doc/earshot-<component>/.
# earshot-fault-proxy is a test tool and is not installed.
#
# Binaries and documentation go under the prefix. The unit and the config do too, except for the
# prefix /usr, where they go to /etc and /lib/systemd/system (the Debian layout, GNUInstallDirs'
# rule for /etc). The prefix is known only when installing (`cmake --install --prefix P`, or
# CPack's /usr), so those two files are laid out then, by cmake/EarshotInstallSystemFiles.cmake;
# the unit's paths (ExecStart, --config, Documentation) and the config's paths follow.
include(GNUInstallDirs)

set(EARSHOT_DEPLOY_DIR ${PROJECT_SOURCE_DIR}/tools/deploy)

# The documentation each package carries. deploy.md is what the units' Documentation= names.
set(EARSHOT_NODE_DOCS docs/deploy.md docs/configuration.md docs/vad.md docs/protocol.md)
set(EARSHOT_BRIDGE_DOCS docs/deploy.md docs/configuration.md docs/bridge.md docs/engines.md
                        docs/realtime.md docs/protocol.md docs/wyoming.md
                        docs/xiaozhi.md)

# Debian's changelog, compressed as policy wants it (gzip -9n: no name or time stamp, so the same
# input gives the same bytes). Its newest entry must name the version being built.
set(EARSHOT_DEBIAN_RELEASE 1 CACHE STRING "Debian revision of the packages (the -N in 0.1.0-N)")
set(EARSHOT_DEBIAN_VERSION ${PROJECT_VERSION}-${EARSHOT_DEBIAN_RELEASE})
file(STRINGS ${EARSHOT_DEPLOY_DIR}/debian/changelog earshot_changelog_top LIMIT_COUNT 1)
if(NOT earshot_changelog_top MATCHES "^earshot \\(${EARSHOT_DEBIAN_VERSION}\\) ")
  message(FATAL_ERROR "tools/deploy/debian/changelog: the newest entry is '${earshot_changelog_top}'"
                      "; it must be for version ${EARSHOT_DEBIAN_VERSION} (project() and "
                      "EARSHOT_DEBIAN_RELEASE)")
endif()
set(EARSHOT_CHANGELOG_GZ ${PROJECT_BINARY_DIR}/packaging/changelog.Debian.gz)
file(MAKE_DIRECTORY ${PROJECT_BINARY_DIR}/packaging)
execute_process(COMMAND gzip -9n --stdout ${EARSHOT_DEPLOY_DIR}/debian/changelog
                OUTPUT_FILE ${EARSHOT_CHANGELOG_GZ} RESULT_VARIABLE earshot_gzip_result)
if(NOT earshot_gzip_result EQUAL 0)
  message(FATAL_ERROR "gzip of tools/deploy/debian/changelog failed: ${earshot_gzip_result}")
endif()
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${EARSHOT_DEPLOY_DIR}/debian/changelog)

# earshot_install_component(<component> PROGRAMS <target>... DOCS <file>...)
function(earshot_install_component component)
  cmake_parse_arguments(ARG "" "" "PROGRAMS;DOCS" ${ARGN})
  set(programs "")
  foreach(target ${ARG_PROGRAMS})
    if(TARGET ${target})
      list(APPEND programs ${target})
    endif()
  endforeach()
  install(TARGETS ${programs} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT ${component})
  set(docdir ${CMAKE_INSTALL_DATAROOTDIR}/doc/earshot-${component})
  list(TRANSFORM ARG_DOCS PREPEND ${PROJECT_SOURCE_DIR}/)
  install(FILES ${ARG_DOCS} ${EARSHOT_DEPLOY_DIR}/debian/copyright ${EARSHOT_CHANGELOG_GZ}
          DESTINATION ${docdir} COMPONENT ${component})
  install(CODE "include(\"${PROJECT_SOURCE_DIR}/cmake/EarshotInstallSystemFiles.cmake\")
earshot_install_system_files(\"${component}\" \"${EARSHOT_DEPLOY_DIR}\" \"${PROJECT_BINARY_DIR}/packaging\")"
          COMPONENT ${component})
endfunction()

# The components this build has (-DEARSHOT_BRIDGE=OFF: the node's only); each is one package.
set(EARSHOT_INSTALL_COMPONENTS "")
if(TARGET earshot-node)
  earshot_install_component(node PROGRAMS earshot-node earshot-vad earshot-standin-host
                            DOCS ${EARSHOT_NODE_DOCS})
  list(APPEND EARSHOT_INSTALL_COMPONENTS node)
endif()
if(TARGET earshot-bridge)
  earshot_install_component(bridge PROGRAMS earshot-bridge DOCS ${EARSHOT_BRIDGE_DOCS})
  list(APPEND EARSHOT_INSTALL_COMPONENTS bridge)
endif()
include(EarshotPackage)
