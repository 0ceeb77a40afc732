// ToolRegistry: every tool the model may call, whoever offers it. Tools come from providers: the
// bridge's built-in tools, an MCP client (one provider per server), a session's own device (a
// xiaozhi door's device tools). A provider is registered for every session, or for one session
// only; it decides itself what it shows to which room or node (its list() sees the ToolScope).
//
// The responder asks list() at the start of each reply (so a provider may add or drop tools at any
// time, an MCP server's tools/list_changed), and find() for each call the model makes.
//
// Ownership: the registry holds shared pointers to its providers; a Registration (returned by
// add()) removes its provider when it is destroyed — a door registers its device's tools for the
// life of its connection. A call already running keeps its provider alive until it returns.
// Threads: every method is thread-safe; list() and call() run on the caller's thread and may block
// (a provider's call() is run by host/tools/tool_runner.h on a thread of its own).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "host/engines/engines.h"

namespace earshot::host {

// Who is asking: a provider may offer different tools to different rooms, nodes or sessions.
struct ToolScope {
  std::string session_id;  // the conversation (ConversationSettings::conversation_id)
  std::string client_id;   // node_id, or a door's client id
  std::string room;
};

// What a call gives back to the model: the result, or what went wrong (also for the model: a tool
// error is an answer it can act on, never a failure of the turn).
struct ToolResult {
  bool ok = false;
  std::string content;  // text (often JSON) for the model's `tool` message
};

class ToolProvider {
 public:
  virtual ~ToolProvider() = default;
  virtual std::string name() const = 0;  // for logs: "builtin", "mcp:home-assistant", ...
  // The tools this scope may call now.
  virtual std::vector<ToolSpec> list(const ToolScope& scope) = 0;
  // Runs one call; `arguments` is a JSON object (checked by the caller). Returns by `deadline`,
  // and promptly once `cancel` is cancelled (the person spoke over the reply); what it returns
  // then is not used.
  virtual ToolResult call(const ToolScope& scope, const std::string& name,
                          const std::string& arguments, const CancelToken& cancel,
                          std::chrono::steady_clock::time_point deadline) = 0;
};

class ToolRegistry {
 public:
  // Keeps a provider registered while it lives; movable, not copyable.
  class Registration {
   public:
    Registration() = default;
    ~Registration() { reset(); }
    Registration(Registration&& other) noexcept;
    Registration& operator=(Registration&& other) noexcept;
    Registration(const Registration&) = delete;
    Registration& operator=(const Registration&) = delete;
    void reset();  // unregisters now

   private:
    friend class ToolRegistry;
    struct State;
    std::weak_ptr<State> state_;
    uint64_t id_ = 0;
  };

  ToolRegistry();
  ~ToolRegistry();
  ToolRegistry(const ToolRegistry&) = delete;
  ToolRegistry& operator=(const ToolRegistry&) = delete;

  // Registers `provider` for every session, or for `only_session` (a conversation id) alone.
  [[nodiscard]] Registration add(std::shared_ptr<ToolProvider> provider,
                                 std::string only_session = "");

  // The tools this scope may call, in registration order; a name offered by two providers is
  // the first one's.
  std::vector<ToolSpec> list(const ToolScope& scope) const;
  // The provider that offers `name` to this scope now, or null.
  std::shared_ptr<ToolProvider> find(const ToolScope& scope, const std::string& name) const;

 private:
  struct Entry {
    uint64_t id;
    std::shared_ptr<ToolProvider> provider;
    std::string only_session;
  };
  std::vector<Entry> providers_for(const ToolScope& scope) const;
  std::shared_ptr<Registration::State> state_;
};

}  // namespace earshot::host
