// MetricsEndpoint: the node's own counters for Prometheus, over plain HTTP (docs/deploy.md,
// "Monitoring"). Off unless [metrics] port is set; listens on 127.0.0.1 unless [metrics] address
// says otherwise (a scraper elsewhere: the node's address, behind the LAN's firewall — the page
// holds counters only, no audio, text or token).
//
// One thread of its own, started only when the endpoint is on: it accepts one connection at a
// time, reads the request line (at most kMaxRequest bytes, 2 s), answers GET /metrics with
// `render()`'s text and anything else with 404, and closes. `render` runs on that thread, so it
// must only read what other threads publish lock-free (atomics): never the capture or pipeline
// threads' locks.
//
// Hand-written rather than a library: a node has no HTTP server otherwise, one GET is all it
// serves, and the footprint budget (docs/benchmarks.md) has no room for one.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace earshot::device {

// What the request's first line asks for: "metrics" for `GET /metrics` (any query string,
// HTTP/1.x), "other" for any other well-formed GET or HEAD, "" for what is not an HTTP request
// line.
std::string_view metrics_request_target(std::string_view request);

class MetricsEndpoint {
 public:
  static constexpr size_t kMaxRequest = 4096;

  explicit MetricsEndpoint(std::function<std::string()> render);
  ~MetricsEndpoint();  // stops the thread
  MetricsEndpoint(const MetricsEndpoint&) = delete;
  MetricsEndpoint& operator=(const MetricsEndpoint&) = delete;

  // Binds `address`:`port` (port 0: any free port) and starts serving. False with a message when
  // the address cannot be bound.
  bool start(const std::string& address, int port, std::string* error);
  // The port bound (useful with port 0), after start().
  int port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace earshot::device
