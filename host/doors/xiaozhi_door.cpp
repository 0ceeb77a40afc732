#include "host/doors/xiaozhi_door.h"

#include <algorithm>
#include <type_traits>
#include <variant>

#include "dsp/opus_frame_decoder.h"
#include "dsp/opus_frame_encoder.h"
#include "host/clock.h"
#include "host/doors/device_tool_provider.h"
#include "host/log.h"
#include "protocol/messages.h"
#include "protocol/xiaozhi/binary.h"

namespace earshot::host {

namespace xz = protocol::xiaozhi;

namespace {
constexpr int kCoreFrameMs = 20;  // the core's reply frames
constexpr int kFramesPerPacket = XiaozhiDoor::kPacketMs / kCoreFrameMs;
constexpr int kMaxViolations = 50;     // malformed messages tolerated before the link is closed
constexpr int kPrefixPaddingMs = 300;  // audio before the speech that its turn keeps
constexpr size_t kMaxPacketBytes = 4000;
}  // namespace

XiaozhiDoor::XiaozhiDoor(Config config, std::shared_ptr<Outbox> outbox, PortFactory make_port,
                         Metrics& metrics, int64_t now_ms)
    : config_(std::move(config)),
      outbox_(std::move(outbox)),
      make_port_(std::move(make_port)),
      metrics_(metrics),
      // Not the door's `this`: a tool call may still be on its way out after the door is gone.
      tools_(std::make_shared<DeviceTools>([outbox = outbox_,
                                            session = config_.session_id](std::string payload) {
        outbox->push_control(xz::to_json(xz::ServerMessage{session, xz::Mcp{std::move(payload)}}));
      })),
      opened_ms_(now_ms),
      next_seq_(config_.first_seq),
      rate_(int64_t(config_.audio_burst_s) * 1000, config_.audio_rate_slack) {
  // Reply audio goes over TCP, where in-band FEC never helps (as the earshot.v1 door).
  dsp::OpusEncoderSettings es;
  es.sample_rate = config_.output_rate;
  es.frame_ms = kPacketMs;
  es.inband_fec = false;
  es.expected_loss_percent = 0;
  std::string error;
  encoder_ = dsp::OpusFrameEncoder::create(es, &error);
  if (!encoder_) LOG_ERROR("xiaozhi", "%s: %s", config_.session_id.c_str(), error.c_str());
  packet_pcm_.assign(size_t(config_.output_rate / 1000 * kPacketMs), 0.0f);
}

XiaozhiDoor::~XiaozhiDoor() {
  stop();
}

void XiaozhiDoor::stop() {
  std::optional<PlayedReport> gone;
  std::vector<Action> pending;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!stopped_) gone = reply_in_flight_locked();
    stopped_ = true;
    // Reports the core's threads left for a tick that will not come (a reply the person spoke
    // over, one played to its end) still reach the core, before the reply still on the wire.
    pending.swap(deferred_);
  }
  outbox_->detach();  // frees a voice thread waiting for room in the outbox
  tool_registration_.reset();
  tools_->close();
  if (!port_) return;
  run(pending);
  if (gone) port_->client_gone(*gone);
  port_->stop();  // idempotent
}

// The box says nothing of what it played: of a reply it has not had to its end, it heard at most
// the packets that had left, in the core's 20 ms frames (the last packet's padding aside).
std::optional<PlayedReport> XiaozhiDoor::reply_in_flight_locked() const {
  if (wire_ && !wire_->stopped) {
    uint64_t frames = wire_->packets_sent * uint64_t(kFramesPerPacket);
    if (wire_->audio_ended) frames = std::min(frames, wire_->core_frames);
    return PlayedReport{wire_->reply_id, std::nullopt, frames};
  }
  // Answering, none of its audio out yet. (A reply whose tts stop went out was reported then.)
  if (!current_reply_.empty() && !(wire_ && wire_->reply_id == current_reply_))
    return PlayedReport{current_reply_, std::nullopt, 0};
  // No reply here, but the core may have begun one whose reply_started has not reached the door:
  // none of it left, and the core must hear so, or it keeps that reply as heard in full. With no
  // reply in flight (or one over: the core lets go of it before turn_done) it ignores this.
  if (current_reply_.empty()) return PlayedReport{std::string(), std::nullopt, 0};
  return std::nullopt;
}

