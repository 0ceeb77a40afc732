#include "host/outbox.h"

namespace earshot::host {

Outbox::Outbox(Limits limits, std::function<void()> wake)
    : limits_(limits), wake_(std::move(wake)) {}

void Outbox::push_control(std::string json) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (detached_) return;
    if (control_.size() >= limits_.max_control) control_.pop_front();
    control_.push_back(std::move(json));
  }
  wake_();
}

bool Outbox::push_audio(std::string wire_frame, int64_t due_ms,
                        std::function<void(int64_t sent_ms)> on_sent, int64_t now_ms) {
  std::unique_lock<std::mutex> lock(mutex_);
  audio_room_.wait(
      lock, [&] { return detached_ || audio_closed_ || audio_.size() < limits_.max_audio_frames; });
  if (detached_ || audio_closed_) return false;
  const int64_t release_ms = due_ms - limits_.lead_ms;
  audio_.push_back({std::move(wire_frame), release_ms, std::move(on_sent)});
  // A frame already due (a reply's first frames) wakes the loop now; the rest wait for the
  // pacer's tick, which releases audio as it comes due.
  const bool due_now = release_ms <= now_ms && audio_.size() == 1;
  lock.unlock();
  if (due_now && wake_) wake_();
  return true;
}

size_t Outbox::clear_audio() {
  std::lock_guard<std::mutex> lock(mutex_);
  size_t n = audio_.size();
  audio_.clear();
  audio_closed_ = true;
  audio_dropped_ += n;
  audio_room_.notify_all();
  return n;
}

void Outbox::open_audio() {
  std::lock_guard<std::mutex> lock(mutex_);
  audio_closed_ = false;
}

void Outbox::detach() {
  std::lock_guard<std::mutex> lock(mutex_);
  detached_ = true;
  control_.clear();
  audio_.clear();
  audio_room_.notify_all();
}

bool Outbox::detached() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return detached_;
}

void Outbox::request_close(uint16_t code, std::string reason) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (close_request_.code != 0) return;
    close_request_ = {code, std::move(reason)};
  }
  wake_();
}

Outbox::CloseRequest Outbox::close_request() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return close_request_;
}

bool Outbox::pop_ready(int64_t now_ms, OutItem* out) {
  std::function<void(int64_t)> on_sent;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!control_.empty()) {
      out->binary = false;
      out->bytes = std::move(control_.front());
      control_.pop_front();
      return true;
    }
    if (audio_.empty() || audio_.front().release_ms > now_ms) return false;
    out->binary = !limits_.audio_as_text;
    out->bytes = std::move(audio_.front().bytes);
    on_sent = std::move(audio_.front().on_sent);
    audio_.pop_front();
    ++audio_sent_;
    audio_room_.notify_one();
  }
  if (on_sent) on_sent(now_ms);  // outside the lock: it may take the session's locks
  return true;
}

bool Outbox::has_ready(int64_t now_ms) const {
  std::lock_guard<std::mutex> lock(mutex_);
  return !control_.empty() || (!audio_.empty() && audio_.front().release_ms <= now_ms);
}

int64_t Outbox::next_audio_release_ms() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return audio_.empty() ? -1 : audio_.front().release_ms;
}

size_t Outbox::audio_queued() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return audio_.size();
}

uint64_t Outbox::audio_dropped() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return audio_dropped_;
}

uint64_t Outbox::audio_sent() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return audio_sent_;
}

}  // namespace earshot::host
