#include "device/audio/capture_thread.h"

#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>

namespace earshot::device {

CaptureThread::CaptureThread(AudioSource& source, SpscRing<int16_t>& ring, size_t period_frames,
                             bool backpressure)
    : source_(source), ring_(ring), period_frames_(period_frames), backpressure_(backpressure) {
  period_.resize(period_frames_ * size_t(std::max(1, source_.format().channels)));
  event_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

CaptureThread::~CaptureThread() {
  stop();
  if (event_fd_ >= 0) close(event_fd_);
}

bool CaptureThread::start(std::string* error) {
  if (event_fd_ < 0) {
    *error = "capture: eventfd failed";
    return false;
  }
  thread_ = std::thread([this] { run(); });
  sched_param param{};
  param.sched_priority = 50;
  // Real-time priority keeps capture on time under load; without the permission (no
  // LimitRTPRIO) the node still works, just with more risk of overruns.
  realtime_ = pthread_setschedparam(thread_.native_handle(), SCHED_FIFO, &param) == 0;
  return true;
}

void CaptureThread::stop() {
  stopping_.store(true);
  source_.interrupt();
  if (thread_.joinable()) thread_.join();
}

std::string CaptureThread::error() const {
  return failed() ? error_ : std::string();
}

void CaptureThread::run() {
  const int channels = source_.format().channels;
  const uint64_t one = 1;
  while (true) {
    const long n = source_.read(period_.data(), period_frames_);
    if (n <= 0) {
      if (n < 0) {
        error_ = source_.describe() + ": " + source_.last_error();
        failed_.store(true, std::memory_order_release);
      }
      break;
    }
    const size_t samples = size_t(n) * size_t(channels);
    if (backpressure_) {
      while (ring_.writable() < samples && !stopping_.load()) {
        (void)!write(event_fd_, &one, sizeof one);  // make sure the reader is awake
        usleep(1000);
      }
    }
    const size_t written = ring_.write(period_.data(), samples);
    if (written < samples) dropped_.fetch_add((samples - written) / size_t(channels));
    periods_.fetch_add(1, std::memory_order_relaxed);
    frames_.fetch_add(uint64_t(n), std::memory_order_relaxed);
    (void)!write(event_fd_, &one, sizeof one);
  }
  finished_.store(true, std::memory_order_release);
  (void)!write(event_fd_, &one, sizeof one);
}

bool CaptureThread::wait_for_data(std::chrono::milliseconds timeout) {
  pollfd p{event_fd_, POLLIN, 0};
  if (poll(&p, 1, int(timeout.count())) <= 0) return false;
  uint64_t count = 0;
  (void)!read(event_fd_, &count, sizeof count);
  return true;
}

CaptureStats CaptureThread::stats() const {
  CaptureStats s;
  s.periods = periods_.load();
  s.frames = frames_.load();
  s.dropped_frames = dropped_.load();
  s.source = source_.stats();
  return s;
}

}  // namespace earshot::device
