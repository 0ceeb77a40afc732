#include "host/doors/realtime_door.h"

#include <algorithm>
#include <cmath>
#include <type_traits>
#include <variant>

#include "host/log.h"

namespace earshot::host {

namespace rt = protocol::realtime;

namespace {

constexpr int kFrameMs = 20;
constexpr size_t kFrameBytes = size_t(rt::kSampleRate / 1000 * kFrameMs * 2);  // 960
constexpr int64_t kBytesPerMs = rt::kSampleRate / 1000 * 2;                    // 48
constexpr size_t kMaxItems = 512;  // items the door remembers (truncate, previous_item_id)
constexpr int kDefaultPrefixPaddingMs = 300;  // the API's default
constexpr uint16_t kCloseTooFast = 4029;      // as earshot.v1 (protocol/messages.h)

// The API's own voice names: the bridge's TTS has none of them, so they mean "the default voice".
constexpr const char* kOpenAiVoices[] = {"alloy", "ash",   "ballad", "coral",  "echo",
                                         "fable", "onyx",  "nova",   "sage",   "shimmer",
                                         "verse", "marin", "cedar",  "default"};

std::string pcm16_from_float(const float* pcm, size_t samples) {
  std::string out(samples * 2, '\0');
  for (size_t i = 0; i < samples; ++i) {
    const float x = std::clamp(pcm[i], -1.0f, 1.0f);
    const auto v = int16_t(std::lrint(x * 32767.0f));
    out[2 * i] = char(uint16_t(v) & 0xff);
    out[2 * i + 1] = char(uint16_t(v) >> 8);
  }
  return out;
}

bool is_pcm24k(const rt::AudioFormat& f) {
  return f.type == "audio/pcm" && f.rate.value_or(rt::kSampleRate) == rt::kSampleRate;
}

}  // namespace

// The response in flight: from response.create (or the core's own reply to a turn) to
// response.done.
struct RealtimeDoor::Response {
  uint64_t serial = 0;
  std::string id;        // resp_N
  bool started = false;  // the core's reply_started came
  std::string reply_id;  // the core's reply
  std::string item_id;   // the assistant item, once started
  int64_t created_ms = 0;
  bool audio = true;  // the response's modality: audio (+ transcript), or text
  std::optional<std::string> voice;
  bool restore_settings = false;  // response.create overrode the session: undo when done
  std::string text;
  bool audio_started = false, audio_ended = false;
  uint64_t frames_pushed = 0, frames_sent = 0;
  int64_t next_due_ms = 0;  // voice thread: frames are due back to back from the first
  bool parts_done = false;  // the item's closing events were sent
  bool turn_done = false;
  std::string status = "in_progress";
  std::optional<std::string> reason;
  std::optional<std::string> error_code;
  std::optional<LlmUsage> usage;
};

RealtimeDoor::RealtimeDoor(Config config, std::shared_ptr<Outbox> outbox)
    : config_(std::move(config)),
      outbox_(std::move(outbox)),
      rate_(int64_t(config_.audio_burst_s) * 1000, config_.audio_rate_slack) {
  config_.conversation.input_codec = InputCodec::kPcm16;
  config_.conversation.input_rate = rt::kSampleRate;
  config_.conversation.output_rate = rt::kSampleRate;
  // The session as the client first sees it (session.created): the API's defaults, with the
  // bridge's own turn timing, prompt and voice.
  session_.type = "realtime";
  session_.id = config_.session_id;
  session_.object = "realtime.session";
  session_.model = config_.model.empty() ? std::string("earshot") : config_.model;
  session_.instructions = config_.default_instructions;
  session_.output_modalities = std::vector<rt::Modality>{rt::Modality::kAudio};
  session_.input_format = rt::AudioFormat{"audio/pcm", rt::kSampleRate};
  rt::TurnDetection vad;
  vad.prefix_padding_ms = kDefaultPrefixPaddingMs;
  vad.silence_duration_ms = config_.turn.end_of_turn_ms;
  vad.create_response = true;
  vad.interrupt_response = true;
  vad.idle_timeout_ms = std::optional<int>();
  session_.turn_detection = vad;
  session_.transcription = std::optional<rt::Transcription>();
  session_.output_format = rt::AudioFormat{"audio/pcm", rt::kSampleRate};
  if (!config_.default_voice.empty()) session_.voice = config_.default_voice;
  session_.speed = 1.0;
}

RealtimeDoor::~RealtimeDoor() {
  stop();  // the core's threads are joined before the door's state goes
}

bool RealtimeDoor::start(const PortFactory& make_port, std::string* error) {
  ConversationSettings settings;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    settings = settings_for(session_);
  }
  // conversation.item.create never starts a response (the client asks with response.create),
  // but Conversation::user_text() answers at once when the conversation was *started* with
  // auto_respond. So it starts without, and the session's own setting (server VAD's
  // create_response, for turns the core ends) follows as the first update.
  ConversationSettings first = settings;
  first.auto_respond = false;
  port_ = make_port(*this, first);
  if (!port_ || !port_->start(error)) {
    if (error && error->empty()) *error = "the conversation did not start";
    return false;
  }
  port_->update(settings);
  std::lock_guard<std::mutex> lock(mutex_);
  send_locked(rt::SessionCreated{report_locked()});
  return true;
}

