// earshot-bridge --check: proves what can be proved of a valid config without serving anyone.
//   server:  the TLS certificate and key load as PEM and belong together; web_root's page reads.
//   store:   the database file and its directory can be written (SQLite keeps WAL files there).
//   engines: an embedded engine loads its model; an openai engine's server answers HTTP at
//            {base_url}/models within 3 s (any status: it is up, whatever it thinks of us).
// One line per item: what is well on stdout, each problem on stderr. It opens no store and
// listens on no port, so it can run beside a live bridge.
#pragma once

#include "host/bridge_config.h"

namespace earshot::host {

// The process exit code: 0 when every item is well, 1 otherwise.
int run_bridge_check(const BridgeConfig& config);

}  // namespace earshot::host
