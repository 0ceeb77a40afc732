#include "device/node_pipeline.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <mutex>
#include <optional>
#include <vector>

#include "device/audio/audio_source.h"
#include "device/audio/capture_thread.h"
#include "device/audio/optional_libs.h"
#include "device/audio/spsc_ring.h"
#include "device/config_paths_check.h"
#include "device/latency_meter.h"
#include "device/link/node_link.h"
#include "device/link/speech_buffer.h"
#include "device/log.h"
#include "device/playback/audio_sink.h"
#include "device/playback/ogg_opus_recorder.h"
#include "device/playback/playback.h"
#include "device/systemd_notify.h"
#include "dsp/audio_format.h"
#include "dsp/audio_processor.h"
#include "dsp/downmix.h"
#include "dsp/high_pass_filter.h"
#include "dsp/opus_frame_encoder.h"
#include "dsp/resampler.h"
#include "dsp/vad/speech_segmenter.h"
#include "dsp/vad/voice_activity_detector.h"
#include "protocol/audio_frame.h"

namespace earshot::device {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int kVad = dsp::kVadFrameSamples;      // 160: 10 ms at 16 kHz
constexpr int kCodec = dsp::kCodecFrameSamples;  // 320: 20 ms at 16 kHz

// Peak resident set (VmHWM) of this process in kB, or -1 where /proc is not there.
long peak_rss_kb() {
  FILE* f = fopen("/proc/self/status", "r");
  if (!f) return -1;
  char line[256];
  long kb = -1;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "VmHWM: %ld kB", &kb) == 1) break;
  fclose(f);
  return kb;
}

LogLevel parse_level(const std::string& s) {
  if (s == "error") return LogLevel::kError;
  if (s == "warning") return LogLevel::kWarning;
  if (s == "debug") return LogLevel::kDebug;
  return LogLevel::kInfo;
}

std::unique_ptr<AudioSource> make_source(const NodeConfig& c) {
  if (c.source == "file") {
    FileSourceConfig fc;
    fc.path = c.file;
    fc.realtime = c.realtime;
    fc.loop = c.loop;
    return make_file_source(fc);
  }
  if (c.source == "stdin") {
    RawSourceConfig rc;
    rc.fd = 0;
    rc.sample_rate = c.stdin_rate;
    rc.channels = c.stdin_channels;
    rc.realtime = c.realtime;
    return make_stdin_source(rc);
  }
  AlsaSourceConfig ac;
  ac.device = c.device;
  ac.sample_rate = c.sample_rate;
  ac.channels = c.channels;
  ac.period_ms = c.period_ms;
  ac.pace = c.pace;
  return make_alsa_source(ac);
}

std::unique_ptr<AudioSink> make_sink(const NodeConfig& c) {
  if (c.sink == "wav") {
    WavSinkConfig wc;
    wc.path = c.playback_file;
    wc.pace = c.playback_pace;
    return make_wav_sink(wc);
  }
  if (c.sink == "alsa") {
    AlsaSinkConfig ac;
    ac.device = c.playback_device;
    ac.pace = c.playback_pace;
    return make_alsa_sink(ac);
  }
  return nullptr;
}

uint16_t wire_flags(uint16_t segment_flags) {
  uint16_t flags = 0;
  if (segment_flags & dsp::kSegmentStart) flags |= protocol::kFlagSegmentStart;
  if (segment_flags & dsp::kSegmentEnd) flags |= protocol::kFlagSegmentEnd;
  if (segment_flags & dsp::kPreRoll) flags |= protocol::kFlagPreRoll;
  return flags;
}

}  // namespace

struct NodePipeline::Impl {
  explicit Impl(NodeConfig c) : config(std::move(c)) {}

  NodeConfig config;
  std::atomic<bool> stop_requested{false};
  std::atomic<bool> fatal{false};
  std::string fatal_message;  // written once, before `fatal` is set
  std::atomic<bool> ambient{false};

  // capture
  std::unique_ptr<AudioSource> source;
  std::unique_ptr<SpscRing<int16_t>> ring;
  std::unique_ptr<CaptureThread> capture;
  int in_rate = 0;
  int in_channels = 0;
  size_t chunk_frames = 0;  // input frames read from the ring per step (10 ms)