// ------------------------------------------------------------------------------------------------
// Helpers (mutex_ held).

void XiaozhiDoor::send_locked(xz::ServerBody body) {
  outbox_->push_control(xz::to_json(xz::ServerMessage{config_.session_id, std::move(body)}));
}

void XiaozhiDoor::alert_locked(const std::string& message) {
  send_locked(xz::Alert{"Earshot", message, "sad"});
}

void XiaozhiDoor::violation_locked(const std::string& message) {
  metrics_.count_error(ErrorReason::kProtocolError);
  ++violations_;
  if (violations_ <= 5)
    LOG_WARN("xiaozhi", "%s (%s): %s", config_.session_id.c_str(), config_.device_id.c_str(),
             message.c_str());
  if (violations_ == 1) alert_locked(message);  // the box buzzes for each: once is enough
  if (violations_ > kMaxViolations)
    refuse_locked(protocol::kCloseProtocolError, "too many malformed messages");
}

void XiaozhiDoor::refuse_locked(uint16_t close_code, const std::string& message) {
  if (closing_) return;
  closing_ = true;
  LOG_WARN("xiaozhi", "%s (%s): closing (%u): %s", config_.session_id.c_str(),
           config_.device_id.c_str(), unsigned(close_code), message.c_str());
  alert_locked(message);
  outbox_->request_close(close_code, message.substr(0, 100));
}

ConversationSettings XiaozhiDoor::settings_for(xz::ListenMode mode) const {
  ConversationSettings c = config_.conversation;
  c.input_codec = InputCodec::kOpus;
  c.output_rate = config_.output_rate;
  // auto and realtime: the bridge hears where a turn ends; manual: the box's listen stop says.
  c.server_turn_detection = mode != xz::ListenMode::kManual;
  c.auto_respond = true;
  TurnConfig turn = config_.turn;
  turn.client_segments = false;  // the box streams everything while it listens
  c.turn = turn;
  c.prefix_padding_ms = kPrefixPaddingMs;
  return c;
}

void XiaozhiDoor::run(std::vector<Action>& actions) {
  if (!port_) return;
  for (Action& a : actions)
    a(*port_);
}

// ------------------------------------------------------------------------------------------------
// The box's messages (event loop).

void XiaozhiDoor::on_text(std::string_view text, int64_t now_ms) {
  const xz::ClientParse p = xz::parse_client_message(text);
  std::vector<Action> actions;
  std::optional<xz::ClientHello> hello_message;
  std::optional<std::string> mcp;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (closing_) return;
    if (!p.ok()) {
      if (phase_ == Phase::kAwaitingHello)
        return refuse_locked(protocol::kCloseProtocolError,
                             "the first message must be a hello: " + p.error.message);
      return violation_locked("message dropped: " + p.error.message);
    }
    const xz::ClientBody& body = p.message->body;
    if (const auto* h = std::get_if<xz::ClientHello>(&body)) {
      if (phase_ != Phase::kAwaitingHello)
        return violation_locked("hello was already received on this connection");
      hello_message = *h;
    } else if (phase_ == Phase::kAwaitingHello) {
      return refuse_locked(
          protocol::kCloseProtocolError,
          std::string("the first message must be a hello, not ") + xz::type_name(body));
    } else if (const auto* l = std::get_if<xz::Listen>(&body)) {
      listen(*l, &actions);
    } else if (std::holds_alternative<xz::Abort>(body)) {
      abort(&actions);
    } else if (const auto* m = std::get_if<xz::Mcp>(&body)) {
      mcp = m->payload;
    }
    // Notices (iot, device_status): nothing to do.
  }
  if (hello_message) hello(*hello_message, now_ms);
  if (mcp) {
    const std::string problem = tools_->on_message(*mcp, now_ms);
    if (!problem.empty())
      LOG_WARN("xiaozhi", "%s: MCP: %s", config_.session_id.c_str(), problem.c_str());
  }
  run(actions);
}

