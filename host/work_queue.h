// WorkQueue: the bounded FIFO between a session's threads.
//
// push() refuses when full (the caller decides what that means); push_wait() blocks until there is
// room, which is how a slow stage holds back the one before it instead of dropping work.
// push_shedding() drops the oldest item of a kind that may be lost to take a new one, and
// push_past_limit() takes the one item a consumer must never miss even when full. close()
// lets the consumer finish what is queued; close_and_drop() discards it (a session that ends does
// not work through its backlog). pop() returns false once closed and empty.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>

namespace earshot::host {

template <typename T>
class WorkQueue {
 public:
  explicit WorkQueue(size_t limit) : limit_(limit) {}

  bool push(T item) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (closed_ || items_.size() >= limit_) return false;
    items_.push_back(std::move(item));
    ready_.notify_one();
    return true;
  }
  // Like push(), but a refused item stays with the caller.
  bool try_push(T& item) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (closed_ || items_.size() >= limit_) return false;
    items_.push_back(std::move(item));
    ready_.notify_one();
    return true;
  }
  // Waits for room; false if the queue was closed first, or is full after stop_waiting().
  bool push_wait(T item) {
    std::unique_lock<std::mutex> lock(mutex_);
    room_.wait(lock, [&] { return closed_ || no_waiting_ || items_.size() < limit_; });
    if (closed_ || items_.size() >= limit_) return false;
    items_.push_back(std::move(item));
    ready_.notify_one();
    return true;
  }
  // Takes `item` even when full (false only once closed): for the one item its consumer must never
  // miss, that a bounded producer sends once.
  bool push_past_limit(T item) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (closed_) return false;
    items_.push_back(std::move(item));
    ready_.notify_one();
    return true;
  }
  // Always takes `item`. When full, the oldest queued item `droppable` accepts is dropped to make
  // room; if none is, the queue holds one more than its limit. For a queue where some items come
  // from outside and may be shed, and others must never be lost.
  template <typename Droppable>
  void push_shedding(T item, Droppable droppable) {
    std::optional<T> dropped;  // destroyed outside the lock
    std::lock_guard<std::mutex> lock(mutex_);
    if (closed_) return;
    if (items_.size() >= limit_) {
      auto it = std::find_if(items_.begin(), items_.end(), droppable);
      if (it != items_.end()) {
        dropped = std::move(*it);
        items_.erase(it);
      }
    }
    items_.push_back(std::move(item));
    ready_.notify_one();
  }
  // Offers the newest queued item to `merge` (under the lock, before any consumer has it): true if
  // `merge` took the new work into it, so nothing needs pushing. For work that coalesces.
  template <typename Merge>
  bool merge_into_back(Merge merge) {
    std::lock_guard<std::mutex> lock(mutex_);
    return !closed_ && !items_.empty() && merge(items_.back());
  }
  bool pop(T* out) { return pop_until(std::nullopt, out) == Popped::kItem; }

  enum class Popped { kItem, kTimeout, kClosed };
  // Like pop(), but gives up at `deadline` (if set) with kTimeout.
  Popped pop_until(std::optional<std::chrono::steady_clock::time_point> deadline, T* out) {
    std::unique_lock<std::mutex> lock(mutex_);
    auto ready = [&] { return closed_ || !items_.empty(); };
    if (deadline) {
      if (!ready_.wait_until(lock, *deadline, ready)) return Popped::kTimeout;
    } else {
      ready_.wait(lock, ready);
    }
    if (items_.empty()) return Popped::kClosed;
    *out = std::move(items_.front());
    items_.pop_front();
    room_.notify_one();
    return Popped::kItem;
  }
  // From now on push_wait() does not wait: it pushes if there is room and refuses otherwise (a
  // producer blocked on a consumer that is shutting down gives up; pops go on as before).
  void stop_waiting() {
    std::lock_guard<std::mutex> lock(mutex_);
    no_waiting_ = true;
    room_.notify_all();
  }
  void close() {
    std::lock_guard<std::mutex> lock(mutex_);
    closed_ = true;
    ready_.notify_all();
    room_.notify_all();
  }
  // Closes and discards what is queued; returns how many items were dropped.
  size_t close_and_drop() {
    std::deque<T> dropped;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      closed_ = true;
      dropped.swap(items_);
      ready_.notify_all();
      room_.notify_all();
    }
    return dropped.size();  // destroyed outside the lock
  }
  size_t size() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return items_.size();
  }

 private:
  const size_t limit_;
  mutable std::mutex mutex_;
  std::condition_variable ready_;
  std::condition_variable room_;
  std::deque<T> items_;
  bool closed_ = false;
  bool no_waiting_ = false;
};

}  // namespace earshot::host
