#include "host/doors/device_tools.h"

#include <algorithm>

#include "host/clock.h"

namespace earshot::host {

namespace mcp = protocol::xiaozhi::mcp;

DeviceTools::DeviceTools(Send send, int request_timeout_ms)
    : send_(std::move(send)), request_timeout_ms_(request_timeout_ms) {}

int64_t DeviceTools::request_locked(Kind kind, int64_t deadline_ms, Done done) {
  const int64_t id = next_id_++;
  pending_[id] = Pending{kind, deadline_ms, std::move(done)};
  return id;
}

void DeviceTools::start(int64_t now_ms) {
  std::string payload;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (closed_) return;
    payload = mcp::initialize_request(
        request_locked(Kind::kInitialize, now_ms + request_timeout_ms_, nullptr));
  }
  send_(std::move(payload));
}

std::string DeviceTools::on_message(std::string_view payload, int64_t now_ms) {
  std::string error;
  const std::optional<mcp::Incoming> in = mcp::parse_incoming(payload, &error);
  if (!in) return error;
  if (!in->is_response) return "";  // a notification: nothing to answer
  if (!in->id) return "an MCP response without a numeric id";
  Done done;
  Outcome outcome;
  std::string next;  // a tools/list request to send
  {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto it = pending_.find(*in->id);
    if (it == pending_.end())
      return "an MCP response to no request of ours (id " + std::to_string(*in->id) + ")";
    Pending p = std::move(it->second);
    pending_.erase(it);
    switch (p.kind) {
      case Kind::kInitialize:
        // Whatever it says about itself, the tools come from tools/list.
        next = mcp::tools_list_request(
            request_locked(Kind::kList, now_ms + request_timeout_ms_, nullptr), "");
        break;
      case Kind::kList: {
        mcp::ToolsPage page;
        if (in->is_error || !mcp::parse_tools_page(in->result, &page, &error)) {
          listed_ = true;  // what came so far is what there is
          return in->is_error ? "tools/list failed: " + in->error_message : error;
        }
        for (mcp::Tool& t : page.tools) {
          if (tools_.size() >= mcp::kMaxTools) break;
          const bool seen = std::any_of(tools_.begin(), tools_.end(),
                                        [&](const mcp::Tool& o) { return o.name == t.name; });
          if (!seen) tools_.push_back(std::move(t));
        }
        // The firmware's cursor names the first tool of the next page; a page that adds nothing
        // new (a device repeating itself) ends the listing rather than looping.
        if (!page.next_cursor.empty() && !page.tools.empty() && tools_.size() < mcp::kMaxTools) {
          next = mcp::tools_list_request(
              request_locked(Kind::kList, now_ms + request_timeout_ms_, nullptr), page.next_cursor);
        } else {
          listed_ = true;
        }
        break;
      }
      case Kind::kCall:
        done = std::move(p.done);
        if (in->is_error) {
          outcome.text = in->error_message;
        } else {
          const mcp::CallResult r = mcp::parse_call_result(in->result);
          outcome.ok = !r.is_error;
          outcome.text = r.text;
        }
        break;
    }
  }
  if (!next.empty()) send_(std::move(next));
  if (done) done(outcome);
  return "";
}

void DeviceTools::on_tick(int64_t now_ms) {
  std::vector<Done> expired;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto it = pending_.begin(); it != pending_.end();) {
      if (it->second.deadline_ms > now_ms) {
        ++it;
        continue;
      }
      if (it->second.kind != Kind::kCall) listed_ = true;  // a device that does not list
      if (it->second.done) expired.push_back(std::move(it->second.done));
      it = pending_.erase(it);
    }
  }
  for (Done& d : expired)
    d(Outcome{false, "the device did not answer in time"});
}

void DeviceTools::call(const std::string& name, const std::string& arguments_json, int timeout_ms,
                       Done done) {
  std::string payload, refusal;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    const bool known = std::any_of(tools_.begin(), tools_.end(),
                                   [&](const mcp::Tool& t) { return t.name == name; });
    if (closed_) {
      refusal = "the device disconnected";
    } else if (!known) {
      refusal = "the device offers no tool '" + name + "'";
    } else {
      const int64_t id = request_locked(Kind::kCall, monotonic_ms() + timeout_ms, std::move(done));
      payload = mcp::tools_call_request(id, name, arguments_json);
    }
  }
  if (!refusal.empty()) {
    if (done) done(Outcome{false, refusal});
    return;
  }
  send_(std::move(payload));
}

std::vector<mcp::Tool> DeviceTools::tools() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return tools_;
}

bool DeviceTools::listed() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return listed_;
}

void DeviceTools::close() {
  std::vector<Done> waiting;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    closed_ = true;
    for (auto& [id, p] : pending_)
      if (p.done) waiting.push_back(std::move(p.done));
    pending_.clear();
  }
  for (Done& d : waiting)
    d(Outcome{false, "the device disconnected"});
}

}  // namespace earshot::host
