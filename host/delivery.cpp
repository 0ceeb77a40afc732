#include "host/delivery.h"

namespace earshot::host {

std::optional<NodeLease> DeliveryLedger::claim(const std::string& node_id, std::string* error) {
  NodeLease lease;
  lease.node_id = node_id;
  std::optional<NodeClaim> stored;
  if (store_) {
    stored = store_->claim_node(node_id, error);
    if (!stored) return std::nullopt;
  }
  std::lock_guard<std::mutex> lock(mutex_);
  Node& node = nodes_[node_id];
  node.epoch = stored ? stored->epoch : node.epoch + 1;
  if (stored && stored->acked_seq && (!node.mark || *stored->acked_seq > *node.mark))
    node.mark = stored->acked_seq;
  lease.epoch = node.epoch;
  lease.acked_seq = node.mark;
  return lease;
}

CommitResult DeliveryLedger::check_locked(const NodeLease& lease, uint64_t first,
                                          std::string* error) {
  const Node& node = nodes_[lease.node_id];
  if (node.epoch != lease.epoch) {
    *error = "session epoch " + std::to_string(lease.epoch) + " of node '" + lease.node_id +
             "' was superseded by epoch " + std::to_string(node.epoch);
    return CommitResult::kSuperseded;
  }
  if (node.mark && first <= *node.mark) {
    *error = "seq " + std::to_string(first) + " of node '" + lease.node_id +
             "' is at or below its high-water mark " + std::to_string(*node.mark);
    return CommitResult::kAlreadyStored;
  }
  return CommitResult::kStored;
}

void DeliveryLedger::raise_locked(const NodeLease& lease, uint64_t seq) {
  Node& node = nodes_[lease.node_id];
  if (!node.mark || seq > *node.mark) node.mark = seq;
}

CommitResult DeliveryLedger::store_segment(const NodeLease& lease, const SegmentRecord& segment,
                                           std::string* error) {
  std::lock_guard<std::mutex> lock(mutex_);
  // The in-memory check first: it refuses a stale lease without touching the disk. The store
  // checks again inside its transaction, which is what makes the fence hold across processes.
  CommitResult r = check_locked(lease, segment.first_seq, error);
  if (r == CommitResult::kStored && store_) r = store_->add_segment(segment, lease.epoch, error);
  if (r == CommitResult::kStored) raise_locked(lease, segment.last_seq);
  return r;
}

CommitResult DeliveryLedger::store_turn(const NodeLease& lease, const TurnRecord& turn,
                                        const SeqRange& seqs, int64_t* row_id, std::string* error) {
  std::lock_guard<std::mutex> lock(mutex_);
  CommitResult r = check_locked(lease, seqs.first, error);
  if (r == CommitResult::kStored && store_)
    r = store_->add_turn(turn, seqs, lease.epoch, row_id, error);
  if (r == CommitResult::kStored) raise_locked(lease, seqs.last);
  return r;
}

CommitResult DeliveryLedger::advance(const NodeLease& lease, uint64_t seq, std::string* error) {
  std::lock_guard<std::mutex> lock(mutex_);
  CommitResult r = check_locked(lease, seq, error);
  if (r == CommitResult::kStored) raise_locked(lease, seq);
  return r;
}

}  // namespace earshot::host
