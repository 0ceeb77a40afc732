// StrandPool: timers run their strand once, not before its deadline, while other strands keep the
// workers busy. Several idle workers then sleep until the same timer and wake together; the one
// that does not take it must not look at the timer entry the other one erased (the ASan and TSan
// suites check that).
#include "host/conversation/strand_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <vector>

namespace earshot::host {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

TEST(StrandPool, ATimerRunsItsStrandOnceAtItsDeadlineWhileIdleWorkersWaitForIt) {
  StrandPool pool(4);
  std::mutex mutex;
  std::condition_variable cv;
  int timed_runs = 0;
  Clock::time_point deadline, ran_at;
  auto timed = pool.add([&] {
    std::lock_guard<std::mutex> lock(mutex);
    ++timed_runs;
    ran_at = Clock::now();
    cv.notify_all();
    return false;
  });
  std::atomic<int> idle_runs{0};
  std::vector<std::shared_ptr<StrandPool::Strand>> idle;
  for (int i = 0; i < 3; ++i)
    idle.push_back(pool.add([&] {
      idle_runs.fetch_add(1);
      return false;
    }));

  for (int round = 1; round <= 20; ++round) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      deadline = Clock::now() + 10ms;
    }
    pool.run_at(timed, deadline);
    // Wake the other workers: each runs an idle strand, then sleeps until the same timer.
    for (auto& s : idle)
      pool.notify(s);
    std::unique_lock<std::mutex> lock(mutex);
    ASSERT_TRUE(cv.wait_for(lock, 10s, [&] { return timed_runs == round; })) << "round " << round;
    EXPECT_GE(ran_at, deadline) << "round " << round;
  }
  pool.run_at(timed, Clock::now() + 1h);
  pool.run_at(timed, Clock::time_point::max());  // cancelled: never runs
  for (auto& s : idle)
    pool.remove(s);
  pool.remove(timed);
  EXPECT_EQ(timed_runs, 20);
  EXPECT_GE(idle_runs.load(), 3);
}

}  // namespace
}  // namespace earshot::host