void RealtimeDoor::stop() {
  std::optional<PlayedReport> gone;
  Actions pending;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!stopped_ && active_ && active_->audio && active_->status == "in_progress" &&
        !active_->parts_done) {
      // A spoken response still being sent (or not yet begun): the client heard at most the
      // deltas that had left. One whose last delta went out was reported as played then.
      const Response& r = *active_;
      gone = PlayedReport{r.started ? r.reply_id : std::string(), std::nullopt, r.frames_sent};
    } else if (!stopped_ && !active_ && core_reply_.empty()) {
      // No reply of the core's open here, but it may have begun one (a server-VAD turn) whose
      // reply_started has not reached the door: none of it left, and the core must hear so, or
      // it keeps that reply as heard in full. With no reply in flight the core ignores this.
      gone = PlayedReport{std::string(), std::nullopt, 0};
    }
    stopped_ = true;
    // Reports the core's threads left for a tick that will not come (a response cut by speech,
    // one whose last delta left) still reach the core, before the response still being sent.
    pending.swap(deferred_);
  }
  outbox_->detach();  // frees a voice thread waiting for room in the outbox
  if (!port_) return;
  run(pending);
  if (gone) port_->client_gone(*gone);
  port_->stop();  // idempotent
}

Conversation::InputPace RealtimeDoor::input_pace() const {
  return port_ ? port_->input_pace() : Conversation::InputPace::kResume;
}

// ------------------------------------------------------------------------------------------------
// Helpers.

void RealtimeDoor::send_locked(rt::ServerEventBody body) {
  outbox_->push_control(
      rt::to_json(rt::ServerEvent{new_id_locked("event_", &event_counter_), std::move(body)}));
}

void RealtimeDoor::error_locked(const std::string& code, const std::string& message,
                                std::optional<std::string> param, EventId event_id,
                                const char* type) {
  rt::ErrorInfo e;
  e.type = type;
  e.code = code;
  e.message = message;
  e.param = std::move(param);
  e.event_id = std::move(event_id);
  send_locked(rt::Error{std::move(e)});
}

std::string RealtimeDoor::new_id_locked(const char* prefix, uint64_t* counter) {
  while (true) {
    std::string id = prefix + std::to_string(++*counter);
    // A client may name its own items: never hand out one of theirs.
    if (counter != &item_counter_ || !find_item_locked(id)) return id;
  }
}

RealtimeDoor::ItemRecord* RealtimeDoor::find_item_locked(const std::string& id) {
  for (ItemRecord& item : items_)
    if (item.id == id) return &item;
  if (open_item_ && open_item_->id == id) return &*open_item_;
  return nullptr;
}

void RealtimeDoor::bind_turn_locked(const std::string& turn_id, const std::string& item_id) {
  turn_items_.emplace_back(turn_id, item_id);
  if (turn_items_.size() > kMaxItems) turn_items_.pop_front();
}

void RealtimeDoor::add_item_locked(ItemRecord item) {
  items_.push_back(std::move(item));
  while (items_.size() > kMaxItems) {
    partials_.erase(items_.front().id);
    items_.pop_front();
  }
}

rt::Nullable<std::string> RealtimeDoor::previous_of_locked(const std::string& id) const {
  std::optional<std::string> previous;
  for (const ItemRecord& item : items_) {
    if (item.id == id) return previous;
    previous = item.id;
  }
  return previous;  // not in the list yet: it goes last
}

rt::Item RealtimeDoor::item_locked(const ItemRecord& r) const {
  rt::Item item;
  item.id = r.id;
  item.object = "realtime.item";
  item.role = r.role;
  item.status = r.status;
  rt::Content c;
  if (r.role == rt::Role::kUser && r.audio) {
    c.type = rt::ContentType::kInputAudio;
    c.transcript = r.transcribed ? std::optional<std::string>(r.text) : std::nullopt;
  } else if (r.role == rt::Role::kUser) {
    c.type = rt::ContentType::kInputText;
    c.text = r.text;
  } else if (r.audio) {
    c.type = rt::ContentType::kOutputAudio;
    c.transcript = std::optional<std::string>(r.text);
  } else {
    c.type = rt::ContentType::kOutputText;
    c.text = r.text;
  }
  // An assistant item just started has no content yet (conversation.item.added).
  if (!(r.role == rt::Role::kAssistant && r.status == rt::ItemStatus::kInProgress))
    item.content.push_back(std::move(c));
  return item;
}

bool RealtimeDoor::server_vad_locked() const {
  return session_.turn_detection && *session_.turn_detection;
}

// What the conversation is told for a session: the door's audio, and what session.update sets.
ConversationSettings RealtimeDoor::settings_for(const rt::Session& s) const {
  ConversationSettings c = config_.conversation;
  c.speak = !s.output_modalities || s.output_modalities->empty() ||
            s.output_modalities->front() == rt::Modality::kAudio;
  // The bridge's own prompt unless the client gave one (an empty string clears theirs).
  c.instructions.reset();
  if (s.instructions && !s.instructions->empty() && *s.instructions != config_.default_instructions)
    c.instructions = *s.instructions;
  c.voice.reset();
  if (s.voice && std::none_of(std::begin(kOpenAiVoices), std::end(kOpenAiVoices),
                              [&](const char* v) { return *s.voice == v; }))
    c.voice = *s.voice;
  const bool vad = s.turn_detection && *s.turn_detection;
  c.server_turn_detection = vad;
  c.auto_respond = vad && (*s.turn_detection)->create_response.value_or(true);
  TurnConfig turn = config_.turn;
  turn.client_segments = false;  // a Realtime client streams everything: the bridge's VAD decides
  if (vad) {
    const rt::TurnDetection& t = **s.turn_detection;
    if (t.silence_duration_ms) turn.end_of_turn_ms = *t.silence_duration_ms;
    if (t.threshold) turn.vad_threshold = float(std::clamp(*t.threshold, 0.05, 0.99));
    c.prefix_padding_ms = t.prefix_padding_ms.value_or(kDefaultPrefixPaddingMs);
  }
  c.turn = turn;
  return c;
}

rt::Session RealtimeDoor::report_locked() const {
  rt::Session s = session_;
  s.ignored.clear();
  return s;
}

