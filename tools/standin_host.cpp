// earshot-standin-host: a tiny host good enough to test earshot-node alone.
//
// It speaks earshot.v1 with one node at a time: checks the bearer token, answers hello with a
// welcome carrying its high-water mark (persisted to --state, fsync'd before every ack, so a
// restarted stand-in resumes exactly), drops duplicate frames, decodes accepted ones to --out-wav,
// logs each accepted frame as a JSON line to --frames-log, and acknowledges cumulatively.
// --exit-after-frames N simulates a host crash mid-speech; --reply-wav FILE answers each segment
// end with that audio (paced in real time) so playback and barge-in can be tested. Control
// messages it receives are printed as JSON lines on stdout.
#include <fcntl.h>
#include <libwebsockets.h>
#include <sndfile.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "dsp/opus_frame_decoder.h"
#include "dsp/opus_frame_encoder.h"
#include "protocol/audio_frame.h"
#include "protocol/messages.h"
#include "protocol/sequence_tracker.h"

namespace {

using namespace earshot;

struct Options {
  int port = 8765;
  std::string token;
  std::string tls_cert, tls_key;
  std::string state, out_wav, frames_log, reply_wav;
  long exit_after_frames = -1;
  int ack_every = 1;
  bool no_ack = false;
  bool send_garbage =
      false;  // after welcome: malformed messages and frames (the node ignores them)
  bool refuse_version = false;         // answer hello with error + close 4002
  bool reply_on_connect = false;       // start the reply right after welcome (barge-in tests)
  bool reply_on_speech_start = false;  // start it when the node says speech started
  int reply_delay_ms = 0;  // a reply to a segment end starts this much later, as a bridge's would
  int max_replies = -1;    // stop replying after this many (-1: no limit)
};

struct Host {
  Options opt;
  lws_context* context = nullptr;
  lws* node = nullptr;  // the one connected, welcomed node
  std::optional<uint64_t> high_water;
  protocol::SequenceTracker tracker;
  std::unique_ptr<dsp::OpusFrameDecoder> decoder;
  SNDFILE* wav = nullptr;
  FILE* frames_log = nullptr;
  long accepted = 0;
  std::deque<std::pair<bool, std::string>> out;  // (binary, bytes)
  std::vector<std::string> reply_frames;         // encoded reply, one wire frame each
  size_t reply_next = 0;
  bool replying = false;
  bool reply_unheard = false;  // started, and the node has not said it played or cut it
  // A segment ended: a reply is owed, due at reply_due and not before the node has heard the
  // one before it (a bridge answers turns in order the same way).
  bool reply_owed = false;
  std::chrono::steady_clock::time_point reply_due;
  int reply_count = 0;
  std::string reply_id;
  std::chrono::steady_clock::time_point reply_start;
  std::string rx;
  bool rx_binary = false;
  std::string authorization;
  bool closing = false;
  uint16_t close_code = 1000;
};

void pace_reply(Host& h);
Host* g_host = nullptr;
lws_sorted_usec_list_t g_pace_timer;

// Every 10 ms: release due reply frames (the loop only wakes for events and timers).
void on_pace_timer(lws_sorted_usec_list_t*) {
  pace_reply(*g_host);
  lws_sul_schedule(g_host->context, 0, &g_pace_timer, on_pace_timer, 10 * 1000);
}
std::atomic<bool> g_stop{false};

void save_state(Host& h) {
  if (h.opt.state.empty() || !h.high_water) return;
  const std::string tmp = h.opt.state + ".tmp";
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return;
  const std::string text = std::to_string(*h.high_water) + "\n";
  (void)!write(fd, text.data(), text.size());
  fsync(fd);
  close(fd);
  rename(tmp.c_str(), h.opt.state.c_str());
}

// What is stored is what the frames log holds: its last line is the high-water mark, so storing
// a frame and advancing the mark are one atomic append (a crash can never split them).
void load_state(Host& h) {
  if (!h.opt.frames_log.empty()) {
    std::ifstream log(h.opt.frames_log);
    for (std::string line; std::getline(log, line);) {
      const size_t at = line.find("\"seq\":");
      if (at != std::string::npos) h.high_water = std::stoull(line.substr(at + 6));
    }
    if (h.high_water) return;
  }
  if (h.opt.state.empty()) return;
  std::ifstream in(h.opt.state);
  unsigned long long v;
  if (in >> v) h.high_water = v;
}

void queue_text(Host& h, const protocol::Message& m) {
  h.out.emplace_back(false, protocol::to_json(m));
  if (h.node) lws_callback_on_writable(h.node);
}

void prepare_reply(Host& h) {
  if (h.opt.reply_wav.empty()) return;
  SF_INFO info{};
  SNDFILE* f = sf_open(h.opt.reply_wav.c_str(), SFM_READ, &info);
  if (!f) {
    fprintf(stderr, "standin: cannot read %s\n", h.opt.reply_wav.c_str());
    return;
  }
  if (info.samplerate != 16000) fprintf(stderr, "standin: reply WAV should be 16 kHz\n");
  std::vector<float> pcm(size_t(info.frames) * size_t(info.channels));
  sf_readf_float(f, pcm.data(), info.frames);
  sf_close(f);
  std::string err;
  auto enc = dsp::OpusFrameEncoder::create({}, &err);
  uint8_t packet[1500], wire[protocol::kMaxAudioFrameSize];
  float frame[320];
  for (size_t i = 0; i + 320 <= size_t(info.frames); i += 320) {
    for (int k = 0; k < 320; ++k)
      frame[k] = pcm[(i + size_t(k)) * size_t(info.channels)];
    const int n = enc->encode(frame, packet, sizeof packet);
    protocol::AudioFrameHeader hdr;
    hdr.stream = protocol::Stream::kReply;
    hdr.seq = h.reply_frames.size();
    hdr.timestamp = i;
    const size_t size = protocol::write_audio_frame(hdr, packet, size_t(n), wire, sizeof wire);
    h.reply_frames.emplace_back(reinterpret_cast<char*>(wire), size);
  }
}

void start_reply(Host& h) {
  if (h.reply_frames.empty() || h.replying) return;
  if (h.opt.max_replies >= 0 && h.reply_count >= h.opt.max_replies) return;
  h.replying = true;
  h.reply_unheard = true;
  h.reply_next = 0;
  h.reply_id = "r" + std::to_string(++h.reply_count);
  h.reply_start = std::chrono::steady_clock::now();
  protocol::SpeechOutStart s;
  s.reply_id = h.reply_id;
  s.turn_id = "t" + std::to_string(h.reply_count);
  queue_text(h, s);
  protocol::SpeechOutSentence sentence;
  sentence.reply_id = h.reply_id;
  sentence.text = "reply";
  queue_text(h, sentence);
}

// Releases reply frames on real time (60 ms ahead), then ends the reply.
void pace_reply(Host& h) {
  if (!h.replying && !h.reply_unheard && h.reply_owed && h.node &&
      std::chrono::steady_clock::now() >= h.reply_due) {
    h.reply_owed = false;
    start_reply(h);
  }
  if (!h.replying || !h.node) return;
  const auto elapsed = std::chrono::steady_clock::now() - h.reply_start;
  const size_t due =
      size_t(std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count() / 20) + 3;
  while (h.reply_next < h.reply_frames.size() && h.reply_next < due)
    h.out.emplace_back(true, h.reply_frames[h.reply_next++]);
  if (h.reply_next >= h.reply_frames.size()) {
    protocol::SpeechOutEnd end;
    end.reply_id = h.reply_id;
    end.last_seq = h.reply_frames.size() - 1;
    queue_text(h, end);
    h.replying = false;
  }
  if (!h.out.empty()) lws_callback_on_writable(h.node);
}

// A segment ended: the reply is due after --reply-delay-ms and once the one before it was heard;
// pace_reply starts it then (now, if nothing waits).
void owe_reply(Host& h) {
  if (h.reply_owed) return;  // the segment-end frame and speech_end both say it
  h.reply_owed = true;
  h.reply_due = std::chrono::steady_clock::now() + std::chrono::milliseconds(h.opt.reply_delay_ms);
  pace_reply(h);
}

void refuse(Host& h, lws* wsi, const std::string& code, const std::string& message,
            uint16_t close) {
  h.out.emplace_back(false, protocol::to_json(protocol::Error{code, message, true}));
  h.closing = true;
  h.close_code = close;
  lws_callback_on_writable(wsi);
}

void on_text(Host& h, lws* wsi, const std::string& text) {
  protocol::ParseResult r = protocol::parse_message(text, protocol::Direction::kNodeToHost);
  if (!r.ok()) {
    h.out.emplace_back(false, protocol::to_json(protocol::Error{"bad_message", r.error, false}));
    lws_callback_on_writable(wsi);
    return;
  }
  printf("%s\n", text.c_str());
  fflush(stdout);
  if (auto* hello = std::get_if<protocol::Hello>(&*r.message)) {
    std::string token = hello->token.value_or("");
    if (h.authorization.rfind("Bearer ", 0) == 0) token = h.authorization.substr(7);
    if (!protocol::negotiate_version(hello->versions) || h.opt.refuse_version)
      return refuse(h, wsi, "unsupported_version", "version 1 only", protocol::kCloseBadVersion);
    if (!h.opt.token.empty() && token != h.opt.token)
      return refuse(h, wsi, "bad_token", "the token is not valid", protocol::kCloseUnauthorized);
    h.node = wsi;
    h.tracker = protocol::SequenceTracker(h.high_water);
    protocol::Welcome w;
    w.session_id = "standin";
    w.mode = hello->mode;
    w.acked_seq = h.high_water;
    queue_text(h, w);
    if (h.opt.send_garbage) {
      h.out.emplace_back(false, "{not json");
      h.out.emplace_back(false, "{\"type\":\"ack\",\"seq\":-5}");
      h.out.emplace_back(false, "{\"type\":\"hello\",\"versions\":[1]}");  // wrong direction
      std::string bad_version(24, 'g');                                    // bad version
      bad_version[0] = 7;
      h.out.emplace_back(true, bad_version);
      h.out.emplace_back(true, std::string(3, '\x01'));          // truncated
      h.out.emplace_back(false, std::string(70000, 'x'));        // oversized
      std::string big(protocol::kMaxAudioFrameSize + 10, '\0');  // oversized frame
      big[0] = 1;
      big[1] = 1;
      h.out.emplace_back(true, big);
      std::string mic(21, '\0');  // a valid frame, but on the microphone stream
      mic[0] = 1;
      mic[20] = 0x78;
      h.out.emplace_back(true, mic);
    }
    if (h.opt.reply_on_connect) start_reply(h);
    return;
  }
  if (std::holds_alternative<protocol::SpeechEnd>(*r.message)) owe_reply(h);
  if (std::holds_alternative<protocol::PlaybackDone>(*r.message) ||
      std::holds_alternative<protocol::Interrupt>(*r.message)) {
    // The node heard it (or cut it): an owed reply may follow, its delay counted from now.
    h.reply_unheard = false;
    h.reply_due = std::max(h.reply_due, std::chrono::steady_clock::now() +
                                            std::chrono::milliseconds(h.opt.reply_delay_ms));
  }
  if (std::holds_alternative<protocol::SpeechStart>(*r.message) && h.opt.reply_on_speech_start)
    start_reply(h);
}

void on_binary(Host& h, lws* wsi, const std::string& bytes) {
  protocol::AudioFrameView v;
  const protocol::FrameError e =
      protocol::parse_audio_frame(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), &v);
  if (e != protocol::FrameError::kOk || h.node != wsi) {
    h.out.emplace_back(
        false, protocol::to_json(protocol::Error{"bad_frame", protocol::to_string(e), false}));
    lws_callback_on_writable(wsi);
    return;
  }
  if (h.tracker.accept(v.header.seq) == protocol::SeqVerdict::kDuplicate) return;
  float pcm[5760];
  const int n = h.decoder->decode(v.payload, v.payload_size, pcm, 5760);
  if (n > 0 && h.wav) sf_writef_float(h.wav, pcm, n);
  if (h.frames_log) {
    fprintf(h.frames_log,
            "{\"seq\":%llu,\"ts\":%llu,\"flags\":%u,\"redelivery\":%s,\"bytes\":%zu,"
            "\"run\":%d}\n",
            (unsigned long long)v.header.seq, (unsigned long long)v.header.timestamp,
            unsigned(v.header.flags),
            (v.header.flags & protocol::kFlagRedelivery) ? "true" : "false", v.payload_size,
            int(getpid()));
    fflush(h.frames_log);
  }
  h.high_water = v.header.seq;
  ++h.accepted;
  if (h.opt.exit_after_frames >= 0 && h.accepted >= h.opt.exit_after_frames) {
    if (h.wav) sf_write_sync(h.wav);
    _exit(3);  // a crash after storing this frame, before acknowledging it
  }
  if (!h.opt.no_ack &&
      (h.accepted % h.opt.ack_every == 0 || (v.header.flags & protocol::kFlagSegmentEnd))) {
    save_state(h);  // durable before acknowledged
    queue_text(h, protocol::Ack{v.header.seq});
  }
  if (v.header.flags & protocol::kFlagSegmentEnd) owe_reply(h);
}