void XiaozhiDoor::hello(const xz::ClientHello& h, int64_t now_ms) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (h.transport != "websocket")
      return refuse_locked(protocol::kCloseProtocolError,
                           "transport '" + h.transport.substr(0, 32) +
                               "' in the hello: this bridge speaks websocket");
    if (h.version != config_.version)
      return refuse_locked(protocol::kCloseBadVersion,
                           "the hello says binary protocol version " + std::to_string(h.version) +
                               ", the Protocol-Version header " + std::to_string(config_.version));
    if (h.audio_params) {
      const xz::AudioParams& a = *h.audio_params;
      if (a.format != "opus" || a.sample_rate != 16000 || a.channels != 1 ||
          a.frame_duration < 10 || a.frame_duration > 120)
        return refuse_locked(protocol::kCloseBadAudio,
                             "this bridge takes Opus at 16000 Hz, mono, 10-120 ms frames; got " +
                                 a.format.substr(0, 16) + " " + std::to_string(a.sample_rate) +
                                 " Hz " + std::to_string(a.channels) + " ch " +
                                 std::to_string(a.frame_duration) + " ms");
    }
    if (!encoder_)
      return refuse_locked(protocol::kCloseInternalError, "the bridge cannot encode reply audio");
  }
  std::string error;
  port_ = make_port_(*this, settings_for(xz::ListenMode::kAuto));
  if (!port_ || !port_->start(&error)) {
    port_.reset();
    std::lock_guard<std::mutex> lock(mutex_);
    return refuse_locked(protocol::kCloseInternalError, "cannot start a session: " + error);
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    phase_ = Phase::kOpen;
    applied_mode_ = xz::ListenMode::kAuto;
    xz::ServerHello answer;
    answer.audio_params = xz::AudioParams{"opus", config_.output_rate, 1, kPacketMs};
    send_locked(answer);
  }
  LOG_INFO("xiaozhi", "%s: box %s (%s) said hello: binary protocol %d%s",
           config_.session_id.c_str(), config_.device_id.c_str(), node_id().c_str(),
           config_.version, h.features.mcp ? ", MCP" : "");
  if (h.features.mcp) {
    tools_->start(now_ms);
    if (config_.tool_registry)
      tool_registration_ = config_.tool_registry->add(
          std::make_shared<DeviceToolProvider>(tools_, config_.device_id),
          config_.conversation.conversation_id);
  }
}

void XiaozhiDoor::listen(const xz::Listen& l, std::vector<Action>* actions) {
  switch (l.state) {
    case xz::ListenState::kDetect:
      // The wake word the box heard (its audio came before, outside listening: dropped).
      LOG_INFO("xiaozhi", "%s: wake word \"%s\"", config_.session_id.c_str(),
               l.text.value_or("").substr(0, 64).c_str());
      break;
    case xz::ListenState::kStart:
      if (l.mode) mode_ = *l.mode;
      listening_ = true;
      if (applied_mode_ != mode_) {
        applied_mode_ = mode_;
        const ConversationSettings settings = settings_for(mode_);
        actions->push_back([settings](ConversationPort& port) { port.update(settings); });
      }
      break;
    case xz::ListenState::kStop:
      listening_ = false;
      // manual: the button was released, the turn is over. auto/realtime: the person ended the
      // conversation mid-turn; what they said is still answered.
      if (mode_ == xz::ListenMode::kManual || turn_open_)
        actions->push_back([](ConversationPort& port) { port.commit_input(); });
      break;
  }
}

void XiaozhiDoor::abort(std::vector<Action>* actions) {
  if (wire_ && !wire_->stopped) {
    // Barge-in must stop the audio at once, here, not after the queues drain.
    outbox_->clear_audio();
    const WireReply& w = *wire_;
    const PlayedReport report{w.reply_id, w.packets_sent * uint64_t(kPacketMs),
                              w.packets_sent * uint64_t(kFramesPerPacket)};
    actions->push_back([report](ConversationPort& port) { port.interrupt(report); });
    stop_reply_locked(false, nullptr);
  } else if (!current_reply_.empty()) {  // answering, no audio yet
    const PlayedReport report{current_reply_, 0, 0};
    actions->push_back([report](ConversationPort& port) { port.interrupt(report); });
  }
}