// ------------------------------------------------------------------------------------------------
// Client events (event loop).

void RealtimeDoor::on_message(std::string_view text, int64_t now_ms) {
  rt::ClientParse parsed = rt::parse_client_event(text);
  Actions actions;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!parsed.ok()) {
      send_locked(rt::Error{parsed.error});
    } else {
      handle(*parsed.event, now_ms, &actions);
    }
    actions.insert(actions.end(), std::make_move_iterator(deferred_.begin()),
                   std::make_move_iterator(deferred_.end()));
    deferred_.clear();
  }
  run(actions);
}

void RealtimeDoor::on_binary() {
  std::lock_guard<std::mutex> lock(mutex_);
  error_locked("invalid_json",
               "The Realtime API has no binary messages: every event is a JSON text message.");
}

void RealtimeDoor::on_oversized(size_t limit) {
  std::lock_guard<std::mutex> lock(mutex_);
  error_locked("message_too_large", "The event is larger than " + std::to_string(limit) +
                                        " bytes and was dropped (send audio in smaller appends).");
}

void RealtimeDoor::on_tick(int64_t now_ms) {
  Actions actions;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    // A response.create the core never started (nothing to answer, say) must still end.
    if (active_ && !active_->started &&
        now_ms - active_->created_ms > config_.response_start_timeout_ms) {
      active_->status = "failed";
      active_->error_code = "response_not_started";
      active_->parts_done = true;
      ++skip_replies_;
      maybe_done_locked();
    }
    actions.swap(deferred_);
  }
  run(actions);
}

void RealtimeDoor::run(Actions& actions) {
  if (!port_) return;
  for (Action& a : actions)
    a(*port_);
}

void RealtimeDoor::handle(const rt::ClientEvent& event, int64_t now_ms, Actions* actions) {
  const EventId& id = event.event_id;
  std::visit(
      [&](const auto& e) {
        using T = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<T, rt::SessionUpdate>) {
          session_update(e.session, id, actions);
        } else if constexpr (std::is_same_v<T, rt::InputAudioBufferAppend>) {
          append(e.audio, id, now_ms, actions);
        } else if constexpr (std::is_same_v<T, rt::InputAudioBufferCommit>) {
          commit(id, now_ms, actions);
        } else if constexpr (std::is_same_v<T, rt::InputAudioBufferClear>) {
          clear(actions);
        } else if constexpr (std::is_same_v<T, rt::ConversationItemCreate>) {
          item_create(e, id, now_ms, actions);
        } else if constexpr (std::is_same_v<T, rt::ConversationItemTruncate>) {
          truncate(e, id, actions);
        } else if constexpr (std::is_same_v<T, rt::ResponseCreate>) {
          response_create(e.response, id, now_ms, actions);
        } else {
          static_assert(std::is_same_v<T, rt::ResponseCancel>, "every client event is handled");
          response_cancel(e.response_id, id, actions);
        }
      },
      event.body);
}

void RealtimeDoor::session_update(const rt::Session& patch, const EventId& event_id,
                                  Actions* actions) {
  // What the door cannot do is refused as a whole: nothing of the update applies.
  if (patch.type && *patch.type != "realtime")
    return error_locked("unsupported_session_type",
                        "Earshot has realtime sessions only (no transcription sessions).",
                        std::string("session.type"), event_id);
  if (patch.input_format && !is_pcm24k(*patch.input_format))
    return error_locked("unsupported_audio_format",
                        "Earshot takes audio/pcm at 24000 Hz only (pcm16 mono).",
                        std::string("session.audio.input.format"), event_id);
  if (patch.output_format && !is_pcm24k(*patch.output_format))
    return error_locked("unsupported_audio_format",
                        "Earshot sends audio/pcm at 24000 Hz only (pcm16 mono).",
                        std::string("session.audio.output.format"), event_id);
  for (const std::string& field : patch.ignored)
    LOG_INFO("realtime", "%s: %s is accepted but not acted on", config_.session_id.c_str(),
             field.c_str());
  rt::apply_update(patch, &session_);
  // The format is always written out in full, as the API reports it.
  session_.input_format->rate = rt::kSampleRate;
  session_.output_format->rate = rt::kSampleRate;
  configured_ = true;
  const ConversationSettings settings = settings_for(session_);
  actions->push_back([settings](ConversationPort& port) { port.update(settings); });
  send_locked(rt::SessionUpdated{report_locked()});
}

void RealtimeDoor::append(const std::string& pcm, const EventId& event_id, int64_t now_ms,
                          Actions* actions) {
  if (!configured_)
    return error_locked("session_not_configured",
                        "Send session.update (with the audio format) before any audio: the "
                        "append was dropped.",
                        std::nullopt, event_id);
  if (pcm.empty()) return;
  if (!rate_.admit(now_ms, int64_t(pcm.size()) / kBytesPerMs)) {
    LOG_WARN("realtime", "%s: audio faster than real time beyond the %d s burst; closing (4029)",
             config_.session_id.c_str(), config_.audio_burst_s);
    error_locked("too_fast",
                 "Audio is arriving faster than real time beyond the allowed burst of " +
                     std::to_string(config_.audio_burst_s) + " s.",
                 std::nullopt, event_id, "server_error");
    outbox_->request_close(kCloseTooFast, "audio faster than real time");
    return;
  }
  partial_frame_ += pcm;
  bytes_since_commit_ += pcm.size();
  frames_to_core_locked(now_ms, actions);
}

