#include "host/tools/mcp_client.h"

#include <algorithm>

#include "protocol/mcp/mcp_messages.h"

namespace earshot::host {

namespace mcp = protocol::mcp;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {
constexpr milliseconds kFirstBackoff{250};
constexpr milliseconds kStableAfter{5000};  // up this long: the next failure backs off from 250 ms
constexpr int kMaxPages = 100;              // of tools/list, against a server that never ends it
}  // namespace

struct McpClient::Pending {
  bool done = false;
  Reply reply;
};

McpClient::McpClient(McpServerConfig config, Log log, TransportFactory make_transport)
    : config_(std::move(config)), log_(std::move(log)), make_transport_(std::move(make_transport)) {
  supervisor_ = std::thread([this] { supervise(); });
}

McpClient::~McpClient() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  answered_.notify_all();
  supervisor_.join();
}

bool McpClient::allowed(const ToolScope& scope) const {
  if (config_.rooms.empty() && config_.nodes.empty()) return true;
  auto has = [](const std::vector<std::string>& list, const std::string& value) {
    return !value.empty() && std::find(list.begin(), list.end(), value) != list.end();
  };
  return has(config_.rooms, scope.room) || has(config_.nodes, scope.client_id);
}

bool McpClient::connected() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return ready_;
}

uint64_t McpClient::connections() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return connections_;
}

std::vector<ToolSpec> McpClient::list(const ToolScope& scope) {
  if (!allowed(scope)) return {};
  std::lock_guard<std::mutex> lock(mutex_);
  if (!ready_) return {};
  return tools_;
}

ToolResult McpClient::call(const ToolScope& scope, const std::string& name,
                           const std::string& arguments, const CancelToken& cancel,
                           Clock::time_point deadline) {
  // Errors read "error: ..." like the tool runner's own, so the model knows it got no answer.
  const std::string server = "error: MCP server '" + config_.name + "'";
  if (!allowed(scope)) return {false, "error: the tool " + name + " is not offered here"};
  deadline = std::min(deadline, Clock::now() + milliseconds(config_.call_timeout_ms));
  std::shared_ptr<McpTransport> transport;
  uint64_t generation = 0;
  int64_t id = 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!ready_) return {false, server + " is not running; try again later"};
    transport = transport_;
    generation = generation_;
    id = next_id_++;
  }
  std::string message;
  if (!mcp::tools_call_request(id, name, arguments, &message))
    return {false, "error: the arguments are not a JSON object"};
  std::string error;
  const Reply reply = request(transport, generation, id, message, cancel, deadline, &error);
  if (!reply.ok) {
    if (connected()) {
      // No answer (cancelled, timed out, lost): tell the server to stop its work, best effort
      // with a short deadline of its own.
      CancelToken none;
      std::string ignored;
      transport->send(
          mcp::cancelled_notification(id, cancel.cancelled() ? "interrupted" : "timed out"), none,
          Clock::now() + milliseconds(1000), &ignored);
    }
    if (cancel.cancelled()) return {false, "error: cancelled"};
    return {false, server + ": " + error};
  }
  if (reply.is_error) return {false, server + " refused the call: " + reply.result};
  mcp::CallResult result;
  if (!mcp::parse_call_result(reply.result, &result, &error))
    return {false, server + " answered with a malformed result: " + error};
  // isError: the tool ran and failed; its text says why.
  if (result.is_error) return {false, "error: " + result.text};
  return {true, result.text};
}

