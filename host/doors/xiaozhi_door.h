// XiaozhiDoor: the front door of xiaozhi-esp32 boxes (docs/xiaozhi.md) — the unmodified firmware's
// WebSocket protocol (protocol/xiaozhi/) on /xiaozhi/v1/. One per connection: the server admits
// the box (its Device-Id header makes it node "xiaozhi-<mac>", its bearer token is that node's)
// and hands over every message; the door turns them into calls on its conversation
// (ConversationPort) and what the conversation says (ConversationSink) into the firmware's
// messages and Opus frames in the connection's Outbox.
//
//   box ─ hello ────────────────▶ conversation made and started ─▶ server hello (session_id, the
//                                 reply audio's params), then MCP initialize + tools/list
//       ─ listen start (mode) ──▶ audio taken from here; auto and realtime: the bridge ends turns
//                                 (server turn detection); manual: listen stop ends the turn
//       ─ Opus (v1/v2/v3) ──────▶ audio(): 60 ms packets, numbered by the door
//       ─ listen detect (text) ─▶ noted (the wake word; its audio before listen start is dropped)
//       ─ abort ────────────────▶ interrupt(): the reply's audio stops, tts stop
//       ─ mcp ──────────────────▶ DeviceTools (responses to our requests); the box's tools are
//                                 offered to the model for this session (DeviceToolProvider)
//   core ─▶ stt (final transcript), llm (emotion, at the reply's start), tts start,
//           tts sentence_start (text) before each sentence's audio, Opus frames (60 ms at the
//           announced rate, paced), tts stop once the box has had time to play the last frame.
//
// The firmware plays audio only between tts start and tts stop (it drops it in any other state,
// and flushes its queue at tts stop), so tts stop waits for the reply's last frame to be written
// and played: it goes out on the door's tick, a frame's length after the last frame was due.
// Barge-in: the box's abort, or — in realtime mode, where the box keeps streaming while it plays —
// the core hearing speech over the reply: the door drops the reply's queued audio, says tts stop at
// once, and reports to the core how much was on the wire (the box reports nothing).
//
// Bad input gets an alert (the firmware shows it on its screen) and a log line, and is dropped;
// what makes the session unusable (no or a bad hello, an unsupported version) closes it.
//
// Threads: on_text(), on_binary(), on_oversized(), on_tick(), input_pace() and state() on the
// event loop; ConversationSink methods on the core's threads (conversation.h), which never call
// the conversation themselves: what they need of it waits in `deferred_` for the next tick, or
// for stop(), which passes on what is left; stop() once, from any thread. One mutex guards the
// door's state, never held while calling the conversation or waiting for room in the Outbox.
// The reply's encoder and its 60 ms packet being filled belong to the voice thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "host/audio_rate_limit.h"
#include "host/conversation/conversation.h"
#include "host/doors/conversation_port.h"
#include "host/doors/device_tools.h"
#include "host/metrics.h"
#include "host/outbox.h"
#include "host/tools/tool_registry.h"
#include "protocol/xiaozhi/messages.h"

namespace earshot::dsp {
class OpusFrameEncoder;
}

namespace earshot::host {

class XiaozhiDoor : public ConversationSink, public std::enable_shared_from_this<XiaozhiDoor> {
 public:
  static constexpr int kPacketMs = 60;  // reply audio: the firmware's OPUS_FRAME_DURATION_MS

  struct Config {
    std::string session_id;  // also the conversation's id; sent in the server hello
    std::string device_id;   // the Device-Id header (the box's MAC)
    int version = 1;         // the binary protocol (the Protocol-Version header): 1, 2 or 3
    int output_rate = 24000;
    // What the conversation starts with: client_id (the node id), conversation_id, room. The door
    // sets the audio and the turn taking of each listen mode.
    ConversationSettings conversation;
    TurnConfig turn;
    // The first audio seq: above what earlier connections of this box delivered (the lease's
    // acked_seq), so that the core takes none of it as a duplicate.
    uint64_t first_seq = 0;
    int hello_timeout_ms = 5000;  // the firmware gives up after 10 s
    int audio_burst_s = 120;
    double audio_rate_slack = 1.1;
    // Where the box's own tools are offered to the model (for this session), or null.
    ToolRegistry* tool_registry = nullptr;
  };
  using PortFactory = std::function<std::unique_ptr<ConversationPort>(ConversationSink&,
                                                                      const ConversationSettings&)>;

  XiaozhiDoor(Config config, std::shared_ptr<Outbox> outbox, PortFactory make_port,
              Metrics& metrics, int64_t now_ms);
  ~XiaozhiDoor() override;
  XiaozhiDoor(const XiaozhiDoor&) = delete;
  XiaozhiDoor& operator=(const XiaozhiDoor&) = delete;

  // Any thread, once: stops the conversation (joins its threads), fails pending tool calls. A
  // reply in flight is kept as heard up to the packets that had left (Conversation::client_gone).
  void stop();

  // --- event loop
  // ---------------------------------------------------------------------------------
  void on_text(std::string_view text, int64_t now_ms);
  void on_binary(const uint8_t* data, size_t size, int64_t now_ms);
  void on_oversized(bool binary, size_t limit);
  void on_tick(int64_t now_ms);
  Conversation::InputPace input_pace() const;
  // For the status page: connecting (no hello yet), idle, listening or speaking.
  std::string state() const;
  const std::string& session_id() const { return config_.session_id; }
  const std::string& node_id() const { return config_.conversation.client_id; }
  // The box's own tools (MCP); empty until it has listed them.
  DeviceTools& tools() { return *tools_; }

