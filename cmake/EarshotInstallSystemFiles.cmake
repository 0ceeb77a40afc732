# Runs at install time (from cmake_install.cmake; see cmake/EarshotInstall.cmake): installs one
# component's systemd unit and example config where the prefix being installed to wants them.
#   prefix /usr (the Debian packages):  /etc/earshot/<component>.toml, /lib/systemd/system/
#   any other prefix P:                 P/etc/earshot/<component>.toml, P/lib/systemd/system/
# (systemd also reads units from /usr/local/lib/systemd/system, the default prefix's.)
# The unit names the installed program, config and documentation; the config's own paths
# (/etc/earshot/... for keys, tokens, CA) follow the config directory. DESTDIR is honoured by
# file(INSTALL), as for every other installed file.

function(earshot_install_system_files component deploy_dir scratch_dir)
  set(prefix "${CMAKE_INSTALL_PREFIX}")
  if(prefix STREQUAL "/usr")
    set(etc_dir "/etc")
    set(unit_dir "/lib/systemd/system")
  else()
    set(etc_dir "${prefix}/etc")
    set(unit_dir "${prefix}/lib/systemd/system")
  endif()
  set(EARSHOT_BINDIR "${prefix}/bin")
  set(EARSHOT_CONFDIR "${etc_dir}/earshot")
  set(EARSHOT_DOCDIR "${prefix}/share/doc/earshot-${component}")

  # Staged in the build tree, then installed from there: the unit from its template, the config
  # from the example in tools/deploy/ (written for /etc/earshot).
  set(stage "${scratch_dir}/stage-${component}")
  file(MAKE_DIRECTORY "${stage}")
  configure_file("${deploy_dir}/earshot-${component}.service.in"
                 "${stage}/earshot-${component}.service" @ONLY)
  file(READ "${deploy_dir}/${component}.toml" config)
  string(REPLACE "/etc/earshot/" "${EARSHOT_CONFDIR}/" config "${config}")
  file(WRITE "${stage}/${component}.toml" "${config}")

  file(INSTALL DESTINATION "${unit_dir}" TYPE FILE FILES "${stage}/earshot-${component}.service")
  file(INSTALL DESTINATION "${EARSHOT_CONFDIR}" TYPE FILE FILES "${stage}/${component}.toml")
  # file(INSTALL) lists what it installed here; install_manifest.txt is written from the caller's.
  set(CMAKE_INSTALL_MANIFEST_FILES "${CMAKE_INSTALL_MANIFEST_FILES}" PARENT_SCOPE)
endfunction()