  // dsp
  std::unique_ptr<dsp::HighPassFilter> high_pass;
  std::unique_ptr<dsp::Resampler> resampler;
  std::unique_ptr<dsp::AudioProcessor> processor;
  std::unique_ptr<dsp::VoiceActivityDetector> vad;
  std::unique_ptr<dsp::SpeechSegmenter> segmenter;
  std::unique_ptr<dsp::OpusFrameEncoder> encoder;
  std::unique_ptr<OggOpusRecorder> recorder;

  // link and playback
  std::unique_ptr<SpeechBuffer> speech;
  std::unique_ptr<NodeLink> link;
  std::unique_ptr<Playback> playback;

  // buffers owned by the pipeline thread, sized in start()
  std::vector<int16_t> raw;
  std::vector<float> mono;
  std::vector<float> resampled;
  std::vector<float> pending;  // 16 kHz samples not yet a whole 10 ms frame
  size_t pending_count = 0;
  float codec_frame[kCodec] = {};
  int codec_fill = 0;  // samples of codec_frame filled
  bool codec_speech = false;
  float echo_frame[kVad] = {};
  float apm_frame[kVad] = {};
  int echo_tail_frames = 0;  // 10 ms frames left in which the microphone may hear our playback
  static constexpr int kEchoTailFrames = 50;  // 500 ms: a living room's reverberation and then some
  static constexpr float kFarEndActiveEnergy = 160 * 1e-7f;  // about -70 dBFS over 10 ms
  uint8_t packet[protocol::kMaxOpusPacket] = {};
  uint64_t timestamp = 0;                 // 16 kHz samples since capture began
  int64_t chunk_ready_ns = 0;             // when the capture chunk being processed left the ring
  std::atomic<int64_t> speech_end_ns{0};  // LatencyMeter clock: the last segment's end of speech
  LatencyMeter latency;

  // turn state, shared with the link thread
  std::atomic<bool> awaiting_reply{false};
  // Segment ends sent, and how many of them the reply playing now answers (the count when it
  // began): a reply that began before the last segment ended does not answer it, so its end must
  // not clear awaiting_reply (at the end of a file the node would leave before the last answer).
  std::atomic<uint64_t> segment_ends{0};
  std::atomic<uint64_t> reply_answers{0};
  std::atomic<uint64_t> segments{0};
  std::atomic<uint64_t> frames_sent{0};
  std::atomic<uint64_t> frames_captured{0};
  std::atomic<uint64_t> barge_ins{0};
  std::atomic<uint64_t> connects{0};
  std::atomic<uint64_t> dropped{0};
  std::atomic<uint64_t> frames_acked{0};
  RateLimiter drop_log{std::chrono::seconds(5)};
  RateLimiter encode_log{std::chrono::seconds(5)};
  RateLimiter overrun_log{std::chrono::seconds(5)};
  RateLimiter bad_input_log{std::chrono::seconds(5), 10};
  uint64_t last_overruns = 0;

  bool build(std::string* error);
  void on_link_message(const protocol::Message& message);
  void process_10ms(float* frame);
  void process_20ms();
  void emit_frame(const dsp::SegmentFrame& frame);
  void barge_in();
  bool step();  // one read from the ring; false at end of stream
  void close_open_segment();
  int drain();
  void fail(const std::string& message);
};

void NodePipeline::Impl::fail(const std::string& message) {
  if (fatal.exchange(true)) return;
  fatal_message = message;
  stop_requested.store(true);
}

