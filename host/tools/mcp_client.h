// McpClient: one configured MCP server (host/tools/mcp_config.h) as a ToolProvider, so its tools
// join the registry beside the bridge's own. It keeps the server connected: starts it (initialize,
// notifications/initialized, every page of tools/list), re-reads the tool list when the server
// says it changed (notifications/tools/list_changed), and when the server dies (its process
// exits, its HTTP endpoint is gone) restarts it after a backoff that doubles from 250 ms up to
// restart_max_ms — meanwhile it offers no tools, and calls in flight end with an error result.
//
// list() answers from the cached tool list (the registry asks on every find()). call() sends
// tools/call and waits for the response with the same id, until the caller's deadline or the
// server's call_timeout_ms, whichever is first; a cancelled call (barge-in) or one that timed out
// is cancelled at the server too (notifications/cancelled). Whatever happens is a ToolResult for
// the model: the tool's text (isError: ok = false), or why there is none.
//
// Threads: one supervisor thread (connects, refreshes, restarts) plus the transport's own; list()
// and call() are thread-safe and may run on any thread, several calls at once.
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "host/tools/mcp_config.h"
#include "host/tools/mcp_transport.h"
#include "host/tools/tool_registry.h"

namespace earshot::host {

class McpClient : public ToolProvider {
 public:
  using TransportFactory = std::function<std::unique_ptr<McpTransport>(const McpServerConfig&)>;
  // What happens to the server (started, died, restarting, tools changed), one sentence each, for
  // the bridge's log (this module does not log itself: host/log.h lives in earshot_host).
  using Log = std::function<void(bool problem, const std::string& line)>;
  // Starts connecting at once (on its own thread). `make_transport` is for tests.
  explicit McpClient(McpServerConfig config, Log log = {},
                     TransportFactory make_transport = make_mcp_transport);
  ~McpClient() override;  // stops the server
  McpClient(const McpClient&) = delete;
  McpClient& operator=(const McpClient&) = delete;

  std::string name() const override { return "mcp:" + config_.name; }
  std::vector<ToolSpec> list(const ToolScope& scope) override;
  ToolResult call(const ToolScope& scope, const std::string& name, const std::string& arguments,
                  const CancelToken& cancel,
                  std::chrono::steady_clock::time_point deadline) override;

  bool allowed(const ToolScope& scope) const;  // the config's rooms / nodes allow-list
  bool connected() const;
  uint64_t connections() const;  // how many times it has become ready (1, then +1 per restart)

 private:
  struct Pending;
  struct Reply {
    bool ok = false;  // a response arrived (which may be a JSON-RPC error)
    bool is_error = false;
    std::string result;  // JSON text, or the error message
  };
  void supervise();
  bool connect(std::string* error);
  bool refresh_tools(std::string* error);
  // Sends a request and waits for its response (or the deadline, cancel, the connection's end).
  Reply request(const std::shared_ptr<McpTransport>& transport, uint64_t generation, int64_t id,
                const std::string& message, const CancelToken& cancel,
                std::chrono::steady_clock::time_point deadline, std::string* error);
  void on_message(uint64_t generation, std::string_view text);
  void on_closed(uint64_t generation, const std::string& why);
  void fail_pending(const std::string& why);

  const McpServerConfig config_;
  const Log log_;
  const TransportFactory make_transport_;

  mutable std::mutex mutex_;          // everything below
  std::condition_variable wake_;      // the supervisor: stop, closed, tools changed
  std::condition_variable answered_;  // callers waiting in request()
  bool stopping_ = false;
  bool ready_ = false;
  bool closed_ = false;  // the current transport broke
  std::string closed_why_;
  bool tools_changed_ = false;  // list_changed arrived
  uint64_t generation_ = 0;     // which transport is current (its callbacks carry it)
  uint64_t connections_ = 0;
  int64_t next_id_ = 1;
  std::shared_ptr<McpTransport> transport_;
  std::vector<ToolSpec> tools_;
  std::map<int64_t, std::shared_ptr<Pending>> pending_;
  std::thread supervisor_;
};

// One client per configured server, registered in `registry` for every session (each client's
// list() applies its own allow-list). Keep the registrations as long as the clients.
struct McpClients {
  std::vector<std::shared_ptr<McpClient>> clients;
  std::vector<ToolRegistry::Registration> registrations;
};
McpClients start_mcp_clients(const std::vector<McpServerConfig>& servers, ToolRegistry* registry,
                             const McpClient::Log& log);

}  // namespace earshot::host
