// `earshot-bridge pair`: the operator's side of pairing (host/pairing_desk.h).
//
//   earshot-bridge pair [CODE] [--window S]  opens a pairing window on the running bridge, waits
//       for a node to ask, shows it and the bridge's certificate fingerprint, and confirms CODE
//       (asked for on stdin when not given: the code the node shows in its log); closes the window
//       after a node is paired or when it ends.
//   earshot-bridge pair list                 the paired nodes (from the store)
//   earshot-bridge pair remove NODE_ID       unpairs a node: its token stops working at once, and
//                                            it may pair again
//
// The window and the waiting nodes live in the running bridge, so `pair` talks to it over HTTP on
// this machine (/api/pairing, docs/protocol.md); list and remove open the store, like `tokens`.
#pragma once

#include <string>
#include <vector>

namespace earshot::host {

struct BridgeConfig;

// Returns the exit code: 0 paired (or listed, removed), 1 refused / failed / the window ended,
// 2 a wrong command line.
int run_pair_command(const BridgeConfig& config, const std::vector<std::string>& args,
                     int window_s);

}  // namespace earshot::host
