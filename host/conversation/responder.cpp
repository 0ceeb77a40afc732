#include "host/conversation/responder.h"

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "host/clock.h"
#include "host/engines/sentence_splitter.h"
#include "host/log.h"
#include "host/store/store.h"
#include "host/tools/tool_runner.h"
#include "protocol/messages.h"

#include <nlohmann/json.hpp>

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
      client_metrics_(services.metrics.client(settings.client_id, settings.room)),
      commits_(services, sink, std::move(lease), settings.conversation_id),
      memory_(services.store, memory_key(services.reply.memory, settings.client_id, settings.room),
              int64_t(services.reply.memory_idle_minutes * 60000)),
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
  // The voice stage first: a reply it was voicing still sends its VoiceFinished, so the turn
  // keeps what the door sent of it. Closed first, the events lost it and such a reply was kept
  // at nothing (until 2026-12-01).
  voice_.stop();
  events_.close();  // a turn waiting for its voice or played report stops waiting
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
  // Full: a client sent more played reports than any reply makes (they are drained before each
  // job), and the oldest of them go. The voice stage's VoiceFinished and the door's first frame,
  // one of each per reply, are never the ones shed: a turn waits for its VoiceFinished with no
  // deadline, and refusing it (as push() did) stalled the conversation for good.
  events_.push_shedding(std::move(event), [](const ReplyEvent& queued) {
    return std::holds_alternative<ReplyPlayed>(queued);
  });
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
    } else if (auto* n = std::get_if<AnnounceJob>(&job)) {
      run_announcement(*n);
    } else if (std::holds_alternative<RespondJob>(job) && !stopping_.load()) {
      TurnReport report;
      report.node_id = client_id_;
      report.session_id = conversation_id_;
      std::shared_ptr<TurnCommit> stored = std::move(unanswered_);
      report.turn_id = stored ? unanswered_turn_id_ : "r" + std::to_string(reply_counter_ + 1);
      if (stored) report.transcript = stored->record.transcript;
      unanswered_.reset();
      if (!stored) recall_history();  // a stored turn's user message is in the history already
      auto reply = new_reply(report.turn_id);
      answer(reply, report, monotonic_ms(), stored);
    }
    job = AdvanceJob{};
  }
  // A played report that came just before the end (a client that truncates, then leaves): what
  // was heard reaches the stored turn and the memory the next session continues from.
  apply_late_played();
  // Commits still waiting when the conversation ends get one last try; what fails is not
  // acknowledged, and the client delivers it again.
  if (commits_.retry_at()) commits_.flush();
}