bool NodePipeline::Impl::build(std::string* error) {
  ambient.store(config.mode == "ambient");

  // Capture: open the source first; its real format decides the rest of the chain.
  source = make_source(config);
  if (!source || !source->open(error)) return false;
  const AudioFormat format = source->format();
  in_rate = format.sample_rate;
  in_channels = format.channels;
  if (!dsp::Resampler::is_supported_rate(in_rate)) {
    *error = source->describe() + ": unsupported sample rate " + std::to_string(in_rate) +
             " Hz (supported: 8000-192000)";
    return false;
  }
  chunk_frames = size_t(std::max(1, in_rate / 100));
  // Half a second between the capture thread and this one: 50 of its 10 ms steps. Every byte of
  // the ring becomes resident as it cycles (128 KB at 48 kHz stereo; 1 s took 256 KB).
  ring = std::make_unique<SpscRing<int16_t>>(size_t(in_rate) * size_t(in_channels) / 2);
  const size_t period_frames = size_t(std::max(1, in_rate * config.period_ms / 1000));

  // DSP chain, all buffers sized once here.
  if (config.high_pass_hz > 0)
    high_pass = std::make_unique<dsp::HighPassFilter>(double(in_rate), double(config.high_pass_hz));
  // Speech quality: flat to 7 kHz at a quarter of the transparent filter's cost (dsp/resampler.h).
  resampler = dsp::Resampler::create(in_rate, dsp::kSampleRate, chunk_frames, error,
                                     dsp::Resampler::Quality::kSpeech);
  if (!resampler) return false;
  raw.resize(chunk_frames * size_t(in_channels));
  mono.resize(chunk_frames);
  resampled.resize(resampler->max_output_frames() + kVad);
  pending.resize(resampled.size() + kVad);

  const bool has_sink = config.sink != "none";
  if ((config.echo_cancellation && has_sink) || config.noise_suppression) {
    dsp::AudioProcessorConfig pc;
    pc.echo_cancellation = config.echo_cancellation && has_sink;
    pc.noise_suppression = config.noise_suppression;
    pc.noise_suppression_level = config.noise_suppression_level;
    processor = dsp::AudioProcessor::create(pc, error);
    if (!processor) return false;
  }
  dsp::VadConfig vc;
  vc.threshold = float(config.vad_threshold);
  vad = std::make_unique<dsp::VoiceActivityDetector>(vc);
  dsp::SegmenterConfig sc;
  sc.pre_roll_ms = config.pre_roll_ms;
  sc.hangover_ms = config.hangover_ms;
  sc.min_speech_ms = config.min_speech_ms;
  segmenter = std::make_unique<dsp::SpeechSegmenter>(sc);
  dsp::OpusEncoderSettings es;
  es.bitrate = config.bitrate;
  es.complexity = config.complexity;
  encoder = dsp::OpusFrameEncoder::create(es, error);
  if (!encoder) return false;
  if (!config.record.empty()) {
    recorder = OggOpusRecorder::create(config.record, dsp::kSampleRate, error);
    if (!recorder) return false;
  }

  // Speech buffer: buffer_seconds of 20 ms frames; bytes for the bitrate with half again as much
  // headroom. Opus's VBR frames vary (32 kb/s speech: 8-113 bytes), but any minute of them
  // averages the bitrate (79.5 bytes a frame at most, over 550 s of speech). The bytes become
  // resident as the ring cycles: twice the bitrate, as this was, cost 480 KB at 32 kb/s.
  SpeechBuffer::Config bc;
  bc.max_frames = size_t(config.buffer_seconds) * 50;
  bc.max_bytes = bc.max_frames * size_t(std::max(120, config.bitrate / 50 / 8 * 3 / 2));
  speech = std::make_unique<SpeechBuffer>(bc);
  speech->set_drop_callback([this](uint64_t seq, uint64_t total) {
    dropped.store(total);
    uint64_t held = 0;
    if (drop_log.allow(&held))
      ES_LOG_WARN("buffer",
                  "speech buffer full: dropped oldest frame seq %llu (%llu dropped in all)",
                  (unsigned long long)seq, (unsigned long long)total);
  });

  // Playback (its thread starts now; it idles until a reply arrives).
  if (has_sink) {
    std::unique_ptr<AudioSink> sink = make_sink(config);
    PlaybackConfig pbc;
    pbc.start_threshold_ms = config.jitter_ms;
    playback = std::make_unique<Playback>(std::move(sink), pbc, [this](const PlaybackReport& r) {
      protocol::PlaybackDone done;
      done.reply_id = r.reply_id;
      done.played_ms = r.played_ms;
      if (link) link->send(done);
      if (reply_answers.load() == segment_ends.load()) awaiting_reply.store(false);
    });
    playback->on_first_sound([this](const std::string& reply_id) {
      // What the person experiences: from the end of their speech to the answer starting to
      // sound. Logged once per reply.
      const int64_t end = speech_end_ns.load(std::memory_order_relaxed);
      if (end <= 0) return;
      ES_LOG_INFO("playback", "reply %s: first audio played %.0f ms after the end of speech",
                  reply_id.c_str(), double(LatencyMeter::now_ns() - end) / 1e6);
    });
    if (!playback->start(error)) return false;
  }

  // Link.
  LinkConfig lc;
  lc.url = config.url;
  lc.token = config.token;
  lc.ca_file = config.ca_file;
  lc.tls_insecure = config.tls_insecure;
  lc.pinned_fingerprint = config.tls_fingerprint;
  lc.keepalive_s = config.keepalive_s;
  lc.backoff_max_ms = config.backoff_max_ms;
  lc.hello.node_id = config.node_id;
  if (!config.room.empty()) lc.hello.room = config.room;
  if (!config.language.empty()) lc.hello.language = config.language;
  lc.hello.mode = config.protocol_mode();
  lc.hello.capabilities = {"barge_in", "partial_transcripts"};
  if (has_sink) lc.hello.capabilities.insert(lc.hello.capabilities.begin(), "playback");
  LinkCallbacks cb;
  cb.on_welcome = [this](const protocol::Welcome& w) {
    connects.fetch_add(1);
    ES_LOG_INFO("link", "connected: session %s, host has speech up to seq %s", w.session_id.c_str(),
                w.acked_seq ? std::to_string(*w.acked_seq).c_str() : "(none)");
    ambient.store(w.mode == protocol::Mode::kAmbient);
  };
  cb.on_message = [this](const protocol::Message& m) { on_link_message(m); };
  cb.on_reply_frame = [this](const protocol::AudioFrameView& f) {
    if (playback) playback->push_frame(f.header.seq, f.payload, f.payload_size);
  };
  cb.on_link_state = [](bool connected, const std::string& reason) {
    if (!connected) ES_LOG_WARN("link", "disconnected: %s", reason.c_str());
  };
  cb.on_fatal = [this](const std::string& message) { fail(message); };
  cb.on_frame_sent = [this](uint64_t seq) { latency.sent(seq, LatencyMeter::now_ns()); };
  cb.on_bad_input = [this](const std::string& what) {
    uint64_t held = 0;
    if (bad_input_log.allow(&held)) ES_LOG_WARN("link", "ignored from the host: %s", what.c_str());
  };
  link = std::make_unique<NodeLink>(lc, *speech, cb);

  const bool faster_than_real_time = config.source != "alsa" && !config.realtime;
  capture = std::make_unique<CaptureThread>(*source, *ring, period_frames, faster_than_real_time);
  ES_LOG_INFO("node", "capturing from %s; sending to %s as '%s' (%s mode)",
              source->describe().c_str(), config.url.c_str(), config.node_id.c_str(),
              config.mode.c_str());
  if (!link->start(error)) return false;
  if (!capture->start(error)) return false;
  return true;
}

