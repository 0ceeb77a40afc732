#include "host/conversation/conversation.h"

#include <atomic>
#include <deque>
#include <variant>

#include "dsp/audio_format.h"
#include "host/clock.h"
#include "host/conversation/ingress.h"
#include "host/conversation/responder.h"
#include "host/conversation/strand_pool.h"
#include "host/conversation/turn_stage.h"
#include "host/log.h"
#include "host/store/store.h"
#include "host/tools/room_directory.h"
#include "host/work_queue.h"

namespace earshot::host {
namespace {
// Input waiting for the ingress thread. A node redelivering its buffer after a reconnect sends
// everything it held at once, and that must not stop the socket being read: the node's keepalive
// pings come on the same stream, and a node whose pings go unanswered while the conversation works
// through the backlog hangs up and redelivers again — for ever (the fault run saw it). So the door
// stops reading only above kInboundPauseAt (180 s of 20 ms frames, well above a node's 60 s
// buffer; the rate limit stops a client getting there faster than real time), and kInboundLimit
// is the hard bound for what one read can still deliver after that (~2.5 MB).
constexpr size_t kInboundPauseAt = 9000;
constexpr size_t kInboundResumeAt = 3000;
constexpr size_t kInboundLimit = 12000;
// Items one run of the ingress strand handles before letting other conversations' strands run.
constexpr int kStrandBatch = 64;

// What the door hands the ingress thread, in the client's order.
struct CommitInput {};
struct ClearInput {};
struct SetAmbient {
  bool ambient = false;
};
struct UpdateSettings {
  ConversationSettings settings;
};
using InboundItem = std::variant<InputFrame, CommitInput, ClearInput, TextJob, RespondJob,
                                 SetAmbient, UpdateSettings, AnnounceJob>;
}  // namespace

struct Conversation::Impl {
  Impl(Services& s, ConversationSettings st, NodeLease lease, ConversationSink& k)
      : services(s),
        settings(std::move(st)),
        sink(k),
        pool(StrandPool::shared()),
        ingress(s.metrics, s.metrics.client(settings.client_id, settings.room),
                settings.input_codec, settings.input_rate, lease.acked_seq),
        responder(s, k, settings, lease),
        turn(s, k, settings, lease.acked_seq,
             TurnStage::Hooks{[this](ResponderJob job) { return hand_on(std::move(job)); },
                              [this] { barge_in(); }}),
        inbound(kInboundLimit) {}

  Services& services;
  const ConversationSettings settings;
  ConversationSink& sink;
  StrandPool& pool;
  std::shared_ptr<StrandPool::Strand> strand;  // runs drain(): the ingress stage
  // Ingress strand only:
  Ingress ingress;
  Responder responder;  // its own threads
  TurnStage turn;
  std::deque<ResponderJob> outgoing;  // jobs the responder had no room for yet
  WorkQueue<InboundItem> inbound;
  std::atomic<bool> stopping{false};
  RoomDirectory::Member in_room;  // while started: announcements reach this conversation

