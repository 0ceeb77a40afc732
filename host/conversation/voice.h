// Voice: a reply's sentences → TTS → the door's output rate → 20 ms frames → sink.reply_audio().
//
// The responder queues each sentence as soon as the LLM has written it, then a last job that
// closes the reply; the voice stage pads the last frame with silence, tells the sink the reply's
// audio ended, and sends the responder a VoiceFinished (what was voiced, the spans of each
// sentence, timings). A reply whose cancel token is cancelled (barge-in, response.cancel) stops
// at the next frame; so does one the door will take no more of (reply_audio() returned false).
// Frames are due back to back from the first one (the door paces them to the client).
//
// Thread: its own (the voice thread); queue() from the responder thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "host/conversation/conversation.h"
#include "host/conversation/jobs.h"
#include "host/work_queue.h"

namespace earshot::dsp {
class Resampler;
}

namespace earshot::host {

// Which reply a sentence belongs to; shared by the responder and the voice stage (immutable but
// for the token).
struct ReplyOrder {
  std::string reply_id;
  std::string turn_id;
  std::shared_ptr<CancelToken> cancel;
  std::string voice;
};

class Voice {
 public:
  struct SentenceJob {
    std::shared_ptr<const ReplyOrder> reply;
    std::string text;
    bool last = false;          // no sentence follows: finish the reply's audio
    int64_t speech_end_ms = 0;  // the turn's end of speech, for latency figures
    int part = 0;               // the responder's tag, copied to its VoicedSentence
  };

  // `finished` receives each reply's VoiceFinished (on the voice thread).
  Voice(Services& services, ConversationSink& sink, int output_rate,
        std::function<void(VoiceFinished)> finished);
  ~Voice();
  void start();
  // Sentences queued but not voiced are dropped; joins the thread. A reply begun and not closed
  // still gets its VoiceFinished (what was voiced of it, before this returns), so what was heard
  // of it can be told from the frames the door had sent.
  void stop();

  // A reply's closing job always gets in: the responder waits for the VoiceFinished it makes. A
  // sentence past kMaxQueuedSentences waiting is dropped (a model running far ahead of the voice:
  // a runaway answer), and the first dropped of each reply is logged.
  void queue(SentenceJob job);

 private:
  void loop();
  void sentence(SentenceJob& job);
  void finish(SentenceJob& job);
  bool emit(const ReplyOrder& reply, const float* samples, size_t n, int64_t speech_end_ms);

  Services& services_;
  ConversationSink& sink_;
  const int output_rate_;
  const size_t frame_samples_;  // output_rate / 50
  std::function<void(VoiceFinished)> finished_;
  std::string dropped_reply_id_;  // queue()'s own (the responder thread): the reply last logged
  WorkQueue<SentenceJob> jobs_;
  std::thread thread_;

  // The reply being voiced (voice thread only).
  std::string reply_id_;
  VoiceFinished progress_;
  uint64_t frames_ = 0;
  bool refused_ = false;  // the door took no more of this reply
  std::vector<float> frame_;
  size_t fill_ = 0;
  std::unique_ptr<dsp::Resampler> resampler_;
  int resampler_rate_ = 0;
  std::vector<float> resampled_;
};

}  // namespace earshot::host
