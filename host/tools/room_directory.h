// RoomDirectory: who can be spoken to, by room — every live conversation joins it under its room
// (a client without a room under its client id) with a way to speak to it unprompted
// (Conversation::announce). Timers that go off and the announce tool speak through it.
//
// Ownership: a Member (returned by join()) leaves when it is destroyed; once its destructor has
// returned, its speaker is never called again (a conversation leaves before it stops).
// Threads: every method is thread-safe. announce() calls the speakers on the caller's thread with
// the directory's lock held: a speaker must not block (Conversation::announce only queues) and
// must not call back into the directory. on_join runs on the joining thread, without the lock.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace earshot::host {

class RoomDirectory {
 public:
  using Speaker = std::function<void(const std::string& text)>;

  class Member {
   public:
    Member() = default;
    ~Member() { leave(); }
    Member(Member&& other) noexcept;
    Member& operator=(Member&& other) noexcept;
    Member(const Member&) = delete;
    Member& operator=(const Member&) = delete;
    void leave();

   private:
    friend class RoomDirectory;
    struct State;
    std::weak_ptr<State> state_;
    uint64_t id_ = 0;
  };

  RoomDirectory();
  ~RoomDirectory();
  RoomDirectory(const RoomDirectory&) = delete;
  RoomDirectory& operator=(const RoomDirectory&) = delete;

  [[nodiscard]] Member join(const std::string& room, const std::string& client_id, Speaker speak);
  // Speaks `text` to every member of `room`, or of every room when `room` is empty; returns how
  // many members it reached.
  size_t announce(const std::string& room, const std::string& text);
  // The rooms with at least one member now, sorted, each once.
  std::vector<std::string> rooms() const;
  // Called after each join with its room (a timer waiting for a listener there can go off now).
  void set_on_join(std::function<void(const std::string& room)> on_join);

 private:
  std::shared_ptr<Member::State> state_;
};

// The room a conversation is announced in: its room, or its client id when it has none.
inline std::string room_key(const std::string& room, const std::string& client_id) {
  return room.empty() ? client_id : room;
}

}  // namespace earshot::host
