#include "host/session.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <sstream>
#include <thread>
#include <variant>

#include "dsp/audio_format.h"
#include "dsp/opus_frame_decoder.h"
#include "dsp/opus_frame_encoder.h"
#include "dsp/resampler.h"
#include "host/engines/sentence_splitter.h"
#include "host/engines/speech_text.h"
#include "host/heard_reply.h"
#include "host/log.h"
#include "host/store/store.h"
#include "host/work_queue.h"
#include "protocol/sequence_tracker.h"

namespace earshot::host {

int64_t monotonic_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

namespace {

constexpr int kFrame = dsp::kCodecFrameSamples;  // 320 samples, 20 ms
// Frames waiting for this session's inbound thread. A node redelivering its buffer after a
// reconnect sends everything it held at once, and that must not stop the socket being read: the
// node's keepalive pings come on the same stream, and a node whose pings go unanswered while the
// session works through the backlog hangs up and redelivers again — for ever (the fault run saw
// it). So the event loop stops reading only above kInboundPauseAt (180 s of 20 ms frames, well
// above a node's 60 s buffer; the rate limit stops a client getting there faster than real time),
// and kInboundLimit is the hard bound for what one read can still deliver after that (~2.5 MB).
constexpr size_t kInboundPauseAt = 9000;
constexpr size_t kInboundResumeAt = 3000;
constexpr size_t kInboundLimit = 12000;
constexpr int kAckEveryFrames = 10;
// Turns and segments waiting for the reply thread, and early finals for the final thread. Each
// holds a live speech-to-text stream (for pocketsphinx a whole decoder, ~10-20 MB): a client that
// floods segments fills these first, and a full queue holds back the inbound thread instead.
constexpr size_t kMaxWaitingJobs = 4;
// Commits that failed (the store is down) wait in order and are retried; past this many the
// session gives up and closes, and the node delivers them again later.
constexpr size_t kMaxWaitingCommits = 256;

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct InFrame {
  protocol::AudioFrameHeader header;
  std::string payload;
  int64_t arrived_ms = 0;
};
struct Tick {
  int64_t now_ms = 0;
};
using InboundItem = std::variant<InFrame, protocol::Message, Tick>;

// What we know of a reply while it is produced and played. Shared by the reply thread, the voice
// thread and the inbound thread (node reports); guarded by `mutex`.
struct Reply {
  std::string reply_id;
  std::string turn_id;
  CancelToken cancel;
  std::mutex mutex;
  std::condition_variable cv;
  std::vector<VoicedSentence> sentences;  // as voiced
  uint64_t samples_sent = 0;
  bool audio_started = false;
  bool voice_done = false;
  std::optional<uint64_t> played_ms;  // from the node: interrupt or playback_done
  bool interrupted = false;
  uint64_t outbox_sent_at_start = 0;       // the outbox's audio_sent() when this reply's began
  std::optional<uint64_t> frames_on_wire;  // reply frames written when it was interrupted
  // The voice thread's findings, for the turn report (read once voice_done).
  std::string tts_error;
  double tts_first_audio_ms = -1, first_frame_queued_ms = -1;
  std::atomic<int64_t> first_frame_sent_ms{-1};  // set on the event loop when it leaves
};

}  // namespace

struct Session::Impl {
  Impl(Services& s, std::shared_ptr<Outbox> o, std::string sid, protocol::Hello h, NodeLease l)
      : services(s),
        outbox(std::move(o)),
        session_id(std::move(sid)),
        hello(std::move(h)),
        lease(std::move(l)),
        tracker(lease.acked_seq),
        queued_upto(lease.acked_seq),
        turn(s.turn),
        inbound(kInboundLimit),
        jobs(kMaxWaitingJobs),
        sentences(256) {
    ambient = hello.mode == protocol::Mode::kAmbient;
    barge_in_capable = std::find(hello.capabilities.begin(), hello.capabilities.end(),
                                 "barge_in") != hello.capabilities.end();
  }

  Services& services;
  std::shared_ptr<Outbox> outbox;
  std::string session_id;
  protocol::Hello hello;
  const NodeLease lease;  // this session's claim on the node (DeliveryLedger)
  bool ambient = false;
  bool barge_in_capable = false;

  // inbound thread state
  protocol::SequenceTracker tracker;
  std::optional<uint64_t> queued_upto;     // the last seq handed to the reply thread in a job
  std::optional<uint64_t> last_frame_seq;  // ambient: the last frame decoded
  TurnDetector turn;
  std::unique_ptr<dsp::OpusFrameDecoder> decoder;
  float pcm[kFrame * 6] = {};  // a frame, or up to 120 ms if a node sends long packets
  std::unique_ptr<SttStream> stt;
  std::string turn_id;
  uint64_t turn_counter = 0;
  // Early final: once the person has been quiet for turn.early_final_ms, the STT's final pass
  // starts on the session's final thread, so the transcript is (nearly) ready when the turn is
  // confirmed end_of_turn_ms later. If they speak again first, it is dropped and a fresh stream
  // catches up on the turn's audio, kept for that. (A thread per session, not per turn: hundreds
  // of sessions ending turns together would otherwise create hundreds of threads at once.)
  struct EarlyFinal {
    std::future<SttResult> result;
    std::shared_ptr<CancelToken> cancel;
  };
  struct FinalTask {
    std::unique_ptr<SttStream> stream;
    std::shared_ptr<CancelToken> cancel;
    std::promise<SttResult> result;
  };
  std::optional<EarlyFinal> early;
  uint64_t early_speech_end = 0;  // turn.last_speech_end() when it started
  std::vector<float> turn_audio;  // the open turn's audio
  WorkQueue<FinalTask> finals{kMaxWaitingJobs};
  std::thread final_thread;
  uint64_t segment_first_seq = 0;
  int64_t segment_started_wall_ms = 0;
  int frames_since_ack = 0;
  std::atomic<int64_t> turn_deadline_ms{-1};  // published for the event loop's tick
  std::atomic<int64_t> audio_sent_at_interrupt{-1};
  uint64_t lost_reported = 0;  // of tracker.lost(), already added to the metric  // outbox count
                               // when the node's interrupt came
  WorkQueue<InboundItem> inbound;
  std::thread inbound_thread;

