#include "host/doors/earshot_v1_door.h"

#include <algorithm>
#include <cmath>

#include "dsp/audio_format.h"
#include "dsp/opus_frame_encoder.h"
#include "host/clock.h"
#include "host/log.h"

namespace earshot::host {
namespace {
bool has(const std::vector<std::string>& list, const char* item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

ConversationSettings settings_for(const std::string& session_id, const protocol::Hello& hello) {
  ConversationSettings s;
  s.conversation_id = session_id;
  s.client_id = hello.node_id;
  s.room = hello.room.value_or("");
  s.language = hello.language.value_or("");
  s.ambient = hello.mode == protocol::Mode::kAmbient;
  s.input_codec = hello.audio.codec == "pcm16" ? InputCodec::kPcm16 : InputCodec::kOpus;
  s.input_rate = int(hello.audio.sample_rate);
  s.output_rate = dsp::kSampleRate;
  return s;
}
}  // namespace

EarshotV1Door::EarshotV1Door(Services& services, std::shared_ptr<Outbox> outbox,
                             std::string session_id, protocol::Hello hello, NodeLease lease)
    : services_(services),
      outbox_(std::move(outbox)),
      session_id_(std::move(session_id)),
      hello_(std::move(hello)),
      pcm16_(hello_.audio.codec == "pcm16"),
      timings_(has(hello_.capabilities, protocol::kCapabilityTurnTimings)),
      conversation_(std::make_shared<Conversation>(services, settings_for(session_id_, hello_),
                                                   std::move(lease), *this)) {}

EarshotV1Door::~EarshotV1Door() {
  stop();
}

bool EarshotV1Door::start(std::string* error) {
  if (!pcm16_) {
    // Reply audio goes over TCP, where in-band FEC never helps: its bits go to the speech.
    // (Complexity 5 would halve the encoder's cost — the bridge's largest at 300 sessions — but
    // the browser test's re-recognised reply got worse than its bound: 0.37 against 0.35.)
    dsp::OpusEncoderSettings es;
    es.inband_fec = false;
    es.expected_loss_percent = 0;
    encoder_ = dsp::OpusFrameEncoder::create(es, error);
    if (!encoder_) return false;
  }
  return conversation_->start(error);
}

void EarshotV1Door::stop() {
  PlayedReport wire;
  {
    std::lock_guard<std::mutex> lock(reply_mutex_);
    if (stopped_) return;
    stopped_ = true;
    if (wire_started_) wire.reply_id = wire_reply_id_;
  }
  wire.frames_on_wire = frames_on_wire();
  services_.metrics.reply_frames_dropped_total.fetch_add(outbox_->audio_dropped() +
                                                         outbox_->audio_queued());
  outbox_->detach();  // frees a voice thread waiting for room in the outbox
  // The client will not say what it heard of a reply in flight: no more than what was sent.
  conversation_->client_gone(wire);
  conversation_->stop();
}

void EarshotV1Door::on_audio(const protocol::AudioFrameView& frame) {
  AudioIn in;
  in.seq = frame.header.seq;
  in.timestamp = frame.header.timestamp;
  in.flags = frame.header.flags;
  in.payload = frame.payload;
  in.size = frame.payload_size;
  in.arrived_ms = monotonic_ms();
  conversation_->audio(in);
}

void EarshotV1Door::on_message(const protocol::Message& message) {
  if (auto* i = std::get_if<protocol::Interrupt>(&message)) {
    // Barge-in must stop audio at once, on this thread, not after the queues drain.
    audio_sent_at_interrupt_.store(int64_t(outbox_->audio_sent()));
    outbox_->clear_audio();
    conversation_->interrupt(PlayedReport{i->reply_id, i->played_ms, frames_on_wire()});
  } else if (auto* d = std::get_if<protocol::PlaybackDone>(&message)) {
    conversation_->played(PlayedReport{d->reply_id, d->played_ms, std::nullopt});
  } else if (auto* m = std::get_if<protocol::ModeChange>(&message)) {
    conversation_->set_ambient(m->mode == protocol::Mode::kAmbient);
  }
  // speech_start / speech_end are informational: the frames' flags are authoritative.
}

Conversation::InputPace EarshotV1Door::input_pace() const {
  return conversation_->input_pace();
}

uint64_t EarshotV1Door::frames_on_wire() const {
  std::lock_guard<std::mutex> lock(reply_mutex_);
  if (!wire_started_) return 0;
  const uint64_t sent = outbox_->audio_sent();
  return sent - std::min(sent, sent_at_start_);
}

// --- what the conversation says ------------------------------------------------------------------

void EarshotV1Door::acknowledged(uint64_t seq) {
  send(protocol::Ack{seq});
}

void EarshotV1Door::transcript(const std::string& turn_id, const std::string& text, bool final,
                               const std::string& language) {
  protocol::Transcript t;
  t.turn_id = turn_id;
  t.text = text;
  t.final = final;
  if (!language.empty()) t.language = language;
  send(t);
}

void EarshotV1Door::reply_text(const std::string& reply_id, const std::string& turn_id,
                               const std::string& delta) {
  protocol::ReplyText rt;
  rt.reply_id = reply_id;
  rt.turn_id = turn_id;
  rt.delta = delta;
  send(rt);
}

void EarshotV1Door::reply_text_done(const std::string& reply_id, const std::string& turn_id) {
  protocol::ReplyText done;
  done.reply_id = reply_id;
  done.turn_id = turn_id;
  done.final = true;
  send(done);
}

void EarshotV1Door::reply_audio_started(const std::string& reply_id, const std::string& turn_id) {
  protocol::SpeechOutStart start;
  {
    std::lock_guard<std::mutex> lock(reply_mutex_);
    outbox_->open_audio();
    wire_reply_id_ = reply_id;
    wire_started_ = true;
    sent_at_start_ = outbox_->audio_sent();
    if (reply_id == announcement_id_) start.reason = protocol::kSpeechReasonAnnouncement;
  }
  next_due_ms_ = monotonic_ms();
  start.reply_id = reply_id;
  start.turn_id = turn_id;
  start.audio.codec = pcm16_ ? "pcm16" : "opus";
  send(start);
}

void EarshotV1Door::reply_sentence(const std::string& reply_id, uint32_t index,
                                   const std::string& text, uint64_t first_frame) {
  protocol::SpeechOutSentence s;
  s.reply_id = reply_id;
  s.index = index;
  s.text = text;
  s.first_seq = first_frame;
  send(s);
}

bool EarshotV1Door::reply_audio(const std::string& reply_id, uint64_t frame_index, const float* pcm,
                                size_t samples, int64_t due_ms, int64_t speech_end_ms) {
  uint8_t packet[protocol::kMaxOpusPacket > 640 ? protocol::kMaxOpusPacket : 640];
  size_t bytes = 0;
  if (pcm16_) {
    for (size_t i = 0; i < samples; ++i) {
      const float v = std::clamp(pcm[i], -1.0f, 1.0f);
      const auto s = uint16_t(int16_t(std::lrint(v * 32767.0f)));
      packet[2 * i] = uint8_t(s & 0xff);
      packet[2 * i + 1] = uint8_t(s >> 8);
    }
    bytes = samples * 2;
  } else {
    const int n = encoder_->encode(pcm, packet, sizeof packet);
    if (n <= 0) return true;  // an encoder hiccup costs one frame, not the reply
    bytes = size_t(n);
  }
  protocol::AudioFrameHeader h;
  h.stream = protocol::Stream::kReply;
  h.seq = frame_index;
  h.timestamp = frame_index * uint64_t(dsp::kCodecFrameSamples);
  uint8_t wire[protocol::kMaxAudioFrameSize];
  const size_t size = protocol::write_audio_frame(h, packet, bytes, wire, sizeof wire);
  next_due_ms_ = std::max(next_due_ms_, due_ms);
  std::function<void(int64_t)> on_sent;
  if (frame_index == 0) {
    Metrics* metrics = &services_.metrics;
    std::weak_ptr<Conversation> conversation = conversation_;
    on_sent = [metrics, conversation, reply_id, speech_end_ms](int64_t sent_ms) {
      metrics->first_frame_sent.observe_ms(double(sent_ms - speech_end_ms));
      if (auto c = conversation.lock()) c->first_frame_sent(reply_id, sent_ms);
    };
  }
  const bool queued = outbox_->push_audio(std::string(reinterpret_cast<char*>(wire), size),
                                          next_due_ms_, std::move(on_sent), monotonic_ms());
  next_due_ms_ += 20;
  return queued;
}

void EarshotV1Door::reply_audio_ended(const std::string& reply_id, uint64_t frames,
                                      bool interrupted) {
  protocol::SpeechOutEnd end;
  end.reply_id = reply_id;
  end.last_seq = frames ? frames - 1 : 0;
  end.reason = interrupted ? "interrupted" : "complete";
  send(end);
}

void EarshotV1Door::announcement_started(const std::string& reply_id) {
  std::lock_guard<std::mutex> lock(reply_mutex_);
  announcement_id_ = reply_id;
}

uint64_t EarshotV1Door::reply_interrupted(const std::string& reply_id) {
  outbox_->clear_audio();
  uint64_t on_wire = 0;
  {
    std::lock_guard<std::mutex> lock(reply_mutex_);
    if (wire_started_ && wire_reply_id_ == reply_id) {
      const uint64_t sent = outbox_->audio_sent();
      on_wire = sent - std::min(sent, sent_at_start_);
    }
  }
  // Tell the node to stop playing (it may not have noticed, e.g. no barge-in support).
  protocol::Interrupt stop;
  stop.reply_id = reply_id;
  send(stop);
  return on_wire;
}

void EarshotV1Door::turn_done(const TurnReport& report) {
  const int64_t at_interrupt = audio_sent_at_interrupt_.exchange(-1);
  if (report.interrupted && at_interrupt >= 0) {
    LOG_INFO("session", "%s: reply %s: %lld reply frame(s) sent after the node's interrupt arrived",
             session_id_.c_str(), report.reply_id.c_str(),
             (long long)(int64_t(outbox_->audio_sent()) - at_interrupt));
  }
  if (!timings_) return;  // only clients that asked (the browser draws them as bars)
  protocol::TurnTimings t;
  t.turn_id = report.turn_id;
  if (!report.reply_id.empty()) t.reply_id = report.reply_id;
  t.end_of_turn_ms = protocol::TurnTimings::from_ms(report.end_of_turn_ms);
  t.stt_final_ms = protocol::TurnTimings::from_ms(report.stt_final_ms);
  t.llm_first_token_ms = protocol::TurnTimings::from_ms(report.llm_first_token_ms);
  t.first_sentence_ms = protocol::TurnTimings::from_ms(report.first_sentence_ms);
  t.tts_first_audio_ms = protocol::TurnTimings::from_ms(report.tts_first_audio_ms);
  t.first_frame_sent_ms = protocol::TurnTimings::from_ms(report.first_frame_sent_ms);
  send(t);
}

void EarshotV1Door::error(const std::string& code, const std::string& message) {
  protocol::Error e;
  e.code = code;
  e.message = message;
  send(e);
}

void EarshotV1Door::close(uint16_t code, const std::string& reason) {
  outbox_->request_close(code, reason);
}

}  // namespace earshot::host
