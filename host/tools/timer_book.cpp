#include "host/tools/timer_book.h"

#include <algorithm>
#include <cctype>

namespace earshot::host {
namespace {
bool same_label(const std::string& a, const std::string& b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

void sort_by_due(std::vector<TimerRecord>* timers) {
  std::stable_sort(timers->begin(), timers->end(), [](const TimerRecord& a, const TimerRecord& b) {
    return a.due_at_ms < b.due_at_ms;
  });
}
}  // namespace

TimerBook::TimerBook(Store* store) : store_(store) {}

void TimerBook::load() {
  if (!store_) return;
  std::vector<TimerRecord> stored = store_->timers();
  std::lock_guard<std::mutex> lock(mutex_);
  timers_ = std::move(stored);
  sort_by_due(&timers_);
}

std::optional<TimerRecord> TimerBook::add(TimerRecord timer, std::string* error) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (store_) {
    if (!store_->add_timer(timer, &timer.id, error)) return std::nullopt;
  } else {
    timer.id = next_id_++;
  }
  timers_.push_back(timer);
  sort_by_due(&timers_);
  return timer;
}

std::vector<TimerRecord> TimerBook::list(const std::string& room) const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<TimerRecord> out;
  for (const TimerRecord& t : timers_)
    if (room.empty() || t.room == room) out.push_back(t);
  return out;
}

std::vector<TimerRecord> TimerBook::cancel(const std::string& room, int64_t id,
                                           const std::string& label) {
  std::vector<TimerRecord> matched;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    size_t in_room = 0;
    for (const TimerRecord& t : timers_)
      in_room += t.room == room;
    for (const TimerRecord& t : timers_) {
      if (t.room != room) continue;
      if ((id != 0 && t.id == id) || (id == 0 && !label.empty() && same_label(t.label, label)) ||
          (id == 0 && label.empty() && in_room == 1))
        matched.push_back(t);
    }
  }
  for (const TimerRecord& t : matched)
    remove(t.id);
  return matched;
}

bool TimerBook::remove(int64_t id, std::string* store_error) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = std::find_if(timers_.begin(), timers_.end(),
                         [&](const TimerRecord& t) { return t.id == id; });
  if (it == timers_.end()) return false;
  timers_.erase(it);
  std::string error;
  if (store_ && !store_->remove_timer(id, &error) && store_error) *store_error = error;
  return true;
}

std::vector<TimerRecord> TimerBook::due(int64_t now_ms) const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<TimerRecord> out;
  for (const TimerRecord& t : timers_)
    if (t.due_at_ms <= now_ms) out.push_back(t);
  return out;
}

}  // namespace earshot::host
