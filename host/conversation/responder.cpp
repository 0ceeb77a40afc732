#include "host/conversation/responder.h"

#include <cstdio>

#include "host/clock.h"
#include "host/engines/sentence_splitter.h"
#include "host/log.h"
#include "host/store/store.h"
#include "protocol/messages.h"

namespace earshot::host {
namespace {
// Turns and segments waiting for the responder. Each holds a live speech-to-text stream (for
// pocketsphinx a whole decoder): a client that floods segments fills this first, and a full queue
// holds back the ingress thread instead.
constexpr size_t kMaxWaitingJobs = 4;
constexpr size_t kMaxWaitingEvents = 64;
}  // namespace

Responder::Responder(Services& services, ConversationSink& sink,
                     const ConversationSettings& settings, NodeLease lease)
    : services_(services),
      sink_(sink),
      conversation_id_(settings.conversation_id),
      client_id_(settings.client_id),
      room_(settings.room),
      commits_(services, sink, std::move(lease), settings.conversation_id),
      voice_(services, sink, settings.output_rate, [this](VoiceFinished v) { post(std::move(v)); }),
      jobs_(kMaxWaitingJobs),
      events_(kMaxWaitingEvents),
      settings_(settings) {}

Responder::~Responder() {
  stop();
}

void Responder::start() {
  voice_.start();
  thread_ = std::thread([this] { loop(); });
}

void Responder::stop_waiting() {
  stopping_.store(true);
  stop_token_.cancel();
  jobs_.stop_waiting();
  if (auto reply = current_reply()) reply->cancel->cancel();
}

void Responder::stop() {
  stop_waiting();
  jobs_.close();
  events_.close();  // a turn waiting for its voice or played report stops waiting
  voice_.stop();
  if (thread_.joinable()) thread_.join();
}

bool Responder::try_queue(ResponderJob& job) {
  if (auto* a = std::get_if<AdvanceJob>(&job)) {
    // Frames outside any turn behind an advance still queued: that one covers them too. (Only
    // the newest job can take them: an advance may never pass a turn queued after it.)
    const uint64_t seq = a->seq;
    if (jobs_.merge_into_back([seq](ResponderJob& back) {
          auto* queued = std::get_if<AdvanceJob>(&back);
          if (queued) queued->seq = seq;
          return queued != nullptr;
        }))
      return true;
  }
  return jobs_.try_push(job);
}

void Responder::post(ReplyEvent event) {
  events_.push(std::move(event));  // full: the oldest reports are of replies long gone
}

std::shared_ptr<const ReplyOrder> Responder::current_reply() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return current_;
}

void Responder::update(const ConversationSettings& settings) {
  std::lock_guard<std::mutex> lock(mutex_);
  settings_.instructions = settings.instructions;
  settings_.voice = settings.voice;
  settings_.speak = settings.speak;
}

void Responder::loop() {
  ResponderJob job;
  while (true) {
    const auto popped = jobs_.pop_until(commits_.retry_at(), &job);
    if (popped == WorkQueue<ResponderJob>::Popped::kClosed) break;
    if (popped == WorkQueue<ResponderJob>::Popped::kItem && on_room_) on_room_();
    apply_late_played();
    if (popped == WorkQueue<ResponderJob>::Popped::kTimeout) {
      commits_.flush();
      continue;
    }
    if (auto* t = std::get_if<TurnJob>(&job)) {
      run_turn(*t);
    } else if (auto* g = std::get_if<SegmentJob>(&job)) {
      run_segment(*g);
    } else if (auto* a = std::get_if<AdvanceJob>(&job)) {
      if (!stopping_.load()) commits_.commit(a->seq, std::nullopt, nullptr);
    } else if (auto* x = std::get_if<TextJob>(&job)) {
      run_text(*x);
    } else if (std::holds_alternative<RespondJob>(job) && !stopping_.load()) {
      TurnReport report;
      report.node_id = client_id_;
      report.session_id = conversation_id_;
      std::shared_ptr<TurnCommit> stored = std::move(unanswered_);
      report.turn_id = stored ? unanswered_turn_id_ : "r" + std::to_string(reply_counter_ + 1);
      if (stored) report.transcript = stored->record.transcript;
      unanswered_.reset();
      auto reply = new_reply(report.turn_id);
      answer(reply, report, monotonic_ms(), stored);
    }
    job = AdvanceJob{};
  }
  // Commits still waiting when the conversation ends get one last try; what fails is not
  // acknowledged, and the client delivers it again.
  if (commits_.retry_at()) commits_.flush();
}

