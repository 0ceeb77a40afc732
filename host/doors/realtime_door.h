// RealtimeDoor: the OpenAI Realtime API front door (docs/realtime.md). One per WebSocket
// connection on /v1/realtime: it turns the client's events (protocol/realtime/events.h) into calls
// on its conversation (ConversationPort) and what the conversation says (ConversationSink) into
// server events, which it puts in the connection's Outbox for the event loop to write.
//
//   client ──text──▶ on_message() ─▶ parse ─▶ session.update → update()      ─▶ session.updated
//                                             input_audio_buffer.append → audio() (20 ms frames)
//                                             .commit / .clear → commit_input() / clear_input()
//                                             conversation.item.create → user_text()
//                                             response.create / .cancel → respond() / interrupt()
//                                             conversation.item.truncate → played() / interrupt()
//   core threads ─▶ ConversationSink ─▶ speech_started/stopped, transcripts, response.* events,
//                                       reply audio as response.output_audio.delta (paced)
//
// What the door keeps: the effective session, the conversation's items (ids, roles, transcripts,
// how much of each assistant item's audio went out) and the one response in flight, so that every
// event names the item and response it belongs to.
//
// Audio in: pcm16 24 kHz, cut into 20 ms frames (960 bytes) numbered by the door (AudioIn::seq
// from 0); a partial frame waits for the next append, and is padded with silence on commit. The
// door takes audio only after the client's first session.update ("audio before session": an
// append before it is refused with error `session_not_configured`).
// Audio out: each 20 ms reply frame (24 kHz float from the core) becomes one delta event, queued
// in the Outbox's paced audio queue (written as text), released `lead_ms` before it is due. The
// events that close a response's audio (response.output_audio.done ... response.done) wait until
// the last delta has been written, so they never overtake it.
//
// Threads: on_message(), on_binary(), on_oversized(), on_tick() and input_pace() on the event
// loop; sink methods on the core's threads (as conversation.h says); stop() on any thread, once.
// One mutex guards the door's state; it is never held while calling into the conversation or
// while waiting for room in the Outbox. Ownership: the server holds the door (shared_ptr, for the
// Outbox's callbacks); the door owns its conversation; the conversation is stopped before the
// door goes away.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "host/audio_rate_limit.h"
#include "host/conversation/conversation.h"
#include "host/doors/conversation_port.h"
#include "host/outbox.h"
#include "protocol/realtime/events.h"

namespace earshot::host {

class RealtimeDoor : public ConversationSink, public std::enable_shared_from_this<RealtimeDoor> {
 public:
  struct Config {
    std::string session_id;  // e.g. "sess_1700000000-3"; also the conversation's id
    std::string model;       // from the URL (?model=); reported back, nothing else
    // What the conversation starts with: client_id, conversation_id, room, language. The door
    // sets the audio (pcm16 at 24 kHz in and out) and what session.update controls.
    ConversationSettings conversation;
    TurnConfig turn;                   // the bridge's turn settings (silence default, VAD)
    std::string default_instructions;  // reported in session.created (the bridge's prompt)
    std::string default_voice;         // reported; empty: the TTS engine's own
    int audio_burst_s = 120;           // audio faster than real time allowed in all (as nodes)
    double audio_rate_slack = 1.1;
    // A response.create the core has not started answering within this long is failed.
    int response_start_timeout_ms = 30000;
  };
  using PortFactory = std::function<std::unique_ptr<ConversationPort>(ConversationSink&,
                                                                      const ConversationSettings&)>;

  RealtimeDoor(Config config, std::shared_ptr<Outbox> outbox);
  ~RealtimeDoor() override;
  RealtimeDoor(const RealtimeDoor&) = delete;
  RealtimeDoor& operator=(const RealtimeDoor&) = delete;

  // Event loop, once: makes and starts the conversation, then sends session.created.
  bool start(const PortFactory& make_port, std::string* error);
  // Any thread, once: stops the conversation (joins its threads). A spoken response still being
  // sent is kept as heard up to the deltas that had left (Conversation::client_gone).
  void stop();

  // --- event loop
  // ---------------------------------------------------------------------------------
  void on_message(std::string_view text, int64_t now_ms);
  void on_binary();                 // the API has no binary messages: an error event
  void on_oversized(size_t limit);  // a message over the limit was dropped: an error event
  void on_tick(int64_t now_ms);     // deferred work (reports to the core, timeouts)
  Conversation::InputPace input_pace() const;
  const std::string& session_id() const { return config_.session_id; }