void Responder::run_segment(SegmentJob& job) {
  // A segment of a conversation that has ended is not acknowledged: the client delivers it again.
  if (stopping_.load() || commits_.fenced()) return;
  SttResult r = job.stt ? job.stt->finish(stop_token_) : SttResult{};
  if (stopping_.load()) return;
  if (job.stt) services_.metrics.engine_result(Engine::kStt, r.ok);
  if (!r.ok) {
    services_.metrics.count_error(ErrorReason::kSttFailed);
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
    // stop_waiting() cancels the reply it finds current. One begun after it looked (between a
    // job's stopping_ check and here) is cancelled now, or its LLM call would run to its end
    // inside stop(). stop_waiting() sets stopping_ before it takes this lock, so one of the two
    // sees the other.
    if (stopping_.load()) reply->cancel->cancel();
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
  services_.metrics.end_of_turn.observe_ms(report.end_of_turn_ms);
  auto reply = new_reply(job.turn_id);

  // 1. Final transcript. What was said is recognised to the end, whatever happens to its reply:
  // neither a barge-in (the person speaking on after a pause) nor the client leaving cancels the
  // recognition of the words before it, which are stored below. The engine's timeouts bound it.
  const CancelToken recognise_to_the_end;
  SttResult recognized =
      job.early ? job.early->result.get() : job.stt->finish(recognise_to_the_end);
  report.stt_final_ms = double(monotonic_ms() - t0);
  services_.metrics.engine_result(Engine::kStt, recognized.ok);
  services_.metrics.stt_final.observe_ms(report.stt_final_ms);
  if (!recognized.ok) {
    services_.metrics.count_error(ErrorReason::kSttFailed);
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

  if (!report.transcript.empty()) {
    recall_history();
    history_.push_back({"user", report.transcript});
  }
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
  } else if (!report.transcript.empty()) {
    // The person spoke again before the reply began: it is never made, and the next turn's
    // reply answers both (the history holds this one). Stored as a reply cut before a word of it.
    report.interrupted = true;
  } else if (!recognized.ok && !stopping_.load()) {
    answer(reply, report, t0, stored);  // speaks the error
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (current_ == reply) current_.reset();
  }
  if (!report.transcript.empty()) {  // kept unanswered: the next reply continues from it
    trim_history();
    remember_history();
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
  recall_history();
  history_.push_back({"user", job.text});
  std::shared_ptr<TurnCommit> stored;
  if (services_.store) {
    stored = turn_commit(conversation_id_, client_id_, report.turn_id, job.text, "", SeqRange{});
    std::string error;
    if (!services_.store->add_text_turn(stored->record, &stored->row_id, &error)) {
      services_.metrics.count_error(ErrorReason::kStoreFailed);
      LOG_ERROR("store", "%s: a text turn was not stored: %s", conversation_id_.c_str(),
                error.c_str());
    }
  }
  if (!job.respond) {
    unanswered_ = stored;
    unanswered_turn_id_ = report.turn_id;
    trim_history();
    remember_history();
    return;
  }
  auto reply = new_reply(report.turn_id);
  answer(reply, report, monotonic_ms(), stored);
}

namespace {
// Voice parts that are not a model step's words (VoicedSentence::part).
constexpr int kFillerPart = -1;  // "One moment." while a tool runs: heard, but not the model's
constexpr int kErrorPart = -2;   // the error speech

std::string joined(const std::string& a, const std::string& b) {
  return a.empty() ? b : b.empty() ? a : a + " " + b;
}

// Arguments as they go back to the model in the history: the servers parse them (vLLM and
// Ollama refuse a request whose history holds arguments that are not JSON), so a malformed call is
// kept as "{}" there; its tool result says what was wrong, quoting what the model wrote.
std::vector<ToolCall> calls_for_history(const std::vector<ToolOutcome>& outcomes) {
  std::vector<ToolCall> calls;
  for (const ToolOutcome& o : outcomes) {
    ToolCall c = o.call;
    const nlohmann::json j = nlohmann::json::parse(c.arguments, nullptr, false);
    if (j.is_discarded() || !j.is_object()) c.arguments = "{}";
    calls.push_back(std::move(c));
  }
  return calls;
}
}  // namespace

// 3. The model, streaming; sentences go to the voice stage as soon as they are complete. When it
// asks for tools, what it said before the call is spoken at once, the calls run (a filler is said
// if they are slow), their results go back to it, and it is asked again — up to
// tools.max_steps rounds, after which it is asked once more without tools.
bool Responder::run_model(const std::shared_ptr<ReplyOrder>& reply, TurnReport& report, int64_t t0,
                          const ConversationSettings& settings,
                          const std::function<void(std::string, int)>& speak_sentence,
                          std::vector<ModelStep>* steps) {
  std::vector<ChatMessage> messages;
  messages.push_back({"system", settings.instructions.value_or(services_.reply.system_prompt)});
  messages.insert(messages.end(), history_.begin(), history_.end());
  const ToolSettings& ts = services_.tool_settings;
  const ToolScope scope{conversation_id_, client_id_, room_};
  std::vector<ToolSpec> tools;
  if (services_.tools) tools = services_.tools->list(scope);
  bool first_token = true, first_sentence = true;
  char last_char_sent = 0;  // of the reply's text so far: steps' texts are kept apart by a space
  for (int step = 0;; ++step) {
    bool step_started = false;
    const bool offer_tools = !tools.empty() && step < ts.max_steps;
    SentenceSplitter splitter(SplitterConfig{size_t(services_.reply.first_clause_min_chars)});
    auto sentence_ready = [&](std::string sentence) {
      if (first_sentence) {
        report.first_sentence_ms = double(monotonic_ms() - t0);
        first_sentence = false;
      }
      speak_sentence(std::move(sentence), step);
    };
    auto on_text = [&](std::string_view text) {
      if (first_token) {
        report.llm_first_token_ms = double(monotonic_ms() - t0);
        services_.metrics.llm_first_token.observe_ms(report.llm_first_token_ms);
        first_token = false;
      }
      if (!step_started && !text.empty()) {
        step_started = true;
        if (last_char_sent && !std::isspace(static_cast<unsigned char>(last_char_sent)) &&
            !std::isspace(static_cast<unsigned char>(text.front())))
          sink_.reply_text(reply->reply_id, report.turn_id, " ");
      }
      if (!text.empty()) last_char_sent = text.back();
      sink_.reply_text(reply->reply_id, report.turn_id, std::string(text));
      splitter.push(text, sentence_ready);
      return !reply->cancel->cancelled();
    };
    LlmResult llm = offer_tools
                        ? services_.llm->chat_with_tools(messages, tools, on_text, *reply->cancel)
                        : services_.llm->chat(messages, on_text, *reply->cancel);
    // Said before a call, or the whole answer: spoken now, not held for the next step.
    if (!reply->cancel->cancelled()) splitter.finish(sentence_ready);
    if (llm.usage) {
      LlmUsage total = report.usage.value_or(LlmUsage{});
      total.prompt_tokens += llm.usage->prompt_tokens;
      total.completion_tokens += llm.usage->completion_tokens;
      report.usage = total;
    }
    steps->push_back({llm.spoken, llm.history_content, llm.thinking, {}, {}});
    ModelStep& done = steps->back();
    if (llm.cancelled || reply->cancel->cancelled()) return true;
    services_.metrics.engine_result(Engine::kLlm, llm.ok);
    if (!llm.ok) {
      services_.metrics.count_error(ErrorReason::kLlmFailed);
      report.error = "language model failed: " + llm.error;
      LOG_WARN("session", "%s: %s", conversation_id_.c_str(), report.error.c_str());
      sink_.error("llm_failed", report.error);
      if (services_.reply.speak_errors) speak_sentence(services_.reply.error_speech, kErrorPart);
      return false;
    }
    if (llm.tool_calls.empty()) return false;
    if (!offer_tools) {  // asked again without tools, it still calls one: what it said stands
      report.error = "the language model still called tools after tools.max_steps (" +
                     std::to_string(ts.max_steps) + ") rounds";
      LOG_WARN("session", "%s: %s", conversation_id_.c_str(), report.error.c_str());
      bool said = false;
      for (const ModelStep& s : *steps)
        said = said || !s.spoken.empty();
      if (!said && services_.reply.speak_errors)
        speak_sentence(services_.reply.error_speech, kErrorPart);
      return false;
    }
    ToolRunOptions options;
    options.timeout_ms = ts.call_timeout_ms;
    options.filler_after_ms = ts.filler.empty() ? 0 : ts.filler_after_ms;
    std::vector<ToolOutcome> outcomes =
        run_tool_calls(*services_.tools, scope, llm.tool_calls, *reply->cancel, options, [&] {
          if (!reply->cancel->cancelled()) speak_sentence(ts.filler, kFillerPart);
        });
    done.calls = calls_for_history(outcomes);
    messages.push_back({"assistant", done.history, done.calls, ""});
    for (const ToolOutcome& o : outcomes) {
      done.results.push_back({"tool", o.result.content, {}, o.call.id});
      messages.push_back(done.results.back());
      report.tool_calls.push_back({step, o.call.id, o.call.name, o.call.arguments, o.result.content,
                                   o.result.ok && !o.timed_out && !o.cancelled, o.duration_ms});
      if (!o.result.ok)
        LOG_INFO("session", "%s: tool %s: %s", conversation_id_.c_str(), o.call.name.c_str(),
                 o.result.content.c_str());
    }
    if (reply->cancel->cancelled()) return true;
  }
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
  std::vector<size_t> queued_per_part;  // sentences queued for each model step
  auto speak_sentence = [&](std::string sentence, int part) {
    if (part >= 0) {
      if (queued_per_part.size() <= size_t(part)) queued_per_part.resize(size_t(part) + 1);
      ++queued_per_part[size_t(part)];
    }
    if (speak) voice_.queue(Voice::SentenceJob{reply, std::move(sentence), false, t0, part});
  };
  std::string full;
  std::vector<ModelStep> steps;
  bool model_cut = false;
  sink_.reply_started(reply->reply_id, report.turn_id);
  if (!report.error.empty()) {
    // Speech recognition failed: say so, if configured.
    if (services_.reply.speak_errors) speak_sentence(services_.reply.error_speech, kErrorPart);
  } else {
    model_cut = run_model(reply, report, t0, settings, speak_sentence, &steps);
    for (const ModelStep& s : steps)
      full = joined(full, s.spoken);
    sink_.reply_text_done(reply->reply_id, report.turn_id);
    report.reply_full = full;
  }

  // 4. Wait for the voice stage to finish this reply, then for the client's played report.
  std::optional<VoiceFinished> voiced;
  ReplyPlayed played;
  if (speak) {
    voice_.queue(Voice::SentenceJob{reply, "", true, t0});
    wait_until_heard(reply, report, t0, &voiced, &played);
  }
  const std::vector<VoicedSentence> sentences =
      voiced ? voiced->sentences : std::vector<VoicedSentence>{};
  PlayedPoint point;
  point.reported_ms = played.played_ms;
  point.frames_on_wire = played.frames_on_wire;
  if (played.interrupted) {
    report.reply_heard = heard_of_parts(sentences, point, kFillerPart, false);
  } else if (full.empty()) {  // an error spoken, say: what was voiced is what was heard
    for (const VoicedSentence& s : sentences)
      if (s.part != kFillerPart) report.reply_heard = joined(report.reply_heard, s.text);
  } else {
    report.reply_heard = full;
  }
  report.interrupted = played.interrupted;
  // A text reply the model was stopped in (response.cancel, a barge-in, the client leaving) was
  // delivered as far as it streamed: that much is kept, marked as cut.
  if (!speak && model_cut) report.interrupted = true;
  if (voiced) {
    if (!voiced->tts_error.empty() && report.error.empty()) report.error = voiced->tts_error;
    report.tts_first_audio_ms = voiced->tts_first_audio_ms;
    report.first_frame_queued_ms = voiced->first_frame_queued_ms;
  }
  // The engines' part ends with the first TTS audio; what comes after it is the bridge's own.
  if (report.first_frame_sent_ms >= 0 && report.tts_first_audio_ms >= 0)
    services_.metrics.own_latency.observe_ms(report.first_frame_sent_ms -
                                             report.tts_first_audio_ms);
  if (!report.transcript.empty() || report.turn_id[0] == 'r' || report.turn_id[0] == 'x') {
    // The history: each step as the model wrote it (with its thinking when the model wants it
    // back), its calls and their results; a step the person cut short keeps what was heard.
    size_t final_index = history_.size();
    for (size_t i = 0; i < steps.size(); ++i) {
      const ModelStep& step = steps[i];
      std::string content = step.history;
      const bool last = i + 1 == steps.size();
      if (played.interrupted) {
        const std::string heard = heard_of_parts(sentences, point, int(i), true);
        const size_t queued = i < queued_per_part.size() ? queued_per_part[i] : 0;
        if (heard_whole_part(sentences, point, int(i), queued)) {
          // all of it was heard: as written
        } else {
          content = step.thinking + heard;
        }
      }
      if (last && step.calls.empty() && content.empty()) content = "…";
      final_index = history_.size();
      history_.push_back({"assistant", content, step.calls, ""});
      history_.insert(history_.end(), step.results.begin(), step.results.end());
    }
    if (steps.empty()) {  // no model (speech recognition failed): what was said
      final_index = history_.size();
      history_.push_back({"assistant", report.reply_heard.empty() ? "…" : report.reply_heard});
    }
    const int final_part = steps.empty() ? kErrorPart : int(steps.size()) - 1;
    last_ = LastReply{reply->reply_id,
                      sentences,
                      final_index,
                      stored,
                      report,
                      final_part,
                      steps.empty() ? std::string() : steps.back().thinking};
  }
  trim_history();
  remember_history();  // before the turn is reported done: a bridge killed after it keeps it
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (current_ == reply) current_.reset();
  }
  if (!report.transcript.empty()) {
    services_.metrics.turns_total.fetch_add(1);
    client_metrics_->turns_total.fetch_add(1);
  }
  if (stored) finish_stored(stored, report);
  sink_.turn_done(report);
  if (services_.on_turn) services_.on_turn(report);
}

void Responder::wait_until_heard(const std::shared_ptr<ReplyOrder>& reply, TurnReport& report,
                                 int64_t t0, std::optional<VoiceFinished>* voiced,
                                 ReplyPlayed* played) {
  std::optional<std::chrono::steady_clock::time_point> deadline;
  // The client said how far it got with this reply: a point (its interrupt, playback_done or
  // truncate, or the door's client_gone with what had left), or that it played the reply through
  // (a played report without one, as a Wyoming satellite's). The core's own barge-in is not one.
  bool reported = false;
  // A barge-in (the core's, or a door's without a point) after the reply was all voiced: the
  // client's own report of where playback stopped is awaited, as it is more precise.
  bool cut_after_voicing = false;
  ReplyEvent event;
  while (true) {
    const auto popped = events_.pop_until(deadline, &event);
    if (popped != WorkQueue<ReplyEvent>::Popped::kItem) break;  // timeout, or stopping
    if (auto* v = std::get_if<VoiceFinished>(&event); v && v->reply_id == reply->reply_id) {
      *voiced = std::move(*v);
      if (!(*voiced)->audio_started || played->played_ms) break;
      deadline = std::chrono::steady_clock::now() +
                 std::chrono::milliseconds(int64_t((*voiced)->samples / 16) +
                                           services_.reply.played_report_timeout_ms);
    } else if (auto* p = std::get_if<ReplyPlayed>(&event); p && p->reply_id == reply->reply_id) {
      // Cut while it was produced, or — after it was all voiced — a report of where playback
      // stopped.
      if (p->played_ms || !p->interrupted) reported = true;
      if (p->interrupted && (!*voiced || p->played_ms)) played->interrupted = true;
      if (p->interrupted && *voiced && !p->played_ms) cut_after_voicing = true;
      if (p->played_ms) played->played_ms = p->played_ms;
      if (p->frames_on_wire && !played->frames_on_wire) played->frames_on_wire = p->frames_on_wire;
      if (*voiced && played->played_ms) break;
    } else if (auto* f = std::get_if<FirstFrameSent>(&event); f && f->reply_id == reply->reply_id) {
      report.first_frame_sent_ms = double(f->sent_ms - t0);
    }
  }
  // The conversation is ending (the client left, or the bridge is closing the connection) and
  // nobody said how far the client got: it heard at most what is known to have left the bridge —
  // the frames on the wire the core's barge-in counted, else nothing. Not the whole reply: that
  // rested on every door reporting its client leaving (client_gone), and a door that missed a case
  // (twice, until 2026-12-01) made a reply nobody heard part of the history as heard in full.
  // Reports queued before stop() come first (the queue is drained), so a door's own still wins.
  if (!reported && stopping_.load()) played->interrupted = true;
  // Cut after it was all voiced, and the client never said where: it heard at most the frames
  // on the wire at the cut, not the whole reply (as it was kept until 2026-12-01).
  if (cut_after_voicing && !played->played_ms && played->frames_on_wire) played->interrupted = true;
}

// An announcement: said as a reply of its own (turn id "a<n>"), after whatever reply was in flight
// (jobs run in order). Barge-in stops it like any reply. It stays out of the history (the model did
// not say it in this conversation) and out of the store's turns (nobody spoke); the door gets
// turn_done so a client that counts replies sees it end.
void Responder::run_announcement(AnnounceJob& job) {
  if (stopping_.load() || job.text.empty()) return;
  bool speak = true;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    speak = settings_.speak;
  }
  TurnReport report;
  report.node_id = client_id_;
  report.session_id = conversation_id_;
  report.turn_id = "a" + std::to_string(++announcement_counter_);
  const int64_t t0 = monotonic_ms();
  auto reply = new_reply(report.turn_id);
  report.reply_id = reply->reply_id;
  LOG_INFO("session", "%s: announcement %s: \"%s\"", conversation_id_.c_str(),
           reply->reply_id.c_str(), job.text.c_str());
  sink_.announcement_started(reply->reply_id);
  sink_.reply_started(reply->reply_id, report.turn_id);
  sink_.reply_text(reply->reply_id, report.turn_id, job.text);
  sink_.reply_text_done(reply->reply_id, report.turn_id);
  report.reply_full = job.text;
  std::optional<VoiceFinished> voiced;
  ReplyPlayed played;
  if (speak) {
    SentenceSplitter splitter(SplitterConfig{size_t(services_.reply.first_clause_min_chars)});
    auto queue = [&](std::string sentence) {
      voice_.queue(Voice::SentenceJob{reply, std::move(sentence), false, t0, 0});
    };
    splitter.push(job.text, queue);
    splitter.finish(queue);
    voice_.queue(Voice::SentenceJob{reply, "", true, t0});
    wait_until_heard(reply, report, t0, &voiced, &played);
  }
  report.interrupted = played.interrupted;
  if (played.interrupted) {
    PlayedPoint point;
    point.reported_ms = played.played_ms;
    point.frames_on_wire = played.frames_on_wire;
    report.reply_heard =
        heard_of_parts(voiced ? voiced->sentences : std::vector<VoicedSentence>{}, point, 0, true);
  } else {
    report.reply_heard = job.text;
  }
  if (voiced && !voiced->tts_error.empty()) report.error = voiced->tts_error;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (current_ == reply) current_.reset();
  }
  sink_.turn_done(report);
}

