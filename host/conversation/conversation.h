// Conversation: the bridge's conversation core — one per connected client, whatever its wire
// format. A front door (host/doors/: earshot.v1, OpenAI Realtime, and later xiaozhi and Wyoming)
// turns its wire format into the calls below and implements ConversationSink to turn what the
// conversation says back into its wire format. The core knows no sockets, no JSON, no codecs of
// the wire beyond the input codec it is told to decode.
//
//   door ──audio()──▶ ingress (dedup, decode, resample to 16 kHz) ──▶ turn stage (end of turn,
//        early final, STT stream, ambient segments) ──▶ responder (STT final → store → LLM →
//        sentences) ──▶ voice (TTS → output rate → frames) ──▶ sink.reply_audio()
//   announce() (any thread: a timer went off, the announce tool) ──▶ responder ──▶ voice ──▶ sink
//   commits (ambient segments, turns, frames outside turns) are stored in input order and each
//   is acknowledged — sink.acknowledged(seq) — only once everything up to it is stored.
//
// Threads: the door calls every input method from one thread (its event loop); none of them
// blocks. Sink methods are called from the core's threads, each documented below; a door must not
// block in them except reply_audio(), which may block to hold the voice stage back (its
// backpressure). Lifetime: start() once, stop() once (idempotent, joins); the sink must outlive
// stop().
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "host/delivery.h"
#include "host/services.h"

namespace earshot::host {

enum class InputCodec {
  kOpus,   // one Opus packet per frame (16 kHz decode)
  kPcm16,  // little-endian signed 16-bit mono samples at ConversationSettings::input_rate
};

struct ConversationSettings {
  std::string conversation_id;  // unique across restarts (the session id)
  std::string client_id;        // node_id (or e.g. "realtime-<id>"): keys delivery and storage
  std::string room;
  std::string language;  // BCP-47 hint for STT, or empty
  bool ambient = false;  // ambient: segments are transcribed and stored, never answered

  InputCodec input_codec = InputCodec::kOpus;
  int input_rate = 16000;   // pcm16 only: resampled to 16 kHz in ingress
  int output_rate = 16000;  // sink.reply_audio() gets frames of output_rate / 50 samples

  // Turn taking. With server turn detection the turn stage ends turns itself (TurnConfig, from
  // Services::turn unless overridden); without it the door ends them with commit_input().
  bool server_turn_detection = true;
  std::optional<TurnConfig> turn;
  // Audio kept from before the first speech frame of a turn and transcribed with it (OpenAI
  // prefix_padding_ms). 0 for earshot.v1 nodes: their segments carry their own pre-roll.
  int prefix_padding_ms = 0;
  bool auto_respond = true;  // answer each ended turn at once (false: wait for respond())
  bool speak = true;         // false: text-only replies, no TTS
  std::optional<std::string> instructions;  // replaces Services::reply.system_prompt
  std::optional<std::string> voice;         // replaces Services::reply.voice
};

// Audio as the door received it: one frame of input_codec. `seq` numbers input frames (the
// client's own seqs for earshot.v1, a door-assigned counter otherwise): acknowledgements refer
// to it, and a frame at or below what was already seen is a duplicate and dropped.
struct AudioIn {
  uint64_t seq = 0;
  uint64_t timestamp = 0;  // in 16 kHz samples, the client's clock (earshot.v1), or 0: derived
  uint16_t flags = 0;      // protocol::kFlagSegmentStart / kFlagSegmentEnd (client VAD), or 0
  const uint8_t* payload = nullptr;
  size_t size = 0;
  int64_t arrived_ms = 0;  // monotonic_ms() when the door read it
};

// What a client reports it played of a reply (barge-in, or played to the end).
struct PlayedReport {
  std::string reply_id;
  std::optional<uint64_t> played_ms;  // as the client measured it; absent if it cannot say
  // Reply frames the door had put on the wire when it stopped sending them (an upper bound of
  // what can have been heard, used when the client does not say).
  std::optional<uint64_t> frames_on_wire;
};

class ConversationSink {
 public:
  virtual ~ConversationSink() = default;

  // Commit stage (responder thread): every input frame with seq <= `seq` is stored, or held
  // nothing worth storing; the client may forget it.
  virtual void acknowledged(uint64_t seq) = 0;

  // Turn stage (ingress thread). Times are of the input audio, in ms since the conversation's
  // first frame.
  virtual void speech_started(const std::string& turn_id, uint64_t audio_ms) = 0;
  virtual void speech_stopped(const std::string& turn_id, uint64_t audio_ms) = 0;
  // Partial (ingress thread) and final (responder thread) transcripts. Ambient segments have
  // turn ids "s<first seq>".
  virtual void transcript(const std::string& turn_id, const std::string& text, bool final,
                          const std::string& language) = 0;

  // Responder thread: a reply starts (after the final transcript), its text as the LLM writes
  // it, and its text complete.
  virtual void reply_started(const std::string& reply_id, const std::string& turn_id) = 0;
  virtual void reply_text(const std::string& reply_id, const std::string& turn_id,
                          const std::string& delta) = 0;
  virtual void reply_text_done(const std::string& reply_id, const std::string& turn_id) = 0;

