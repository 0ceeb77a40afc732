// TimerBook: the household timers and alarms not yet spoken — their one owner. Kept in memory and
// written through to the store (Store::add_timer / remove_timer), so a bridge restart keeps them:
// load() reads them back at start. Without a store they live in memory only.
//
// It knows no clock of its own: whoever asks what is due says what time it is (wall clock, ms since
// the epoch), so tests drive it with any clock they like. host/tools/timer_ringer.h decides when
// to ask and what to say.
// Threads: every method is thread-safe.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "host/store/store.h"

namespace earshot::host {

class TimerBook {
 public:
  explicit TimerBook(Store* store);  // may be null

  // Reads the stored timers (once, at start, before any add()).
  void load();
  // Adds `timer` (its id is assigned here); the stored timer, or nullopt and `*error` when the
  // store refused it (then it is not kept at all: a timer that a restart would lose is not set).
  std::optional<TimerRecord> add(TimerRecord timer, std::string* error);
  // The room's timers, soonest first; every room's when `room` is empty.
  std::vector<TimerRecord> list(const std::string& room) const;
  // Removes the room's timers with this id, or (id 0) whose label is `label` (case-insensitive),
  // or (id 0, empty label) the room's only timer; returns what it removed.
  std::vector<TimerRecord> cancel(const std::string& room, int64_t id, const std::string& label);
  // Removes one timer (it went off, or was dropped); false if it was not there. A store that
  // fails to delete its row says why in `*store_error` (that row would go off again after a
  // restart; the ringer's grace drops it then at the latest).
  bool remove(int64_t id, std::string* store_error = nullptr);
  // The timers due at `now_ms` (due_at_ms <= now_ms), soonest first; they stay until remove().
  std::vector<TimerRecord> due(int64_t now_ms) const;

 private:
  Store* store_;
  mutable std::mutex mutex_;
  std::vector<TimerRecord> timers_;  // soonest first
  int64_t next_id_ = 1;              // without a store
};

}  // namespace earshot::host