// What was heard of one part of the reply (or, with `only` false, of every part but `part`).
std::string Responder::heard_of_parts(const std::vector<VoicedSentence>& sentences,
                                      const PlayedPoint& point, int part, bool only) {
  const std::vector<std::string> heard = heard_sentences(sentences, point);
  std::string out;
  for (size_t i = 0; i < sentences.size(); ++i)
    if ((sentences[i].part == part) == only) out = joined(out, heard[i]);
  return out;
}

// Whether every sentence the part queued was voiced and heard to its end.
bool Responder::heard_whole_part(const std::vector<VoicedSentence>& sentences,
                                 const PlayedPoint& point, int part, size_t queued) {
  const std::vector<std::string> heard = heard_sentences(sentences, point);
  size_t whole = 0, voiced = 0;
  for (size_t i = 0; i < sentences.size(); ++i) {
    if (sentences[i].part != part) continue;
    ++voiced;
    if (heard[i] == sentences[i].text) ++whole;
  }
  return voiced == whole && voiced >= queued;
}

// Whole turns leave the history (a user message and what followed it), so a tool result never
// loses the call it answers; at most history_turns user messages stay. A history without user
// messages (replies asked for with respond() alone) is bounded by messages: as many as
// history_turns of the longest turns (a user message, an answer per step, every call's result).
void Responder::trim_history() {
  const size_t turns = services_.reply.history_turns;
  const size_t longest_turn =
      2 + size_t(services_.tool_settings.max_steps) * (1 + kMaxToolCallsPerMessage);
  const size_t max_messages = std::max<size_t>(2, turns * longest_turn);
  size_t users = 0;
  for (const ChatMessage& m : history_)
    users += m.role == "user";
  size_t dropped = 0;
  auto drop_front = [&] {
    size_t end = 1;
    while (end < history_.size() && history_[end].role != "user" &&
           (history_[end].role == "tool" || history_[0].role == "user"))
      ++end;
    if (history_[0].role == "user") --users;
    history_.erase(history_.begin(), history_.begin() + long(end));
    dropped += end;
  };
  while (!history_.empty() && (users > turns || history_.size() > max_messages))
    drop_front();
  if (last_) {
    if (last_->history_index < dropped) {
      last_.reset();
    } else {
      last_->history_index -= dropped;
    }
  }
}