  // reply thread: turns and segments
  struct TurnJob {
    std::unique_ptr<SttStream> stt;  // or, if the final pass started early:
    std::optional<EarlyFinal> early;
    SeqRange seqs;  // every frame since the last job, through the turn's end
    std::string turn_id;
    int64_t speech_end_ms = 0;  // the last speech frame's arrival
    int64_t turn_end_ms = 0;
  };
  struct SegmentJob {
    std::unique_ptr<SttStream> stt;
    uint64_t first_seq = 0, last_seq = 0;
    int64_t started_wall_ms = 0, ended_wall_ms = 0;
  };
  struct AdvanceJob {  // frames up to `seq` belong to no turn
    uint64_t seq = 0;
  };
  using Job = std::variant<TurnJob, SegmentJob, AdvanceJob>;
  WorkQueue<std::shared_ptr<Job>> jobs;
  std::thread reply_thread;
  CancelToken stop_token;  // cancelled by stop(): engine work for a gone node ends early

  // Reply thread: what waits to be committed, in seq order. An ack covers a frame only once
  // every commit up to it is stored, so a failed commit holds back every ack after it; it is
  // retried (the store may have space again) until it succeeds or the session ends.
  struct TurnCommit {
    TurnRecord record;
    SeqRange seqs;
    int64_t row_id = -1;    // once stored
    bool finished = false;  // the record has its reply
  };
  struct Commit {
    uint64_t last_seq = 0;
    std::optional<SegmentRecord> segment;
    std::shared_ptr<TurnCommit> turn;  // neither: frames that belong to no turn
  };
  std::deque<Commit> commits;
  bool fenced = false;  // a newer session holds the node, or a commit cannot succeed: no more acks
  bool store_failing = false;
  int retry_delay_ms = 0;
  std::chrono::steady_clock::time_point next_retry;

  // voice thread: sentences to speak for the current reply
  struct SentenceJob {
    std::shared_ptr<Reply> reply;
    std::string text;
    bool last = false;  // no sentence follows: finish the reply's audio
    int64_t speech_end_ms = 0;
  };
  WorkQueue<SentenceJob> sentences;
  std::thread voice_thread;
  std::unique_ptr<dsp::OpusFrameEncoder> encoder;
  std::unique_ptr<dsp::Resampler> resampler;
  int resampler_rate = 0;

  // the reply in flight (reply thread creates it; inbound thread and event loop read it)
  std::mutex reply_mutex;
  std::shared_ptr<Reply> current_reply;
  uint64_t reply_counter = 0;

  std::vector<ChatMessage> history;  // reply thread only
  std::atomic<bool> stopping{false};

  void send(const protocol::Message& m) { outbox->push_control(protocol::to_json(m)); }
  void send_error(const std::string& code, const std::string& message) {
    protocol::Error e;
    e.code = code;
    e.message = message;
    send(e);
  }

  void inbound_loop();
  void handle_frame(InFrame& f);
  void handle_message(const protocol::Message& m);
  void handle_turn_event(TurnDetector::Event event, int64_t now_ms);
  void ack(uint64_t seq) { send(protocol::Ack{seq}); }
  void interrupt_current(const char* why, std::optional<uint64_t> played_ms);

  void queue_job(Job job);
  void reply_loop();
  void commit(Commit c);
  void flush_commits();
  void stop_acknowledging(const std::string& why, uint16_t close_code);
  void run_turn(TurnJob& job);
  void start_early_final();
  void drop_early_final();
  void restart_stt_on_turn_audio();
  void queue_open_turn(int64_t turn_end_ms);
  void run_segment(SegmentJob& job);
  void speak_error(const std::shared_ptr<Reply>& reply, int64_t t0);

