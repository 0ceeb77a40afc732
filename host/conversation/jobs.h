// What the turn stage hands the responder, and what reaches the responder about a reply while it
// plays. Messages, not shared state: each is moved from one stage to the next.
#pragma once

#include <cstdint>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "host/delivery.h"
#include "host/engines/engines.h"
#include "host/heard_reply.h"

namespace earshot::host {

// An STT final pass started before the turn was confirmed over (the turn stage's early final).
struct EarlyFinal {
  std::future<SttResult> result;
  std::shared_ptr<CancelToken> cancel;
};

// A turn ended: transcribe it, store it, and (if `respond`) answer it. `seqs`: every input frame
// since the last job, through the turn's end — acknowledged when the turn is stored.
struct TurnJob {
  std::unique_ptr<SttStream> stt;  // or, if the final pass started early:
  std::optional<EarlyFinal> early;
  SeqRange seqs;
  std::string turn_id;
  int64_t speech_end_ms = 0;  // the last speech frame's arrival (monotonic)
  int64_t turn_end_ms = 0;
  bool respond = true;
};

// An ambient segment ended: transcribe and store it, never answer.
struct SegmentJob {
  std::unique_ptr<SttStream> stt;
  uint64_t first_seq = 0, last_seq = 0;
  int64_t started_wall_ms = 0, ended_wall_ms = 0;
};

// Input frames up to `seq` belong to no turn: acknowledge them in order.
struct AdvanceJob {
  uint64_t seq = 0;
};

// A user message given as text (Conversation::user_text).
struct TextJob {
  std::string text;
  bool respond = true;
};

// Answer from the history as it is (Conversation::respond).
struct RespondJob {};

// Speak `text` unprompted (Conversation::announce): a reply of its own, not part of any turn.
struct AnnounceJob {
  std::string text;
};

using ResponderJob =
    std::variant<TurnJob, SegmentJob, AdvanceJob, TextJob, RespondJob, AnnounceJob>;

// Voice → responder: the voice stage finished a reply (all its sentences, or cut short).
struct VoiceFinished {
  std::string reply_id;
  std::vector<VoicedSentence> sentences;  // as voiced, spans in 16 kHz samples
  uint64_t samples = 0;                   // 16 kHz samples delivered to the door
  bool audio_started = false;
  std::string tts_error;
  double tts_first_audio_ms = -1, first_frame_queued_ms = -1;
};

// Door → responder: how far the client got with a reply (PlayedReport), and whether it was cut.
struct ReplyPlayed {
  std::string reply_id;
  std::optional<uint64_t> played_ms;
  std::optional<uint64_t> frames_on_wire;  // what had left the bridge when it was cut
  bool interrupted = false;
};

// Door → responder: the reply's first frame left for the client at `sent_ms` (monotonic).
struct FirstFrameSent {
  std::string reply_id;
  int64_t sent_ms = 0;
};

using ReplyEvent = std::variant<VoiceFinished, ReplyPlayed, FirstFrameSent>;

}  // namespace earshot::host
