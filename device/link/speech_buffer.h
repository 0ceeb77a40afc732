// SpeechBuffer: every encoded microphone frame, from the moment it is encoded until the host
// acknowledges it. This is what lets the node deliver speech exactly once across a dropped link,
// a host restart or its own reconnects:
//   - push() numbers frames 0, 1, 2, ... (seq) and keeps them;
//   - the link sends each once (take_next_to_send) and keeps it until a cumulative ack() covers it;
//   - on a new connection, on_welcome(acked_seq) forgets what the host already has and rewinds, so
//     everything else is sent again, in order, flagged as redelivery (the host drops duplicates).
// Bounded (frames and bytes, allocated once): when full, the oldest frame is dropped and counted.
// Thread-safe: one mutex; the producer is the pipeline thread, the consumer the link thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <vector>

namespace earshot::device {

class SpeechBuffer {
 public:
  struct Config {
    size_t max_frames = 3000;  // 60 s of 20 ms frames
    size_t max_bytes = 512 * 1024;
  };
  struct Stats {
    size_t pending = 0;    // kept, not yet acknowledged
    size_t unsent = 0;     // not yet sent on this connection
    uint64_t dropped = 0;  // lost to a full buffer
    uint64_t next_seq = 0;
    std::optional<uint64_t> acked_seq;
  };

  explicit SpeechBuffer(Config config);

  uint64_t push(uint16_t flags, uint64_t timestamp, const uint8_t* opus, size_t size);
  size_t take_next_to_send(uint8_t* out, size_t capacity);
  void ack(uint64_t seq);
  void on_welcome(std::optional<uint64_t> acked_seq);
  Stats stats() const;
  void set_drop_callback(std::function<void(uint64_t dropped_seq, uint64_t total_dropped)> cb);

 private:
  struct Entry {
    uint64_t timestamp = 0;
    uint32_t offset = 0;
    uint16_t size = 0;
    uint16_t flags = 0;
    bool sent = false;
  };
  Entry& at(uint64_t seq) { return entries_[size_t(seq % entries_.size())]; }
  void drop_oldest();  // with mutex_ held
  bool place(size_t size, uint32_t* offset) const;

  mutable std::mutex mutex_;
  std::vector<Entry> entries_;  // ring indexed by seq
  std::vector<uint8_t> bytes_;  // ring of payloads
  uint64_t first_seq_ = 0;      // oldest kept
  uint64_t next_seq_ = 0;       // next to assign
  uint64_t send_seq_ = 0;       // next to send on this connection
  uint32_t head_ = 0;           // where the newest payload ends
  uint64_t dropped_ = 0;
  std::optional<uint64_t> acked_;
  std::function<void(uint64_t, uint64_t)> on_drop_;
};

}  // namespace earshot::device
