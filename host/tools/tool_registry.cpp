#include "host/tools/tool_registry.h"

#include <algorithm>
#include <set>

namespace earshot::host {

struct ToolRegistry::Registration::State {
  std::mutex mutex;
  uint64_t next_id = 1;
  std::vector<ToolRegistry::Entry> entries;
};

ToolRegistry::Registration::Registration(Registration&& other) noexcept
    : state_(std::move(other.state_)), id_(other.id_) {
  other.id_ = 0;
}

ToolRegistry::Registration& ToolRegistry::Registration::operator=(Registration&& other) noexcept {
  if (this != &other) {
    reset();
    state_ = std::move(other.state_);
    id_ = other.id_;
    other.id_ = 0;
  }
  return *this;
}

void ToolRegistry::Registration::reset() {
  if (auto state = state_.lock()) {
    std::lock_guard<std::mutex> lock(state->mutex);
    auto& e = state->entries;
    e.erase(std::remove_if(e.begin(), e.end(), [&](const Entry& x) { return x.id == id_; }),
            e.end());
  }
  state_.reset();
  id_ = 0;
}

ToolRegistry::ToolRegistry() : state_(std::make_shared<Registration::State>()) {}
ToolRegistry::~ToolRegistry() = default;

ToolRegistry::Registration ToolRegistry::add(std::shared_ptr<ToolProvider> provider,
                                             std::string only_session) {
  Registration r;
  std::lock_guard<std::mutex> lock(state_->mutex);
  r.id_ = state_->next_id++;
  r.state_ = state_;
  state_->entries.push_back({r.id_, std::move(provider), std::move(only_session)});
  return r;
}

std::vector<ToolRegistry::Entry> ToolRegistry::providers_for(const ToolScope& scope) const {
  std::vector<Entry> out;
  std::lock_guard<std::mutex> lock(state_->mutex);
  for (const Entry& e : state_->entries)
    if (e.only_session.empty() || e.only_session == scope.session_id) out.push_back(e);
  return out;
}

// Providers are asked outside the registry's lock: an MCP provider may take a while to answer,
// and registering must not wait for it.
std::vector<ToolSpec> ToolRegistry::list(const ToolScope& scope) const {
  std::vector<ToolSpec> out;
  std::set<std::string> names;
  for (const Entry& e : providers_for(scope))
    for (ToolSpec& spec : e.provider->list(scope))
      if (names.insert(spec.name).second) out.push_back(std::move(spec));
  return out;
}

std::shared_ptr<ToolProvider> ToolRegistry::find(const ToolScope& scope,
                                                 const std::string& name) const {
  for (const Entry& e : providers_for(scope))
    for (const ToolSpec& spec : e.provider->list(scope))
      if (spec.name == name) return e.provider;
  return nullptr;
}

}  // namespace earshot::host