  void voice_loop();
  void final_loop();
  std::shared_ptr<Reply> current_reply_of(Reply& reply) {
    std::lock_guard<std::mutex> lock(reply_mutex);
    return current_reply.get() == &reply ? current_reply : nullptr;
  }
  void voice_sentence(SentenceJob& job);
  void emit_pcm16k(Reply& reply, const float* samples, size_t n, float* frame, int* fill,
                   int64_t speech_end_ms);
  uint64_t reply_seq = 0;
  int64_t next_due_ms = 0;
  float voice_frame[kFrame] = {};
  int voice_fill = 0;
};

// ------------------------------------------------------------------------------------------------
// Inbound: frames and messages in arrival order.

void Session::Impl::inbound_loop() {
  InboundItem item;
  while (inbound.pop(&item)) {
    if (auto* f = std::get_if<InFrame>(&item)) {
      handle_frame(*f);
    } else if (auto* m = std::get_if<protocol::Message>(&item)) {
      handle_message(*m);
    } else if (auto* t = std::get_if<Tick>(&item)) {
      if (!ambient) handle_turn_event(turn.on_tick(t->now_ms), t->now_ms);
    }
    turn_deadline_ms.store(ambient ? -1 : turn.deadline_ms());
  }
}

void Session::Impl::handle_frame(InFrame& f) {
  const protocol::SeqVerdict verdict = tracker.accept(f.header.seq);
  if (verdict == protocol::SeqVerdict::kDuplicate) {
    services.metrics.frames_duplicate_total.fetch_add(1);
    return;
  }
  if (verdict == protocol::SeqVerdict::kGap) {
    const uint64_t lost = tracker.lost();
    services.metrics.frames_lost_total.fetch_add(lost - lost_reported);
    lost_reported = lost;
  }
  services.metrics.frames_received_total.fetch_add(1);
  // How long the frame waited between the event loop and this thread: CPU saturation shows here.
  const int64_t lag = monotonic_ms() - f.arrived_ms;
  services.metrics.inbound_lag_ms.observe(double(lag));
  if (lag > 20) services.metrics.frames_late_total.fetch_add(1);

  const int n = decoder->decode(reinterpret_cast<const uint8_t*>(f.payload.data()),
                                f.payload.size(), pcm, sizeof pcm / sizeof pcm[0]);
  if (n <= 0) {
    services.metrics.protocol_errors_total.fetch_add(1);
    send_error("bad_audio", "microphone frame " + std::to_string(f.header.seq) +
                                " is not a valid Opus packet; dropped");
    return;
  }
  const uint16_t flags = f.header.flags;
  if (ambient) {
    // A new segment while one is open (its end frame never came: the node dropped it from a full
    // buffer, say): the open one is stored as it is, never dropped — a later ack would cover it.
    if ((flags & protocol::kFlagSegmentStart) && stt && last_frame_seq) {
      queue_job(SegmentJob{std::move(stt), segment_first_seq, *last_frame_seq,
                           segment_started_wall_ms, wall_ms()});
      stt.reset();
    }
    last_frame_seq = f.header.seq;
    if ((flags & protocol::kFlagSegmentStart) || !stt) {
      stt = services.stt->start(hello.language.value_or(""));
      segment_first_seq = f.header.seq;
      segment_started_wall_ms = wall_ms() - int64_t(0);
    }
    if (stt) stt->feed(pcm, size_t(n));
    // A segment is cut at turn.max_turn_ms (a radio left on): one stream's memory stays bounded.
    const bool too_long = f.header.seq - segment_first_seq + 1 >=
                          uint64_t(services.turn.max_turn_ms / 20);  // 20 ms frames
    if ((flags & protocol::kFlagSegmentEnd) || too_long) {
      queue_job(SegmentJob{std::move(stt), segment_first_seq, f.header.seq, segment_started_wall_ms,
                           wall_ms()});
      stt.reset();
    }
    // Ambient frames are acknowledged only once their segment is stored (the reply thread).
    return;
  }

  // Conversation: the node proposes (flags), the turn detector confirms from the audio.
  const uint64_t early_after = uint64_t(services.turn.early_final_ms) * 16;
  for (int off = 0; off + kFrame <= n; off += kFrame) {
    const uint16_t frame_flags = off == 0 ? flags : uint16_t(flags & ~protocol::kFlagSegmentStart);
    const uint64_t timestamp = f.header.timestamp + uint64_t(off);
    const TurnDetector::Event event =
        turn.on_frame(pcm + off, timestamp, frame_flags, f.arrived_ms);
    if (event == TurnDetector::Event::kTurnStarted) {
      handle_turn_event(event, f.arrived_ms);
    }
    if (stt || early) turn_audio.insert(turn_audio.end(), pcm + off, pcm + off + kFrame);
    if (early && turn.in_turn() && turn.last_speech_end() > early_speech_end) {
      // They spoke again before the turn ended: the early final is void. A fresh stream hears
      // the whole turn so far (this frame included).
      drop_early_final();
      restart_stt_on_turn_audio();
    } else if (stt) {
      stt->feed(pcm + off, kFrame);
      if (std::optional<std::string> partial = stt->partial()) {
        protocol::Transcript t;
        t.turn_id = turn_id;
        t.text = *partial;
        t.final = false;
        send(t);
      }
    }
    if (stt && turn.in_turn() && early_after > 0 &&
        (timestamp + kFrame - turn.last_speech_end() >= early_after ||
         (frame_flags & protocol::kFlagSegmentEnd))) {
      start_early_final();
    }
    if (event == TurnDetector::Event::kTurnEnded) handle_turn_event(event, f.arrived_ms);
  }
  // Frames outside any turn are acknowledged as they come, in order behind whatever turn is still
  // being stored; a turn's frames only once its transcript is stored (run_turn).
  const bool in_open_turn = stt || early;
  if (!in_open_turn && (++frames_since_ack >= kAckEveryFrames ||
                        (flags & protocol::kFlagSegmentEnd) || !queued_upto)) {
    frames_since_ack = 0;
    if (!queued_upto || f.header.seq > *queued_upto) queue_job(AdvanceJob{f.header.seq});
  }
}

// Hands a job to the reply thread, waiting while it is behind: the wait backs up into the inbound
// queue and from there into the socket, so nothing is dropped and nothing grows without bound.
void Session::Impl::queue_job(Job job) {
  if (auto* a = std::get_if<AdvanceJob>(&job)) {
    queued_upto = a->seq;
    // Frames outside any turn behind an advance still queued: that one covers them too. (Only
    // the newest job can take them: an advance may never pass a turn queued after it.)
    const uint64_t seq = a->seq;
    if (jobs.merge_into_back([seq](std::shared_ptr<Job>& back) {
          auto* queued = std::get_if<AdvanceJob>(back.get());
          if (queued) queued->seq = seq;
          return queued != nullptr;
        }))
      return;
  }
  if (auto* t = std::get_if<TurnJob>(&job)) queued_upto = t->seqs.last;
  if (auto* g = std::get_if<SegmentJob>(&job)) queued_upto = g->last_seq;
  jobs.push_wait(std::make_shared<Job>(std::move(job)));  // false only when stopping
}

void Session::Impl::handle_turn_event(TurnDetector::Event event, int64_t now_ms) {
  if (event == TurnDetector::Event::kTurnStarted) {
    // Speech while a reply is being prepared or played is a barge-in, never part of the old turn.
    interrupt_current("the person spoke", std::nullopt);
    turn_id = "t" + std::to_string(++turn_counter);
    if (early) drop_early_final();
    turn_audio.clear();
    stt = services.stt->start(hello.language.value_or(""));
  } else if (event == TurnDetector::Event::kTurnEnded && (stt || early)) {
    queue_open_turn(now_ms);
  }
}

// Hands the open turn (its stream, or its early final) to the reply thread, with every frame
// received since the last job: they are acknowledged when the turn is stored.
void Session::Impl::queue_open_turn(int64_t turn_end_ms) {
  TurnJob job;
  job.stt = std::move(stt);
  job.early = std::move(early);
  stt.reset();
  early.reset();
  job.seqs.first = queued_upto ? *queued_upto + 1 : 0;
  job.seqs.last = tracker.high_water().value_or(job.seqs.first);
  job.turn_id = turn_id;
  job.speech_end_ms = turn.last_speech_arrival_ms();
  job.turn_end_ms = turn_end_ms;
  queue_job(std::move(job));
}

// A fresh stream that has heard the whole turn so far.
void Session::Impl::restart_stt_on_turn_audio() {
  stt = services.stt->start(hello.language.value_or(""));
  stt->feed(turn_audio.data(), turn_audio.size());
}

void Session::Impl::start_early_final() {
  FinalTask task;
  task.cancel = std::make_shared<CancelToken>();
  EarlyFinal e{task.result.get_future(), task.cancel};
  task.stream = std::move(stt);
  if (!finals.push(std::move(task))) {
    // Too many dropped finals still running (or stopping): keep decoding the normal way. The
    // stream went with the refused task, so a fresh one catches up on the turn.
    restart_stt_on_turn_audio();
    return;
  }
  early = std::move(e);
  early_speech_end = turn.last_speech_end();
}

void Session::Impl::drop_early_final() {
  services.metrics.stt_early_finals_dropped_total.fetch_add(1);
  early->cancel->cancel();  // the final thread finishes it and nobody reads the result
  early.reset();
}

void Session::Impl::final_loop() {
  FinalTask task;
  while (finals.pop(&task)) {
    task.result.set_value(task.stream->finish(*task.cancel));
    task.stream.reset();  // gives a pooled decoder back now, not at the next task
  }
}

// Stops the reply in flight (if any): no more audio leaves, LLM and TTS requests are cancelled.
void Session::Impl::interrupt_current(const char* why, std::optional<uint64_t> played_ms) {
  std::shared_ptr<Reply> reply;
  {
    std::lock_guard<std::mutex> lock(reply_mutex);
    reply = current_reply;
  }
  if (!reply) return;
  bool first = false;
  const uint64_t on_wire = outbox->audio_sent();
  {
    std::lock_guard<std::mutex> lock(reply->mutex);
    if (played_ms) reply->played_ms = played_ms;
    if (!reply->frames_on_wire)
      reply->frames_on_wire =
          reply->audio_started ? on_wire - std::min(on_wire, reply->outbox_sent_at_start) : 0;
    if (!reply->interrupted && !reply->voice_done) {
      reply->interrupted = true;
      first = true;
    } else if (!reply->interrupted && reply->voice_done && !reply->played_ms) {
      reply->interrupted = played_ms.has_value();
      first = reply->interrupted;
    }
    reply->cv.notify_all();
  }
  outbox->clear_audio();
  reply->cancel.cancel();
  if (first) {
    services.metrics.barge_ins_total.fetch_add(1);
    LOG_INFO("session", "%s: reply %s interrupted (%s)", session_id.c_str(),
             reply->reply_id.c_str(), why);
    if (!played_ms) {
      // Tell the node to stop playing (it may not have noticed, e.g. no barge-in support).
      protocol::Interrupt stop;
      stop.reply_id = reply->reply_id;
      send(stop);
    }
  }
}

void Session::Impl::handle_message(const protocol::Message& m) {
  if (auto* i = std::get_if<protocol::Interrupt>(&m)) {
    // The node reports what it played of the reply it names; of any other reply, nothing.
    std::optional<uint64_t> played = i->played_ms;
    {
      std::lock_guard<std::mutex> lock(reply_mutex);
      if (current_reply && current_reply->reply_id != i->reply_id) played = 0;
    }
    interrupt_current("node barge-in", played);
  } else if (auto* d = std::get_if<protocol::PlaybackDone>(&m)) {
    std::lock_guard<std::mutex> lock(reply_mutex);
    if (current_reply && current_reply->reply_id == d->reply_id) {
      std::lock_guard<std::mutex> rl(current_reply->mutex);
      current_reply->played_ms = d->played_ms;
      current_reply->cv.notify_all();
    }
  } else if (auto* mc = std::get_if<protocol::ModeChange>(&m)) {
    // What is open is finished as it was (a segment, or a turn), never dropped: a later ack
    // would cover its frames.
    if (ambient && stt && tracker.high_water()) {
      queue_job(SegmentJob{std::move(stt), segment_first_seq, *tracker.high_water(),
                           segment_started_wall_ms, wall_ms()});
    } else if (!ambient && (stt || early)) {
      queue_open_turn(monotonic_ms());
    }
    ambient = mc->mode == protocol::Mode::kAmbient;
    turn.reset();
    stt.reset();
    LOG_INFO("session", "%s: mode %s", session_id.c_str(), protocol::to_string(mc->mode));
  }
  // speech_start / speech_end are informational: the frames' flags are authoritative.
}

// ------------------------------------------------------------------------------------------------
// Reply thread: one turn or segment at a time.

void Session::Impl::reply_loop() {
  std::shared_ptr<Job> job;
  while (true) {
    std::optional<std::chrono::steady_clock::time_point> retry_at;
    if (!commits.empty() && !fenced) retry_at = next_retry;
    const auto popped = jobs.pop_until(retry_at, &job);
    if (popped == WorkQueue<std::shared_ptr<Job>>::Popped::kClosed) break;
    if (popped == WorkQueue<std::shared_ptr<Job>>::Popped::kTimeout) {
      flush_commits();
      continue;
    }
    if (auto* t = std::get_if<TurnJob>(job.get())) {
      run_turn(*t);
    } else if (auto* g = std::get_if<SegmentJob>(job.get())) {
      run_segment(*g);
    } else if (auto* a = std::get_if<AdvanceJob>(job.get())) {
      if (!stopping.load()) commit(Commit{a->seq, std::nullopt, nullptr});
    }
    job.reset();
  }
  // Commits still waiting when the session ends get one last try; what fails is not
  // acknowledged, and the node delivers it again.
  if (!commits.empty() && !fenced) flush_commits();
}

void Session::Impl::commit(Commit c) {
  if (fenced) return;
  commits.push_back(std::move(c));
  if (commits.size() == 1 || !store_failing) flush_commits();
  if (commits.size() > kMaxWaitingCommits) {
    stop_acknowledging("the store has failed for " + std::to_string(commits.size()) +
                           " commits in a row; closing so the node delivers them again later",
                       protocol::kCloseInternalError);
  }
}

// Stores what waits, in order, and acknowledges each as it is stored. Stops at the first failure
// (retried later) and for good once this session is fenced.
void Session::Impl::flush_commits() {
  while (!commits.empty() && !fenced) {
    Commit& c = commits.front();
    std::string error;
    CommitResult r;
    if (c.segment) {
      r = services.delivery->store_segment(lease, *c.segment, &error);
    } else if (c.turn) {
      r = services.delivery->store_turn(lease, c.turn->record, c.turn->seqs, &c.turn->row_id,
                                        &error);
    } else {
      r = services.delivery->advance(lease, c.last_seq, &error);
    }
    if (r == CommitResult::kFailed) {
      services.metrics.store_errors_total.fetch_add(1);
      if (!store_failing) {
        LOG_ERROR("store", "%s: not stored, kept and retried; acknowledgements wait: %s",
                  session_id.c_str(), error.c_str());
        send_error("store_failed",
                   "could not store what was said; it is kept and retried, and not "
                   "acknowledged until stored: " +
                       error);
      }
      store_failing = true;
      retry_delay_ms = std::clamp(retry_delay_ms * 2, 250, 5000);
      next_retry = std::chrono::steady_clock::now() + std::chrono::milliseconds(retry_delay_ms);
      return;
    }
    if (r != CommitResult::kStored) {
      // kSuperseded: the node has a newer session, which asked for all of this again.
      // kAlreadyStored: the same; either way this session must neither store nor ack any more.
      services.metrics.commits_fenced_total.fetch_add(1);
      stop_acknowledging(error, protocol::kCloseReplaced);
      return;
    }
    if (store_failing) {
      LOG_INFO("store", "%s: storing works again", session_id.c_str());
      store_failing = false;
    }
    retry_delay_ms = 0;
    if (c.segment) {
      services.metrics.segments_stored_total.fetch_add(1);
      protocol::Transcript t;
      t.turn_id = "s" + std::to_string(c.segment->first_seq);
      t.text = c.segment->text;
      t.final = true;
      if (!c.segment->language.empty()) t.language = c.segment->language;
      send(t);
      if (services.on_segment)
        services.on_segment(hello.node_id, c.segment->text, c.segment->language);
    }
    ack(c.last_seq);  // only now: everything up to it is stored
    commits.pop_front();
  }
}

// This session may not acknowledge anything more: everything waiting is dropped (unacknowledged,
// so the node keeps it) and the connection is closed, so the node delivers it again to a session
// that can store it.
void Session::Impl::stop_acknowledging(const std::string& why, uint16_t close_code) {
  if (fenced) return;
  fenced = true;
  LOG_WARN("session", "%s: stops acknowledging (%zu commit(s) dropped, to be delivered again): %s",
           session_id.c_str(), commits.size(), why.c_str());
  commits.clear();
  outbox->request_close(close_code, why.substr(0, 100));
}

void Session::Impl::run_segment(SegmentJob& job) {
  // A segment of a session that has ended is not acknowledged: the node delivers it again.
  if (stopping.load() || fenced) return;
  SttResult r = job.stt ? job.stt->finish(stop_token) : SttResult{};
  if (stopping.load()) return;
  if (!r.ok) {
    services.metrics.stt_errors_total.fetch_add(1);
    send_error("stt_failed", r.error);
    // Its audio is gone from here, and a later ack would cover it: store what is before it, then
    // stop acknowledging, so that the node delivers it again on its next connection.
    flush_commits();
    stop_acknowledging("speech recognition failed: " + r.error, protocol::kCloseInternalError);
    return;
  }
  SegmentRecord rec;
  rec.node_id = hello.node_id;
  rec.room = hello.room.value_or("");
  rec.language = r.language;
  rec.started_at_ms = job.started_wall_ms;
  rec.ended_at_ms = job.ended_wall_ms;
  rec.first_seq = job.first_seq;
  rec.last_seq = job.last_seq;
  rec.text = r.text;
  commit(Commit{job.last_seq, std::move(rec), nullptr});
}

void Session::Impl::speak_error(const std::shared_ptr<Reply>& reply, int64_t t0) {
  if (!services.reply.speak_errors) return;
  sentences.push(SentenceJob{reply, services.reply.error_speech, false, t0});
}

// What the person heard of an interrupted reply (heard_reply.h); frames_on_wire was taken when
// the interrupt came.
static std::string heard_of(const Reply& reply) {
  PlayedPoint point;
  point.reported_ms = reply.played_ms;
  point.frames_on_wire = reply.frames_on_wire;
  return heard_part(reply.sentences, point);
}

void Session::Impl::run_turn(TurnJob& job) {
  TurnReport report;
  report.node_id = hello.node_id;
  report.session_id = session_id;
  report.turn_id = job.turn_id;
  const int64_t t0 = job.speech_end_ms;
  report.end_of_turn_ms = double(job.turn_end_ms - t0);
  services.metrics.end_of_turn_ms.observe(report.end_of_turn_ms);

  auto reply = std::make_shared<Reply>();
  reply->reply_id = session_id + "-r" + std::to_string(++reply_counter);
  reply->turn_id = job.turn_id;
  {
    std::lock_guard<std::mutex> lock(reply_mutex);
    current_reply = reply;
  }

  // 1. Final transcript.
  SttResult recognized = job.early ? job.early->result.get() : job.stt->finish(reply->cancel);
  report.stt_final_ms = double(monotonic_ms() - t0);
  services.metrics.stt_final_ms.observe(report.stt_final_ms);
  protocol::Transcript t;
  t.turn_id = job.turn_id;
  t.final = true;
  if (!recognized.ok) {
    services.metrics.stt_errors_total.fetch_add(1);
    report.error = "speech recognition failed: " + recognized.error;
    send_error("stt_failed", report.error);
  }
  t.text = recognized.ok ? recognized.text : "";
  if (!recognized.language.empty()) t.language = recognized.language;
  report.transcript = t.text;
  report.language = recognized.language;
  send(t);

  // 2. Stored as heard, before the answer: its frames are acknowledged once this commits. (A
  // turn with nothing recognised holds nothing to keep; its frames are acknowledged as handled.
  // A failed recognition is logged and spoken; conversation audio is not replayed later.)
  std::shared_ptr<TurnCommit> stored;
  if (!report.transcript.empty()) {
    stored = std::make_shared<TurnCommit>();
    stored->seqs = job.seqs;
    TurnRecord& rec = stored->record;
    rec.session_id = session_id;
    rec.node_id = hello.node_id;
    rec.turn_id = report.turn_id;
    rec.transcript = report.transcript;
    rec.language = report.language;
    rec.started_at_ms = wall_ms();
    commit(Commit{job.seqs.last, std::nullopt, stored});
  } else {
    commit(Commit{job.seqs.last, std::nullopt, nullptr});
  }

  std::string full;
  if (recognized.ok && !recognized.text.empty() && stopping.load()) {
    // The node went away mid-turn: what was said is kept (stored above), but nobody is there to
    // hear an answer.
    report.error = "the node disconnected before the reply";
  } else if (recognized.ok && !recognized.text.empty() && !reply->cancel.cancelled()) {
    // 3. The LLM, streaming; sentences go to the voice thread as soon as they are complete.
    std::vector<ChatMessage> messages;
    messages.push_back({"system", services.reply.system_prompt});
    messages.insert(messages.end(), history.begin(), history.end());
    messages.push_back({"user", recognized.text});
    SentenceSplitter splitter(SplitterConfig{size_t(services.reply.first_clause_min_chars)});
    bool first_token = true, first_sentence = true;
    auto speak = [&](std::string sentence) {
      if (first_sentence) {
        report.first_sentence_ms = double(monotonic_ms() - t0);
        first_sentence = false;
      }
      sentences.push(SentenceJob{reply, std::move(sentence), false, t0});
    };
    LlmResult llm = services.llm->chat(
        messages,
        [&](std::string_view text) {
          if (first_token) {
            report.llm_first_token_ms = double(monotonic_ms() - t0);
            services.metrics.llm_first_token_ms.observe(report.llm_first_token_ms);
            first_token = false;
          }
          protocol::ReplyText rt;
          rt.reply_id = reply->reply_id;
          rt.turn_id = job.turn_id;
          rt.delta = std::string(text);
          send(rt);
          splitter.push(text, speak);
          return !reply->cancel.cancelled();
        },
        reply->cancel);
    if (!reply->cancel.cancelled()) splitter.finish(speak);
    full = llm.spoken;
    if (!llm.ok && !llm.cancelled && !reply->cancel.cancelled()) {
      services.metrics.llm_errors_total.fetch_add(1);
      report.error = "language model failed: " + llm.error;
      LOG_WARN("session", "%s: %s", session_id.c_str(), report.error.c_str());
      send_error("llm_failed", report.error);
      speak_error(reply, t0);
    }
    protocol::ReplyText done;
    done.reply_id = reply->reply_id;
    done.turn_id = job.turn_id;
    done.final = true;
    send(done);
    history.push_back({"user", recognized.text});
    // The assistant's line is added below, once we know how much of it was heard.
    report.reply_full = full;
    (void)llm.history_content;
  } else if (!recognized.ok) {
    speak_error(reply, t0);
  }

  // 4. Wait for the voice thread to finish this reply, then for the node's played report.
  sentences.push(SentenceJob{reply, "", true, t0});
  {
    std::unique_lock<std::mutex> lock(reply->mutex);
    reply->cv.wait(lock, [&] { return reply->voice_done || stopping.load(); });
    if (reply->audio_started && !reply->played_ms) {
      const auto audio_ms = int64_t(reply->samples_sent / 16);
      const auto timeout =
          std::chrono::milliseconds(audio_ms + services.reply.played_report_timeout_ms);
      reply->cv.wait_for(lock, timeout,
                         [&] { return reply->played_ms.has_value() || stopping.load(); });
    }
    const bool cut = reply->interrupted;
    report.reply_heard = cut ? heard_of(*reply) : full;
    if (!cut && full.empty()) {  // an error spoken, say: what was voiced is what was heard
      for (const VoicedSentence& s : reply->sentences)
        report.reply_heard += (report.reply_heard.empty() ? "" : " ") + s.text;
    }
    report.interrupted = cut;
    if (!reply->tts_error.empty() && report.error.empty()) report.error = reply->tts_error;
    report.tts_first_audio_ms = reply->tts_first_audio_ms;
    report.first_frame_queued_ms = reply->first_frame_queued_ms;
    const int64_t at_interrupt = audio_sent_at_interrupt.exchange(-1);
    if (cut && at_interrupt >= 0) {
      LOG_INFO("session",
               "%s: reply %s: %lld reply frame(s) sent after the node's interrupt arrived",
               session_id.c_str(), reply->reply_id.c_str(),
               (long long)(int64_t(outbox->audio_sent()) - at_interrupt));
    }
    const int64_t sent = reply->first_frame_sent_ms.load();
    if (sent >= 0) report.first_frame_sent_ms = double(sent - t0);
  }
  if (!report.transcript.empty())
    history.push_back({"assistant", report.reply_heard.empty() ? "…" : report.reply_heard});
  while (history.size() > services.reply.history_turns * 2)
    history.erase(history.begin());
  {
    std::lock_guard<std::mutex> lock(reply_mutex);
    if (current_reply == reply) current_reply.reset();
  }
  if (!report.transcript.empty()) services.metrics.turns_total.fetch_add(1);
  if (stored) {
    // 5. The reply as heard joins the stored turn (or the commit still waiting for the store).
    TurnRecord& rec = stored->record;
    rec.reply = report.reply_heard;
    rec.reply_full = report.reply_full;
    rec.interrupted = report.interrupted;
    char timings[512];
    snprintf(timings, sizeof timings,
             "{\"end_of_turn_ms\":%.0f,\"stt_final_ms\":%.0f,\"llm_first_token_ms\":%.0f,"
             "\"first_sentence_ms\":%.0f,\"tts_first_audio_ms\":%.0f,\"first_frame_sent_ms\":%.0f}",
             report.end_of_turn_ms, report.stt_final_ms, report.llm_first_token_ms,
             report.first_sentence_ms, report.tts_first_audio_ms, report.first_frame_sent_ms);
    rec.timings_json = timings;
    stored->finished = true;
    std::string error;
    if (stored->row_id >= 0 && services.store &&
        !services.store->finish_turn(stored->row_id, rec, &error)) {
      services.metrics.store_errors_total.fetch_add(1);
      LOG_ERROR("store", "%s: the reply of turn %s was not stored: %s", session_id.c_str(),
                rec.turn_id.c_str(), error.c_str());
    }
  }
  if (services.on_turn) services.on_turn(report);
}

// ------------------------------------------------------------------------------------------------
// Voice thread: TTS → 16 kHz → Opus → paced outbox.

void Session::Impl::emit_pcm16k(Reply& reply, const float* samples, size_t n, float* frame,
                                int* fill, int64_t speech_end_ms) {
  uint8_t packet[protocol::kMaxOpusPacket];
  uint8_t wire[protocol::kMaxAudioFrameSize];
  while (n > 0) {
    const size_t take = std::min(n, size_t(kFrame - *fill));
    std::copy(samples, samples + take, frame + *fill);
    *fill += int(take);
    samples += take;
    n -= take;
    if (*fill < kFrame) break;
    *fill = 0;
    const int bytes = encoder->encode(frame, packet, sizeof packet);
    if (bytes <= 0) continue;
    const int64_t now = monotonic_ms();
    bool first = false;
    {
      std::lock_guard<std::mutex> lock(reply.mutex);
      if (reply.interrupted || reply.cancel.cancelled()) return;
      if (!reply.audio_started) {
        reply.audio_started = true;
        first = true;
        outbox->open_audio();
        reply.outbox_sent_at_start = outbox->audio_sent();
        next_due_ms = now;
        reply_seq = 0;
        protocol::SpeechOutStart start;
        start.reply_id = reply.reply_id;
        start.turn_id = reply.turn_id;
        send(start);
      }
      reply.samples_sent += kFrame;
      if (!reply.sentences.empty()) reply.sentences.back().end_sample = reply.samples_sent;
    }
    protocol::AudioFrameHeader h;
    h.stream = protocol::Stream::kReply;
    h.seq = reply_seq;
    h.timestamp = reply_seq * kFrame;
    const size_t size = protocol::write_audio_frame(h, packet, size_t(bytes), wire, sizeof wire);
    ++reply_seq;
    next_due_ms = std::max(next_due_ms, now);
    std::function<void(int64_t)> on_sent;
    if (first) {
      {
        std::lock_guard<std::mutex> lock(reply.mutex);
        reply.first_frame_queued_ms = double(now - speech_end_ms);
      }
      Metrics* metrics = &services.metrics;
      std::shared_ptr<Reply> keep = current_reply_of(reply);
      on_sent = [metrics, keep, speech_end_ms](int64_t sent_ms) {
        if (keep) keep->first_frame_sent_ms.store(sent_ms);
        metrics->first_frame_sent_ms.observe(double(sent_ms - speech_end_ms));
      };
    }
    outbox->push_audio(std::string(reinterpret_cast<char*>(wire), size), next_due_ms,
                       std::move(on_sent));
    next_due_ms += 20;
  }
}

void Session::Impl::voice_sentence(SentenceJob& job) {
  Reply& reply = *job.reply;
  if (job.last) {
    // Pad the last partial frame with silence so the reply's end is heard, then close the reply.
    uint64_t last_seq = 0;
    bool started;
    {
      std::lock_guard<std::mutex> lock(reply.mutex);
      started = reply.audio_started && !reply.interrupted;
    }
    if (started && voice_fill > 0) {
      const float silence[kFrame] = {};
      emit_pcm16k(reply, silence, size_t(kFrame - voice_fill), voice_frame, &voice_fill,
                  job.speech_end_ms);
    }
    voice_fill = 0;
    bool interrupted;
    {
      std::lock_guard<std::mutex> lock(reply.mutex);
      started = reply.audio_started;
      interrupted = reply.interrupted;
      last_seq = reply_seq ? reply_seq - 1 : 0;
    }
    if (started) {
      protocol::SpeechOutEnd end;
      end.reply_id = reply.reply_id;
      end.last_seq = last_seq;
      end.reason = interrupted ? "interrupted" : "complete";
      send(end);
    }
    std::lock_guard<std::mutex> lock(reply.mutex);
    reply.voice_done = true;
    reply.cv.notify_all();
    return;
  }
  if (reply.cancel.cancelled()) return;
  const std::string text = clean_for_speech(job.text);
  if (text.empty()) return;
  uint32_t index;
  {
    std::lock_guard<std::mutex> lock(reply.mutex);
    index = uint32_t(reply.sentences.size());
    reply.sentences.push_back({text, reply.samples_sent + uint64_t(voice_fill),
                               reply.samples_sent + uint64_t(voice_fill)});
  }
  protocol::SpeechOutSentence s;
  s.reply_id = reply.reply_id;
  s.index = index;
  s.text = text;
  s.first_seq = reply_seq;
  bool announced = false;
  bool first_audio;
  {
    std::lock_guard<std::mutex> lock(reply.mutex);
    first_audio = reply.tts_first_audio_ms < 0;
  }
  std::vector<float> out;
  TtsResult r = services.tts->synthesize(
      text, services.reply.voice,
      [&](const float* samples, size_t n, int rate) {
        if (reply.cancel.cancelled()) return false;
        if (first_audio) {
          const double ms = double(monotonic_ms() - job.speech_end_ms);
          services.metrics.tts_first_audio_ms.observe(ms);
          std::lock_guard<std::mutex> lock(reply.mutex);
          reply.tts_first_audio_ms = ms;
          first_audio = false;
        }
        if (!announced) {
          send(s);  // the sentence starts with the next frame sent
          announced = true;
        }
        if (rate == dsp::kSampleRate) {
          emit_pcm16k(reply, samples, n, voice_frame, &voice_fill, job.speech_end_ms);
          return !reply.cancel.cancelled();
        }
        if (!resampler || resampler_rate != rate) {
          std::string error;
          resampler = dsp::Resampler::create(rate, dsp::kSampleRate, 4096, &error);
          resampler_rate = rate;
          if (!resampler) return false;
        }
        out.resize(resampler->max_output_frames());
        for (size_t off = 0; off < n; off += 4096) {
          const size_t chunk = std::min<size_t>(4096, n - off);
          const size_t got = resampler->process(samples + off, chunk, out.data(), out.size());
          emit_pcm16k(reply, out.data(), got, voice_frame, &voice_fill, job.speech_end_ms);
        }
        return !reply.cancel.cancelled();
      },
      reply.cancel);
  if (resampler && !reply.cancel.cancelled()) {
    out.resize(resampler->max_output_frames());
    while (const size_t got = resampler->flush(out.data(), out.size()))
      emit_pcm16k(reply, out.data(), got, voice_frame, &voice_fill, job.speech_end_ms);
    resampler.reset();  // the next sentence starts fresh
  }
  if (!r.ok && !r.cancelled && !reply.cancel.cancelled()) {
    services.metrics.tts_errors_total.fetch_add(1);
    const std::string error = "speech synthesis failed: " + r.error;
    LOG_WARN("session", "%s: %s", session_id.c_str(), error.c_str());
    send_error("tts_failed", error);
    std::lock_guard<std::mutex> lock(reply.mutex);
    reply.tts_error = error;
  }
}

void Session::Impl::voice_loop() {
  SentenceJob job;
  while (sentences.pop(&job))
    voice_sentence(job);
}

// ------------------------------------------------------------------------------------------------

Session::Session(Services& services, std::shared_ptr<Outbox> outbox, std::string session_id,
                 protocol::Hello hello, NodeLease lease)
    : impl_(std::make_unique<Impl>(services, std::move(outbox), std::move(session_id),
                                   std::move(hello), std::move(lease))) {}

Session::~Session() {
  stop();
}

bool Session::start(std::string* error) {
  Impl& s = *impl_;
  s.decoder = dsp::OpusFrameDecoder::create(dsp::kSampleRate, 1, error);
  if (!s.decoder) return false;
  dsp::OpusEncoderSettings es;
  s.encoder = dsp::OpusFrameEncoder::create(es, error);
  if (!s.encoder) return false;
  if (s.services.store) {
    SessionRecord rec;
    rec.session_id = s.session_id;
    rec.node_id = s.hello.node_id;
    rec.room = s.hello.room.value_or("");
    rec.mode = s.ambient ? "ambient" : "conversation";
    rec.started_at_ms = wall_ms();
    std::string store_error;
    if (!s.services.store->open_session(rec, &store_error)) {
      s.services.metrics.store_errors_total.fetch_add(1);
      LOG_ERROR("store", "%s: %s", s.session_id.c_str(), store_error.c_str());
    }
  }
  s.inbound_thread = std::thread([this] { impl_->inbound_loop(); });
  s.reply_thread = std::thread([this] { impl_->reply_loop(); });
  s.voice_thread = std::thread([this] { impl_->voice_loop(); });
  s.final_thread = std::thread([this] { impl_->final_loop(); });
  return true;
}

void Session::stop() {
  Impl& s = *impl_;
  if (s.stopping.exchange(true)) return;
  if (s.services.store) {
    std::string store_error;
    if (!s.services.store->close_session(s.session_id, wall_ms(), &store_error))
      LOG_ERROR("store", "%s: %s", s.session_id.c_str(), store_error.c_str());
  }
  // The backlog is dropped, not worked through: none of it was acknowledged, so the node still
  // holds it and delivers it again. Engine work for segments ends early (stop_token).
  const size_t dropped = s.inbound.close_and_drop();
  if (dropped > 0)
    LOG_INFO("session", "%s: %zu unprocessed inbound item(s) dropped (unacknowledged)",
             s.session_id.c_str(), dropped);
  s.stop_token.cancel();
  // An inbound thread waiting for room in a full job queue gives up (what it held was not
  // acknowledged); a reply in flight ends early.
  s.jobs.stop_waiting();
  {
    std::lock_guard<std::mutex> lock(s.reply_mutex);
    if (s.current_reply) s.current_reply->cancel.cancel();
  }
  if (s.inbound_thread.joinable()) s.inbound_thread.join();
  // A turn still open when the node goes away (it crashed, or the network dropped) is still what
  // the person said, and its frames were acknowledged: finish its transcript and store it rather
  // than drop it. The inbound thread is gone, so its turn state is ours now.
  if (!s.ambient && (s.stt || s.early) && s.tracker.high_water()) {
    s.queue_open_turn(monotonic_ms());
    s.turn.reset();
  }
  {
    std::lock_guard<std::mutex> lock(s.reply_mutex);
    if (s.current_reply) {
      s.current_reply->cancel.cancel();
      std::lock_guard<std::mutex> rl(s.current_reply->mutex);
      s.current_reply->cv.notify_all();
    }
  }
  s.jobs.close();
  s.sentences.close();
  s.services.metrics.reply_frames_dropped_total.fetch_add(s.outbox->audio_dropped() +
                                                          s.outbox->audio_queued());
  s.outbox->detach();  // frees a voice thread waiting for room in the outbox
  if (s.voice_thread.joinable()) s.voice_thread.join();
  {
    // The reply thread may wait on voice_done for a job the closed queue never ran.
    std::lock_guard<std::mutex> lock(s.reply_mutex);
    if (s.current_reply) {
      std::lock_guard<std::mutex> rl(s.current_reply->mutex);
      s.current_reply->voice_done = true;
      s.current_reply->cv.notify_all();
    }
  }
  if (s.reply_thread.joinable()) s.reply_thread.join();
  // After the reply thread: a turn it ran may have waited on an early final.
  s.finals.close();
  if (s.final_thread.joinable()) s.final_thread.join();
}

void Session::on_audio(const protocol::AudioFrameView& frame) {
  InFrame f;
  f.header = frame.header;
  f.payload.assign(reinterpret_cast<const char*>(frame.payload), frame.payload_size);
  f.arrived_ms = monotonic_ms();
  if (!impl_->inbound.push(std::move(f))) {
    // The loop stops reading at kInboundPauseAt; this is what one read brought on top of that,
    // and more. Not dropped-and-acked: the session closes and the node delivers it again.
    impl_->services.metrics.frames_refused_total.fetch_add(1);
    impl_->outbox->request_close(protocol::kCloseInternalError,
                                 "inbound queue full; deliver again");
  }
}

Session::InputPace Session::input_pace() const {
  const size_t backlog = impl_->inbound.size();
  if (backlog >= kInboundPauseAt) return InputPace::kPause;
  if (backlog <= kInboundResumeAt) return InputPace::kResume;
  return InputPace::kHold;
}

void Session::on_message(const protocol::Message& message) {
  // Barge-in must stop audio at once, on this thread, not after the queue drains.
  if (std::holds_alternative<protocol::Interrupt>(message)) {
    impl_->audio_sent_at_interrupt.store(int64_t(impl_->outbox->audio_sent()));
    impl_->outbox->clear_audio();
  }
  if (!impl_->inbound.push(message))
    impl_->outbox->request_close(protocol::kCloseInternalError, "inbound queue full");
}

void Session::on_tick(int64_t now_ms) {
  // A cheap check on the loop; the detector itself lives on the inbound thread.
  const int64_t deadline = impl_->turn_deadline_ms.load();
  if (deadline >= 0 && now_ms >= deadline) {
    impl_->turn_deadline_ms.store(-1);
    impl_->inbound.push(Tick{now_ms});
  }
}

const std::string& Session::id() const {
  return impl_->session_id;
}
const std::string& Session::node_id() const {
  return impl_->hello.node_id;
}

}  // namespace earshot::host
