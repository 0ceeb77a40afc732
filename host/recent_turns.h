// RecentTurns: the last few turns in memory, for the status page. /api/status is served on the
// event loop that paces every session's audio, so it must not query SQLite there; the responder
// records each finished turn here (as it stores it), and the page reads a copy. Primed from the
// store once at start-up, so a restarted bridge still shows what came before.
//
// Thread-safety: every method from any thread (one mutex, held for a copy).
#pragma once

#include <deque>
#include <mutex>
#include <vector>

#include "host/store/store.h"

namespace earshot::host {

class RecentTurns {
 public:
  explicit RecentTurns(size_t capacity = 20) : capacity_(capacity) {}

  void prime(std::vector<TurnRecord> newest_first) {
    std::lock_guard<std::mutex> lock(mutex_);
    turns_.assign(newest_first.begin(), newest_first.end());
    while (turns_.size() > capacity_)
      turns_.pop_back();
  }
  // A turn finished (or was updated: same session and turn id replaces it).
  void record(const TurnRecord& turn) {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto it = turns_.begin(); it != turns_.end(); ++it)
      if (it->session_id == turn.session_id && it->turn_id == turn.turn_id) {
        *it = turn;
        return;
      }
    turns_.push_front(turn);
    while (turns_.size() > capacity_)
      turns_.pop_back();
  }
  std::vector<TurnRecord> newest_first() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return {turns_.begin(), turns_.end()};
  }

 private:
  const size_t capacity_;
  mutable std::mutex mutex_;
  std::deque<TurnRecord> turns_;
};

}  // namespace earshot::host