void NodePipeline::Impl::on_link_message(const protocol::Message& message) {
  // Called on the link thread: hand work off, never block.
  if (auto* ack = std::get_if<protocol::Ack>(&message)) {
    frames_acked.store(ack->seq + 1, std::memory_order_relaxed);
  } else if (auto* start = std::get_if<protocol::SpeechOutStart>(&message)) {
    // An announcement comes unasked (a timer went off): played like a reply, whether or not the
    // person spoke first, and barge-in stops it the same way.
    if (start->reason == protocol::kSpeechReasonAnnouncement) {
      ES_LOG_INFO("node", "announcement %s from the host", start->reply_id.c_str());
    } else {
      reply_answers.store(segment_ends.load());
    }
    if (playback) playback->begin_reply(start->reply_id);
  } else if (auto* end = std::get_if<protocol::SpeechOutEnd>(&message)) {
    if (playback) playback->end_reply(end->reply_id, end->last_seq);
    if (!playback) awaiting_reply.store(false);
  } else if (auto* stop = std::get_if<protocol::Interrupt>(&message)) {
    ES_LOG_INFO("node", "host stopped reply %s", stop->reply_id.c_str());
    // Answer with what was heard, so the host's history holds only that without waiting for a
    // report that would otherwise never come.
    if (std::optional<PlaybackReport> r = playback ? playback->interrupt() : std::nullopt) {
      protocol::Interrupt heard;
      heard.reply_id = r->reply_id;
      heard.played_ms = r->played_ms;
      heard.played_seq = r->played_seq;
      link->send(heard);
    }
  } else if (auto* mode = std::get_if<protocol::ModeChange>(&message)) {
    ambient.store(mode->mode == protocol::Mode::kAmbient);
    ES_LOG_INFO("node", "mode is now %s", protocol::to_string(mode->mode));
  } else if (auto* transcript = std::get_if<protocol::Transcript>(&message)) {
    if (transcript->final) {
      ES_LOG_INFO("turn", "heard: \"%s\"", transcript->text.c_str());
      if (transcript->text.empty() || ambient.load()) awaiting_reply.store(false);
    }
  } else if (auto* reply = std::get_if<protocol::ReplyText>(&message)) {
    if (reply->final) ES_LOG_DEBUG("turn", "reply %s complete", reply->reply_id.c_str());
  } else if (auto* error = std::get_if<protocol::Error>(&message)) {
    ES_LOG_WARN("host", "error %s: %s", error->code.c_str(), error->message.c_str());
    awaiting_reply.store(false);
  }
}

