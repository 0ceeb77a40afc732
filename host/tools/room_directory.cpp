#include "host/tools/room_directory.h"

#include <algorithm>
#include <mutex>

namespace earshot::host {

struct RoomDirectory::Member::State {
  struct Entry {
    uint64_t id;
    std::string room;
    std::string client_id;
    Speaker speak;
  };
  std::mutex mutex;
  std::vector<Entry> entries;
  uint64_t next_id = 1;
  std::function<void(const std::string&)> on_join;
};

RoomDirectory::Member::Member(Member&& other) noexcept
    : state_(std::move(other.state_)), id_(other.id_) {
  other.id_ = 0;
}

RoomDirectory::Member& RoomDirectory::Member::operator=(Member&& other) noexcept {
  if (this != &other) {
    leave();
    state_ = std::move(other.state_);
    id_ = other.id_;
    other.id_ = 0;
  }
  return *this;
}

void RoomDirectory::Member::leave() {
  if (auto state = state_.lock()) {
    std::lock_guard<std::mutex> lock(state->mutex);
    auto& e = state->entries;
    e.erase(std::remove_if(e.begin(), e.end(), [&](const State::Entry& x) { return x.id == id_; }),
            e.end());
  }
  state_.reset();
  id_ = 0;
}

RoomDirectory::RoomDirectory() : state_(std::make_shared<Member::State>()) {}
RoomDirectory::~RoomDirectory() = default;

RoomDirectory::Member RoomDirectory::join(const std::string& room, const std::string& client_id,
                                          Speaker speak) {
  Member m;
  std::function<void(const std::string&)> on_join;
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    m.id_ = state_->next_id++;
    state_->entries.push_back({m.id_, room, client_id, std::move(speak)});
    on_join = state_->on_join;
  }
  m.state_ = state_;
  if (on_join) on_join(room);
  return m;
}

size_t RoomDirectory::announce(const std::string& room, const std::string& text) {
  std::lock_guard<std::mutex> lock(state_->mutex);
  size_t reached = 0;
  for (const Member::State::Entry& e : state_->entries) {
    if (!room.empty() && e.room != room) continue;
    e.speak(text);
    ++reached;
  }
  return reached;
}

std::vector<std::string> RoomDirectory::rooms() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  std::vector<std::string> out;
  for (const Member::State::Entry& e : state_->entries)
    out.push_back(e.room);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

void RoomDirectory::set_on_join(std::function<void(const std::string& room)> on_join) {
  std::lock_guard<std::mutex> lock(state_->mutex);
  state_->on_join = std::move(on_join);
}

}  // namespace earshot::host