  bool drain();
  void push(InboundItem item);
  bool flush_outgoing();
  bool hand_on(ResponderJob job);
  void handle(InboundItem& item);
  void barge_in();
};

// One run of the ingress strand: the end-of-turn deadline if it came, then what the door queued,
// in order. A job the responder has no room for holds everything behind it (and, once enough
// waits, the door stops reading the client): nothing is dropped, and the strand never blocks a
// worker that other conversations share.
bool Conversation::Impl::drain() {
  if (!flush_outgoing()) return false;  // the responder calls back when it has room
  const int64_t deadline = turn.deadline_ms();
  if (deadline >= 0 && monotonic_ms() >= deadline) {
    turn.on_tick(monotonic_ms());
    if (!flush_outgoing()) return false;
  }
  InboundItem item;
  for (int i = 0; i < kStrandBatch; ++i) {
    if (inbound.pop_until(std::chrono::steady_clock::time_point{}, &item) !=
        WorkQueue<InboundItem>::Popped::kItem)
      break;
    handle(item);
    if (!flush_outgoing()) return false;
  }
  // The turn stage's end-of-turn deadline is this strand's own timer: it fires on time, not at
  // the next tick of somebody else's loop.
  const int64_t next = turn.deadline_ms();
  pool.run_at(strand, next >= 0 ? steady_at(next) : std::chrono::steady_clock::time_point::max());
  return inbound.size() > 0;
}

bool Conversation::Impl::hand_on(ResponderJob job) {
  if (std::holds_alternative<AdvanceJob>(job) && !outgoing.empty())
    if (auto* back = std::get_if<AdvanceJob>(&outgoing.back())) {
      back->seq = std::get<AdvanceJob>(job).seq;
      return true;
    }
  outgoing.push_back(std::move(job));
  return true;
}

bool Conversation::Impl::flush_outgoing() {
  while (!outgoing.empty()) {
    if (!responder.try_queue(outgoing.front())) return false;
    outgoing.pop_front();
  }
  return true;
}

void Conversation::Impl::handle(InboundItem& item) {
  if (auto* f = std::get_if<InputFrame>(&item)) {
    std::string error;
    const Ingress::Verdict v = ingress.accept(
        *f, [this](const PcmFrame& frame) { turn.on_frame(frame); }, &error);
    if (v == Ingress::Verdict::kDuplicate) return;
    turn.seen(ingress.high_water());
    if (v == Ingress::Verdict::kBad) return sink.error("bad_audio", error);
    turn.on_input_done(f->seq, f->flags, ingress.high_water());
  } else if (std::holds_alternative<CommitInput>(item)) {
    turn.commit_input(monotonic_ms(), ingress.high_water());
  } else if (std::holds_alternative<ClearInput>(item)) {
    turn.clear_input();
  } else if (auto* t = std::get_if<TextJob>(&item)) {
    hand_on(std::move(*t));
  } else if (auto* r = std::get_if<RespondJob>(&item)) {
    hand_on(*r);
  } else if (auto* m = std::get_if<SetAmbient>(&item)) {
    turn.set_ambient(m->ambient, ingress.high_water());
    LOG_INFO("session", "%s: mode %s", settings.conversation_id.c_str(),
             m->ambient ? "ambient" : "conversation");
  } else if (auto* u = std::get_if<UpdateSettings>(&item)) {
    turn.update(u->settings);
  } else if (auto* a = std::get_if<AnnounceJob>(&item)) {
    hand_on(std::move(*a));
  }
}

// The person spoke while a reply is being prepared or played: it stops now (no more audio leaves,
// LLM and TTS requests are cancelled), and the client is told to stop playing it.
void Conversation::Impl::barge_in() {
  std::shared_ptr<const ReplyOrder> reply = responder.current_reply();
  if (!reply || reply->cancel->cancelled()) return;
  reply->cancel->cancel();
  services.metrics.barge_ins_total.fetch_add(1);
  LOG_INFO("session", "%s: reply %s interrupted (the person spoke)",
           settings.conversation_id.c_str(), reply->reply_id.c_str());
  const uint64_t on_wire = sink.reply_interrupted(reply->reply_id);
  responder.post(ReplyPlayed{reply->reply_id, std::nullopt, on_wire, true});
}

Conversation::Conversation(Services& services, ConversationSettings settings, NodeLease lease,
                           ConversationSink& sink)
    : impl_(std::make_unique<Impl>(services, std::move(settings), std::move(lease), sink)) {}

Conversation::~Conversation() {
  stop();
}

bool Conversation::start(std::string* error) {
  Impl& s = *impl_;
  if (!s.ingress.start(error)) return false;
  if (s.services.store) {
    SessionRecord rec;
    rec.session_id = s.settings.conversation_id;
    rec.node_id = s.settings.client_id;
    rec.room = s.settings.room;
    rec.mode = s.settings.ambient ? "ambient" : "conversation";
    rec.started_at_ms = wall_ms();
    std::string store_error;
    if (!s.services.store->open_session(rec, &store_error)) {
      s.services.metrics.count_error(ErrorReason::kStoreFailed);
      LOG_ERROR("store", "%s: %s", s.settings.conversation_id.c_str(), store_error.c_str());
    }
  }
  s.responder.start();
  s.strand = s.pool.add([this] { return impl_->drain(); });
  s.responder.set_on_room([this] { impl_->pool.notify(impl_->strand); });
  if (s.services.rooms)
    s.in_room = s.services.rooms->join(room_key(s.settings.room, s.settings.client_id),
                                       s.settings.client_id,
                                       [this](const std::string& text) { announce(text); });
  return true;
}

void Conversation::stop() {
  Impl& s = *impl_;
  if (s.stopping.exchange(true)) return;
  s.in_room.leave();  // no announcement is queued after this
  if (s.services.store) {
    std::string store_error;
    if (!s.services.store->close_session(s.settings.conversation_id, wall_ms(), &store_error))
      LOG_ERROR("store", "%s: %s", s.settings.conversation_id.c_str(), store_error.c_str());
  }
  // The backlog is dropped, not worked through: none of it was acknowledged, so the client still
  // holds it and delivers it again. Engine work for segments ends early.
  const size_t dropped = s.inbound.close_and_drop();
  if (dropped > 0)
    LOG_INFO("session", "%s: %zu unprocessed inbound item(s) dropped (unacknowledged)",
             s.settings.conversation_id.c_str(), dropped);
  // A reply in flight ends early. Jobs the responder had no room for are dropped (they were not
  // acknowledged).
  s.responder.stop_waiting();
  if (s.strand) s.pool.remove(s.strand);
  s.outgoing.clear();
  // A turn still open when the client goes away (it crashed, or the network dropped) is still
  // what the person said: finish its transcript and store it rather than drop it. The strand
  // runs no more, so its turn state is ours now.
  s.turn.finish_open(s.ingress.high_water());
  s.flush_outgoing();
  s.responder.stop();
  // After the responder: a turn it ran may have waited on an early final.
  s.turn.wait_for_finals();
}

void Conversation::audio(const AudioIn& frame) {
  InputFrame f;
  f.seq = frame.seq;
  f.timestamp = frame.timestamp;
  f.flags = frame.flags;
  f.payload.assign(reinterpret_cast<const char*>(frame.payload), frame.size);
  f.arrived_ms = frame.arrived_ms;
  if (impl_->inbound.push(std::move(f))) {
    impl_->pool.notify(impl_->strand);
  } else {
    // The door stops reading at kInboundPauseAt; this is what one read brought on top of that,
    // and more. Not dropped-and-acked: the conversation closes and the client delivers it again.
    impl_->services.metrics.frames_refused_total.fetch_add(1);
    impl_->sink.close(4011, "inbound queue full; deliver again");
  }
}

// Control from the door joins the audio in the client's order. (A control item that does not
// fit is refused like audio: the door closes, the client delivers again.)
void Conversation::Impl::push(InboundItem item) {
  if (inbound.push(std::move(item))) {
    pool.notify(strand);
  } else {
    sink.close(4011, "inbound queue full; deliver again");
  }
}
void Conversation::commit_input() {
  impl_->push(CommitInput{});
}
void Conversation::clear_input() {
  impl_->push(ClearInput{});
}
void Conversation::user_text(const std::string& text) {
  impl_->push(TextJob{text, false});
}
void Conversation::respond() {
  impl_->push(RespondJob{});
}
void Conversation::announce(const std::string& text) {
  Impl& s = *impl_;
  if (s.stopping.load()) return;
  // Not Impl::push: a queue too full for an announcement is the client's flood, and closing its
  // connection for something it did not send would be wrong; the announcement is lost instead.
  if (s.inbound.push(AnnounceJob{text})) {
    s.pool.notify(s.strand);
  } else {
    LOG_WARN("session", "%s: an announcement was dropped (inbound queue full)",
             s.settings.conversation_id.c_str());
  }
}
void Conversation::set_ambient(bool ambient) {
  impl_->push(SetAmbient{ambient});
}
void Conversation::update(const ConversationSettings& settings) {
  impl_->responder.update(settings);
  impl_->push(UpdateSettings{settings});
}

void Conversation::interrupt(const PlayedReport& report) {
  Impl& s = *impl_;
  std::shared_ptr<const ReplyOrder> reply = s.responder.current_reply();
  if (!reply) {  // over already: a report of where its playback stopped
    s.responder.post(ReplyPlayed{report.reply_id, report.played_ms, report.frames_on_wire, true});
    return;
  }
  // The client reports what it played of the reply it names; of any other, nothing.
  std::optional<uint64_t> played = report.played_ms;
  if (report.reply_id != reply->reply_id && !report.reply_id.empty()) played = 0;
  if (!reply->cancel->cancelled()) {
    reply->cancel->cancel();
    s.services.metrics.barge_ins_total.fetch_add(1);
    LOG_INFO("session", "%s: reply %s interrupted (client)", s.settings.conversation_id.c_str(),
             reply->reply_id.c_str());
  }
  s.responder.post(ReplyPlayed{reply->reply_id, played, report.frames_on_wire, true});
}

void Conversation::client_gone(const PlayedReport& wire) {
  Impl& s = *impl_;
  std::shared_ptr<const ReplyOrder> reply = s.responder.current_reply();
  // None in flight, or one already cut (a barge-in): what was heard is known, or on its way.
  if (!reply || reply->cancel->cancelled()) return;
  const uint64_t frames = wire.reply_id == reply->reply_id ? wire.frames_on_wire.value_or(0) : 0;
  const uint64_t sent_ms =
      frames * uint64_t(dsp::kCodecFrameSamples) / uint64_t(dsp::kSampleRate / 1000);
  reply->cancel->cancel();
  LOG_INFO("session", "%s: the client left during reply %s; %llu ms of it had been sent",
           s.settings.conversation_id.c_str(), reply->reply_id.c_str(),
           (unsigned long long)sent_ms);
  // A report of where playback stopped, at the most it can have been: a report the client made
  // before it left (ahead in the queue) still wins.
  s.responder.post(ReplyPlayed{reply->reply_id, sent_ms, frames, true});
}

void Conversation::played(const PlayedReport& report) {
  impl_->responder.post(ReplyPlayed{report.reply_id, report.played_ms, std::nullopt, false});
}

void Conversation::first_frame_sent(const std::string& reply_id, int64_t sent_ms) {
  impl_->responder.post(FirstFrameSent{reply_id, sent_ms});
}

Conversation::InputPace Conversation::input_pace() const {
  const size_t backlog = impl_->inbound.size();
  if (backlog >= kInboundPauseAt) return InputPace::kPause;
  if (backlog <= kInboundResumeAt) return InputPace::kResume;
  return InputPace::kHold;
}

const ConversationSettings& Conversation::settings() const {
  return impl_->settings;
}

}  // namespace earshot::host
