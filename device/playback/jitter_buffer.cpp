#include "device/playback/jitter_buffer.h"

#include <cstring>

namespace earshot::device {

JitterBuffer::JitterBuffer(size_t capacity_frames, size_t max_packet_bytes)
    : capacity_(capacity_frames),
      max_packet_(max_packet_bytes),
      slots_(capacity_frames),
      data_(capacity_frames * max_packet_bytes) {}

bool JitterBuffer::insert(uint64_t seq, const uint8_t* packet, size_t size) {
  if (size == 0 || size > max_packet_) return false;
  if (seq < next_needed_) {
    ++late_;
    return false;
  }
  if (seq >= next_needed_ + capacity_) {
    ++overflow_;
    return false;
  }
  Slot& slot = slots_[seq % capacity_];
  if (slot.used && slot.seq == seq) {
    ++duplicates_;
    return false;
  }
  slot.used = true;
  slot.seq = seq;
  slot.size = size;
  std::memcpy(&data_[(seq % capacity_) * max_packet_], packet, size);
  ++count_;
  if (seq > highest_ || count_ == 1) highest_ = seq;
  return true;
}

JitterBuffer::Next JitterBuffer::pop(uint64_t expected_seq, uint8_t* out, size_t* size) {
  // Drop anything older than what is wanted now.
  while (next_needed_ < expected_seq && count_ > 0) {
    Slot& s = slots_[next_needed_ % capacity_];
    if (s.used && s.seq == next_needed_) {
      s.used = false;
      --count_;
    }
    ++next_needed_;
  }
  if (next_needed_ < expected_seq) next_needed_ = expected_seq;
  if (count_ == 0) return Next::kEmpty;
  Slot& slot = slots_[expected_seq % capacity_];
  next_needed_ = expected_seq + 1;
  if (slot.used && slot.seq == expected_seq) {
    std::memcpy(out, &data_[(expected_seq % capacity_) * max_packet_], slot.size);
    *size = slot.size;
    slot.used = false;
    --count_;
    return Next::kPacket;
  }
  return Next::kMissing;
}

bool JitterBuffer::peek(uint64_t seq, uint8_t* out, size_t* size) const {
  const Slot& slot = slots_[seq % capacity_];
  if (!slot.used || slot.seq != seq) return false;
  std::memcpy(out, &data_[(seq % capacity_) * max_packet_], slot.size);
  *size = slot.size;
  return true;
}

bool JitterBuffer::has(uint64_t seq) const {
  const Slot& slot = slots_[seq % capacity_];
  return slot.used && slot.seq == seq;
}

void JitterBuffer::clear() {
  for (Slot& s : slots_)
    s.used = false;
  count_ = 0;
  next_needed_ = 0;
  highest_ = 0;
}

}  // namespace earshot::device
