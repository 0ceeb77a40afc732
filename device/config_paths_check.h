// The files a node's config names beyond its audio, checked for earshot-node --check before
// anything runs: the pinned CA file (readable, PEM certificates), and where the WAV sink and
// --record will write (the file writable, or its directory if it does not exist yet). It creates
// and truncates nothing. The capture file and the audio devices are NodePipeline::check's part
// (opening them says both whether they are there and whether they are audio).
#pragma once

#include <string>
#include <vector>

#include "device/node_config.h"

namespace earshot::device {

// One sentence per problem, naming the setting and the path; empty when all is usable.
std::vector<std::string> check_config_paths(const NodeConfig& config);

}  // namespace earshot::device
