// earshot-node: the room microphone appliance. Reads its config (TOML + flags), then runs the
// pipeline until SIGTERM/SIGINT, or until a finite input (file, stdin) has been delivered.
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <memory>

#include "device/bridge_setup.h"
#include "device/log.h"
#include "device/metrics_endpoint.h"
#include "device/node_config.h"
#include "device/node_metrics.h"
#include "device/node_pipeline.h"
#include "device/node_state.h"

namespace {
earshot::device::NodePipeline* g_pipeline = nullptr;
std::atomic<bool> g_stop{false};  // before the pipeline runs: discovery and pairing

void on_signal(int) {
  g_stop.store(true);
  if (g_pipeline) g_pipeline->request_stop();  // only an atomic store: async-signal-safe
}
}  // namespace

int main(int argc, char** argv) {
  using namespace earshot::device;
  NodeConfig config;
  ConfigResult loaded = load_config(argc, argv, &config);
  if (loaded.help) return 0;
  if (!loaded.ok) {
    fprintf(stderr, "earshot-node: %s\n", loaded.error.c_str());
    return 2;
  }
  if (std::string problem = validate(config); !problem.empty()) {
    fprintf(stderr, "earshot-node: config: %s\n", problem.c_str());
    return 2;
  }
  if (loaded.check) {
    // Exit 2 above for a config that is wrong in itself; 1 here for what it names that is missing
    // or unusable on this machine, one line each, so one run shows everything to fix.
    const std::vector<std::string> problems = NodePipeline::check(config);
    for (const std::string& problem : problems)
      fprintf(stderr, "earshot-node: check: %s\n", problem.c_str());
    if (!problems.empty()) {
      fprintf(stderr, "earshot-node: check failed: %zu problem(s)\n", problems.size());
      return 1;
    }
    printf("earshot-node: config%s, its files and audio devices OK\n",
           loaded.config_path.empty() ? "" : (" " + loaded.config_path).c_str());
    return 0;
  }

  // A dead peer must not kill us through SIGPIPE; errors come back from send() instead.
  signal(SIGPIPE, SIG_IGN);
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);

  // No URL or no token configured: find the bridge, use the token kept from pairing, or pair.
  std::string error;
  set_log_prefix_priority(!config.log_plain);
  bool paired_token = false;
  if (!prepare_bridge(&config, g_stop, &error, &paired_token)) {
    if (g_stop.load()) return 0;
    fprintf(stderr, "earshot-node: %s\n", error.c_str());
    return 1;
  }
  NodePipeline pipeline(config);
  g_pipeline = &pipeline;
  if (g_stop.load()) pipeline.request_stop();

  if (!pipeline.start(&error)) {
    fprintf(stderr, "earshot-node: %s\n", error.c_str());
    g_pipeline = nullptr;
    return 1;
  }
  // Declared after the pipeline: it stops (and no longer reads the pipeline) before that goes.
  std::unique_ptr<MetricsEndpoint> metrics;
  if (config.metrics_port > 0) {
    metrics = std::make_unique<MetricsEndpoint>(
        [&pipeline, &config] { return render_node_metrics(config, pipeline.counters()); });
    if (!metrics->start(config.metrics_address, config.metrics_port, &error)) {
      fprintf(stderr, "earshot-node: %s\n", error.c_str());
      g_pipeline = nullptr;
      return 1;
    }
    ES_LOG_INFO("node", "metrics at http://%s:%d/metrics", config.metrics_address.c_str(),
                metrics->port());
  }
  const int code = pipeline.run();
  metrics.reset();
  g_pipeline = nullptr;
  // The bridge refused the token this node got by pairing (it was unpaired, or the bridge lost its
  // store): forget it, so that the next start (systemd restarts the node) pairs again.
  if (paired_token && pipeline.stats().fatal_close_code == earshot::protocol::kCloseUnauthorized) {
    const std::string problem = forget_node_state(config.state_dir);
    if (problem.empty())
      ES_LOG_WARN("pairing",
                  "the bridge refused the token kept from pairing: forgot it (%s); the "
                  "next start pairs again",
                  config.state_dir.c_str());
    else
      ES_LOG_ERROR("pairing", "%s", problem.c_str());
  }
  return code;
}