void XiaozhiDoor::on_binary(const uint8_t* data, size_t size, int64_t now_ms) {
  xz::AudioPacketView packet;
  const xz::BinaryError e = xz::parse_audio(config_.version, data, size, &packet);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (closing_) return;
    if (phase_ != Phase::kOpen)
      return refuse_locked(protocol::kCloseProtocolError, "audio before the hello");
    if (e != xz::BinaryError::kOk)
      return violation_locked(std::string("audio dropped (binary protocol ") +
                              std::to_string(config_.version) + "): " + xz::to_string(e));
    if (!listening_) {
      ++dropped_not_listening_;  // the wake word's audio, or audio after listen stop
      return;
    }
  }
  const int samples = dsp::opus_packet_samples(packet.payload, packet.size, 16000);
  if (samples <= 0) {
    std::lock_guard<std::mutex> lock(mutex_);
    return violation_locked("audio dropped: not an Opus packet");
  }
  if (!rate_.admit(now_ms, samples / 16)) {
    metrics_.count_error(ErrorReason::kClientTooFast);
    std::lock_guard<std::mutex> lock(mutex_);
    return refuse_locked(protocol::kCloseTooFast,
                         "audio is arriving faster than real time beyond the allowed burst of " +
                             std::to_string(config_.audio_burst_s) + " s");
  }
  AudioIn in;
  in.seq = next_seq_++;
  in.timestamp = timestamp_;
  in.payload = packet.payload;
  in.size = packet.size;
  in.arrived_ms = now_ms;
  timestamp_ += uint64_t(samples);
  port_->audio(in);
}

void XiaozhiDoor::on_oversized(bool binary, size_t limit) {
  std::lock_guard<std::mutex> lock(mutex_);
  violation_locked(std::string(binary ? "an audio message" : "a message") + " larger than " +
                   std::to_string(limit) + " bytes was dropped");
}

void XiaozhiDoor::on_tick(int64_t now_ms) {
  std::vector<Action> actions;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (phase_ == Phase::kAwaitingHello && now_ms - opened_ms_ > config_.hello_timeout_ms)
      refuse_locked(protocol::kCloseHandshakeTimeout,
                    "no hello within " + std::to_string(config_.hello_timeout_ms) + " ms");
    // The reply's audio is all written and has had time to play: tts stop (the firmware flushes
    // what it has not played when it hears it).
    if (wire_ && !wire_->stopped && wire_->audio_ended &&
        wire_->packets_sent >= wire_->packets_pushed && now_ms >= wire_->last_due_ms + kPacketMs)
      stop_reply_locked(true, &actions);
    actions.insert(actions.end(), std::make_move_iterator(deferred_.begin()),
                   std::make_move_iterator(deferred_.end()));
    deferred_.clear();
  }
  tools_->on_tick(now_ms);
  run(actions);
}

Conversation::InputPace XiaozhiDoor::input_pace() const {
  return port_ ? port_->input_pace() : Conversation::InputPace::kResume;
}

std::string XiaozhiDoor::state() const {
  std::lock_guard<std::mutex> lock(mutex_);
  if (phase_ == Phase::kAwaitingHello) return "connecting";
  if (wire_ && !wire_->stopped) return "speaking";
  return listening_ ? "listening" : "idle";
}

// tts stop for the reply on the wire. `played`: it played to its end — the core hears so (with
// `actions`); otherwise the caller has told the core already.
void XiaozhiDoor::stop_reply_locked(bool played, std::vector<Action>* actions) {
  WireReply& w = *wire_;
  if (w.stopped) return;
  w.stopped = true;
  send_locked(xz::Tts{xz::TtsState::kStop, std::nullopt});
  if (played && actions) {
    const PlayedReport report{w.reply_id, w.core_frames * uint64_t(kCoreFrameMs), std::nullopt};
    actions->push_back([report](ConversationPort& port) { port.played(report); });
  }
}

