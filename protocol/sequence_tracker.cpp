#include "protocol/sequence_tracker.h"

namespace earshot::protocol {

SeqVerdict SequenceTracker::accept(uint64_t seq) {
  if (high_water_ && seq <= *high_water_) {
    ++duplicates_;
    return SeqVerdict::kDuplicate;
  }
  const uint64_t want = expected();
  high_water_ = seq;
  if (seq == want) return SeqVerdict::kNext;
  lost_ += seq - want;
  return SeqVerdict::kGap;
}

}  // namespace earshot::protocol