// Whole 20 ms frames of what was appended go to the core, numbered in order.
void RealtimeDoor::frames_to_core_locked(int64_t now_ms, Actions* actions) {
  size_t off = 0;
  for (; off + kFrameBytes <= partial_frame_.size(); off += kFrameBytes) {
    const uint64_t seq = next_seq_++;
    actions->push_back(
        [frame = partial_frame_.substr(off, kFrameBytes), seq, now_ms](ConversationPort& port) {
          AudioIn in;
          in.seq = seq;
          in.payload = reinterpret_cast<const uint8_t*>(frame.data());
          in.size = frame.size();
          in.arrived_ms = now_ms;
          port.audio(in);
        });
  }
  partial_frame_.erase(0, off);
}

void RealtimeDoor::commit(const EventId& event_id, int64_t now_ms, Actions* actions) {
  if (bytes_since_commit_ == 0)
    return error_locked("input_audio_buffer_commit_empty",
                        "The input audio buffer holds no audio since the last commit or clear.",
                        std::nullopt, event_id);
  if (server_vad_locked() && !open_item_)
    return error_locked("input_audio_buffer_commit_empty",
                        "No speech was detected in the input audio buffer since the last turn.",
                        std::nullopt, event_id);
  // The rest of a frame goes in padded with silence: the turn ends with what was sent.
  if (!partial_frame_.empty()) {
    partial_frame_.resize(kFrameBytes, '\0');
    frames_to_core_locked(now_ms, actions);
  }
  bytes_since_commit_ = 0;
  actions->push_back([](ConversationPort& port) { port.commit_input(); });
  if (open_item_) {
    ItemRecord item = std::move(*open_item_);
    open_item_.reset();
    open_turn_.clear();
    commit_item_locked(std::move(item));
    return;
  }
  ItemRecord item;
  item.id = new_id_locked("item_", &item_counter_);
  item.role = rt::Role::kUser;
  item.audio = true;
  if (!open_turn_.empty()) {
    bind_turn_locked(open_turn_, item.id);
    open_turn_.clear();
  } else {
    unbound_items_.push_back(item.id);
  }
  commit_item_locked(std::move(item));
}

void RealtimeDoor::clear(Actions* actions) {
  partial_frame_.clear();
  bytes_since_commit_ = 0;
  // The open turn's audio is dropped: whatever the core still says of it belongs to no item.
  if (!open_turn_.empty()) bind_turn_locked(open_turn_, "");
  open_turn_.clear();
  open_item_.reset();
  actions->push_back([](ConversationPort& port) { port.clear_input(); });
  send_locked(rt::InputAudioBufferCleared{});
}

// A user audio item joins the conversation: committed, and added (its transcript to come).
void RealtimeDoor::commit_item_locked(ItemRecord item) {
  const rt::Nullable<std::string> previous = previous_of_locked(item.id);
  send_locked(rt::InputAudioBufferCommitted{previous, item.id});
  const rt::Item wire = item_locked(item);
  add_item_locked(std::move(item));
  send_locked(rt::ConversationItemAdded{previous, wire});
}

void RealtimeDoor::item_create(const rt::ConversationItemCreate& create, const EventId& event_id,
                               int64_t now_ms, Actions* actions) {
  const rt::Item& in = create.item;
  if (in.role != rt::Role::kUser)
    return error_locked(
        "unsupported_item",
        std::string("Earshot takes user messages only; ") +
            (in.role == rt::Role::kSystem ? "give instructions with session.update instead."
                                          : "the assistant's messages are its own replies."),
        std::string("item.role"), event_id);
  if (create.previous_item_id) {
    const bool at_end = items_.empty() ? *create.previous_item_id == "root"
                                       : *create.previous_item_id == items_.back().id;
    if (!at_end)
      return error_locked("unsupported_item_position",
                          "Earshot appends items at the end of the conversation only.",
                          std::string("previous_item_id"), event_id);
  }
  if (in.id && find_item_locked(*in.id))
    return error_locked("item_exists", "An item with id '" + *in.id + "' already exists.",
                        std::string("item.id"), event_id);
  std::string text, audio;
  for (size_t i = 0; i < in.content.size(); ++i) {
    const rt::Content& c = in.content[i];
    if (c.type == rt::ContentType::kInputText && c.text) {
      text += (text.empty() ? "" : " ") + *c.text;
    } else if (c.type == rt::ContentType::kInputAudio && c.audio) {
      audio += *c.audio;
    } else {
      return error_locked("unsupported_content",
                          "A user message holds input_text (with text) or input_audio (with "
                          "audio) content.",
                          "item.content[" + std::to_string(i) + "]", event_id);
    }
  }
  if (!text.empty() && !audio.empty())
    return error_locked("unsupported_content",
                        "Earshot takes a user message as text or as audio, not both.",
                        std::string("item.content"), event_id);
  if (text.empty() && audio.empty())
    return error_locked("invalid_value", "The message has no text and no audio.",
                        std::string("item.content"), event_id);
  ItemRecord item;
  item.id = in.id ? *in.id : new_id_locked("item_", &item_counter_);
  item.role = rt::Role::kUser;
  if (!audio.empty()) {
    // The message's audio goes through the input path as a turn of its own, which the client's
    // server VAD would cut wherever it hears a pause: that needs turn_detection null.
    if (server_vad_locked())
      return error_locked("unsupported_content",
                          "An input_audio message needs turn_detection null (with server VAD, "
                          "append the audio to the input buffer instead).",
                          std::string("item.content"), event_id);
    if (bytes_since_commit_ > 0)
      return error_locked("input_audio_buffer_not_empty",
                          "Commit or clear the input audio buffer before adding an audio message.",
                          std::string("item.content"), event_id);
    partial_frame_ = audio;
    if (partial_frame_.size() % kFrameBytes)
      partial_frame_.resize((partial_frame_.size() / kFrameBytes + 1) * kFrameBytes, '\0');
    frames_to_core_locked(now_ms, actions);
    actions->push_back([](ConversationPort& port) { port.commit_input(); });
    item.audio = true;
    if (!open_turn_.empty()) {
      bind_turn_locked(open_turn_, item.id);
      open_turn_.clear();
    } else {
      unbound_items_.push_back(item.id);
    }
    const rt::Nullable<std::string> previous = previous_of_locked(item.id);
    const rt::Item wire = item_locked(item);
    add_item_locked(std::move(item));
    send_locked(rt::ConversationItemAdded{previous, wire});
    return;
  }
  item.text = text;
  const rt::Nullable<std::string> previous = previous_of_locked(item.id);
  const rt::Item wire = item_locked(item);
  add_item_locked(std::move(item));
  send_locked(rt::ConversationItemAdded{previous, wire});
  send_locked(rt::ConversationItemDone{previous, wire});
  actions->push_back([text](ConversationPort& port) { port.user_text(text); });
}