McpClient::Reply McpClient::request(const std::shared_ptr<McpTransport>& transport,
                                    uint64_t generation, int64_t id, const std::string& message,
                                    const CancelToken& cancel, Clock::time_point deadline,
                                    std::string* error) {
  auto pending = std::make_shared<Pending>();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (generation != generation_ || closed_) return *error = "the server is gone", Reply{};
    pending_[id] = pending;
  }
  auto forget = [&] {
    std::lock_guard<std::mutex> lock(mutex_);
    pending_.erase(id);
  };
  if (!transport->send(message, cancel, deadline, error)) {
    forget();
    // Over HTTP the response may have come in the answer to the send before it failed.
    std::lock_guard<std::mutex> lock(mutex_);
    return pending->done ? pending->reply : Reply{};
  }
  std::unique_lock<std::mutex> lock(mutex_);
  if (!pending->done && transport->answers_in_send()) {
    // The answer ended without the response (a server that died as it wrote, for one).
    pending_.erase(id);
    *error = "the server ended its answer without a response";
    return {};
  }
  // The cancel token has no callback: wake every 20 ms to look at it.
  while (!pending->done && !stopping_ && !cancel.cancelled() && Clock::now() < deadline)
    answered_.wait_until(lock, std::min(deadline, Clock::now() + milliseconds(20)));
  pending_.erase(id);
  if (pending->done) {
    if (!pending->reply.ok) *error = pending->reply.result;
    return pending->reply;
  }
  if (cancel.cancelled()) {
    *error = "cancelled";
  } else if (stopping_) {
    *error = "the bridge is stopping";
  } else {
    *error = "no answer within the deadline";
  }
  return {};
}

void McpClient::on_message(uint64_t generation, std::string_view text) {
  std::vector<mcp::Message> messages;
  std::string error;
  if (!mcp::parse_messages(text, &messages, &error)) {
    if (log_) log_(true, name() + ": ignored a malformed message: " + error);
    return;
  }
  // The transport calling us: alive until this returns (its destructor waits for its threads,
  // and over HTTP the thread in send() holds it). A raw pointer, since dropping a last reference
  // here would make a transport's own thread wait for itself.
  McpTransport* transport = nullptr;
  std::vector<std::string> answers;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (generation != generation_) return;  // from a transport already replaced
    transport = transport_.get();
    for (const mcp::Message& m : messages) {
      switch (m.kind) {
        case mcp::Message::Kind::kResponse: {
          auto it = pending_.find(m.id);
          if (it == pending_.end()) break;  // late: its caller gave up
          it->second->done = true;
          it->second->reply = {true, m.is_error, m.is_error ? m.error_message : m.result};
          break;
        }
        case mcp::Message::Kind::kNotification:
          if (m.method == "notifications/tools/list_changed") tools_changed_ = true;
          break;
        case mcp::Message::Kind::kRequest:
          answers.push_back(mcp::answer_request(m));
          break;
      }
    }
  }
  answered_.notify_all();
  wake_.notify_all();
  CancelToken none;
  for (const std::string& answer : answers) {
    std::string ignored;
    if (transport) transport->send(answer, none, Clock::now() + milliseconds(2000), &ignored);
  }
}

void McpClient::on_closed(uint64_t generation, const std::string& why) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (generation != generation_ || closed_) return;
    closed_ = true;
    closed_why_ = why;
    ready_ = false;  // its tools vanish now, not when the supervisor gets to it
  }
  fail_pending("the server stopped (" + why + ")");
  wake_.notify_all();
}

void McpClient::fail_pending(const std::string& why) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& [id, pending] : pending_) {
      pending->done = true;
      pending->reply = {false, false, why};
    }
  }
  answered_.notify_all();
}

bool McpClient::connect(std::string* error) {
  std::shared_ptr<McpTransport> transport = make_transport_(config_);
  uint64_t generation = 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    generation = ++generation_;
    closed_ = false;
    tools_changed_ = false;
    transport_ = transport;
  }
  if (!transport->open([this, generation](std::string_view m) { on_message(generation, m); },
                       [this, generation](const std::string& why) { on_closed(generation, why); },
                       error))
    return false;
  const Clock::time_point deadline = Clock::now() + milliseconds(config_.start_timeout_ms);
  CancelToken none;
  int64_t id = 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    id = next_id_++;
  }
  const Reply init =
      request(transport, generation, id, mcp::initialize_request(id, "earshot-bridge", "1.0"), none,
              deadline, error);
  if (!init.ok) return *error = "initialize: " + *error, false;
  if (init.is_error) return *error = "initialize refused: " + init.result, false;
  std::string version;
  if (!mcp::parse_initialize_result(init.result, &version, error))
    return *error = "initialize: " + *error, false;
  if (!mcp::is_supported_version(version))
    return *error = "the server speaks protocol version '" + version + "', not one of ours", false;
  // From here on every HTTP request carries the version, the initialized notification too.
  transport->initialized(version);
  if (!transport->send(mcp::initialized_notification(), none, deadline, error)) return false;
  return refresh_tools(error);
}

