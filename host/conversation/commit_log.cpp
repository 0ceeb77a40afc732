#include "host/conversation/commit_log.h"

#include <algorithm>

#include "host/log.h"
#include "protocol/messages.h"

namespace earshot::host {
namespace {
// Commits that failed (the store is down) wait in order and are retried; past this many the
// conversation gives up and closes, and the client delivers them again later.
constexpr size_t kMaxWaitingCommits = 256;
}  // namespace

CommitLog::CommitLog(Services& services, ConversationSink& sink, NodeLease lease,
                     std::string conversation_id)
    : services_(services),
      sink_(sink),
      lease_(std::move(lease)),
      conversation_id_(std::move(conversation_id)) {}

void CommitLog::commit(uint64_t last_seq, std::optional<SegmentRecord> segment,
                       std::shared_ptr<TurnCommit> turn) {
  if (fenced_) return;
  waiting_.push_back(Commit{last_seq, std::move(segment), std::move(turn)});
  if (waiting_.size() == 1 || !store_failing_) flush();
  if (waiting_.size() > kMaxWaitingCommits) {
    stop_acknowledging("the store has failed for " + std::to_string(waiting_.size()) +
                           " commits in a row; closing so the client delivers them again later",
                       protocol::kCloseInternalError);
  }
}

std::optional<std::chrono::steady_clock::time_point> CommitLog::retry_at() const {
  if (waiting_.empty() || fenced_) return std::nullopt;
  return next_retry_;
}

// Stores what waits, in order, and acknowledges each as it is stored. Stops at the first failure
// (retried later) and for good once fenced.
void CommitLog::flush() {
  while (!waiting_.empty() && !fenced_) {
    Commit& c = waiting_.front();
    std::string error;
    CommitResult r;
    if (c.segment) {
      r = services_.delivery->store_segment(lease_, *c.segment, &error);
    } else if (c.turn) {
      r = services_.delivery->store_turn(lease_, c.turn->record, c.turn->seqs, &c.turn->row_id,
                                         &error);
    } else {
      r = services_.delivery->advance(lease_, c.last_seq, &error);
    }
    if (r == CommitResult::kFailed) {
      services_.metrics.count_error(ErrorReason::kStoreFailed);
      if (!store_failing_) {
        LOG_ERROR("store", "%s: not stored, kept and retried; acknowledgements wait: %s",
                  conversation_id_.c_str(), error.c_str());
        sink_.error("store_failed",
                    "could not store what was said; it is kept and retried, and not "
                    "acknowledged until stored: " +
                        error);
      }
      store_failing_ = true;
      retry_delay_ms_ = std::clamp(retry_delay_ms_ * 2, 250, 5000);
      next_retry_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(retry_delay_ms_);
      return;
    }
    if (r != CommitResult::kStored) {
      // kSuperseded: the client has a newer conversation, which asked for all of this again.
      // kAlreadyStored: the same; either way this one must neither store nor ack any more.
      services_.metrics.commits_fenced_total.fetch_add(1);
      stop_acknowledging(error, protocol::kCloseReplaced);
      return;
    }
    if (store_failing_) {
      LOG_INFO("store", "%s: storing works again", conversation_id_.c_str());
      store_failing_ = false;
    }
    retry_delay_ms_ = 0;
    if (c.segment) {
      services_.metrics.segments_stored_total.fetch_add(1);
      sink_.transcript("s" + std::to_string(c.segment->first_seq), c.segment->text, true,
                       c.segment->language);
      if (services_.on_segment)
        services_.on_segment(c.segment->node_id, c.segment->text, c.segment->language);
    }
    sink_.acknowledged(c.last_seq);  // only now: everything up to it is stored
    waiting_.pop_front();
  }
}

void CommitLog::stop_acknowledging(const std::string& why, uint16_t close_code) {
  if (fenced_) return;
  fenced_ = true;
  LOG_WARN("session", "%s: stops acknowledging (%zu commit(s) dropped, to be delivered again): %s",
           conversation_id_.c_str(), waiting_.size(), why.c_str());
  waiting_.clear();
  sink_.close(close_code, why.substr(0, 100));
}

}  // namespace earshot::host
