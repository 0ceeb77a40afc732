// Session: one connected node (or browser) after a successful handshake.
//
//   event loop ──▶ on_audio / on_message / on_tick ──▶ inbound queue ──▶ inbound thread:
//       dedup (SequenceTracker) → Opus decode → TurnDetector → STT stream (partials) → ack
//   turn ended ──▶ reply thread: STT final → LLM (streaming) → SentenceSplitter ──▶ voice thread:
//       TTS → resample 16 kHz → Opus encode → Outbox (paced by the event loop)
//   ambient segment ended ──▶ reply thread: STT final → store (segment + high-water) → ack
//
// Interrupt (barge-in): the node's interrupt clears the outbox's reply audio on the event loop at
// once (nothing more is sent), then cancels the LLM and TTS in flight; the history and the store
// get only the part of the reply the node reports it played.
//
// Delivery: a frame is acknowledged only once everything up to it is stored — an ambient
// segment, a turn's transcript — or known to hold nothing (frames outside any turn); commits go
// through the DeliveryLedger with this session's lease, so once a newer session of the node
// exists this one can neither store nor ack. A commit the store refuses waits and is retried in
// order; acks wait behind it.
//
// Every session has its own threads and bounded queues, so a slow engine or a slow node delays
// only its own session; a full stage holds back the one before it, and the event loop stops
// reading the socket (input_pace), so a fast sender is held back by TCP rather than dropped.
// Lifetime: owned by the server through a shared_ptr; stop() joins.
#pragma once

#include <memory>
#include <string>

#include "host/delivery.h"
#include "host/outbox.h"
#include "host/services.h"
#include "protocol/audio_frame.h"
#include "protocol/messages.h"

namespace earshot::host {

class Session {
 public:
  // `lease`: this session's claim on its node (DeliveryLedger::claim), which fences older ones.
  Session(Services& services, std::shared_ptr<Outbox> outbox, std::string session_id,
          protocol::Hello hello, NodeLease lease);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  bool start(std::string* error);
  // Cancels engines in flight, drops the unprocessed backlog (unacknowledged: the node delivers it
  // again), finishes the open turn's transcript, joins every thread; idempotent.
  void stop();

  // Event-loop thread. Never block.
  void on_audio(const protocol::AudioFrameView& frame);
  void on_message(const protocol::Message& message);
  void on_tick(int64_t now_ms);
  // Backpressure for the event loop: stop reading this connection's socket at kPause, read again
  // at kResume (kHold: leave it as it is).
  enum class InputPace { kPause, kHold, kResume };
  InputPace input_pace() const;

  const std::string& id() const;
  const std::string& node_id() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Monotonic milliseconds (steady clock), the time base of every latency figure.
int64_t monotonic_ms();

}  // namespace earshot::host
