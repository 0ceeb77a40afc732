// LiveClients: connections the status page lists that the WebSocket server does not hold —
// Wyoming satellites the bridge dials out to (and, later, any door with a transport of its own).
// Each registers when it connects, updates its state as it goes, and leaves when it goes away;
// /api/status lists them next to the server's own sessions, with the same fields.
//
// Thread-safety: every method from any thread (one mutex, held for a copy).
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace earshot::host {

struct LiveClient {
  std::string session_id;
  std::string client_id;  // as turns are stored (e.g. "wyoming-kitchen")
  std::string room;
  std::string protocol;      // e.g. "wyoming"
  std::string state;         // e.g. idle, listening, speaking, reconnecting
  int64_t connected_ms = 0;  // monotonic_ms() when it connected
};

class LiveClients {
 public:
  // Adds or replaces the entry keyed by `key`.
  void set(const std::string& key, LiveClient client) {
    std::lock_guard<std::mutex> lock(mutex_);
    clients_[key] = std::move(client);
  }
  void set_state(const std::string& key, const std::string& state) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = clients_.find(key);
    if (it != clients_.end()) it->second.state = state;
  }
  void remove(const std::string& key) {
    std::lock_guard<std::mutex> lock(mutex_);
    clients_.erase(key);
  }
  std::vector<LiveClient> list() const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<LiveClient> out;
    for (const auto& [key, client] : clients_)
      out.push_back(client);
    return out;
  }

 private:
  mutable std::mutex mutex_;
  std::map<std::string, LiveClient> clients_;
};

}  // namespace earshot::host