void RealtimeDoor::response_create(const std::optional<rt::ResponseParams>& params,
                                   const EventId& event_id, int64_t now_ms, Actions* actions) {
  if (active_)
    return error_locked("conversation_already_has_active_response",
                        "Conversation already has an active response in progress: " + active_->id +
                            ". Wait until the response is finished before creating "
                            "a new one.",
                        std::nullopt, event_id);
  rt::Session effective = session_;
  if (params) {
    if (params->has_input)
      return error_locked("unsupported_response",
                          "Earshot answers from the conversation; a response with its own input "
                          "is not supported.",
                          std::string("response.input"), event_id);
    if (params->conversation && *params->conversation == "none")
      return error_locked("unsupported_response",
                          "Earshot's responses always join the conversation (conversation: "
                          "\"none\" is not supported).",
                          std::string("response.conversation"), event_id);
    if (params->output_format && !is_pcm24k(*params->output_format))
      return error_locked("unsupported_audio_format",
                          "Earshot sends audio/pcm at 24000 Hz only (pcm16 mono).",
                          std::string("response.audio.output.format"), event_id);
    if (params->instructions) effective.instructions = params->instructions;
    if (params->output_modalities) effective.output_modalities = params->output_modalities;
    if (params->voice) effective.voice = params->voice;
  }
  auto r = std::make_unique<Response>();
  r->serial = ++response_serial_;
  r->id = new_id_locked("resp_", &response_counter_);
  r->created_ms = now_ms;
  r->audio = !effective.output_modalities || effective.output_modalities->empty() ||
             effective.output_modalities->front() == rt::Modality::kAudio;
  r->voice = effective.voice;
  // Overrides hold until this response is done (the core answers from the settings it has when
  // it starts the reply); then the session's own settings come back.
  if (params && (params->instructions || params->output_modalities || params->voice)) {
    r->restore_settings = true;
    const ConversationSettings settings = settings_for(effective);
    actions->push_back([settings](ConversationPort& port) { port.update(settings); });
  }
  rt::Response wire;
  wire.id = r->id;
  wire.conversation_id = "conv_" + config_.session_id;
  wire.output_modalities = {r->audio ? rt::Modality::kAudio : rt::Modality::kText};
  wire.output_format = rt::AudioFormat{"audio/pcm", rt::kSampleRate};
  wire.voice = r->voice;
  active_ = std::move(r);
  send_locked(rt::ResponseCreated{wire});
  actions->push_back([](ConversationPort& port) { port.respond(); });
}

void RealtimeDoor::response_cancel(const std::optional<std::string>& response_id,
                                   const EventId& event_id, Actions* actions) {
  if (!active_)
    return error_locked("response_cancel_not_active", "There is no response in progress to cancel.",
                        std::nullopt, event_id);
  if (response_id && *response_id != active_->id)
    return error_locked("response_cancel_not_active",
                        "Response '" + *response_id + "' is not in progress.",
                        std::string("response_id"), event_id);
  if (!active_->started) ++skip_replies_;  // its reply, when the core starts it, is dropped
  cancel_locked(*active_, "client_cancelled", std::nullopt, actions);
}

void RealtimeDoor::truncate(const rt::ConversationItemTruncate& t, const EventId& event_id,
                            Actions* actions) {
  ItemRecord* item = find_item_locked(t.item_id);
  if (!item)
    return error_locked("item_not_found", "No item with id '" + t.item_id + "'.",
                        std::string("item_id"), event_id);
  if (item->role != rt::Role::kAssistant || !item->audio)
    return error_locked("invalid_value", "Only an assistant message with audio can be truncated.",
                        std::string("item_id"), event_id);
  if (t.content_index != 0)
    return error_locked("invalid_value", "The item has one content part: content_index 0.",
                        std::string("content_index"), event_id);
  if (t.audio_end_ms > item->audio_sent_ms)
    return error_locked("invalid_value",
                        "audio_end_ms " + std::to_string(t.audio_end_ms) +
                            " is past the item's audio (" + std::to_string(item->audio_sent_ms) +
                            " ms sent).",
                        std::string("audio_end_ms"), event_id);
  // What was not heard is not kept: the transcript goes (the core keeps what was heard).
  item->text.clear();
  const std::string reply_id = item->reply_id;
  const std::string item_id = item->id;
  if (active_ && active_->item_id == item_id && active_->status == "in_progress") {
    // Still playing: the client stopped it there. The response ends, cut.
    cancel_locked(*active_, "client_cancelled", t.audio_end_ms, actions);
  } else {
    const PlayedReport report{reply_id, t.audio_end_ms, std::nullopt};
    actions->push_back([report](ConversationPort& port) { port.played(report); });
  }
  send_locked(rt::ConversationItemTruncated{item_id, t.content_index, t.audio_end_ms});
}

// ------------------------------------------------------------------------------------------------
// Responses.

RealtimeDoor::Response* RealtimeDoor::response_of_locked(const std::string& reply_id) {
  if (active_ && active_->started && active_->reply_id == reply_id) return active_.get();
  return nullptr;
}