  // Voice thread. reply_audio_started() comes before the first frame; reply_sentence() before
  // the sentence's first frame (`first_frame`: the reply frame index it starts on). reply_audio()
  // delivers one frame (output_rate / 50 float samples in [-1, 1]) due to play at `due_ms`
  // (monotonic); it may block while the door's queue is full and returns false once the door
  // will take no more of this reply (interrupted, closed). `on_sent`-style accounting is the
  // door's: it reports played_ms or what was on the wire through interrupt()/played().
  virtual void reply_audio_started(const std::string& reply_id, const std::string& turn_id) = 0;
  virtual void reply_sentence(const std::string& reply_id, uint32_t index, const std::string& text,
                              uint64_t first_frame) = 0;
  virtual bool reply_audio(const std::string& reply_id, uint64_t frame_index, const float* pcm,
                           size_t samples, int64_t due_ms, int64_t speech_end_ms) = 0;
  // `frames`: how many were delivered; `interrupted`: cut short.
  virtual void reply_audio_ended(const std::string& reply_id, uint64_t frames,
                                 bool interrupted) = 0;

  // Ingress thread: the core stopped a reply (the person spoke over it): the door drops what it
  // has not sent, tells the client to stop playing, and returns how many of the reply's frames
  // it had already put on the wire.
  virtual uint64_t reply_interrupted(const std::string& reply_id) = 0;

  // Responder thread: the turn is over — transcript, reply as heard, timings, usage. Called for
  // every answered turn (not for ambient segments).
  virtual void turn_done(const TurnReport& report) = 0;

  // Responder thread, just before reply_started(): the reply `reply_id` is an announcement —
  // speech nobody asked for (a timer went off, the announce tool), not the answer to a turn. Its
  // turn_id is "a<n>". A door that can tell its client so does (earshot.v1: speech_out_start's
  // "reason"); the reply otherwise goes out like any other, and barge-in stops it like one.
  virtual void announcement_started(const std::string& reply_id) { (void)reply_id; }

  // Any thread: something failed; the conversation goes on unless close() follows.
  virtual void error(const std::string& code, const std::string& message) = 0;
  // Any thread: the core asks the door to close the connection (first request wins).
  virtual void close(uint16_t code, const std::string& reason) = 0;
};

class Conversation {
 public:
  // `lease`: the client's claim on its delivery high-water mark (DeliveryLedger::claim), which
  // fences older conversations of the same client.
  Conversation(Services& services, ConversationSettings settings, NodeLease lease,
               ConversationSink& sink);
  ~Conversation();
  Conversation(const Conversation&) = delete;
  Conversation& operator=(const Conversation&) = delete;

  bool start(std::string* error);
  // Cancels engines in flight, drops the unprocessed backlog (unacknowledged), finishes and
  // stores the open turn's transcript, joins every thread; idempotent. A spoken reply whose
  // played report had not come (nor client_gone) is kept, in the history and the store, as cut at
  // the frames on the wire the core knows of (a barge-in's count), else at nothing — not as heard
  // in full. A door calls client_gone() first all the same: it knows the precise point.
  void stop();

  // --- inputs: the door's thread, in the order the client sent them; never block -------------
  void audio(const AudioIn& frame);
  // Ends the open turn now (input_audio_buffer.commit); with no audio since the last turn, an
  // error("input_audio_buffer_commit_empty").
  void commit_input();
  // Drops the audio of the open turn (input_audio_buffer.clear); it is not transcribed.
  void clear_input();
  // A user message given as text: joins the history as a turn of its own (stored); answered at
  // the next respond(), never unasked (conversation.item.create does not start a response).
  void user_text(const std::string& text);
  // Answer now (response.create): from the history as it is.
  void respond();
  // Stop the reply in flight (response.cancel, or the client's barge-in with what it played).
  void interrupt(const PlayedReport& report);
  // The client's connection ended (or the bridge is closing it) during a reply: no report of it
  // will come, and it heard at most what the door had put on the wire. `wire` names the reply the
  // door was sending and its frames on the wire; the reply in flight stops and is kept as cut
  // there (nothing of it heard if the wire held another). Before stop().
  void client_gone(const PlayedReport& wire);
  // The client played a reply to its end (or to a point: conversation.item.truncate after the
  // reply finished): the history and the stored turn keep what was heard.
  void played(const PlayedReport& report);
  // The door handed the reply's first frame to the client's socket at `sent_ms` (monotonic), for
  // the latency figures.
  void first_frame_sent(const std::string& reply_id, int64_t sent_ms);
  void set_ambient(bool ambient);
  // session.update: instructions, voice, speak, server_turn_detection, turn, prefix_padding_ms
  // and auto_respond take effect from the next turn; the other fields are ignored.
  void update(const ConversationSettings& settings);

  // Any thread: say `text` to the client unprompted (Conversation::announcement_started). It is
  // spoken after the reply in flight, if any, and stays out of the history and the store.
  void announce(const std::string& text);

  // Backpressure for the door: stop reading the client at kPause, read again at kResume.
  enum class InputPace { kPause, kHold, kResume };
  InputPace input_pace() const;

  const ConversationSettings& settings() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace earshot::host
