// EarshotV1Door: the earshot.v1 front door — our own nodes, and the browser client at /talk.
//
// One per connection after a successful hello. Turns the client's binary microphone frames and
// control messages into Conversation calls, and what the conversation says back into earshot.v1
// messages and reply frames in the connection's Outbox (which the server's event loop writes and
// paces). Reply audio is Opus at 16 kHz, or pcm16 for clients that asked for it in their hello
// (browsers without WebCodecs).
//
// Barge-in: the client's interrupt clears the Outbox's reply audio at once on the event loop
// (nothing more is sent), then the conversation cancels the LLM and TTS in flight; the history and
// the store get only the part of the reply the client reports it played.
//
// Threads: start/stop and the on_* methods from the event loop (on_* never block); the
// ConversationSink methods from the conversation's threads (conversation.h). Lifetime: owned by
// the server through a shared_ptr; stop() joins.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>

#include "host/conversation/conversation.h"
#include "host/outbox.h"
#include "protocol/audio_frame.h"
#include "protocol/messages.h"

namespace earshot::dsp {
class OpusFrameEncoder;
}

namespace earshot::host {

class EarshotV1Door : public ConversationSink {
 public:
  // `lease`: this connection's claim on its node (DeliveryLedger::claim), which fences older ones.
  EarshotV1Door(Services& services, std::shared_ptr<Outbox> outbox, std::string session_id,
                protocol::Hello hello, NodeLease lease);
  ~EarshotV1Door() override;
  EarshotV1Door(const EarshotV1Door&) = delete;
  EarshotV1Door& operator=(const EarshotV1Door&) = delete;

  bool start(std::string* error);
  // Drops what waits to be sent, then stops the conversation (conversation.h); idempotent.
  void stop();

  // Event loop. Never block.
  void on_audio(const protocol::AudioFrameView& frame);
  void on_message(const protocol::Message& message);
  Conversation::InputPace input_pace() const;

  const std::string& id() const { return session_id_; }
  const std::string& node_id() const { return hello_.node_id; }

  // ConversationSink
  void acknowledged(uint64_t seq) override;
  void speech_started(const std::string&, uint64_t) override {}
  void speech_stopped(const std::string&, uint64_t) override {}
  void transcript(const std::string& turn_id, const std::string& text, bool final,
                  const std::string& language) override;
  void reply_started(const std::string&, const std::string&) override {}
  void reply_text(const std::string& reply_id, const std::string& turn_id,
                  const std::string& delta) override;
  void reply_text_done(const std::string& reply_id, const std::string& turn_id) override;
  void reply_audio_started(const std::string& reply_id, const std::string& turn_id) override;
  void reply_sentence(const std::string& reply_id, uint32_t index, const std::string& text,
                      uint64_t first_frame) override;
  bool reply_audio(const std::string& reply_id, uint64_t frame_index, const float* pcm,
                   size_t samples, int64_t due_ms, int64_t speech_end_ms) override;
  void reply_audio_ended(const std::string& reply_id, uint64_t frames, bool interrupted) override;
  void announcement_started(const std::string& reply_id) override;
  uint64_t reply_interrupted(const std::string& reply_id) override;
  void turn_done(const TurnReport& report) override;
  void error(const std::string& code, const std::string& message) override;
  void close(uint16_t code, const std::string& reason) override;

 private:
  void send(const protocol::Message& m) { outbox_->push_control(protocol::to_json(m)); }
  // Reply frames of the current reply already written to the socket.
  uint64_t frames_on_wire() const;

  Services& services_;
  std::shared_ptr<Outbox> outbox_;
  const std::string session_id_;
  const protocol::Hello hello_;
  const bool pcm16_;
  const bool timings_;  // the client asked for turn_timings
  std::shared_ptr<Conversation> conversation_;
  std::unique_ptr<dsp::OpusFrameEncoder> encoder_;  // voice thread
  int64_t next_due_ms_ = 0;                         // voice thread
  std::atomic<int64_t> audio_sent_at_interrupt_{
      -1};  // the outbox's count at the client's interrupt

  // The reply on the wire: written by the voice thread, read by the event loop and the ingress
  // thread (barge-in).
  mutable std::mutex reply_mutex_;
  std::string wire_reply_id_;
  bool wire_started_ = false;
  uint64_t sent_at_start_ = 0;   // the outbox's audio_sent() when this reply's audio began
  std::string announcement_id_;  // the newest announcement (its speech_out_start says so)
  bool stopped_ = false;
};

}  // namespace earshot::host
