// StrandPool: a few worker threads that run the ingress work of every conversation.
//
// Hundreds of conversations each receive a frame every 20 ms and spend microseconds on it; a
// thread each would mean hundreds of mostly idle threads and a context switch per frame. Instead
// each conversation owns a Strand — a function that works through what is queued for it — and the
// pool runs strands on whichever worker is free, one run of a strand at a time (a strand's work is
// never concurrent with itself, so its state needs no lock), in the order they became ready.
// A strand may also ask to run at a deadline (the end-of-turn timer). A run must not block: work
// it cannot hand on yet (a full queue downstream) waits in the strand until notify()d again.
//
// Thread-safety: notify(), run_at() and remove() from any thread; the strand's function runs on
// a worker.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace earshot::host {

class StrandPool {
 public:
  class Strand;
  // Runs the strand's work; returns true if it stopped with work left (a batch limit), so that it
  // is run again after the other ready strands.
  using Work = std::function<bool()>;

  explicit StrandPool(size_t threads);
  ~StrandPool();  // joins; every strand must have been removed
  StrandPool(const StrandPool&) = delete;
  StrandPool& operator=(const StrandPool&) = delete;

  std::shared_ptr<Strand> add(Work work);
  // The strand has work: run it soon (once, however often this is called before it runs).
  void notify(const std::shared_ptr<Strand>& strand);
  // Run the strand at `when` (steady clock) unless it runs before; replaces an earlier request.
  // A time_point::max() cancels it.
  void run_at(const std::shared_ptr<Strand>& strand, std::chrono::steady_clock::time_point when);
  // The strand is never run again; waits while it is running (not from its own work).
  void remove(const std::shared_ptr<Strand>& strand);

  size_t threads() const { return workers_.size(); }
  // The process-wide pool the bridge's conversations share (one worker per core).
  static StrandPool& shared();

 private:
  void worker();
  void enqueue_locked(const std::shared_ptr<Strand>& strand);

  std::mutex mutex_;
  std::condition_variable ready_;
  std::condition_variable idle_;  // a strand stopped running (remove() waits on it)
  std::deque<std::shared_ptr<Strand>> run_queue_;
  std::multimap<std::chrono::steady_clock::time_point, std::weak_ptr<Strand>> timers_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

class StrandPool::Strand {
 private:
  friend class StrandPool;
  explicit Strand(Work work) : work_(std::move(work)) {}
  Work work_;
  // Under the pool's mutex:
  bool queued_ = false;
  bool running_ = false;
  bool again_ = false;  // notified while running
  bool removed_ = false;
  std::chrono::steady_clock::time_point deadline_ = std::chrono::steady_clock::time_point::max();
};

}  // namespace earshot::host