// ------------------------------------------------------------------------------------------------
// The conversation's side (core threads).

void XiaozhiDoor::speech_started(const std::string&, uint64_t) {
  std::lock_guard<std::mutex> lock(mutex_);
  turn_open_ = true;
}

void XiaozhiDoor::speech_stopped(const std::string&, uint64_t) {
  std::lock_guard<std::mutex> lock(mutex_);
  turn_open_ = false;
}

void XiaozhiDoor::transcript(const std::string&, const std::string& text, bool final,
                             const std::string&) {
  // The firmware shows stt as the person's line of the chat: the final text only.
  if (!final || text.empty()) return;
  std::lock_guard<std::mutex> lock(mutex_);
  send_locked(xz::Stt{text});
}

void XiaozhiDoor::reply_started(const std::string& reply_id, const std::string&) {
  std::lock_guard<std::mutex> lock(mutex_);
  current_reply_ = reply_id;
  // The face while the answer comes. The bridge does not read emotions from the reply (yet).
  send_locked(xz::Llm{"neutral", "🙂"});
}

// Voice thread: the reply's first sentence (announced before its audio) or its first frame,
// whichever comes first, puts the reply on the wire: tts start.
bool XiaozhiDoor::begin_wire_locked(const std::string& reply_id) {
  if (closing_) return false;
  if (wire_ && wire_->reply_id == reply_id) return !wire_->stopped;
  packet_fill_ = 0;
  packet_index_ = 0;
  next_due_ms_ = 0;
  if (encoder_) encoder_->reset();
  if (wire_ && !wire_->stopped) stop_reply_locked(true, &deferred_);  // the last one's stop
  WireReply w;
  w.serial = ++reply_serial_;
  w.reply_id = reply_id;
  wire_ = std::move(w);
  outbox_->open_audio();
  send_locked(xz::Tts{xz::TtsState::kStart, std::nullopt});
  return true;
}

void XiaozhiDoor::reply_audio_started(const std::string& reply_id, const std::string&) {
  std::lock_guard<std::mutex> lock(mutex_);
  begin_wire_locked(reply_id);
}

void XiaozhiDoor::reply_sentence(const std::string& reply_id, uint32_t, const std::string& text,
                                 uint64_t) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!begin_wire_locked(reply_id)) return;
  send_locked(xz::Tts{xz::TtsState::kSentenceStart, text});
}

bool XiaozhiDoor::reply_audio(const std::string& reply_id, uint64_t, const float* pcm,
                              size_t samples, int64_t due_ms, int64_t speech_end_ms) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (closing_ || !wire_ || wire_->reply_id != reply_id || wire_->stopped) return false;
  }
  if (packet_fill_ == 0) packet_due_ms_ = std::max(next_due_ms_, due_ms);
  const size_t n = std::min(samples, packet_pcm_.size() - packet_fill_);
  std::copy(pcm, pcm + n, packet_pcm_.begin() + long(packet_fill_));
  packet_fill_ += n;
  if (packet_fill_ < packet_pcm_.size()) return true;
  return push_packet(reply_id, due_ms, speech_end_ms);
}

