// WyomingSatelliteDoor: the front door for a Wyoming satellite (docs/wyoming.md) — the bridge in
// the role Home Assistant plays towards wyoming-satellite. One per satellite connection; the
// satellite link (host/wyoming/satellite_link.h) owns the socket and calls on_event() with each
// event the satellite sends; the door answers through its output buffer, which the link writes.
//
//   satellite ──run-pipeline──▶ transcribe ▶ (listening) audio-chunk → audio() at the chunk's rate
//             ──audio-chunk*──▶ our turn detection ends the turn: voice-started / voice-stopped ▶
//                              transcript ▶ synthesize (the reply's text) ▶
//                              audio-start · audio-chunk* (raw pcm16, the rate we announce) ·
//             ◀─────────────── audio-stop
//             ──played───────▶ played() to the core; restart_on_end: listening again, else idle
//   also: audio-stop from the satellite ends the turn (commit_input); detection, voice-started/
//   -stopped from the satellite are noted; ping → pong; a run-pipeline during a reply interrupts
//   it.
//
// The reply rate is the satellite's snd_format rate from run-pipeline (or `info`), else 16 kHz.
// The conversation is made at the first audio chunk (its rate is the input rate) and made again
// only if a later pipeline changes either rate. start_stage "wake" needs wake word detection on
// the server, which the bridge does not have: it is refused with an `error` event unless the
// satellite is configured with listen_without_wake_word (push-to-talk devices).
//
// Reply audio is paced: each chunk is held back until kReplyLeadMs before it is due to play, so
// what was written to the socket is close to what the satellite has played when the reply is cut
// (a new run-pipeline, the connection lost). Other events go out at once, ahead of held audio;
// audio-stop waits for the audio before it. A cut reply's held audio is dropped.
//
// Threads: on_event(), take_output(), next_release_ms(), written(), ping(), input_pace() and stop()
// on the link's thread (the only caller of the conversation's inputs); sink methods on the core's
// threads. `mutex_` guards the pipeline state and the output buffer; it is never held while calling
// into the conversation. reply_audio() waits while more than kMaxQueuedBytes wait to be written,
// held or not (backpressure).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "host/conversation/conversation.h"
#include "host/doors/conversation_port.h"
#include "host/metrics.h"
#include "protocol/wyoming/events.h"

namespace earshot::host {

class WyomingSatelliteDoor : public ConversationSink {
 public:
  struct Config {
    std::string name;  // the satellite's name in the bridge's config
    // client_id ("wyoming-<name>"), room, language; the door sets codec, rates and stages.
    ConversationSettings conversation;
    NodeLease lease;  // the claim on client_id for this connection
    std::optional<protocol::wyoming::AudioFormat> snd_format;  // from the satellite's info
    bool listen_without_wake_word = false;
    Metrics* metrics = nullptr;  // first_frame_sent_ms, when set
  };
  using PortFactory = std::function<std::unique_ptr<ConversationPort>(ConversationSink&,
                                                                      const ConversationSettings&)>;

  // `wake`: called (any thread) when output is waiting for the link to write.
  WyomingSatelliteDoor(Config config, PortFactory make_port, std::function<void()> wake);
  ~WyomingSatelliteDoor() override;
  WyomingSatelliteDoor(const WyomingSatelliteDoor&) = delete;
  WyomingSatelliteDoor& operator=(const WyomingSatelliteDoor&) = delete;

  // --- the link's thread
  void on_event(const protocol::wyoming::Event& event, int64_t now_ms);
  // Moves what waits to be written, and the reply audio due by `now_ms` + kReplyLeadMs
  // (monotonic), to the end of `out`; true if anything was moved.
  bool take_output(std::string* out, int64_t now_ms);
  // When the next held-back chunk of reply audio is to be taken (monotonic ms), if one waits.
  std::optional<int64_t> next_release_ms() const;
  // The link handed `bytes` more of what it took to the socket, at `now_ms` (monotonic): when the
  // first byte of a reply's first audio-chunk is among them, the core hears of it (the turn's
  // first_frame_sent_ms, the latency figures). Every byte the link writes must come from
  // take_output(), in order.
  void written(size_t bytes, int64_t now_ms);
  // Queues a ping (the link's keep-alive), in order with the rest.
  void ping();
  Conversation::InputPace input_pace() const;
  // The core asked to close the connection (with why), or the door gave up on the satellite.
  bool wants_close(std::string* reason) const;
  // Stops the conversation (joins its threads); idempotent. A spoken reply not yet played is kept
  // as heard up to the frames written to the socket (Conversation::client_gone).
  void stop();
  // For the status page: idle, listening, thinking, speaking, refused.
  std::string state() const;