void Responder::recall_history() {
  std::vector<ChatMessage> stored;
  if (!memory_.recall(wall_ms(), &stored)) return;  // off, or unreadable: go on from ours
  auto same_message = [](const ChatMessage& a, const ChatMessage& b) {
    if (a.role != b.role || a.content != b.content || a.tool_call_id != b.tool_call_id ||
        a.tool_calls.size() != b.tool_calls.size())
      return false;
    for (size_t i = 0; i < a.tool_calls.size(); ++i)
      if (a.tool_calls[i].id != b.tool_calls[i].id ||
          a.tool_calls[i].name != b.tool_calls[i].name ||
          a.tool_calls[i].arguments != b.tool_calls[i].arguments)
        return false;
    return true;
  };
  if (stored.size() == history_.size() &&
      std::equal(stored.begin(), stored.end(), history_.begin(), same_message))
    return;
  // Another session wrote it (a node of the room), or it expired: our last reply's place in the
  // history is gone, so a late played report now corrects only its stored turn.
  history_ = std::move(stored);
  last_.reset();
}

void Responder::remember_history() {
  std::string error;
  if (!memory_.remember(history_, wall_ms(), &error)) {
    services_.metrics.count_error(ErrorReason::kStoreFailed);
    LOG_ERROR("store", "%s: the conversation memory was not stored: %s", conversation_id_.c_str(),
              error.c_str());
  }
}

