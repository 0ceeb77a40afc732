// One MCP server the bridge connects to ([[mcp.servers]] in bridge.toml; every key in
// docs/configuration.md, the why in docs/bridge.md "MCP servers").
#pragma once

#include <map>
#include <string>
#include <vector>

namespace earshot::host {

struct McpServerConfig {
  std::string name;  // unique; logs say "mcp:<name>"
  // stdio: the bridge starts `command` (searched in PATH, no shell) with `args`, the bridge's
  // environment plus `env`, and speaks to it over its stdin and stdout.
  std::string command;
  std::vector<std::string> args;
  std::map<std::string, std::string> env;
  // Streamable HTTP: the server's MCP endpoint, and headers sent with every request (e.g.
  // Authorization).
  std::string url;
  std::map<std::string, std::string> headers;
  // Who may see this server's tools: nobody is excluded when both are empty; else a session whose
  // room is in `rooms` or whose node (client id) is in `nodes`.
  std::vector<std::string> rooms;
  std::vector<std::string> nodes;
  int call_timeout_ms = 10000;   // one tools/call (the tool loop's own deadline may be shorter)
  int start_timeout_ms = 10000;  // starting: initialize and the tool list
  int restart_max_ms = 30000;    // a dead server is restarted after 250 ms, doubling up to this
};

}  // namespace earshot::host
