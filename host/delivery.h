// DeliveryLedger: which session of a node may acknowledge its speech, and up to which seq.
//
// The contract (docs/protocol.md, "Delivering speech exactly once"): an ack never covers a frame
// whose segment or turn is not durably stored. Each new session of a node claims it, which starts
// a new epoch and fences every older session of that node; every commit names its session's
// lease and is refused once the lease is stale (inside the store's transaction when there is a
// store), so a replaced session still working through its backlog can neither store nor ack.
//
//   claim()          new session: epoch + 1, and the seq the node may forget (welcome.acked_seq)
//   store_segment()  ambient segment + high-water mark, one fenced transaction
//   store_turn()     a turn as transcribed + high-water mark, one fenced transaction
//   advance()        frames that belong to no turn (noise the turn detector did not take): the
//                    mark moves in memory only — there is nothing of them to keep, and a bridge
//                    restart merely makes the node send them again, to be dropped again
//
// Without a store (store.path = ""), epochs and marks live in memory: the same fence, no
// durability. Thread-safety: every method may be called from any thread.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "host/store/store.h"

namespace earshot::host {

struct NodeLease {
  std::string node_id;
  uint64_t epoch = 0;
  std::optional<uint64_t> acked_seq;  // what the node may forget when this session starts
};

class DeliveryLedger {
 public:
  explicit DeliveryLedger(Store* store) : store_(store) {}

  // nullopt and `*error` when the store cannot be written (the session is refused: without a
  // claim it could not fence the old one).
  std::optional<NodeLease> claim(const std::string& node_id, std::string* error);
  CommitResult store_segment(const NodeLease& lease, const SegmentRecord& segment,
                             std::string* error);
  CommitResult store_turn(const NodeLease& lease, const TurnRecord& turn, const SeqRange& seqs,
                          int64_t* row_id, std::string* error);
  CommitResult advance(const NodeLease& lease, uint64_t seq, std::string* error);

 private:
  struct Node {
    uint64_t epoch = 0;
    std::optional<uint64_t> mark;
  };
  // In memory, under mutex_: is `lease` current, and is `first` above the mark?
  CommitResult check_locked(const NodeLease& lease, uint64_t first, std::string* error);
  void raise_locked(const NodeLease& lease, uint64_t seq);

  Store* store_;
  std::mutex mutex_;
  std::map<std::string, Node> nodes_;
};

}  // namespace earshot::host