  // --- ConversationSink (core threads)
  // -------------------------------------------------------------
  void acknowledged(uint64_t) override {}
  void speech_started(const std::string& turn_id, uint64_t audio_ms) override;
  void speech_stopped(const std::string& turn_id, uint64_t audio_ms) override;
  void transcript(const std::string& turn_id, const std::string& text, bool final,
                  const std::string& language) override;
  void reply_started(const std::string& reply_id, const std::string& turn_id) override;
  void reply_text(const std::string&, const std::string&, const std::string&) override {}
  void reply_text_done(const std::string&, const std::string&) override {}
  void reply_audio_started(const std::string& reply_id, const std::string& turn_id) override;
  void reply_sentence(const std::string& reply_id, uint32_t index, const std::string& text,
                      uint64_t first_frame) override;
  bool reply_audio(const std::string& reply_id, uint64_t frame_index, const float* pcm,
                   size_t samples, int64_t due_ms, int64_t speech_end_ms) override;
  void reply_audio_ended(const std::string& reply_id, uint64_t frames, bool interrupted) override;
  uint64_t reply_interrupted(const std::string& reply_id) override;
  void turn_done(const TurnReport& report) override;
  void error(const std::string& code, const std::string& message) override;
  void close(uint16_t code, const std::string& reason) override;

 private:
  enum class Phase { kAwaitingHello, kOpen };
  // The reply whose audio is on the wire, from tts start to tts stop.
  struct WireReply {
    uint64_t serial = 0;
    std::string reply_id;
    uint64_t packets_pushed = 0, packets_sent = 0;
    uint64_t core_frames = 0;  // 20 ms frames the core delivered (reply_audio_ended)
    bool audio_ended = false;
    int64_t last_due_ms = 0;  // when the last packet pushed is due to play
    bool stopped = false;     // tts stop sent
  };
  using Action = std::function<void(ConversationPort&)>;

  void send_locked(protocol::xiaozhi::ServerBody body);
  void alert_locked(const std::string& message);
  // Protocol errors: dropped and told; past kMaxViolations the connection closes.
  void violation_locked(const std::string& message);
  void refuse_locked(uint16_t close_code, const std::string& message);
  // Voice thread: puts `reply_id` on the wire (tts start) unless it is there; false when the
  // reply was stopped or the door is closing.
  bool begin_wire_locked(const std::string& reply_id);
  void hello(const protocol::xiaozhi::ClientHello& h, int64_t now_ms);
  void listen(const protocol::xiaozhi::Listen& l, std::vector<Action>* actions);
  void abort(std::vector<Action>* actions);
  ConversationSettings settings_for(protocol::xiaozhi::ListenMode mode) const;
  // tts stop for the reply on the wire (once), and the core's report of what was played.
  void stop_reply_locked(bool interrupted, std::vector<Action>* actions);
  // What the core hears of the reply in flight when the connection ends, if one is.
  std::optional<PlayedReport> reply_in_flight_locked() const;
  void packet_sent(uint64_t serial, uint64_t index, int64_t sent_ms);
  bool push_packet(const std::string& reply_id, int64_t due_ms, int64_t speech_end_ms);
  void run(std::vector<Action>& actions);

  Config config_;
  std::shared_ptr<Outbox> outbox_;
  PortFactory make_port_;
  Metrics& metrics_;
  std::unique_ptr<ConversationPort> port_;  // from the hello on
  // Shared with the tool registry's provider, which may outlive the door by a call's length.
  const std::shared_ptr<DeviceTools> tools_;
  ToolRegistry::Registration tool_registration_;  // while the connection lives

  mutable std::mutex mutex_;
  Phase phase_ = Phase::kAwaitingHello;
  const int64_t opened_ms_;
  bool listening_ = false;
  protocol::xiaozhi::ListenMode mode_ = protocol::xiaozhi::ListenMode::kAuto;
  std::optional<protocol::xiaozhi::ListenMode> applied_mode_;  // the conversation's settings
  bool turn_open_ = false;     // the core heard speech start and no stop yet
  std::string current_reply_;  // the core's reply in flight (reply_started .. turn_done)
  std::optional<WireReply> wire_;
  uint64_t reply_serial_ = 0;
  int violations_ = 0;
  bool closing_ = false;
  bool stopped_ = false;          // stop() was called
  std::vector<Action> deferred_;  // from core threads, run on the next tick

  // Event loop only.
  uint64_t next_seq_;
  uint64_t timestamp_ = 0;  // 16 kHz samples of audio taken
  AudioRateLimit rate_;
  uint64_t dropped_not_listening_ = 0;

  // Voice thread only: the reply's encoder and the 60 ms packet being filled.
  std::unique_ptr<dsp::OpusFrameEncoder> encoder_;
  std::vector<float> packet_pcm_;
  size_t packet_fill_ = 0;
  int64_t packet_due_ms_ = 0;
  int64_t next_due_ms_ = 0;
  uint64_t packet_index_ = 0;
};

}  // namespace earshot::host
