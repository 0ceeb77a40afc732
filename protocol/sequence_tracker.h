// Receiver-side bookkeeping for one stream's sequence numbers: what is new, what is a duplicate
// of something already accepted (a redelivery after reconnect), and what was skipped.
//
// The sender numbers frames 0, 1, 2, ... without gaps. The receiver starts from a high-water mark
// (the last seq it has stored, or "none") and classifies every arriving seq. This is what makes
// delivery exactly-once: duplicates are dropped here, and the sender retransmits everything above
// the high-water mark the receiver reported.
#pragma once

#include <cstdint>
#include <optional>

namespace earshot::protocol {

enum class SeqVerdict {
  kNext,       // seq == expected: accept
  kDuplicate,  // seq <= high-water mark: already accepted; drop it, do not count it as an error
  kGap,        // seq > expected: accept, frames in between are lost (counted in lost())
};

class SequenceTracker {
 public:
  // `high_water`: the highest seq already accepted, or nullopt when nothing has been.
  explicit SequenceTracker(std::optional<uint64_t> high_water = std::nullopt)
      : high_water_(high_water) {}

  SeqVerdict accept(uint64_t seq);

  std::optional<uint64_t> high_water() const { return high_water_; }
  uint64_t expected() const { return high_water_ ? *high_water_ + 1 : 0; }
  uint64_t duplicates() const { return duplicates_; }
  uint64_t lost() const { return lost_; }

 private:
  std::optional<uint64_t> high_water_;
  uint64_t duplicates_ = 0;
  uint64_t lost_ = 0;
};

}  // namespace earshot::protocol