// The item's closing events: its content part, the item, done (also when cut short).
void RealtimeDoor::finish_parts_locked(Response& r) {
  if (r.parts_done) return;
  r.parts_done = true;
  if (!r.started) return;
  const rt::PartRef ref{r.id, r.item_id, 0, 0};
  rt::Content part;
  if (r.audio) {
    send_locked(rt::ResponseOutputAudioDone{ref});
    send_locked(rt::ResponseOutputAudioTranscriptDone{ref, r.text});
    part.type = rt::ContentType::kAudio;
    part.transcript = std::optional<std::string>(r.text);
  } else {
    send_locked(rt::ResponseOutputTextDone{ref, r.text});
    part.type = rt::ContentType::kText;
    part.text = r.text;
  }
  send_locked(rt::ResponseContentPartDone{ref, part});
  ItemRecord* item = find_item_locked(r.item_id);
  if (!item) return;
  item->text = r.text;
  item->status =
      r.status == "in_progress" ? rt::ItemStatus::kCompleted : rt::ItemStatus::kIncomplete;
  const rt::Item wire = item_locked(*item);
  send_locked(rt::ResponseOutputItemDone{r.id, 0, wire});
  send_locked(rt::ConversationItemDone{previous_of_locked(item->id), wire});
}

// Stops the response now: no more of its audio leaves, its closing events and response.done go
// out, and the core hears what the client may have played (what was written, or `played_ms`).
void RealtimeDoor::cancel_locked(Response& r, const char* reason, std::optional<uint64_t> played_ms,
                                 Actions* actions) {
  if (r.status != "in_progress") return;
  r.status = "cancelled";
  r.reason = reason;
  outbox_->clear_audio();
  finish_parts_locked(r);
  if (r.started) {
    // Without the client's word, what was written is what may have been heard.
    const PlayedReport report{r.reply_id, played_ms.value_or(r.frames_sent * kFrameMs),
                              r.frames_sent};
    Action a = [report](ConversationPort& port) { port.interrupt(report); };
    if (actions) {
      actions->push_back(std::move(a));
    } else {
      deferred_.push_back(std::move(a));
    }
  }
  maybe_done_locked();
}

// response.done once the item's events are out and the core has finished the turn (usage) — at
// once for a cancelled or failed response. Ends the active response.
void RealtimeDoor::maybe_done_locked() {
  if (!active_) return;
  Response& r = *active_;
  if (!r.parts_done || (r.status == "in_progress" && !r.turn_done)) return;
  if (r.status == "in_progress") r.status = r.error_code ? "failed" : "completed";
  rt::Response wire;
  wire.id = r.id;
  wire.status = r.status;
  rt::StatusDetails details;
  details.type = r.status;
  details.reason = r.reason;
  if (r.error_code) {
    details.error_type = "server_error";
    details.error_code = r.error_code;
  }
  wire.status_details = details;
  if (r.started)
    if (const ItemRecord* item = find_item_locked(r.item_id))
      wire.output.push_back(item_locked(*item));
  wire.conversation_id = "conv_" + config_.session_id;
  wire.output_modalities = {r.audio ? rt::Modality::kAudio : rt::Modality::kText};
  wire.output_format = rt::AudioFormat{"audio/pcm", rt::kSampleRate};
  wire.voice = r.voice;
  rt::Usage usage;
  if (r.usage) {
    usage.input_tokens = r.usage->prompt_tokens;
    usage.output_tokens = r.usage->completion_tokens;
    usage.total_tokens = usage.input_tokens + usage.output_tokens;
  }
  usage.input_token_details = {usage.input_tokens, 0, 0};
  usage.output_token_details = {usage.output_tokens, 0, std::nullopt};
  wire.usage = usage;
  send_locked(rt::ResponseDone{wire});
  if (r.restore_settings) {
    const ConversationSettings settings = settings_for(session_);
    deferred_.push_back([settings](ConversationPort& port) { port.update(settings); });
  }
  active_.reset();
}

// ------------------------------------------------------------------------------------------------
// The conversation's side (core threads).

void RealtimeDoor::acknowledged(uint64_t) {
  // The API has no acknowledgements: what the core stored is its business.
}

void RealtimeDoor::speech_started(const std::string& turn_id, uint64_t audio_ms) {
  std::lock_guard<std::mutex> lock(mutex_);
  open_turn_ = turn_id;
  if (!server_vad_locked()) return;  // without server VAD the client's commit makes the item
  ItemRecord item;
  item.id = new_id_locked("item_", &item_counter_);
  item.role = rt::Role::kUser;
  item.audio = true;
  // The API counts the item's audio from its prefix padding on, which the core keeps with it.
  const auto& vad = **session_.turn_detection;
  const uint64_t pad =
      uint64_t(std::max(0, vad.prefix_padding_ms.value_or(kDefaultPrefixPaddingMs)));
  item.audio_start_ms = audio_ms > pad ? audio_ms - pad : 0;
  bind_turn_locked(turn_id, item.id);
  send_locked(rt::InputAudioBufferSpeechStarted{item.audio_start_ms, item.id});
  open_item_ = std::move(item);
}

void RealtimeDoor::speech_stopped(const std::string& turn_id, uint64_t audio_ms) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!open_item_ || open_turn_ != turn_id) return;
  ItemRecord item = std::move(*open_item_);
  open_item_.reset();
  open_turn_.clear();
  item.audio_end_ms = std::max(audio_ms, item.audio_start_ms);
  bytes_since_commit_ = 0;  // the server committed the buffer
  send_locked(rt::InputAudioBufferSpeechStopped{item.audio_end_ms, item.id});
  // The turn is over for the client (OpenAI commits at speech_stopped); the bridge's speech
  // buffer counts from here the bytes of the next turn.
  commit_item_locked(std::move(item));
}

