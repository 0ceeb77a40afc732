// CommitLog: what waits to be stored, in input order, and the acknowledgements that follow.
//
// An acknowledgement covers an input frame only once every commit up to it is stored: an ambient
// segment, a turn's transcript, or a run of frames that belong to no turn. A commit the store
// refuses (a full disk) waits and is retried (250 ms, doubling to 5 s) with every later one
// behind it; the client is told `store_failed` once per outage. Once this conversation is fenced
// (a newer one of the same client holds the lease, or a commit can never succeed) it neither
// stores nor acknowledges anything more and asks the door to close, so that the client delivers
// the rest again to a conversation that can store it.
//
// Thread: the responder thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>

#include "host/conversation/conversation.h"
#include "host/delivery.h"
#include "host/store/store.h"

namespace earshot::host {

// A turn on its way to the store: stored when transcribed, its reply filled in once known.
struct TurnCommit {
  TurnRecord record;
  SeqRange seqs;
  int64_t row_id = -1;  // once stored
};

class CommitLog {
 public:
  CommitLog(Services& services, ConversationSink& sink, NodeLease lease,
            std::string conversation_id);

  // Frames up to `last_seq` are handled: store `segment` or `turn` if given, then acknowledge.
  void commit(uint64_t last_seq, std::optional<SegmentRecord> segment,
              std::shared_ptr<TurnCommit> turn);
  // Retries what waits (the store may work again).
  void flush();
  // When flush() should next run, if anything waits.
  std::optional<std::chrono::steady_clock::time_point> retry_at() const;
  // No more acknowledgements from this conversation; what waits is dropped (the client still has
  // it) and the door is asked to close with `close_code`.
  void stop_acknowledging(const std::string& why, uint16_t close_code);
  bool fenced() const { return fenced_; }

 private:
  struct Commit {
    uint64_t last_seq = 0;
    std::optional<SegmentRecord> segment;
    std::shared_ptr<TurnCommit> turn;
  };
  Services& services_;
  ConversationSink& sink_;
  const NodeLease lease_;
  const std::string conversation_id_;
  std::deque<Commit> waiting_;
  bool fenced_ = false;
  bool store_failing_ = false;
  int retry_delay_ms_ = 0;
  std::chrono::steady_clock::time_point next_retry_;
};

}  // namespace earshot::host