void Responder::run_segment(SegmentJob& job) {
  // A segment of a conversation that has ended is not acknowledged: the client delivers it again.
  if (stopping_.load() || commits_.fenced()) return;
  SttResult r = job.stt ? job.stt->finish(stop_token_) : SttResult{};
  if (stopping_.load()) return;
  if (!r.ok) {
    services_.metrics.stt_errors_total.fetch_add(1);
    sink_.error("stt_failed", r.error);
    // Its audio is gone from here, and a later ack would cover it: store what is before it, then
    // stop acknowledging, so that the client delivers it again on its next connection.
    commits_.flush();
    commits_.stop_acknowledging("speech recognition failed: " + r.error,
                                protocol::kCloseInternalError);
    return;
  }
  SegmentRecord rec;
  rec.node_id = client_id_;
  rec.room = room_;
  rec.language = r.language;
  rec.started_at_ms = job.started_wall_ms;
  rec.ended_at_ms = job.ended_wall_ms;
  rec.first_seq = job.first_seq;
  rec.last_seq = job.last_seq;
  rec.text = r.text;
  commits_.commit(job.last_seq, std::move(rec), nullptr);
}

std::shared_ptr<ReplyOrder> Responder::new_reply(const std::string& turn_id) {
  auto reply = std::make_shared<ReplyOrder>();
  reply->reply_id = conversation_id_ + "-r" + std::to_string(++reply_counter_);
  reply->turn_id = turn_id;
  reply->cancel = std::make_shared<CancelToken>();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    reply->voice = settings_.voice.value_or(services_.reply.voice);
    current_ = reply;
  }
  return reply;
}

static std::shared_ptr<TurnCommit> turn_commit(const std::string& conversation_id,
                                               const std::string& client_id,
                                               const std::string& turn_id,
                                               const std::string& transcript,
                                               const std::string& language, SeqRange seqs) {
  auto stored = std::make_shared<TurnCommit>();
  stored->seqs = seqs;
  TurnRecord& rec = stored->record;
  rec.session_id = conversation_id;
  rec.node_id = client_id;
  rec.turn_id = turn_id;
  rec.transcript = transcript;
  rec.language = language;
  rec.started_at_ms = wall_ms();
  return stored;
}

void Responder::run_turn(TurnJob& job) {
  TurnReport report;
  report.node_id = client_id_;
  report.session_id = conversation_id_;
  report.turn_id = job.turn_id;
  const int64_t t0 = job.speech_end_ms;
  report.end_of_turn_ms = double(job.turn_end_ms - t0);
  services_.metrics.end_of_turn_ms.observe(report.end_of_turn_ms);
  auto reply = new_reply(job.turn_id);

  // 1. Final transcript.
  SttResult recognized = job.early ? job.early->result.get() : job.stt->finish(*reply->cancel);
  report.stt_final_ms = double(monotonic_ms() - t0);
  services_.metrics.stt_final_ms.observe(report.stt_final_ms);
  if (!recognized.ok) {
    services_.metrics.stt_errors_total.fetch_add(1);
    report.error = "speech recognition failed: " + recognized.error;
    sink_.error("stt_failed", report.error);
  }
  report.transcript = recognized.ok ? recognized.text : "";
  report.language = recognized.language;
  sink_.transcript(job.turn_id, report.transcript, true, report.language);

  // 2. Stored as heard, before the answer: its frames are acknowledged once this commits. (A
  // turn with nothing recognised holds nothing to keep; its frames are acknowledged as handled.
  // A failed recognition is logged and spoken; conversation audio is not replayed later.)
  std::shared_ptr<TurnCommit> stored;
  if (!report.transcript.empty()) {
    stored = turn_commit(conversation_id_, client_id_, report.turn_id, report.transcript,
                         report.language, job.seqs);
    commits_.commit(job.seqs.last, std::nullopt, stored);
  } else {
    commits_.commit(job.seqs.last, std::nullopt, nullptr);
  }

  if (!report.transcript.empty()) history_.push_back({"user", report.transcript});
  if (!report.transcript.empty() && stopping_.load()) {
    // The client went away mid-turn: what was said is kept (stored above), but nobody is there
    // to hear an answer.
    report.error = "the node disconnected before the reply";
  } else if (!report.transcript.empty() && !job.respond) {
    unanswered_ = stored;
    unanswered_turn_id_ = report.turn_id;
  } else if (!report.transcript.empty() && !reply->cancel->cancelled()) {
    answer(reply, report, t0, stored);
    return;
  } else if (!recognized.ok && !stopping_.load()) {
    answer(reply, report, t0, stored);  // speaks the error
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (current_ == reply) current_.reset();
  }
  if (stored) finish_stored(stored, report);
  if (services_.on_turn) services_.on_turn(report);
}