  // --- ConversationSink (core threads)
  // ------------------------------------------------------------
  void acknowledged(uint64_t seq) override;
  void speech_started(const std::string& turn_id, uint64_t audio_ms) override;
  void speech_stopped(const std::string& turn_id, uint64_t audio_ms) override;
  void transcript(const std::string& turn_id, const std::string& text, bool final,
                  const std::string& language) override;
  void reply_started(const std::string& reply_id, const std::string& turn_id) override;
  void reply_text(const std::string& reply_id, const std::string& turn_id,
                  const std::string& delta) override;
  void reply_text_done(const std::string& reply_id, const std::string& turn_id) override;
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
  // An item of the conversation, as the events name it.
  struct ItemRecord {
    std::string id;
    protocol::realtime::Role role = protocol::realtime::Role::kUser;
    bool audio = false;        // user: from the input buffer; assistant: spoken
    std::string text;          // user text, transcript, or the assistant's text
    bool transcribed = false;  // user audio: the final transcript came
    protocol::realtime::ItemStatus status = protocol::realtime::ItemStatus::kCompleted;
    uint64_t audio_start_ms = 0, audio_end_ms = 0;  // user audio: where it lies in the input
    std::string reply_id;                           // assistant: the core's reply
    uint64_t audio_sent_ms = 0;                     // assistant: audio written to the client
  };
  struct Response;
  // A call into the conversation, made on the event loop after the door's mutex is released.
  using Action = std::function<void(ConversationPort&)>;
  using Actions = std::vector<Action>;
  using EventId = std::optional<std::string>;

  // *_locked: mutex_ held.
  void send_locked(protocol::realtime::ServerEventBody body);
  void error_locked(const std::string& code, const std::string& message,
                    std::optional<std::string> param = std::nullopt, EventId event_id = {},
                    const char* type = "invalid_request_error");
  std::string new_id_locked(const char* prefix, uint64_t* counter);
  ItemRecord* find_item_locked(const std::string& id);
  void add_item_locked(ItemRecord item);
  protocol::realtime::Nullable<std::string> previous_of_locked(const std::string& id) const;
  protocol::realtime::Item item_locked(const ItemRecord& item) const;
  ConversationSettings settings_for(const protocol::realtime::Session& session) const;
  protocol::realtime::Session report_locked() const;
  bool server_vad_locked() const;

  void handle(const protocol::realtime::ClientEvent& event, int64_t now_ms, Actions* actions);
  void session_update(const protocol::realtime::Session& patch, const EventId& event_id,
                      Actions* actions);
  void append(const std::string& pcm, const EventId& event_id, int64_t now_ms, Actions* actions);
  void commit(const EventId& event_id, int64_t now_ms, Actions* actions);
  void clear(Actions* actions);
  void item_create(const protocol::realtime::ConversationItemCreate& create,
                   const EventId& event_id, int64_t now_ms, Actions* actions);
  void response_create(const std::optional<protocol::realtime::ResponseParams>& params,
                       const EventId& event_id, int64_t now_ms, Actions* actions);
  void response_cancel(const std::optional<std::string>& response_id, const EventId& event_id,
                       Actions* actions);
  void truncate(const protocol::realtime::ConversationItemTruncate& t, const EventId& event_id,
                Actions* actions);
  void frames_to_core_locked(int64_t now_ms, Actions* actions);

  ItemRecord* user_item_of_turn_locked(const std::string& turn_id);
  void bind_turn_locked(const std::string& turn_id, const std::string& item_id);
  void commit_item_locked(ItemRecord item);
  Response* response_of_locked(const std::string& reply_id);
  void finish_parts_locked(Response& r);
  void cancel_locked(Response& r, const char* reason, std::optional<uint64_t> played_ms,
                     Actions* actions);
  void maybe_done_locked();
  void audio_frame_sent(uint64_t serial, uint64_t frame_index, int64_t sent_ms);
  void run(Actions& actions);

  Config config_;
  std::shared_ptr<Outbox> outbox_;
  std::unique_ptr<ConversationPort> port_;

  mutable std::mutex mutex_;
  protocol::realtime::Session session_;  // effective
  bool configured_ = false;              // a session.update was applied
  bool stopped_ = false;                 // stop() was called
  uint64_t event_counter_ = 0, item_counter_ = 0, response_counter_ = 0;
  std::deque<ItemRecord> items_;  // in conversation order, the newest kMaxItems
  // Core turn id -> user item id ("": a turn the client cleared), the newest kMaxItems.
  std::deque<std::pair<std::string, std::string>> turn_items_;
  // Audio items committed without server VAD, waiting for the core's turn id (its final
  // transcript: turns are transcribed in the order they were committed).
  std::deque<std::string> unbound_items_;
  std::string open_turn_;                        // the core's turn whose speech started
  std::optional<ItemRecord> open_item_;          // server VAD: its item, until committed
  std::map<std::string, std::string> partials_;  // item id -> partial transcript sent

  // Input (event loop only).
  std::string partial_frame_;  // bytes of the next 20 ms frame
  uint64_t next_seq_ = 0;
  uint64_t bytes_since_commit_ = 0;
  AudioRateLimit rate_;

  std::unique_ptr<Response> active_;  // the response in flight, if any
  std::string core_reply_;  // the core's reply from its reply_started to its turn_done, if any
  uint64_t response_serial_ = 0;
  int skip_replies_ = 0;  // replies to respond() calls whose response was cancelled before it
  Actions deferred_;      // calls into the conversation from core threads, for the event loop
};

}  // namespace earshot::host