// The user item of a core turn: bound when its speech started (server VAD), else — a turn the
// client committed — the oldest committed item still waiting for its transcript.
RealtimeDoor::ItemRecord* RealtimeDoor::user_item_of_turn_locked(const std::string& turn_id) {
  for (const auto& [turn, item] : turn_items_)
    if (turn == turn_id) return item.empty() ? nullptr : find_item_locked(item);
  if (unbound_items_.empty()) return nullptr;
  const std::string item = unbound_items_.front();
  unbound_items_.pop_front();
  bind_turn_locked(turn_id, item);
  return find_item_locked(item);
}

void RealtimeDoor::transcript(const std::string& turn_id, const std::string& text, bool final,
                              const std::string&) {
  std::lock_guard<std::mutex> lock(mutex_);
  const bool open = open_item_ && open_turn_ == turn_id;
  if (!final) {
    // Partial transcripts come while the person speaks (the core's recogniser streams): deltas of
    // the item speech_started named. They are whole hypotheses; the API streams deltas, so what
    // extends what was sent goes out, and a revision waits for the final transcript.
    if (!open) return;
    std::string& sent = partials_[open_item_->id];
    if (text.size() > sent.size() && text.compare(0, sent.size(), sent) == 0) {
      send_locked(rt::InputAudioTranscriptionDelta{open_item_->id, 0, text.substr(sent.size())});
      sent = text;
    }
    return;
  }
  if (open) {
    // The turn ended without speech_stopped (the connection closing, say): commit it now.
    ItemRecord item = std::move(*open_item_);
    open_item_.reset();
    open_turn_.clear();
    commit_item_locked(std::move(item));
  }
  ItemRecord* item = user_item_of_turn_locked(turn_id);
  if (!item || !item->audio || item->transcribed) return;
  partials_.erase(item->id);
  item->text = text;
  item->transcribed = true;
  const double seconds =
      double(item->audio_end_ms > item->audio_start_ms ? item->audio_end_ms - item->audio_start_ms
                                                       : 0) /
      1000.0;
  send_locked(rt::InputAudioTranscriptionCompleted{item->id, 0, text, seconds});
  send_locked(rt::ConversationItemDone{previous_of_locked(item->id), item_locked(*item)});
}

void RealtimeDoor::reply_started(const std::string& reply_id, const std::string&) {
  std::lock_guard<std::mutex> lock(mutex_);
  core_reply_ = reply_id;
  if (skip_replies_ > 0) {
    // The client cancelled this response before the core began it.
    --skip_replies_;
    const PlayedReport report{reply_id, 0};
    deferred_.push_back([report](ConversationPort& port) { port.interrupt(report); });
    return;
  }
  if (active_ && active_->started) {
    // A new reply while one is open: the old one is over (the core moved on).
    cancel_locked(*active_, "turn_detected", std::nullopt, nullptr);
  }
  if (!active_) {
    // The core answers a turn on its own (server VAD, create_response).
    auto r = std::make_unique<Response>();
    r->serial = ++response_serial_;
    r->id = new_id_locked("resp_", &response_counter_);
    r->audio = !session_.output_modalities || session_.output_modalities->empty() ||
               session_.output_modalities->front() == rt::Modality::kAudio;
    r->voice = session_.voice;
    rt::Response wire;
    wire.id = r->id;
    wire.conversation_id = "conv_" + config_.session_id;
    wire.output_modalities = {r->audio ? rt::Modality::kAudio : rt::Modality::kText};
    wire.output_format = rt::AudioFormat{"audio/pcm", rt::kSampleRate};
    wire.voice = r->voice;
    active_ = std::move(r);
    send_locked(rt::ResponseCreated{wire});
  }
  Response& r = *active_;
  r.started = true;
  r.reply_id = reply_id;
  ItemRecord item;
  item.id = new_id_locked("item_", &item_counter_);
  item.role = rt::Role::kAssistant;
  item.audio = r.audio;
  item.status = rt::ItemStatus::kInProgress;
  item.reply_id = reply_id;
  r.item_id = item.id;
  const rt::Nullable<std::string> previous = previous_of_locked(item.id);
  const rt::Item wire = item_locked(item);
  add_item_locked(std::move(item));
  send_locked(rt::ResponseOutputItemAdded{r.id, 0, wire});
  send_locked(rt::ConversationItemAdded{previous, wire});
  rt::Content part;
  if (r.audio) {
    part.type = rt::ContentType::kAudio;
    part.transcript = std::optional<std::string>("");
  } else {
    part.type = rt::ContentType::kText;
    part.text = "";
  }
  send_locked(rt::ResponseContentPartAdded{{r.id, r.item_id, 0, 0}, part});
}

void RealtimeDoor::reply_text(const std::string& reply_id, const std::string&,
                              const std::string& delta) {
  std::lock_guard<std::mutex> lock(mutex_);
  Response* r = response_of_locked(reply_id);
  if (!r || r->status != "in_progress" || r->parts_done || delta.empty()) return;
  r->text += delta;
  const rt::PartRef ref{r->id, r->item_id, 0, 0};
  if (r->audio) {
    send_locked(rt::ResponseOutputAudioTranscriptDelta{ref, delta});
  } else {
    send_locked(rt::ResponseOutputTextDelta{ref, delta});
  }
}

void RealtimeDoor::reply_text_done(const std::string& reply_id, const std::string&) {
  std::lock_guard<std::mutex> lock(mutex_);
  Response* r = response_of_locked(reply_id);
  if (!r || r->status != "in_progress") return;
  // A text response is complete with its text; a spoken one once its audio has gone out.
  if (!r->audio) {
    finish_parts_locked(*r);
    maybe_done_locked();
  }
}

