// How the MCP client reaches one server: a child process over stdio, or a Streamable HTTP
// endpoint (modelcontextprotocol.io/specification, "basic/transports"). A transport moves whole
// JSON-RPC messages (text); it knows nothing of their meaning except what HTTP needs (the
// session id the server hands out, the negotiated protocol version).
//
// A transport is opened once; when it breaks (the process exits, the HTTP server is gone or has
// forgotten the session) it calls on_closed once and is then thrown away by its McpClient, which
// opens a new one. Threads: on_message and on_closed come from the transport's own threads (or,
// over HTTP, from the thread inside send()); send() may be called from several threads at once.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "host/engines/engines.h"
#include "host/tools/mcp_config.h"

namespace earshot::host {

class McpTransport {
 public:
  using OnMessage = std::function<void(std::string_view message)>;
  using OnClosed = std::function<void(const std::string& why)>;
  virtual ~McpTransport() = default;  // closes it (stops the process), without on_closed

  virtual bool open(OnMessage on_message, OnClosed on_closed, std::string* error) = 0;
  // Sends one message. Stdio writes it as a line; HTTP POSTs it and hands whatever the answer
  // carries (a JSON body or an SSE stream of messages) to on_message before it returns. False,
  // with `error`, if it could not be sent; stops early when `cancel` fires or at `deadline`.
  virtual bool send(const std::string& message, const CancelToken& cancel,
                    std::chrono::steady_clock::time_point deadline, std::string* error) = 0;
  // Whether a request's response always comes within its send() (HTTP: in the POST's answer), so
  // a send() that returns without it means the response is lost.
  virtual bool answers_in_send() const { return false; }
  // After the initialize response: the protocol version agreed (HTTP sends it with every request
  // from now on, and opens its listening stream for the server's notifications).
  virtual void initialized(const std::string& protocol_version) { (void)protocol_version; }
};

// The transport `config` asks for: stdio when it has a command, else HTTP.
std::unique_ptr<McpTransport> make_mcp_transport(const McpServerConfig& config);
std::unique_ptr<McpTransport> make_mcp_stdio_transport(const McpServerConfig& config);
std::unique_ptr<McpTransport> make_mcp_http_transport(const McpServerConfig& config);

}  // namespace earshot::host
