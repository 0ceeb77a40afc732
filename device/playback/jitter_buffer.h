// JitterBuffer: reply packets by sequence number, so the decoder gets them in order however the
// network delivered them. Fixed capacity (a ring indexed by seq), allocated once; insert and pop
// never allocate. Duplicates and packets that arrive after their turn was played are refused and
// counted; so are packets too far ahead to fit.
// Not thread-safe: Playback guards it with its mutex.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace earshot::device {

class JitterBuffer {
 public:
  JitterBuffer(size_t capacity_frames, size_t max_packet_bytes);

  bool insert(uint64_t seq, const uint8_t* packet, size_t size);
  enum class Next { kPacket, kMissing, kEmpty };
  // kPacket: `expected_seq` was there (copied to out); kMissing: it is not, but later ones are;
  // kEmpty: nothing at or after it. Slots before expected_seq are discarded.
  Next pop(uint64_t expected_seq, uint8_t* out, size_t* size);
  // Copies packet `seq` without removing it (for FEC from the next packet).
  bool peek(uint64_t seq, uint8_t* out, size_t* size) const;
  bool has(uint64_t seq) const;
  size_t depth() const { return count_; }
  uint64_t highest() const { return highest_; }
  void clear();

  uint64_t duplicates() const { return duplicates_; }
  uint64_t late() const { return late_; }
  uint64_t overflow() const { return overflow_; }

 private:
  struct Slot {
    bool used = false;
    uint64_t seq = 0;
    size_t size = 0;
  };
  size_t capacity_;
  size_t max_packet_;
  std::vector<Slot> slots_;
  std::vector<uint8_t> data_;
  size_t count_ = 0;
  uint64_t next_needed_ = 0;  // everything below this has been played or skipped
  uint64_t highest_ = 0;
  uint64_t duplicates_ = 0, late_ = 0, overflow_ = 0;
};

}  // namespace earshot::device