void Responder::run_text(TextJob& job) {
  if (stopping_.load()) return;
  TurnReport report;
  report.node_id = client_id_;
  report.session_id = conversation_id_;
  report.turn_id = "x" + std::to_string(++text_counter_);
  report.transcript = job.text;
  history_.push_back({"user", job.text});
  std::shared_ptr<TurnCommit> stored;
  if (services_.store) {
    stored = turn_commit(conversation_id_, client_id_, report.turn_id, job.text, "", SeqRange{});
    std::string error;
    if (!services_.store->add_text_turn(stored->record, &stored->row_id, &error)) {
      services_.metrics.store_errors_total.fetch_add(1);
      LOG_ERROR("store", "%s: a text turn was not stored: %s", conversation_id_.c_str(),
                error.c_str());
    }
  }
  if (!job.respond) {
    unanswered_ = stored;
    unanswered_turn_id_ = report.turn_id;
    return;
  }
  auto reply = new_reply(report.turn_id);
  answer(reply, report, monotonic_ms(), stored);
}

void Responder::answer(const std::shared_ptr<ReplyOrder>& reply, TurnReport& report, int64_t t0,
                       const std::shared_ptr<TurnCommit>& stored) {
  report.reply_id = reply->reply_id;
  ConversationSettings settings;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    settings = settings_;
  }
  const bool speak = settings.speak;
  auto speak_sentence = [&](std::string sentence) {
    if (speak) voice_.queue(Voice::SentenceJob{reply, std::move(sentence), false, t0});
  };
  std::string full;
  sink_.reply_started(reply->reply_id, report.turn_id);
  if (!report.error.empty()) {
    // Speech recognition failed: say so, if configured.
    if (services_.reply.speak_errors) speak_sentence(services_.reply.error_speech);
  } else {
    // 3. The LLM, streaming; sentences go to the voice stage as soon as they are complete.
    std::vector<ChatMessage> messages;
    messages.push_back({"system", settings.instructions.value_or(services_.reply.system_prompt)});
    messages.insert(messages.end(), history_.begin(), history_.end());
    SentenceSplitter splitter(SplitterConfig{size_t(services_.reply.first_clause_min_chars)});
    bool first_token = true, first_sentence = true;
    auto sentence_ready = [&](std::string sentence) {
      if (first_sentence) {
        report.first_sentence_ms = double(monotonic_ms() - t0);
        first_sentence = false;
      }
      speak_sentence(std::move(sentence));
    };
    LlmResult llm = services_.llm->chat(
        messages,
        [&](std::string_view text) {
          if (first_token) {
            report.llm_first_token_ms = double(monotonic_ms() - t0);
            services_.metrics.llm_first_token_ms.observe(report.llm_first_token_ms);
            first_token = false;
          }
          sink_.reply_text(reply->reply_id, report.turn_id, std::string(text));
          splitter.push(text, sentence_ready);
          return !reply->cancel->cancelled();
        },
        *reply->cancel);
    if (!reply->cancel->cancelled()) splitter.finish(sentence_ready);
    full = llm.spoken;
    report.usage = llm.usage;
    if (!llm.ok && !llm.cancelled && !reply->cancel->cancelled()) {
      services_.metrics.llm_errors_total.fetch_add(1);
      report.error = "language model failed: " + llm.error;
      LOG_WARN("session", "%s: %s", conversation_id_.c_str(), report.error.c_str());
      sink_.error("llm_failed", report.error);
      if (services_.reply.speak_errors) speak_sentence(services_.reply.error_speech);
    }
    sink_.reply_text_done(reply->reply_id, report.turn_id);
    report.reply_full = full;
  }

  // 4. Wait for the voice stage to finish this reply, then for the client's played report.
  std::optional<VoiceFinished> voiced;
  ReplyPlayed played;
  if (speak) {
    voice_.queue(Voice::SentenceJob{reply, "", true, t0});
    std::optional<std::chrono::steady_clock::time_point> deadline;
    ReplyEvent event;
    while (true) {
      const auto popped = events_.pop_until(deadline, &event);
      if (popped != WorkQueue<ReplyEvent>::Popped::kItem) break;  // timeout, or stopping
      if (auto* v = std::get_if<VoiceFinished>(&event); v && v->reply_id == reply->reply_id) {
        voiced = std::move(*v);
        if (!voiced->audio_started || played.played_ms) break;
        deadline = std::chrono::steady_clock::now() +
                   std::chrono::milliseconds(int64_t(voiced->samples / 16) +
                                             services_.reply.played_report_timeout_ms);
      } else if (auto* p = std::get_if<ReplyPlayed>(&event); p && p->reply_id == reply->reply_id) {
        // Cut while it was produced, or — after it was all voiced — a report of where playback
        // stopped.
        if (p->interrupted && (!voiced || p->played_ms)) played.interrupted = true;
        if (p->played_ms) played.played_ms = p->played_ms;
        if (p->frames_on_wire && !played.frames_on_wire) played.frames_on_wire = p->frames_on_wire;
        if (voiced && played.played_ms) break;
      } else if (auto* f = std::get_if<FirstFrameSent>(&event);
                 f && f->reply_id == reply->reply_id) {
        report.first_frame_sent_ms = double(f->sent_ms - t0);
      }
    }
  }
  const std::vector<VoicedSentence> sentences =
      voiced ? voiced->sentences : std::vector<VoicedSentence>{};
  if (played.interrupted) {
    PlayedPoint point;
    point.reported_ms = played.played_ms;
    point.frames_on_wire = played.frames_on_wire;
    report.reply_heard = heard_part(sentences, point);
  } else if (full.empty()) {  // an error spoken, say: what was voiced is what was heard
    for (const VoicedSentence& s : sentences)
      report.reply_heard += (report.reply_heard.empty() ? "" : " ") + s.text;
  } else {
    report.reply_heard = full;
  }
  report.interrupted = played.interrupted;
  if (voiced) {
    if (!voiced->tts_error.empty() && report.error.empty()) report.error = voiced->tts_error;
    report.tts_first_audio_ms = voiced->tts_first_audio_ms;
    report.first_frame_queued_ms = voiced->first_frame_queued_ms;
  }
  if (!report.transcript.empty() || report.turn_id[0] == 'r' || report.turn_id[0] == 'x') {
    history_.push_back({"assistant", report.reply_heard.empty() ? "…" : report.reply_heard});
    last_ = LastReply{reply->reply_id, sentences, history_.size() - 1, stored, report};
  }
  trim_history();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (current_ == reply) current_.reset();
  }
  if (!report.transcript.empty()) services_.metrics.turns_total.fetch_add(1);
  if (stored) finish_stored(stored, report);
  sink_.turn_done(report);
  if (services_.on_turn) services_.on_turn(report);
}

