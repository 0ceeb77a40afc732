#include "host/conversation/task_pool.h"

#include <limits>

namespace earshot::host {

TaskPool::TaskPool(size_t threads) : tasks_(std::numeric_limits<size_t>::max()) {
  for (size_t i = 0; i < std::max<size_t>(1, threads); ++i)
    threads_.emplace_back([this] {
      std::function<void()> task;
      while (tasks_.pop(&task)) {
        task();
        task = nullptr;
      }
    });
}

TaskPool::~TaskPool() {
  tasks_.close();
  for (std::thread& t : threads_)
    t.join();
}

void TaskPool::run(std::function<void()> task) {
  tasks_.push(std::move(task));
}

TaskPool& TaskPool::finals() {
  // As many final passes at once as pocketsphinx has decoders by default (stt.max_streams) and
  // at least two per core; an HTTP engine's requests wait on the network, not the CPU.
  static TaskPool pool(std::max(8u, 2 * std::thread::hardware_concurrency()));
  return pool;
}

}  // namespace earshot::host
