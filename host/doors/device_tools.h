// DeviceTools: the tools a device offers over MCP, for one connection, and calls to them. A
// xiaozhi-esp32 box is an MCP server (its own tools: the speaker's volume, the screen, GPIOs a
// board adds); the bridge is the client. On start() it sends initialize, then tools/list page by
// page (the firmware's nextCursor) and keeps the list; call() sends tools/call and hands the
// device's answer, matched by its JSON-RPC id, to a callback — or an error when the device
// answers with one, does not answer in time, or goes away. The tool loop (the assistant acting)
// calls a device's tools through this.
//
// The wire is the caller's: `send` puts one JSON-RPC payload on it (the xiaozhi door wraps it in a
// {"type":"mcp"} message). Payloads are protocol/xiaozhi/mcp.h's.
//
// Threads: start(), on_message() and on_tick() on the connection's event loop; call(), tools(),
// listed() and close() from any thread. Callbacks run on the event loop (answers, timeouts) or on
// the caller's thread (a call that cannot be sent: unknown tool, closed), never under the lock.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/xiaozhi/mcp.h"

namespace earshot::host {

class DeviceTools {
 public:
  using Send = std::function<void(std::string payload)>;
  struct Outcome {
    bool ok = false;   // the device ran the tool and did not flag an error
    std::string text;  // its result's text (ok), or what went wrong
  };
  using Done = std::function<void(const Outcome&)>;

  // `request_timeout_ms`: how long initialize and each tools/list page may take.
  explicit DeviceTools(Send send, int request_timeout_ms = 10000);

  void start(int64_t now_ms);
  // An MCP payload from the device: a response to one of ours, or a notification (ignored).
  // Returns "" or why it was not understood.
  std::string on_message(std::string_view payload, int64_t now_ms);
  void on_tick(int64_t now_ms);

  // Calls tool `name` with `arguments_json` (a JSON object as text, or ""). `done` runs exactly
  // once. A tool the device did not list fails at once.
  void call(const std::string& name, const std::string& arguments_json, int timeout_ms, Done done);
  std::vector<protocol::xiaozhi::mcp::Tool> tools() const;
  // The device's list is complete (every page arrived).
  bool listed() const;
  // The connection is gone: every call waiting fails, later ones fail at once.
  void close();

 private:
  enum class Kind { kInitialize, kList, kCall };
  struct Pending {
    Kind kind = Kind::kCall;
    int64_t deadline_ms = 0;
    Done done;
  };
  // mutex_ held; returns the request's id.
  int64_t request_locked(Kind kind, int64_t deadline_ms, Done done);

  const Send send_;
  const int request_timeout_ms_;
  mutable std::mutex mutex_;
  int64_t next_id_ = 1;
  std::map<int64_t, Pending> pending_;
  std::vector<protocol::xiaozhi::mcp::Tool> tools_;
  bool listed_ = false;
  bool closed_ = false;
};

}  // namespace earshot::host
