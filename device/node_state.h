// The node's state directory (host.state_dir, default /var/lib/earshot-node): what pairing gave it.
//
//   token              the bearer token the bridge issued when the operator confirmed the code
//   bridge.fingerprint the SHA-256 of the bridge's certificate seen at pairing (wss:// only),
//   pinned
//
// Both files are written mode 0600 (whatever the umask), through a temporary file and a rename, so
// a node cut off mid-write keeps the old file or the new one, never half of one. The directory is
// created 0700 when missing.
#pragma once

#include <string>

namespace earshot::device {

struct NodeState {
  std::string token;        // "" when the node has not paired
  std::string fingerprint;  // "" when it paired over ws:// (or has not paired)
};

NodeState load_node_state(const std::string& dir);

// "" on success, else what failed (naming the file).
std::string save_node_state(const std::string& dir, const NodeState& state);

// Removes the kept token (and pin): the bridge refused it, so the next start pairs again. "" on
// success (or when there was nothing to remove).
std::string forget_node_state(const std::string& dir);

// "" when `dir` exists (or can be created) and a file can be written in it; else why not.
std::string check_state_dir(const std::string& dir);

}  // namespace earshot::device
