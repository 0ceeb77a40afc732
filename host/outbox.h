// Outbox: what a session sends to its node, waiting for the event loop to write it.
//
// Worker threads put control messages and reply audio in; the event-loop thread takes them out
// when the socket is writable. Control messages go first. Reply audio frames carry a due time: the
// pacer releases each one `lead_ms` before it is due to play, so the node's jitter buffer stays a
// few frames deep instead of receiving a whole sentence at once. Both queues are bounded. Reply
// audio is produced faster than real time; when `max_audio_frames` wait, push_audio() holds the
// producer (the voice thread) back until the pacer has released some — it never drops audio still
// to be played. A node that stops reading is closed by the server (server.stalled_client_ms),
// which detaches the outbox and so frees the producer. Control messages past `max_control` drop
// the oldest (counted).
//
// Thread-safety: all methods are safe from any thread (one mutex, held only for queue operations).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

namespace earshot::host {

struct OutItem {
  bool binary = false;
  std::string bytes;
};

class Outbox {
 public:
  struct Limits {
    size_t max_control = 1000;
    size_t max_audio_frames = 500;  // 10 s of 20 ms frames ahead of the pacer
    int lead_ms = 120;              // how far ahead of real time reply audio is sent
    // Reply audio goes out as WebSocket text messages, not binary ones (a wire format that carries
    // audio in JSON events, such as the OpenAI Realtime API's base64 deltas).
    bool audio_as_text = false;
  };
  explicit Outbox(Limits limits, std::function<void()> wake);

  void push_control(std::string json);
  // A reply frame to be played at `due_ms` (monotonic): released at due_ms - lead_ms.
  // `on_sent`, if set, runs on the event loop with the time the frame was handed to the socket
  // (the first frame of a reply uses it for latency accounting). Blocks while max_audio_frames
  // wait; returns at once (dropping the frame) once audio is closed (barge-in) or detached.
  // False when the frame was dropped. `now_ms`: a frame already due wakes the event loop at once.
  bool push_audio(std::string wire_frame, int64_t due_ms,
                  std::function<void(int64_t sent_ms)> on_sent = nullptr, int64_t now_ms = -1);
  // Barge-in: drop every queued reply frame now and refuse reply audio until open_audio() (so a
  // worker that had not yet seen the interrupt cannot slip one more frame out). Returns how many
  // were dropped.
  size_t clear_audio();
  // A new reply starts: reply audio is accepted again.
  void open_audio();
  // After close: drop everything and stop waking.
  void detach();
  // The connection closed: nothing queued will be written. The server detaches at once; the
  // session's door stops later, so a door that sees its audio refused asks this to tell the
  // client leaving from a cut.
  bool detached() const;
  // A worker asks the event loop to close the connection with `code` once what is queued has
  // been written (the first request wins). The loop polls close_request() on its tick.
  void request_close(uint16_t code, std::string reason);
  struct CloseRequest {
    uint16_t code = 0;  // 0: none
    std::string reason;
  };
  CloseRequest close_request() const;

  // Event loop: the next item ready at `now_ms`, control first.
  bool pop_ready(int64_t now_ms, OutItem* out);
  bool has_ready(int64_t now_ms) const;
  // Earliest due time of queued audio (for the pacer), or -1.
  int64_t next_audio_release_ms() const;

  uint64_t audio_dropped() const;
  size_t audio_queued() const;
  uint64_t audio_sent() const;

 private:
  struct AudioItem {
    std::string bytes;
    int64_t release_ms;
    std::function<void(int64_t)> on_sent;
  };
  Limits limits_;
  std::function<void()> wake_;
  mutable std::mutex mutex_;
  std::condition_variable audio_room_;
  std::deque<std::string> control_;
  std::deque<AudioItem> audio_;
  bool detached_ = false;
  bool audio_closed_ = false;
  CloseRequest close_request_;
  uint64_t audio_dropped_ = 0;
  uint64_t audio_sent_ = 0;
};

}  // namespace earshot::host
