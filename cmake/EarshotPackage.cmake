# The Debian packages: `cpack -G DEB --config <build>/CPackConfig.cmake` (docs/deploy.md) makes
#   earshot-node_<version>_<arch>.deb    the install component `node`  (cmake/EarshotInstall.cmake)
#   earshot-bridge_<version>_<arch>.deb  the install component `bridge`
# installed under /usr, with the config in /etc/earshot (a conffile) and the unit in
# /lib/systemd/system. Depends come from the programs' shared libraries (dpkg-shlibdeps, in
# dpkg-dev) plus what no library says: adduser for the postinst, the bridge's speech model.
# The maintainer scripts are made from tools/deploy/debian/*.in for each package.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME earshot)
set(CPACK_PACKAGE_VENDOR "Earshot developers")
set(CPACK_PACKAGE_CONTACT "Earshot developers <earshot@example.org>")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL ${EARSHOT_INSTALL_COMPONENTS})
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE ${EARSHOT_DEBIAN_RELEASE})
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_SECTION sound)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_COMPRESSION_TYPE xz)
# Control files 0644, maintainer scripts 0755, as dpkg and lintian expect.
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

# Descriptions: the synopsis, then the long description; CPack indents its lines by one space and
# makes an empty line the paragraph mark " .".
set(CPACK_DEBIAN_NODE_PACKAGE_NAME earshot-node)
set(CPACK_DEBIAN_NODE_PACKAGE_DEPENDS "adduser")
# What no library says: arecord -L finds the microphone (docs/deploy.md); the node loads
# libopusenc only for --record (device/audio/optional_libs.h), so dpkg-shlibdeps cannot see it.
set(CPACK_DEBIAN_NODE_PACKAGE_RECOMMENDS "alsa-utils")
set(CPACK_DEBIAN_NODE_PACKAGE_SUGGESTS "libopusenc0")
set(CPACK_COMPONENT_NODE_DESCRIPTION
    "room microphone appliance for a home voice assistant
earshot-node captures a room's microphone (ALSA), cleans it up (echo
cancellation, noise suppression, resampling), finds speech with its own
voice activity detector and streams it as Opus over a WebSocket to an
earshot-bridge, buffering it while the bridge is unreachable. It plays the
bridge's spoken replies and stops them when someone speaks over them.

Also in this package: earshot-vad, to try the detector's threshold on a
recording, and earshot-standin-host, which receives a node's audio without a
bridge.")

set(CPACK_DEBIAN_BRIDGE_PACKAGE_NAME earshot-bridge)
set(CPACK_DEBIAN_BRIDGE_PACKAGE_SECTION net)
# pocketsphinx-en-us: the embedded recogniser's model (host/engines/pocketsphinx_stt.cpp).
set(CPACK_DEBIAN_BRIDGE_PACKAGE_DEPENDS "adduser, pocketsphinx-en-us")
# The store is SQLite: sqlite3 reads it (docs/bridge.md); openssl makes the certificate;
# avahi-daemon carries the Wyoming services' zeroconf advertisement (docs/wyoming.md).
set(CPACK_DEBIAN_BRIDGE_PACKAGE_SUGGESTS "sqlite3, openssl, avahi-daemon")
set(CPACK_COMPONENT_BRIDGE_DESCRIPTION
    "voice assistant host for Earshot room nodes
earshot-bridge takes the speech of earshot-node room microphones (and of
browsers, and of OpenAI Realtime API clients), detects the end of each turn,
transcribes it, asks a language model and speaks the answer back, sentence
by sentence, streamed as Opus. The engines are embedded (pocketsphinx,
flite, espeak-ng) or OpenAI-compatible HTTP servers (a whisper server, vLLM,
llama.cpp, Ollama, Kokoro). Transcripts and replies are kept in SQLite.")

# earshot_debian_scripts(<component> CONFFILE <path> UNIT <unit> [GROUPS ...] [STATE_FILES ...])
function(earshot_debian_scripts component)
  cmake_parse_arguments(ARG "" "CONFFILE;UNIT" "GROUPS;STATE_FILES" ${ARGN})
  set(EARSHOT_PACKAGE earshot-${component})
  set(EARSHOT_CONFFILE ${ARG_CONFFILE})
  set(EARSHOT_UNIT ${ARG_UNIT})
  list(JOIN ARG_GROUPS " " EARSHOT_USER_GROUPS)
  list(JOIN ARG_STATE_FILES " " EARSHOT_STATE_FILES)
  set(dir ${PROJECT_BINARY_DIR}/packaging/debian-${component})
  file(MAKE_DIRECTORY ${dir})
  foreach(script postinst prerm postrm)
    configure_file(${EARSHOT_DEPLOY_DIR}/debian/${script}.in ${dir}/${script} @ONLY
                   FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE
                                    WORLD_READ WORLD_EXECUTE)
  endforeach()
  file(WRITE ${dir}/conffiles "${ARG_CONFFILE}\n")
  string(TOUPPER ${component} upper)
  set(CPACK_DEBIAN_${upper}_PACKAGE_CONTROL_EXTRA ${dir}/conffiles ${dir}/postinst ${dir}/prerm
                                                  ${dir}/postrm PARENT_SCOPE)
endfunction()

# The node's user is in `audio` too, so `sudo -u earshot earshot-node --check` sees the devices.
earshot_debian_scripts(node CONFFILE /etc/earshot/node.toml UNIT earshot-node.service GROUPS audio)
earshot_debian_scripts(bridge CONFFILE /etc/earshot/bridge.toml UNIT earshot-bridge.service
                       STATE_FILES earshot.db earshot.db-wal earshot.db-shm)

include(CPack)