void RealtimeDoor::reply_audio_started(const std::string& reply_id, const std::string&) {
  std::lock_guard<std::mutex> lock(mutex_);
  Response* r = response_of_locked(reply_id);
  if (!r || !r->audio || r->status != "in_progress") return;
  r->audio_started = true;
  outbox_->open_audio();
}

void RealtimeDoor::reply_sentence(const std::string&, uint32_t, const std::string&, uint64_t) {
  // The API has no sentence marks; the transcript deltas carry the text.
}

bool RealtimeDoor::reply_audio(const std::string& reply_id, uint64_t, const float* pcm,
                               size_t samples, int64_t due_ms, int64_t) {
  rt::ServerEvent event;
  uint64_t serial = 0, index = 0;
  int64_t due = 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Response* r = response_of_locked(reply_id);
    if (!r || !r->audio || !r->audio_started || r->status != "in_progress" || r->parts_done)
      return false;
    serial = r->serial;
    index = r->frames_pushed++;
    // Due back to back from the first frame; never before the core made it.
    r->next_due_ms = std::max(r->next_due_ms, due_ms);
    due = r->next_due_ms;
    r->next_due_ms += kFrameMs;
    event.event_id = new_id_locked("event_", &event_counter_);
    event.body =
        rt::ResponseOutputAudioDelta{{r->id, r->item_id, 0, 0}, pcm16_from_float(pcm, samples)};
  }
  std::weak_ptr<RealtimeDoor> self = weak_from_this();
  // May block while the Outbox holds its 10 s of audio: this holds the voice stage back.
  const bool queued = outbox_->push_audio(
      rt::to_json(event), due,
      [self, serial, index](int64_t sent_ms) {
        if (auto door = self.lock()) door->audio_frame_sent(serial, index, sent_ms);
      },
      due_ms);  // the core's due_ms is its clock's now
  std::lock_guard<std::mutex> lock(mutex_);
  const Response* r = response_of_locked(reply_id);
  return queued && r && r->serial == serial && r->status == "in_progress";
}

// Event loop: a delta left for the client.
void RealtimeDoor::audio_frame_sent(uint64_t serial, uint64_t index, int64_t sent_ms) {
  Actions actions;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!active_ || active_->serial != serial) return;
    Response& r = *active_;
    if (index == 0) {
      const std::string reply_id = r.reply_id;
      actions.push_back([reply_id, sent_ms](ConversationPort& port) {
        port.first_frame_sent(reply_id, sent_ms);
      });
    }
    r.frames_sent = std::max(r.frames_sent, index + 1);
    if (ItemRecord* item = find_item_locked(r.item_id))
      item->audio_sent_ms = r.frames_sent * kFrameMs;
    if (r.status == "in_progress" && !r.parts_done && (r.audio_ended || r.turn_done) &&
        r.frames_sent >= r.frames_pushed) {
      // The last delta is out: the client has the whole reply. Close it, and tell the core it
      // was played (the client says otherwise with conversation.item.truncate).
      finish_parts_locked(r);
      const PlayedReport report{r.reply_id, r.frames_sent * kFrameMs, std::nullopt};
      actions.push_back([report](ConversationPort& port) { port.played(report); });
      maybe_done_locked();
    }
  }
  run(actions);
}

void RealtimeDoor::reply_audio_ended(const std::string& reply_id, uint64_t, bool interrupted) {
  std::lock_guard<std::mutex> lock(mutex_);
  Response* r = response_of_locked(reply_id);
  if (!r || r->status != "in_progress") return;
  if (interrupted) {
    // Refused because the socket closed (the server detaches the outbox before this door is
    // stopped): the client left, and stop() says so with what had left. Not a cut.
    if (outbox_->detached()) return;
    return cancel_locked(*r, "turn_detected", std::nullopt, nullptr);
  }
  r->audio_ended = true;
  if (!r->parts_done && r->frames_sent >= r->frames_pushed) {
    finish_parts_locked(*r);
    if (r->audio_started) {
      const PlayedReport report{r->reply_id, r->frames_sent * kFrameMs, std::nullopt};
      deferred_.push_back([report](ConversationPort& port) { port.played(report); });
    }
    maybe_done_locked();
  }
}

// Ingress thread: the person spoke over the reply (server VAD). The core has stopped it; the door
// stops its audio, closes the response, and — from the event loop — reports what had been
// written as what may have been played (the core waits for that report otherwise).
uint64_t RealtimeDoor::reply_interrupted(const std::string& reply_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  Response* r = response_of_locked(reply_id);
  if (!r) return 0;
  const uint64_t on_wire = r->frames_sent;
  cancel_locked(*r, "turn_detected", std::nullopt, nullptr);
  return on_wire;
}

void RealtimeDoor::turn_done(const TurnReport& report) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (report.reply_id == core_reply_) core_reply_.clear();
  Response* r = response_of_locked(report.reply_id);
  if (!r) return;
  r->turn_done = true;
  r->usage = report.usage;
  if (!report.error.empty() && r->status == "in_progress") r->error_code = "reply_failed";
  // Audio still on its way out closes the response when its last delta leaves.
  if (!r->parts_done && (!r->audio || !r->audio_started || r->frames_sent >= r->frames_pushed))
    finish_parts_locked(*r);
  maybe_done_locked();
}

void RealtimeDoor::error(const std::string& code, const std::string& message) {
  std::lock_guard<std::mutex> lock(mutex_);
  const bool client = code == "input_audio_buffer_commit_empty";
  error_locked(code, message, std::nullopt, std::nullopt,
               client ? "invalid_request_error" : "server_error");
}

void RealtimeDoor::close(uint16_t code, const std::string& reason) {
  outbox_->request_close(code, reason);
}

}  // namespace earshot::host
