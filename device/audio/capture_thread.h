// CaptureThread: the node's one real-time thread. It reads periods from an AudioSource and writes
// them into a lock-free SpscRing; per period it never allocates, locks or logs. A full ring (the
// pipeline fell behind) drops the period and counts it. After each write it signals an eventfd
// (a write() to an eventfd never blocks) so the pipeline thread sleeps until data arrives.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "device/audio/audio_source.h"
#include "device/audio/spsc_ring.h"

namespace earshot::device {

struct CaptureStats {
  uint64_t periods = 0;
  uint64_t frames = 0;
  uint64_t dropped_frames = 0;  // ring full
  SourceStats source;
};

class CaptureThread {
 public:
  // `backpressure`: for sources faster than real time (a file read as fast as possible) wait for
  // room in the ring instead of dropping; a live device never waits.
  CaptureThread(AudioSource& source, SpscRing<int16_t>& ring, size_t period_frames,
                bool backpressure = false);
  ~CaptureThread();
  CaptureThread(const CaptureThread&) = delete;
  CaptureThread& operator=(const CaptureThread&) = delete;

  bool start(std::string* error);  // tries SCHED_FIFO 50; falls back to normal scheduling
  void stop();                     // interrupts the source and joins
  bool finished() const { return finished_.load(std::memory_order_acquire); }
  bool failed() const { return failed_.load(std::memory_order_acquire); }
  std::string error() const;
  bool realtime_scheduling() const { return realtime_; }
  // Pipeline thread: waits until new data was written, the stream ended, or the timeout passed.
  bool wait_for_data(std::chrono::milliseconds timeout);
  CaptureStats stats() const;

 private:
  void run();

  AudioSource& source_;
  SpscRing<int16_t>& ring_;
  size_t period_frames_;
  bool backpressure_;
  std::atomic<bool> stopping_{false};
  std::vector<int16_t> period_;
  std::thread thread_;
  int event_fd_ = -1;
  bool realtime_ = false;
  std::atomic<bool> finished_{false};
  std::atomic<bool> failed_{false};
  std::atomic<uint64_t> periods_{0};
  std::atomic<uint64_t> frames_{0};
  std::atomic<uint64_t> dropped_{0};
  std::string error_;  // written before failed_ is set
};

}  // namespace earshot::device
