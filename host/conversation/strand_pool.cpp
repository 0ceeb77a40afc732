#include "host/conversation/strand_pool.h"

namespace earshot::host {

StrandPool::StrandPool(size_t threads) {
  if (threads == 0) threads = 1;
  for (size_t i = 0; i < threads; ++i)
    workers_.emplace_back([this] { worker(); });
}

StrandPool::~StrandPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    ready_.notify_all();
  }
  for (std::thread& t : workers_)
    t.join();
}

StrandPool& StrandPool::shared() {
  // Two per core: a strand that does block (an STT engine waiting for a free decoder under
  // overload) then holds back a quarter of the pool at worst on this 2-core box, not all of it.
  static StrandPool pool(std::max(4u, 2 * std::thread::hardware_concurrency()));
  return pool;
}

std::shared_ptr<StrandPool::Strand> StrandPool::add(Work work) {
  return std::shared_ptr<Strand>(new Strand(std::move(work)));
}

void StrandPool::enqueue_locked(const std::shared_ptr<Strand>& strand) {
  if (strand->removed_) return;
  if (strand->running_) {
    strand->again_ = true;
  } else if (!strand->queued_) {
    strand->queued_ = true;
    run_queue_.push_back(strand);
    ready_.notify_one();
  }
}

void StrandPool::notify(const std::shared_ptr<Strand>& strand) {
  std::lock_guard<std::mutex> lock(mutex_);
  enqueue_locked(strand);
}

void StrandPool::run_at(const std::shared_ptr<Strand>& strand,
                        std::chrono::steady_clock::time_point when) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (strand->removed_ || strand->deadline_ == when) return;
  strand->deadline_ = when;  // an older timer entry finds a different deadline and is ignored
  if (when == std::chrono::steady_clock::time_point::max()) return;
  const bool earliest = timers_.empty() || when < timers_.begin()->first;
  timers_.emplace(when, strand);
  if (earliest) ready_.notify_one();  // a worker may be sleeping until a later timer
}

void StrandPool::remove(const std::shared_ptr<Strand>& strand) {
  std::unique_lock<std::mutex> lock(mutex_);
  strand->removed_ = true;
  strand->deadline_ = std::chrono::steady_clock::time_point::max();
  idle_.wait(lock, [&] { return !strand->running_; });
  // A queued entry is skipped by the worker that pops it; timers expire on their own.
}

void StrandPool::worker() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    // Due timers make their strands ready.
    const auto now = std::chrono::steady_clock::now();
    while (!timers_.empty() && timers_.begin()->first <= now) {
      auto [when, weak] = *timers_.begin();
      timers_.erase(timers_.begin());
      if (std::shared_ptr<Strand> s = weak.lock(); s && s->deadline_ == when) {
        s->deadline_ = std::chrono::steady_clock::time_point::max();
        enqueue_locked(s);
      }
    }
    if (run_queue_.empty()) {
      if (stopping_) return;
      if (timers_.empty()) {
        ready_.wait(lock);
      } else {
        // A copy: wait_until reads its deadline again after waking, and by then another worker
        // may have erased this timer's node (ThreadSanitizer caught the heap-use-after-free).
        const auto next = timers_.begin()->first;
        ready_.wait_until(lock, next);
      }
      continue;
    }
    std::shared_ptr<Strand> strand = std::move(run_queue_.front());
    run_queue_.pop_front();
    strand->queued_ = false;
    if (strand->removed_) continue;
    strand->running_ = true;
    lock.unlock();
    const bool more = strand->work_();
    lock.lock();
    strand->running_ = false;
    if (strand->removed_) {
      idle_.notify_all();
      continue;
    }
    if (more || strand->again_) {
      strand->again_ = false;
      enqueue_locked(strand);
    }
  }
}

}  // namespace earshot::host
