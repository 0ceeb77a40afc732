// TaskPool: a few threads that run blocking work many conversations share — the speech-to-text
// final passes the turn stage starts early (a pocketsphinx second pass, or a request to a whisper
// server). A thread per conversation for them would mostly sleep; a pool bounds how many run at
// once, bridge-wide, and the rest wait their turn in order.
//
// Thread-safety: run() from any thread. Tasks run on the pool's threads; the destructor runs
// what is queued, then joins.
#pragma once

#include <functional>
#include <thread>
#include <vector>

#include "host/work_queue.h"

namespace earshot::host {

class TaskPool {
 public:
  explicit TaskPool(size_t threads);
  ~TaskPool();
  TaskPool(const TaskPool&) = delete;
  TaskPool& operator=(const TaskPool&) = delete;

  void run(std::function<void()> task);
  size_t threads() const { return threads_.size(); }

  // The process-wide pool for STT final passes.
  static TaskPool& finals();

 private:
  WorkQueue<std::function<void()>> tasks_;
  std::vector<std::thread> threads_;
};

}  // namespace earshot::host