bool McpClient::refresh_tools(std::string* error) {
  std::shared_ptr<McpTransport> transport;
  uint64_t generation = 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    transport = transport_;
    generation = generation_;
    tools_changed_ = false;  // a change from now on asks again
  }
  const Clock::time_point deadline = Clock::now() + milliseconds(config_.start_timeout_ms);
  CancelToken none;
  std::vector<mcp::Tool> tools;
  std::string cursor;
  for (int page = 0;; ++page) {
    if (page == kMaxPages) return *error = "tools/list: more than 100 pages", false;
    int64_t id = 0;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      id = next_id_++;
    }
    const Reply reply = request(transport, generation, id, mcp::tools_list_request(id, cursor),
                                none, deadline, error);
    if (!reply.ok) return *error = "tools/list: " + *error, false;
    if (reply.is_error) return *error = "tools/list refused: " + reply.result, false;
    if (!mcp::parse_tools_list(reply.result, &tools, &cursor, error))
      return *error = "tools/list: " + *error, false;
    if (cursor.empty()) break;
  }
  std::vector<ToolSpec> specs;
  for (mcp::Tool& t : tools)
    specs.push_back({std::move(t.name), std::move(t.description), std::move(t.input_schema)});
  std::lock_guard<std::mutex> lock(mutex_);
  tools_ = std::move(specs);
  return true;
}

void McpClient::supervise() {
  milliseconds backoff = kFirstBackoff;
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopping_) {
    lock.unlock();
    std::string error;
    const bool up = connect(&error);
    const Clock::time_point up_since = Clock::now();
    lock.lock();
    if (up && !closed_) {
      ready_ = true;
      ++connections_;
      const size_t count = tools_.size();
      lock.unlock();
      if (log_) log_(false, name() + ": ready, " + std::to_string(count) + " tools");
      lock.lock();
      // Up: re-read the tools when they change, until the server goes or the bridge stops.
      while (!stopping_ && !closed_) {
        wake_.wait(lock, [&] { return stopping_ || closed_ || tools_changed_; });
        if (stopping_ || closed_ || !tools_changed_) continue;
        lock.unlock();
        const bool refreshed = refresh_tools(&error);
        if (log_) log_(!refreshed, name() + (refreshed ? ": tool list changed" : ": " + error));
        lock.lock();
      }
      error = "it stopped: " + closed_why_;
      if (Clock::now() - up_since >= kStableAfter) backoff = kFirstBackoff;
    }
    ready_ = false;
    std::shared_ptr<McpTransport> old = std::move(transport_);
    ++generation_;  // late callbacks from the old transport are ignored
    lock.unlock();
    fail_pending("the server stopped");
    old.reset();  // stops the process; never under the lock (its threads call back into us)
    lock.lock();
    if (stopping_) break;
    if (log_)
      log_(true, name() + ": " + error + "; starting it again in " +
                     std::to_string(backoff.count()) + " ms");
    wake_.wait_for(lock, backoff, [&] { return stopping_; });
    backoff = std::min(backoff * 2, milliseconds(std::max(config_.restart_max_ms, 250)));
  }
}

McpClients start_mcp_clients(const std::vector<McpServerConfig>& servers, ToolRegistry* registry,
                             const McpClient::Log& log) {
  McpClients out;
  for (const McpServerConfig& server : servers) {
    auto client = std::make_shared<McpClient>(server, log);
    out.registrations.push_back(registry->add(client));
    out.clients.push_back(std::move(client));
  }
  return out;
}

}  // namespace earshot::host
