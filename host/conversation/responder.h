// Responder: turns and segments in input order → final transcript → store → LLM → sentences.
//
// For a turn: the STT's final pass (or the early final the turn stage started), the transcript
// to the sink, the turn committed to the store (its frames acknowledged once it is), then the LLM
// streaming, its text to the sink and each complete sentence to the voice stage. When the model
// calls tools (Services::tools), what it said first is spoken at once, the calls run
// (host/tools/tool_runner.h; a filler is said if they are slow), their results go back to it and
// it is asked again, up to tools.max_steps rounds; a barge-in cancels the model and the calls in
// flight alike. Every step's message, call and result joins the history. Then it waits
// for the voice stage's VoiceFinished and the client's played report (ReplyPlayed, by message
// from the door; up to the reply's length plus reply.played_report_timeout_ms: a client still
// connected that says nothing heard it all, unless it was cut — then it heard at most the frames
// on the wire at the cut), keeps what was heard in the history and the store,
// and reports the turn (sink.turn_done, Services::on_turn). A spoken reply still unreported when
// the conversation stops is kept as cut at what is known to have left the bridge (the frames a
// barge-in counted), else at nothing; never in full. A text reply (speak off) waits for nothing:
// it was delivered with its text (one the model was stopped in is kept that far, marked cut).
// Ambient segments are transcribed and committed. Every commit goes through the CommitLog.
// An announcement (AnnounceJob: a timer went off) is voiced as a reply of its own between jobs,
// waits for its played report like a reply, and joins neither the history nor the store.
//
// Thread: its own (the responder thread). queue() from the ingress thread (may block while the
// responder is behind); post(), current_reply() and update() from any thread.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "host/conversation/commit_log.h"
#include "host/conversation/conversation.h"
#include "host/conversation/jobs.h"
#include "host/conversation/memory.h"
#include "host/conversation/voice.h"
#include "host/work_queue.h"

namespace earshot::host {

class Responder {
 public:
  Responder(Services& services, ConversationSink& sink, const ConversationSettings& settings,
            NodeLease lease);
  ~Responder();

  void start();
  // Stop: the turn in flight ends early (its cancel token), commits get one last try, what is
  // waiting is dropped unacknowledged; joins the responder and voice threads.
  void stop();
  // A queue() waiting for room gives up (stopping).
  void stop_waiting();

  // Ingress strand: hands a job over if there is room (false: full, or stopping; the caller keeps
  // it and is called back through `on_room` once the responder has taken a job). Advances queued
  // behind an advance merge into it.
  bool try_queue(ResponderJob& job);
  // Called (on the responder thread) each time it takes a job, so a held-back caller can go on.
  void set_on_room(std::function<void()> on_room) { on_room_ = std::move(on_room); }
  // Any thread: a played report, the first frame sent, or the voice stage's result. Never
  // refused: a client that floods played reports loses its oldest ones, never the events a reply
  // waits for.
  void post(ReplyEvent event);
  // Any thread: the reply being produced or played, or null.
  std::shared_ptr<const ReplyOrder> current_reply() const;
  // Any thread: instructions, voice and speak for the next reply.
  void update(const ConversationSettings& settings);

 private:
  void loop();
  void run_turn(TurnJob& job);
  void run_segment(SegmentJob& job);
  void run_text(TextJob& job);
  // Speaks an announcement (AnnounceJob) as a reply of its own; returns once heard (or cut).
  void run_announcement(AnnounceJob& job);
  // Waits for the voice stage to finish `reply` and then for the client's played report; when
  // stopping without one (nor the door's client_gone), marks it cut at what is known on the wire.
  void wait_until_heard(const std::shared_ptr<ReplyOrder>& reply, TurnReport& report, int64_t t0,
                        std::optional<VoiceFinished>* voiced, ReplyPlayed* played);
  // The LLM's answer to the history, voiced; fills the report; returns once heard (or cut).
  void answer(const std::shared_ptr<ReplyOrder>& reply, TurnReport& report, int64_t t0,
              const std::shared_ptr<TurnCommit>& stored);
  // One answer of the model within a reply: what it said, its content for the history, its
  // thinking (when kept), the calls it made and their results (tool messages).
  struct ModelStep {
    std::string spoken;
    std::string history;
    std::string thinking;
    std::vector<ToolCall> calls;
    std::vector<ChatMessage> results;
  };
  // The model's answer to the history, through every tool round; each sentence to speak_sentence
  // (text, the step it is part of). True if the reply's cancel cut it short.
  bool run_model(const std::shared_ptr<ReplyOrder>& reply, TurnReport& report, int64_t t0,
                 const ConversationSettings& settings,
                 const std::function<void(std::string, int)>& speak_sentence,
                 std::vector<ModelStep>* steps);
  static std::string heard_of_parts(const std::vector<VoicedSentence>& sentences,
                                    const PlayedPoint& point, int part, bool only);
  static bool heard_whole_part(const std::vector<VoicedSentence>& sentences,
                               const PlayedPoint& point, int part, size_t queued);
  std::shared_ptr<ReplyOrder> new_reply(const std::string& turn_id);
  void apply_late_played();
  void finish_stored(const std::shared_ptr<TurnCommit>& stored, const TurnReport& report);
  void trim_history();
  // The conversation memory (memory.h): the history continued from the store before a turn (a
  // reconnect, a restart, another node of the room, or a fresh one after the idle timeout), and
  // written back once the history changed (a turn done, a late played report).
  void recall_history();
  void remember_history();

  Services& services_;
  ConversationSink& sink_;
  const std::string conversation_id_;
  const std::string client_id_;
  const std::string room_;
  const std::shared_ptr<ClientMetrics> client_metrics_;  // this client's series on /metrics
  CommitLog commits_;
  ConversationMemory memory_;
  Voice voice_;
  WorkQueue<ResponderJob> jobs_;
  WorkQueue<ReplyEvent> events_;
  std::thread thread_;
  std::function<void()> on_room_;
  CancelToken stop_token_;
  std::atomic<bool> stopping_{false};

  mutable std::mutex mutex_;  // guards current_ and settings_
  std::shared_ptr<const ReplyOrder> current_;
  ConversationSettings settings_;

  // Responder thread only.
  std::vector<ChatMessage> history_;
  uint64_t reply_counter_ = 0;
  uint64_t text_counter_ = 0;
  uint64_t announcement_counter_ = 0;
  // The last reply, for a played report that comes after it finished (a late truncate).
  struct LastReply {
    std::string reply_id;
    std::vector<VoicedSentence> sentences;
    size_t history_index = 0;  // its last assistant line
    std::shared_ptr<TurnCommit> stored;
    TurnReport report;
    int final_part = 0;          // the voice part of that line's words
    std::string final_thinking;  // the thinking that line keeps
  };
  std::optional<LastReply> last_;
  // A stored turn not answered yet (typed, or committed without auto_respond): respond() answers
  // it, and its reply joins its row.
  std::shared_ptr<TurnCommit> unanswered_;
  std::string unanswered_turn_id_;
};

}  // namespace earshot::host
