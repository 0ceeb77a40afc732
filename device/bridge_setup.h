// What the node does before its pipeline starts when its config leaves the bridge out
// (docs/deploy.md, "Pairing a new node"):
//
//   no host.url   → find the bridge over mDNS (`_earshot._tcp`, device/link/bridge_discovery.h),
//                   retrying until one answers;
//   no token      → use the one kept in host.state_dir from an earlier pairing (and pin the
//                   certificate kept with it); failing that, pair: make a 6-digit code, show it in
//                   the log and on the systemd status line, ask the bridge (device/link/
//                   pairing_client.h) until the operator confirms the code there, and keep the
//                   token it issues (device/node_state.h).
//
// A node whose config gives a URL and a token skips all of it (and never loads Avahi).
#pragma once

#include <atomic>
#include <string>

#include "device/node_config.h"

namespace earshot::device {

// Fills config->url, config->token and config->tls_fingerprint as above. Blocks until done or
// `stop`; false with `*error` when stopped or the state directory cannot be written.
// `*token_from_state` (may be null): the token is the one kept in host.state_dir (pairing).
bool prepare_bridge(NodeConfig* config, const std::atomic<bool>& stop, std::string* error,
                    bool* token_from_state = nullptr);

// A fresh pairing code: 6 random decimal digits.
std::string new_pairing_code();

}  // namespace earshot::device