  static constexpr size_t kMaxQueuedBytes = 512 * 1024;  // ~16 s of 16 kHz pcm16
  // How far ahead of real time reply audio is written. More than the nodes' 120 ms
  // (server.reply_lead_ms): a satellite plays through its own sound program's buffer, usually
  // over Wi-Fi, and a late chunk is a gap in the reply.
  static constexpr int64_t kReplyLeadMs = 500;

  // --- ConversationSink (core threads)
  void acknowledged(uint64_t) override {}
  void speech_started(const std::string& turn_id, uint64_t audio_ms) override;
  void speech_stopped(const std::string& turn_id, uint64_t audio_ms) override;
  void transcript(const std::string& turn_id, const std::string& text, bool final,
                  const std::string& language) override;
  void reply_started(const std::string& reply_id, const std::string& turn_id) override;
  void reply_text(const std::string& reply_id, const std::string& turn_id,
                  const std::string& delta) override;
  void reply_text_done(const std::string& reply_id, const std::string& turn_id) override;
  void reply_audio_started(const std::string& reply_id, const std::string& turn_id) override;
  void reply_sentence(const std::string&, uint32_t, const std::string&, uint64_t) override {}
  bool reply_audio(const std::string& reply_id, uint64_t frame_index, const float* pcm,
                   size_t samples, int64_t due_ms, int64_t speech_end_ms) override;
  void reply_audio_ended(const std::string& reply_id, uint64_t frames, bool interrupted) override;
  uint64_t reply_interrupted(const std::string& reply_id) override;
  void turn_done(const TurnReport& report) override;
  void error(const std::string& code, const std::string& message) override;
  void close(uint16_t code, const std::string& reason) override;

 private:
  enum class Phase { kIdle, kListening, kThinking, kSpeaking, kRefused };

  void send_locked(const protocol::wyoming::Event& event);
  void send(const protocol::wyoming::Event& event);
  void pipeline_over_locked();          // back to listening (restart_on_end) or idle
  void release_locked(int64_t now_ms);  // held audio now due (and a waiting audio-stop) to out_
  void drop_held_locked();              // the reply was cut: its held audio never goes out
  void run_pipeline(const protocol::wyoming::Event& event);
  void audio_chunk(const protocol::wyoming::Event& event, int64_t now_ms);
  // Makes the conversation for these rates (again, if they changed). Link thread.
  bool ensure_conversation(int input_rate);
  ConversationSettings settings_locked(int input_rate) const;

  Config config_;
  PortFactory make_port_;
  std::function<void()> wake_;
  std::unique_ptr<ConversationPort> port_;  // link thread (made, replaced, stopped there)
  int port_input_rate_ = 0, port_output_rate_ = 0;
  uint64_t next_seq_ = 0;     // link thread
  std::string mono_;          // link thread: a chunk's first channel
  std::vector<int16_t> pcm_;  // voice thread: one reply frame as int16

  mutable std::mutex mutex_;
  std::condition_variable room_;  // the output buffer drained, or the door stopped
  std::string out_;               // bytes for the link to write
  // Reply audio chunks (serialized events) held back until release_ms, in order.
  struct HeldChunk {
    std::string event;
    int64_t release_ms = 0;
    int64_t speech_end_ms = 0;  // for the reply's first chunk's latency figure
    bool first = false;         // the reply's first chunk
  };
  std::deque<HeldChunk> held_;
  size_t held_bytes_ = 0;
  bool stop_after_held_ = false;  // audio-stop goes out once the held audio has
  int64_t next_due_ms_ = 0;       // when the current reply's next frame is due to play
  bool stopped_ = false;
  std::optional<std::string> close_reason_;
  Phase phase_ = Phase::kIdle;
  protocol::wyoming::RunPipeline pipeline_;
  int output_rate_ = 16000;  // what replies are sent at (announced in audio-start)
  bool fed_ = false;         // audio went to the core since listening began
  std::string reply_id_, reply_text_;
  bool reply_audio_ = false;     // the current reply's audio started
  uint64_t frames_sent_ = 0;     // of the current reply, queued (held or for the link)
  uint64_t frames_written_ = 0;  // of those, written to the socket (written())
  // Where each of the reply's frames not yet written ends in the output stream, in order.
  std::deque<uint64_t> frame_ends_;
  bool awaiting_played_ = false;
  // Where the reply's first audio-chunk starts in the stream of bytes taken so far: the link
  // thread's written() reports it once the socket has its first byte.
  struct FirstChunk {
    std::string reply_id;
    uint64_t at = 0;  // offset in the output stream
    int64_t speech_end_ms = 0;
  };
  std::optional<FirstChunk> first_chunk_;
  uint64_t taken_bytes_ = 0;    // moved to the link by take_output()
  uint64_t written_bytes_ = 0;  // of those, written to the socket
};

}  // namespace earshot::host