void Responder::trim_history() {
  size_t dropped = 0;
  while (history_.size() > services_.reply.history_turns * 2) {
    history_.erase(history_.begin());
    ++dropped;
  }
  if (last_) {
    if (last_->history_index < dropped) {
      last_.reset();
    } else {
      last_->history_index -= dropped;
    }
  }
}

// 5. The reply as heard joins the stored turn (or the commit still waiting for the store).
void Responder::finish_stored(const std::shared_ptr<TurnCommit>& stored, const TurnReport& report) {
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
  services_.recent_turns.record(rec);
  std::string error;
  if (stored->row_id >= 0 && services_.store &&
      !services_.store->finish_turn(stored->row_id, rec, &error)) {
    services_.metrics.store_errors_total.fetch_add(1);
    LOG_ERROR("store", "%s: the reply of turn %s was not stored: %s", conversation_id_.c_str(),
              rec.turn_id.c_str(), error.c_str());
  }
}

// Played reports that came after their reply was over (a client that truncates a reply once it
// has played it): the history and the stored turn keep what was heard.
void Responder::apply_late_played() {
  ReplyEvent event;
  while (events_.pop_until(std::chrono::steady_clock::now(), &event) ==
         WorkQueue<ReplyEvent>::Popped::kItem) {
    auto* p = std::get_if<ReplyPlayed>(&event);
    if (!p || !last_ || p->reply_id != last_->reply_id || !p->played_ms) continue;
    PlayedPoint point;
    point.reported_ms = p->played_ms;
    const std::string heard = heard_part(last_->sentences, point);
    if (heard == last_->report.reply_heard) continue;
    last_->report.reply_heard = heard;
    last_->report.interrupted = true;
    if (last_->history_index < history_.size())
      history_[last_->history_index].content = heard.empty() ? "…" : heard;
    if (last_->stored) finish_stored(last_->stored, last_->report);
  }
}

}  // namespace earshot::host
