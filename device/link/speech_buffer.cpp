#include "device/link/speech_buffer.h"

#include <algorithm>
#include <cstring>

#include "protocol/audio_frame.h"

namespace earshot::device {

SpeechBuffer::SpeechBuffer(Config config)
    : entries_(std::max<size_t>(2, config.max_frames)),
      bytes_(std::max<size_t>(protocol::kMaxOpusPacket * 2, config.max_bytes)) {}

void SpeechBuffer::set_drop_callback(std::function<void(uint64_t, uint64_t)> cb) {
  std::lock_guard<std::mutex> lock(mutex_);
  on_drop_ = std::move(cb);
}

// Finds room for `size` bytes after the newest payload, wrapping to the start of the ring.
bool SpeechBuffer::place(size_t size, uint32_t* offset) const {
  const size_t cap = bytes_.size();
  if (first_seq_ == next_seq_) {  // empty
    *offset = 0;
    return size <= cap;
  }
  const size_t tail = entries_[size_t(first_seq_ % entries_.size())].offset;
  if (head_ > tail) {
    if (cap - head_ >= size) return *offset = head_, true;
    if (tail > size) return *offset = 0, true;
    return false;
  }
  if (head_ < tail && tail - head_ > size) return *offset = head_, true;
  return false;
}

void SpeechBuffer::drop_oldest() {
  const uint64_t seq = first_seq_;
  ++first_seq_;
  if (send_seq_ < first_seq_) send_seq_ = first_seq_;
  ++dropped_;
  if (on_drop_) on_drop_(seq, dropped_);
  if (first_seq_ == next_seq_) head_ = 0;
}

uint64_t SpeechBuffer::push(uint16_t flags, uint64_t timestamp, const uint8_t* opus, size_t size) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (size > protocol::kMaxOpusPacket) size = protocol::kMaxOpusPacket;
  uint32_t offset = 0;
  while (next_seq_ - first_seq_ >= entries_.size() || !place(size, &offset))
    drop_oldest();
  const uint64_t seq = next_seq_++;
  Entry& e = at(seq);
  e.timestamp = timestamp;
  e.offset = offset;
  e.size = uint16_t(size);
  e.flags = flags;
  e.sent = false;
  std::memcpy(&bytes_[offset], opus, size);
  head_ = uint32_t(offset + size);
  return seq;
}

size_t SpeechBuffer::take_next_to_send(uint8_t* out, size_t capacity) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (send_seq_ < first_seq_) send_seq_ = first_seq_;
  if (send_seq_ >= next_seq_) return 0;
  Entry& e = at(send_seq_);
  protocol::AudioFrameHeader h;
  h.stream = protocol::Stream::kMicrophone;
  h.flags = uint16_t(e.flags | (e.sent ? protocol::kFlagRedelivery : 0));
  h.seq = send_seq_;
  h.timestamp = e.timestamp;
  const size_t n = protocol::write_audio_frame(h, &bytes_[e.offset], e.size, out, capacity);
  if (n == 0) return 0;
  e.sent = true;
  ++send_seq_;
  return n;
}

void SpeechBuffer::ack(uint64_t seq) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!acked_ || seq > *acked_) acked_ = seq;
  while (first_seq_ < next_seq_ && first_seq_ <= seq)
    ++first_seq_;
  if (send_seq_ < first_seq_) send_seq_ = first_seq_;
  if (first_seq_ == next_seq_) head_ = 0;
}

void SpeechBuffer::on_welcome(std::optional<uint64_t> acked_seq) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (acked_seq && *acked_seq >= next_seq_) {
    // The host has seen more than this buffer ever numbered: this process restarted since. Number
    // what we hold (and what comes) above the host's mark, or it would be dropped as duplicates.
    const uint64_t base = *acked_seq + 1;
    const size_t count = size_t(next_seq_ - first_seq_);
    std::vector<Entry> kept;
    kept.reserve(count);
    for (uint64_t s = first_seq_; s < next_seq_; ++s)
      kept.push_back(at(s));
    first_seq_ = base;
    next_seq_ = base + count;
    for (size_t i = 0; i < count; ++i)
      at(base + i) = kept[i];
  } else if (acked_seq) {
    while (first_seq_ < next_seq_ && first_seq_ <= *acked_seq)
      ++first_seq_;
    if (first_seq_ > next_seq_) first_seq_ = next_seq_;
  }
  if (acked_seq) acked_ = acked_seq;
  if (first_seq_ == next_seq_) head_ = 0;
  send_seq_ = first_seq_;  // everything unacknowledged goes again, in order
}

SpeechBuffer::Stats SpeechBuffer::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  Stats s;
  s.pending = size_t(next_seq_ - first_seq_);
  s.unsent = size_t(next_seq_ - std::max(send_seq_, first_seq_));
  s.dropped = dropped_;
  s.next_seq = next_seq_;
  s.acked_seq = acked_;
  return s;
}

}  // namespace earshot::device