int callback(lws* wsi, lws_callback_reasons reason, void*, void* in, size_t len) {
  Host& h = *g_host;
  switch (reason) {
    case LWS_CALLBACK_ESTABLISHED: {
      char auth[512] = {};
      h.authorization =
          lws_hdr_copy(wsi, auth, sizeof auth, WSI_TOKEN_HTTP_AUTHORIZATION) > 0 ? auth : "";
      h.closing = false;
      h.out.clear();
      return 0;
    }
    case LWS_CALLBACK_RECEIVE:
      if (lws_is_first_fragment(wsi)) {
        h.rx.clear();
        h.rx_binary = lws_frame_is_binary(wsi);
      }
      h.rx.append(static_cast<const char*>(in), len);
      if (!lws_is_final_fragment(wsi)) return 0;
      if (h.rx_binary)
        on_binary(h, wsi, h.rx);
      else
        on_text(h, wsi, h.rx);
      return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE: {
      if (!h.out.empty()) {
        auto [binary, bytes] = std::move(h.out.front());
        h.out.pop_front();
        std::vector<unsigned char> buf(LWS_PRE + bytes.size());
        memcpy(buf.data() + LWS_PRE, bytes.data(), bytes.size());
        if (lws_write(wsi, buf.data() + LWS_PRE, bytes.size(),
                      binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT) < 0)
          return -1;
        if (!h.out.empty() || h.closing) lws_callback_on_writable(wsi);
        return 0;
      }
      if (h.closing) {
        lws_close_reason(wsi, lws_close_status(h.close_code), nullptr, 0);
        return -1;
      }
      return 0;
    }
    case LWS_CALLBACK_CLOSED:
      if (h.node == wsi) {
        h.node = nullptr;
        h.replying = false;
        h.reply_unheard = false;
      }
      return 0;
    default:
      return 0;
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  CLI::App app{"earshot-standin-host: a minimal earshot.v1 host for testing earshot-node"};
  app.add_option("--port", opt.port, "TCP port on 127.0.0.1");
  app.add_option("--token", opt.token, "required bearer token (empty: any)");
  app.add_option("--tls-cert", opt.tls_cert, "PEM certificate for wss://");
  app.add_option("--tls-key", opt.tls_key, "PEM key for wss://");
  app.add_option("--state", opt.state, "file keeping the high-water mark across restarts");
  app.add_option("--out-wav", opt.out_wav, "decode accepted speech into this WAV");
  app.add_option("--frames-log", opt.frames_log, "append one JSON line per accepted frame");
  app.add_option("--reply-wav", opt.reply_wav, "16 kHz WAV sent back after each segment end");
  app.add_option("--exit-after-frames", opt.exit_after_frames, "crash after accepting N frames");
  app.add_option("--ack-every", opt.ack_every, "acknowledge every N frames");
  app.add_flag("--no-ack", opt.no_ack, "never acknowledge");
  app.add_flag("--send-garbage", opt.send_garbage, "send malformed messages after welcome");
  app.add_flag("--refuse-version", opt.refuse_version, "refuse every hello with close 4002");
  app.add_flag("--reply-on-connect", opt.reply_on_connect, "send the reply right after welcome");
  app.add_option("--max-replies", opt.max_replies, "reply at most this many times");
  app.add_flag("--reply-on-speech-start", opt.reply_on_speech_start,
               "also reply when the node says speech started (a reply that overlaps the speech)");
  app.add_option("--reply-delay-ms", opt.reply_delay_ms,
                 "start a segment end's reply this much later (recognition and answer take time)");
  CLI11_PARSE(app, argc, argv);
  if (opt.ack_every < 1) opt.ack_every = 1;

  Host host;
  host.opt = opt;
  g_host = &host;
  load_state(host);
  host.tracker = protocol::SequenceTracker(host.high_water);
  std::string err;
  host.decoder = dsp::OpusFrameDecoder::create(16000, 1, &err);
  if (!opt.out_wav.empty()) {
    SF_INFO info{};
    info.samplerate = 16000;
    info.channels = 1;
    info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
    host.wav = sf_open(opt.out_wav.c_str(), SFM_WRITE, &info);
    if (host.wav) sf_command(host.wav, SFC_SET_UPDATE_HEADER_AUTO, nullptr, SF_TRUE);
  }
  if (!opt.frames_log.empty()) host.frames_log = fopen(opt.frames_log.c_str(), "a");
  prepare_reply(host);

  lws_set_log_level(LLL_ERR, nullptr);
  static lws_protocols protocols[] = {{"http", lws_callback_http_dummy, 0, 0, 0, nullptr, 0},
                                      {protocol::kSubprotocol, callback, 0, 4096, 0, nullptr, 0},
                                      {nullptr, nullptr, 0, 0, 0, nullptr, 0}};
  lws_context_creation_info info{};
  info.port = opt.port;
  info.iface = "127.0.0.1";
  info.protocols = protocols;
  if (!opt.tls_cert.empty()) {
    info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    info.ssl_cert_filepath = opt.tls_cert.c_str();
    info.ssl_private_key_filepath = opt.tls_key.c_str();
  }
  host.context = lws_create_context(&info);
  if (!host.context) {
    fprintf(stderr, "standin: cannot listen on port %d\n", opt.port);
    return 1;
  }
  signal(SIGTERM, [](int) {
    g_stop = true;
    lws_cancel_service(g_host->context);
  });
  signal(SIGINT, [](int) {
    g_stop = true;
    lws_cancel_service(g_host->context);
  });
  printf("listening on %d\n", opt.port);
  fflush(stdout);
  lws_sul_schedule(host.context, 0, &g_pace_timer, on_pace_timer, 10 * 1000);
  while (!g_stop)
    lws_service(host.context, 0);
  lws_context_destroy(host.context);
  if (host.wav) sf_close(host.wav);
  if (host.frames_log) fclose(host.frames_log);
  return 0;
}