// Voice thread: the 60 ms packet is full (or the reply ended: padded with silence).
bool XiaozhiDoor::push_packet(const std::string& reply_id, int64_t now_ms, int64_t speech_end_ms) {
  uint8_t opus[kMaxPacketBytes];
  const int bytes = encoder_->encode(packet_pcm_.data(), opus, sizeof opus);
  packet_fill_ = 0;
  const int64_t due = packet_due_ms_;
  next_due_ms_ = due + kPacketMs;
  if (bytes <= 0) return true;  // an encoder hiccup costs one packet, not the reply
  uint8_t wire[xz::kMaxBinaryBytes];
  const size_t size = xz::write_audio(config_.version, uint32_t(packet_index_ * kPacketMs), opus,
                                      size_t(bytes), wire, sizeof wire);
  ++packet_index_;
  if (size == 0) return true;
  uint64_t serial = 0, index = 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!wire_ || wire_->reply_id != reply_id || wire_->stopped) return false;
    serial = wire_->serial;
    index = wire_->packets_pushed++;
    wire_->last_due_ms = due;
  }
  std::weak_ptr<XiaozhiDoor> self = weak_from_this();
  Metrics* metrics = &metrics_;
  // May block while the Outbox holds its fill of audio: this holds the voice stage back.
  const bool queued = outbox_->push_audio(
      std::string(reinterpret_cast<const char*>(wire), size), due,
      [self, serial, index, metrics, speech_end_ms](int64_t sent_ms) {
        if (index == 0) metrics->first_frame_sent.observe_ms(double(sent_ms - speech_end_ms));
        if (auto door = self.lock()) door->packet_sent(serial, index, sent_ms);
      },
      now_ms);
  std::lock_guard<std::mutex> lock(mutex_);
  return queued && wire_ && wire_->serial == serial && !wire_->stopped;
}

// Event loop: a packet left for the box.
void XiaozhiDoor::packet_sent(uint64_t serial, uint64_t index, int64_t sent_ms) {
  std::string reply_id;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!wire_ || wire_->serial != serial) return;
    wire_->packets_sent = std::max(wire_->packets_sent, index + 1);
    if (index != 0) return;
    reply_id = wire_->reply_id;
  }
  if (port_) port_->first_frame_sent(reply_id, sent_ms);
}

void XiaozhiDoor::reply_audio_ended(const std::string& reply_id, uint64_t frames,
                                    bool interrupted) {
  if (!interrupted && packet_fill_ > 0 && encoder_) {
    std::fill(packet_pcm_.begin() + long(packet_fill_), packet_pcm_.end(), 0.0f);
    push_packet(reply_id, monotonic_ms(), monotonic_ms());
  }
  packet_fill_ = 0;
  std::lock_guard<std::mutex> lock(mutex_);
  if (!wire_ || wire_->reply_id != reply_id) return;
  wire_->audio_ended = true;
  wire_->core_frames = frames;
  // Refused because the socket closed (the server detaches the outbox before this door is
  // stopped): the box left, and stop() says so with what had left. Otherwise the core cut it.
  if (interrupted && !wire_->stopped && !outbox_->detached()) {
    outbox_->clear_audio();
    stop_reply_locked(false, nullptr);  // the core cut it: it knows
  }
  // Otherwise on_tick() says tts stop once the last packet is out and played.
}

// Ingress thread: the person spoke over the reply (realtime mode); the core has stopped it.
uint64_t XiaozhiDoor::reply_interrupted(const std::string& reply_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!wire_ || wire_->reply_id != reply_id) return 0;
  outbox_->clear_audio();
  const WireReply& w = *wire_;
  const uint64_t on_wire = w.packets_sent * uint64_t(kFramesPerPacket);
  // The box says nothing of what it played: what was written is what it may have played. A reply
  // voiced to its end counts as cut only with such a report (the core waits for it).
  const PlayedReport report{w.reply_id, w.packets_sent * uint64_t(kPacketMs), on_wire};
  deferred_.push_back([report](ConversationPort& port) { port.interrupt(report); });
  stop_reply_locked(false, nullptr);
  return on_wire;
}

void XiaozhiDoor::turn_done(const TurnReport& report) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (report.reply_id == current_reply_) current_reply_.clear();
}

void XiaozhiDoor::error(const std::string& code, const std::string& message) {
  std::lock_guard<std::mutex> lock(mutex_);
  LOG_WARN("xiaozhi", "%s: %s: %s", config_.session_id.c_str(), code.c_str(), message.c_str());
  // A listen stop with nothing heard since the last turn is no fault of the box's.
  if (code == "input_audio_buffer_commit_empty") return;
  alert_locked(message);
}

void XiaozhiDoor::close(uint16_t code, const std::string& reason) {
  outbox_->request_close(code, reason);
}

}  // namespace earshot::host
