// The node's counters in the Prometheus text format, for its metrics endpoint
// (device/metrics_endpoint.h; the names are listed in docs/deploy.md, "Monitoring").
#pragma once

#include <string>

#include "device/node_config.h"
#include "device/node_pipeline.h"

namespace earshot::device {

std::string render_node_metrics(const NodeConfig& config, const NodeStats& stats);

}  // namespace earshot::device