void NodePipeline::Impl::emit_frame(const dsp::SegmentFrame& frame) {
  if (frame.flags & dsp::kSegmentStart) barge_in();
  const int bytes = encoder->encode(frame.pcm, packet, sizeof packet);
  if (bytes <= 0) {
    uint64_t held = 0;
    if (encode_log.allow(&held)) ES_LOG_ERROR("opus", "encode failed (%d)", bytes);
    return;
  }
  if (recorder) recorder->write(frame.pcm, kCodec);
  const uint16_t flags = wire_flags(frame.flags);
  const uint64_t seq = speech->push(flags, frame.timestamp, packet, size_t(bytes));
  // Pre-roll waits in the segmenter by design; only live frames measure the node's own delay.
  if (!(frame.flags & dsp::kPreRoll)) latency.mark(seq, chunk_ready_ns);
  frames_sent.fetch_add(1, std::memory_order_relaxed);
  if (flags & protocol::kFlagSegmentStart) {
    link->send(protocol::SpeechStart{seq, frame.timestamp});
  }
  if (flags & protocol::kFlagSegmentEnd) {
    // The last speech was one hangover before the end of this frame's capture chunk.
    speech_end_ns.store(chunk_ready_ns - int64_t(config.hangover_ms) * 1000000,
                        std::memory_order_relaxed);
    segment_ends.fetch_add(1);  // before it is sent: the reply to it cannot come first
    if (!ambient.load() && playback) awaiting_reply.store(true);
    link->send(protocol::SpeechEnd{seq, frame.timestamp});
  }
  link->wake();
}

void NodePipeline::Impl::process_20ms() {
  const bool started = segmenter->push(codec_frame, timestamp, codec_speech,
                                       [this](const dsp::SegmentFrame& f) { emit_frame(f); });
  timestamp += kCodec;
  frames_captured.fetch_add(1, std::memory_order_relaxed);
  if (started) segments.fetch_add(1, std::memory_order_relaxed);
}

// Barge-in: the person spoke over the reply. Stop it now and say how much was heard. This runs
// before the new segment's first frame is queued, so the host learns of the interrupt (with the
// played duration) before it sees the new speech; were it the other way round, the host could stop
// the reply itself first and the node would have nothing left to report.
void NodePipeline::Impl::barge_in() {
  if (!playback || ambient.load()) return;
  const auto fired = std::chrono::steady_clock::now();
  std::optional<PlaybackReport> r = playback->interrupt();
  if (!r) return;  // nothing was playing
  const double stop_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - fired).count();
  barge_ins.fetch_add(1, std::memory_order_relaxed);
  protocol::Interrupt msg;
  msg.reply_id = r->reply_id;
  msg.played_ms = r->played_ms;
  msg.played_seq = r->played_seq;
  link->send(msg);
  // Once per barge-in, not per frame: how long the person heard the reply, and how fast playback
  // stopped after the VAD fired (the contract: within two 20 ms frames).
  ES_LOG_INFO("playback",
              "barge-in: reply %s stopped after %llu ms played, %.1f ms after the VAD fired",
              r->reply_id.c_str(), (unsigned long long)r->played_ms, stop_ms);
}

void NodePipeline::Impl::process_10ms(float* frame) {
  if (processor) {
    if (playback) {
      // The echo reference: what the speaker played, 10 ms at a time, before the microphone frame.
      SpscRing<float>& ref = playback->echo_reference();
      while (ref.readable() >= size_t(kVad)) {
        ref.read(echo_frame, kVad);
        processor->analyze_playback(echo_frame);
        float energy = 0;
        for (int i = 0; i < kVad; ++i)
          energy += echo_frame[i] * echo_frame[i];
        if (energy > kFarEndActiveEnergy) echo_tail_frames = kEchoTailFrames;
      }
    }
    // The processor always sees the stream (its filters stay adapted), but its output is used
    // only while the speaker played within the echo tail: with nothing to cancel, the AEC's
    // suppression and the extra high-pass only cost the recogniser words.
    std::copy(frame, frame + kVad, apm_frame);
    processor->process_capture(apm_frame);
    if (echo_tail_frames > 0 || config.noise_suppression) {
      std::copy(apm_frame, apm_frame + kVad, frame);
      if (echo_tail_frames > 0) --echo_tail_frames;
    }
  }
  vad->process(frame);
  std::copy(frame, frame + kVad, codec_frame + codec_fill);
  codec_speech = codec_speech || vad->is_speech();
  codec_fill += kVad;
  if (codec_fill == kCodec) {
    process_20ms();
    codec_fill = 0;
    codec_speech = false;
  }
}

