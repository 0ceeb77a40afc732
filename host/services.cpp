#include "host/services.h"

#include "host/store/store.h"

namespace earshot::host {

std::optional<uint64_t> HighWaterMarks::get(const std::string& node_id) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = marks_.find(node_id);
    if (it != marks_.end()) return it->second;
  }
  // Not seen since this bridge started: what the store committed before (a restart).
  if (store_) return store_->acked_seq(node_id);
  return std::nullopt;
}

void HighWaterMarks::set_in_memory(const std::string& node_id, uint64_t seq) {
  std::lock_guard<std::mutex> lock(mutex_);
  uint64_t& mark = marks_[node_id];
  if (seq > mark) mark = seq;
}

}  // namespace earshot::host
