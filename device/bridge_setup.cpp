#include "device/bridge_setup.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <random>
#include <thread>

#include "device/link/bridge_discovery.h"
#include "device/link/bridge_url.h"
#include "device/link/pairing_client.h"
#include "device/log.h"
#include "device/node_state.h"
#include "device/systemd_notify.h"

namespace earshot::device {
namespace {

constexpr int kDiscoveryTimeoutMs = 5000;  // one browse
constexpr int kRetryInitialMs = 1000;
constexpr int kRetryMaxMs = 5000;  // short: the operator has a window of a few minutes

// Waits `ms`, or less when `stop` is set (checked every 100 ms).
void pause(int ms, const std::atomic<bool>& stop) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (!stop.load() && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
}

bool discover(NodeConfig* config, const std::atomic<bool>& stop, std::string* error) {
  ES_LOG_INFO("discovery", "no host.url: looking for a bridge (_earshot._tcp) over mDNS");
  int attempt = 0;
  while (!stop.load()) {
    std::string why;
    if (std::optional<DiscoveredBridge> found = discover_bridge(kDiscoveryTimeoutMs, stop, &why)) {
      config->url = found->url;
      ES_LOG_INFO("discovery", "found \"%s\" at %s", found->name.c_str(), found->url.c_str());
      return true;
    }
    if (attempt++ % 6 == 0)  // about every 30 s
      ES_LOG_WARN("discovery", "%s; still looking (or set host.url)", why.c_str());
    pause(std::min(kRetryInitialMs << std::min(attempt, 3), kRetryMaxMs), stop);
  }
  *error = "stopped while looking for a bridge";
  return false;
}

void on_waiting(int window_s) {
  ES_LOG_INFO("pairing", "the bridge holds the request; its pairing window closes in %d s",
              window_s);
}

bool pair(NodeConfig* config, const std::atomic<bool>& stop, std::string* error) {
  if (std::string problem = check_state_dir(config->state_dir); !problem.empty()) {
    *error = "cannot pair: " + problem;
    return false;
  }
  PairingAttempt attempt;
  attempt.url = config->url;
  attempt.node_id = config->node_id;
  attempt.room = config->room;
  attempt.ca_file = config->ca_file;
  attempt.code = new_pairing_code();
  auto show_code = [&] {
    ES_LOG_WARN("pairing",
                "node '%s' has no token: pairing code %s. On the bridge run `earshot-bridge pair` "
                "and enter this code",
                config->node_id.c_str(), attempt.code.c_str());
    systemd_notify(("STATUS=Pairing code " + attempt.code +
                    ": confirm it on the bridge with `earshot-bridge pair`")
                       .c_str());
  };
  show_code();
  int failures = 0;
  while (!stop.load()) {
    PairingOutcome r = request_pairing(attempt, stop, &on_waiting);
    if (r.kind == PairingOutcome::kPaired) {
      NodeState state;
      state.token = r.token;
      state.fingerprint = r.fingerprint;
      if (std::string problem = save_node_state(config->state_dir, state); !problem.empty()) {
        *error = "paired, but cannot keep the token: " + problem;
        return false;
      }
      config->token = r.token;
      if (!r.fingerprint.empty() && config->tls_fingerprint.empty())
        config->tls_fingerprint = r.fingerprint;
      ES_LOG_INFO("pairing", "paired: token kept in %s/token", config->state_dir.c_str());
      if (!r.fingerprint.empty())
        ES_LOG_INFO("pairing",
                    "pinned the bridge's certificate, SHA-256 %s (compare it with what "
                    "`earshot-bridge pair` showed)",
                    r.fingerprint.c_str());
      systemd_notify("STATUS=Paired");
      return true;
    }
    if (stop.load()) break;
    if (r.kind == PairingOutcome::kRefused) {
      ES_LOG_WARN("pairing", "refused by the bridge (%s): %s", r.code.c_str(), r.message.c_str());
      if (r.code == "code_used" || r.code == "duplicate_request") {
        attempt.code = new_pairing_code();  // this one can never succeed
        show_code();
      }
    } else if (failures == 0 || failures % 6 == 0) {
      ES_LOG_WARN("pairing", "%s; retrying", r.message.c_str());
    }
    ++failures;
    pause(std::min(kRetryInitialMs << std::min(failures, 3), kRetryMaxMs), stop);
  }
  *error = "stopped before pairing";
  return false;
}

// Under systemd (Type=notify) the node is not ready until it has a bridge and a token. Discovery
// and pairing wait on the network and on the operator, for minutes perhaps, so while they run the
// start timeout is pushed back every 10 s (nothing happens outside systemd).
class StartTimeoutExtender {
 public:
  StartTimeoutExtender() {
    thread_ = std::thread([this] {
      std::unique_lock<std::mutex> lock(mutex_);
      do
        systemd_notify("EXTEND_TIMEOUT_USEC=30000000");
      while (!cv_.wait_for(lock, std::chrono::seconds(10), [this] { return done_; }));
    });
  }
  ~StartTimeoutExtender() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      done_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

}  // namespace

std::string new_pairing_code() {
  std::random_device random;  // the kernel's random source (getrandom)
  std::uniform_int_distribution<unsigned> digits(0, 999999);
  char code[8];
  snprintf(code, sizeof code, "%06u", digits(random));
  return code;
}

bool prepare_bridge(NodeConfig* config, const std::atomic<bool>& stop, std::string* error,
                    bool* token_from_state) {
  if (token_from_state) *token_from_state = false;
  if (config->token.empty()) {
    const NodeState state = load_node_state(config->state_dir);
    if (!state.token.empty()) {
      config->token = state.token;
      if (token_from_state) *token_from_state = true;
      if (config->tls_fingerprint.empty()) config->tls_fingerprint = state.fingerprint;
      ES_LOG_INFO("pairing", "using the token kept in %s from pairing%s", config->state_dir.c_str(),
                  state.fingerprint.empty() ? "" : " (and its pinned certificate)");
    }
  }
  if (!config->url.empty() && !config->token.empty()) return true;
  StartTimeoutExtender extender;
  if (config->url.empty() && !discover(config, stop, error)) return false;
  if (config->token.empty()) {
    if (!pair(config, stop, error)) return false;
    if (token_from_state) *token_from_state = true;  // kept there now
  }
  return true;
}

}  // namespace earshot::device