bool NodePipeline::Impl::step() {
  const size_t want = chunk_frames * size_t(in_channels);
  size_t got = ring->read(raw.data(), want - want % size_t(in_channels));
  if (got == 0) {
    if (capture->finished() && ring->readable() == 0) return false;
    capture->wait_for_data(std::chrono::milliseconds(50));
    return true;
  }
  const size_t frames = got / size_t(in_channels);
  chunk_ready_ns = LatencyMeter::now_ns();
  dsp::downmix_to_mono(raw.data(), frames, in_channels, mono.data());
  if (high_pass) high_pass->process(mono.data(), frames);
  const size_t out = resampler->process(mono.data(), frames, resampled.data(), resampled.size());
  std::copy(resampled.begin(), resampled.begin() + long(out),
            pending.begin() + long(pending_count));
  pending_count += out;
  size_t offset = 0;
  while (pending_count - offset >= size_t(kVad)) {
    process_10ms(pending.data() + offset);
    offset += kVad;
  }
  std::copy(pending.begin() + long(offset), pending.begin() + long(pending_count), pending.begin());
  pending_count -= offset;

  const uint64_t overruns = capture->stats().dropped_frames;
  if (overruns != last_overruns) {
    uint64_t held = 0;
    if (overrun_log.allow(&held))
      ES_LOG_WARN("capture", "capture ring overrun: %llu input frames dropped so far",
                  (unsigned long long)overruns);
    last_overruns = overruns;
  }
  return true;
}

// End of input counts as silence: feed the hangover so an open segment ends with its end flag.
void NodePipeline::Impl::close_open_segment() {
  std::fill(std::begin(codec_frame) + codec_fill, std::end(codec_frame), 0.0f);
  if (codec_fill > 0) process_20ms();
  codec_fill = 0;
  std::fill(std::begin(codec_frame), std::end(codec_frame), 0.0f);
  const int max_frames = config.hangover_ms / 20 + 2;
  for (int i = 0; i < max_frames && segmenter->in_segment(); ++i) {
    codec_speech = false;
    process_20ms();
  }
}

int NodePipeline::Impl::drain() {
  // Wait for the host to acknowledge every frame, and (conversation) for the last reply to play.
  const auto deadline = Clock::now() + std::chrono::milliseconds(config.drain_timeout_ms);
  bool acked = false;
  while (!stop_requested.load() && Clock::now() < deadline) {
    acked = speech->stats().pending == 0;
    const bool reply_done = !awaiting_reply.load() && !(playback && playback->playing());
    if (acked && reply_done) break;
    capture->wait_for_data(std::chrono::milliseconds(20));  // a bounded wait; nothing to read
  }
  if (!acked) {
    ES_LOG_WARN("node", "end of input: %llu frame(s) not acknowledged by the host",
                (unsigned long long)speech->stats().pending);
  }
  return acked ? 0 : 1;
}

NodePipeline::NodePipeline(NodeConfig config) : impl_(std::make_unique<Impl>(std::move(config))) {
  set_log_level(parse_level(impl_->config.log_level));
  set_log_prefix_priority(!impl_->config.log_plain);
}

NodePipeline::~NodePipeline() {
  if (impl_->capture) impl_->capture->stop();
  if (impl_->link) impl_->link->stop();
  if (impl_->playback) impl_->playback->stop();
}

bool NodePipeline::start(std::string* error) {
  std::string problem = validate(impl_->config);
  if (!problem.empty()) {
    *error = problem;
    return false;
  }
  return impl_->build(error);
}