// 5. The reply as heard joins the stored turn (or the commit still waiting for the store).
void Responder::finish_stored(const std::shared_ptr<TurnCommit>& stored, const TurnReport& report) {
  TurnRecord& rec = stored->record;
  rec.reply = report.reply_heard;
  rec.reply_full = report.reply_full;
  rec.interrupted = report.interrupted;
  rec.tool_calls = report.tool_calls;
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
    services_.metrics.count_error(ErrorReason::kStoreFailed);
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
    const std::string heard = heard_of_parts(last_->sentences, point, kFillerPart, false);
    if (heard == last_->report.reply_heard) continue;
    last_->report.reply_heard = heard;
    last_->report.interrupted = true;
    if (last_->history_index < history_.size() && last_->final_part != kErrorPart &&
        history_[last_->history_index].tool_calls.empty()) {
      const std::string part = heard_of_parts(last_->sentences, point, last_->final_part, true);
      history_[last_->history_index].content =
          part.empty() && last_->final_thinking.empty() ? "…" : last_->final_thinking + part;
    } else if (last_->history_index < history_.size() && last_->final_part == kErrorPart) {
      history_[last_->history_index].content = heard.empty() ? "…" : heard;
    }
    remember_history();
    if (last_->stored) finish_stored(last_->stored, last_->report);
  }
}

}  // namespace earshot::host