int NodePipeline::run() {
  Impl& p = *impl_;
  systemd_notify("READY=1");
  const int64_t watchdog_us = systemd_watchdog_usec();
  auto next_watchdog = Clock::now();
  bool ended = false;
  while (!p.stop_requested.load()) {
    if (!p.step()) {
      ended = true;
      break;
    }
    if (watchdog_us > 0 && Clock::now() >= next_watchdog) {
      systemd_notify("WATCHDOG=1");
      next_watchdog = Clock::now() + std::chrono::microseconds(watchdog_us / 2);
    }
  }
  systemd_notify("STOPPING=1");
  int code = 0;
  if (ended && !p.fatal.load()) {
    if (p.capture->failed()) {
      ES_LOG_ERROR("capture", "%s", p.capture->error().c_str());
      code = 1;
    } else {
      p.close_open_segment();
      p.link->wake();
      code = p.drain();
    }
  }
  p.capture->stop();
  if (p.recorder) {
    std::string err;
    if (!p.recorder->close(&err)) ES_LOG_ERROR("record", "%s", err.c_str());
  }
  if (p.playback) p.playback->stop();
  p.link->stop();
  if (p.fatal.load()) {
    ES_LOG_ERROR("node", "%s", p.fatal_message.c_str());
    return 1;
  }
  const NodeStats s = stats();
  ES_LOG_INFO("node",
              "stopped: %llu frames captured, %llu segments, %llu frames sent, %llu dropped, "
              "%llu barge-ins, peak RSS %ld kB",
              (unsigned long long)s.frames_captured, (unsigned long long)s.segments,
              (unsigned long long)s.frames_sent, (unsigned long long)s.frames_dropped_buffer_full,
              (unsigned long long)s.barge_ins, peak_rss_kb());
  if (p.playback) {
    const PlaybackStats ps = p.playback->stats();
    ES_LOG_INFO("playback",
                "%llu replies, %llu frames played, %llu concealed, %llu rebuilt from FEC, "
                "%llu late or duplicate, %llu underrun waits",
                (unsigned long long)ps.replies, (unsigned long long)ps.frames_played,
                (unsigned long long)ps.concealed, (unsigned long long)ps.fec_recovered,
                (unsigned long long)ps.late, (unsigned long long)ps.underruns);
  }
  if (p.latency.count() > 0)
    ES_LOG_INFO("node", "capture->socket latency over %zu live frames: p50 %.1f ms, p99 %.1f ms",
                p.latency.count(), p.latency.percentile_ms(0.50), p.latency.percentile_ms(0.99));
  return code;
}

void NodePipeline::request_stop() {
  impl_->stop_requested.store(true);
}

NodeStats NodePipeline::stats() const {
  NodeStats s = counters();
  if (impl_->link) s.fatal_close_code = impl_->link->stats().fatal_close_code;
  return s;
}

NodeStats NodePipeline::counters() const {
  NodeStats s;
  s.frames_captured = impl_->frames_captured.load();
  s.segments = impl_->segments.load();
  s.frames_sent = impl_->frames_sent.load();
  s.frames_dropped_buffer_full = impl_->dropped.load();
  s.barge_ins = impl_->barge_ins.load();
  s.connects = impl_->connects.load();
  s.frames_acked = impl_->frames_acked.load();
  if (impl_->capture) {  // atomics of the capture thread and the source
    const CaptureStats capture = impl_->capture->stats();
    s.capture_overruns = capture.dropped_frames;
    s.capture_xruns = capture.source.xruns;
    s.capture_reopens = capture.source.reopens;
  }
  if (impl_->link) s.connected = impl_->link->connected();
  return s;
}

std::vector<std::string> NodePipeline::check(const NodeConfig& config) {
  std::vector<std::string> problems = check_config_paths(config);
  std::string error;
  // The capture device opens, or the capture file is audio; either at a rate we can take.
  std::unique_ptr<AudioSource> source = make_source(config);
  if (!source || !source->open(&error)) {
    problems.push_back("capture: " + error);
  } else if (!dsp::Resampler::is_supported_rate(source->format().sample_rate)) {
    problems.push_back("capture: unsupported sample rate " +
                       std::to_string(source->format().sample_rate) + " Hz");
  }
  if (config.sink == "alsa") {
    std::unique_ptr<AudioSink> sink = make_sink(config);
    if (!sink || !sink->open(&error)) problems.push_back("playback: " + error);
  } else if (config.sink == "wav" && !sndfile_api(&error)) {
    problems.push_back("playback: " + error);
  }
  if (!config.record.empty() && !opusenc_api(&error)) problems.push_back("record: " + error);
  return problems;
}

}  // namespace earshot::device
