#include "host/wyoming/wyoming_services.h"

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <list>
#include <mutex>
#include <thread>

#include "dsp/resampler.h"
#include "host/clock.h"
#include "host/log.h"
#include "host/wyoming/tcp.h"
#include "protocol/wyoming/events.h"
#include "protocol/wyoming/framing.h"

namespace earshot::host {

namespace wy = protocol::wyoming;

namespace {

constexpr int kPollMs = 200;
constexpr int kWriteTimeoutMs = 10000;
constexpr int64_t kIdleMs = 5 * 60 * 1000;  // a connection that says nothing this long is closed
constexpr int kSttRate = 16000;

// Who made an engine, as `info` credits it (the engine name's first word).
wy::Attribution attribution_of(const std::string& engine) {
  if (engine.rfind("pocketsphinx", 0) == 0) return {"CMU Sphinx", "https://cmusphinx.github.io"};
  if (engine.rfind("flite", 0) == 0) return {"CMU Flite", "http://cmuflite.org"};
  if (engine.rfind("espeak", 0) == 0)
    return {"eSpeak NG", "https://github.com/espeak-ng/espeak-ng"};
  return {"an OpenAI-compatible server", ""};
}

std::vector<std::string> languages(const std::string& hint) {
  return {hint.empty() ? std::string("en") : hint.substr(0, hint.find_first_of("-_"))};
}

}  // namespace

struct WyomingServices::Impl {
  Impl(const WyomingConfig& c, Services& s) : config(c), services(s) {}

  struct Connection {
    int fd = -1;
    std::thread thread;
    std::atomic<bool> done{false};
  };

  WyomingConfig config;
  Services& services;
  int listen_fd = -1;
  int bound = 0;
  tcp::Waker waker;
  std::atomic<bool> stopping{false};
  std::thread acceptor;
  std::mutex mutex;
  std::list<Connection> connections;             // acceptor thread adds and reaps; stop() joins
  std::vector<std::pair<int, int64_t>> refused;  // acceptor: busy sockets and when to close

  void accept_loop();
  void serve(int fd);
  wy::Event info() const;
  bool send(int fd, const wy::Event& e) {
    return tcp::write_all(fd, wy::serialize(e), kWriteTimeoutMs);
  }
  // One transcription: audio in at any rate, the STT engine's transcript out.
  struct Transcription {
    std::optional<std::string> language;
    std::unique_ptr<SttStream> stream;
    std::unique_ptr<dsp::Resampler> resampler;
    int rate = 0;
    double seconds = 0;
    bool over_limit = false;
    std::vector<float> in, out;
  };
  bool audio(int fd, Transcription& t, const wy::Event& e);
  bool synthesize(int fd, const wy::Event& e);
};

wy::Event WyomingServices::Impl::info() const {
  wy::ServiceInfo info;
  const wy::Artifact program{
      "earshot", "Earshot bridge", "0.1.0", {"Earshot", "https://github.com/earshot"}, true, {}};
  const std::string stt = services.stt->name(), tts = services.tts->name();
  const std::vector<std::string> langs = languages(config.language);
  info.asr.push_back(
      {program,
       {wy::Artifact{stt, "speech to text: " + stt, "", attribution_of(stt), true, langs}}});
  const std::string voice =
      services.reply.voice.empty() ? std::string("default") : services.reply.voice;
  info.tts.push_back(
      {program,
       {wy::Artifact{voice, "text to speech: " + tts, "", attribution_of(tts), true, langs}}});
  return wy::info_event(info);
}

bool WyomingServices::Impl::audio(int fd, Transcription& t, const wy::Event& e) {
  wy::Read<wy::AudioFormat> f = wy::read_audio_format(e);
  if (!f.ok()) return send(fd, wy::error_event(f.error, "bad_audio"));
  if (f.value->width != 2 || !dsp::Resampler::is_supported_rate(f.value->rate))
    return send(fd, wy::error_event("audio must be 16-bit (width 2) at 8000-192000 Hz",
                                    "unsupported_audio"));
  if (t.over_limit) return true;
  if (!t.stream) t.stream = services.stt->start(t.language.value_or(config.language));
  if (t.rate != f.value->rate) {
    std::string error;
    t.rate = f.value->rate;
    t.resampler.reset();
    if (t.rate != kSttRate) t.resampler = dsp::Resampler::create(t.rate, kSttRate, 1 << 16, &error);
    if (t.rate != kSttRate && !t.resampler)
      return send(fd, wy::error_event("cannot resample: " + error, "internal"));
  }
  const int channels = f.value->channels;
  const size_t frames = e.payload.size() / size_t(2 * channels);
  t.seconds += double(frames) / t.rate;
  if (t.seconds > config.max_audio_s) {
    t.over_limit = true;  // the rest of this stream is dropped; audio-stop ends it
    return send(fd, wy::error_event("audio longer than " + std::to_string(config.max_audio_s) +
                                        " s: the rest is not transcribed",
                                    "audio_too_long"));
  }
  t.in.resize(frames);
  const auto* p = reinterpret_cast<const uint8_t*>(e.payload.data());
  for (size_t i = 0; i < frames; ++i) {  // the first channel
    const size_t at = i * size_t(channels) * 2;
    t.in[i] = float(int16_t(uint16_t(p[at] | (p[at + 1] << 8)))) / 32768.0f;
  }
  if (!t.resampler) {
    t.stream->feed(t.in.data(), frames);
    return true;
  }
  for (size_t at = 0; at < frames; at += 1 << 16) {
    const size_t n = std::min<size_t>(1 << 16, frames - at);
    t.out.resize(t.resampler->max_output_frames());
    const size_t m = t.resampler->process(t.in.data() + at, n, t.out.data(), t.out.size());
    t.stream->feed(t.out.data(), m);
  }
  return true;
}

bool WyomingServices::Impl::synthesize(int fd, const wy::Event& e) {
  wy::Read<wy::Synthesize> s = wy::read_synthesize(e);
  if (!s.ok()) return send(fd, wy::error_event(s.error, "bad_synthesize"));
  if (s.value->text.size() > size_t(config.max_text_chars))
    return send(fd, wy::error_event(
                        "text longer than " + std::to_string(config.max_text_chars) + " characters",
                        "text_too_long"));
  std::string out;
  int rate = 0;
  bool failed_write = false;
  std::vector<int16_t> pcm;
  CancelToken cancel;
  // The engine's own rate: Wyoming says it in audio-start, the client converts if it must.
  TtsResult r = services.tts->synthesize(
      s.value->text, services.reply.voice,
      [&](const float* samples, size_t count, int sample_rate) {
        if (rate == 0) {
          rate = sample_rate;
          wy::serialize_to(wy::audio_start_event({rate, 2, 1}, 0), &out);
        }
        pcm.resize(count);
        for (size_t i = 0; i < count; ++i)
          pcm[i] = int16_t(std::lrint(std::clamp(samples[i], -1.0f, 1.0f) * 32767.0f));
        wy::append_audio_chunk(rate, pcm.data(), count, &out);
        if (!tcp::write_all(fd, out, kWriteTimeoutMs)) {
          failed_write = true;
          return false;
        }
        out.clear();
        return !stopping.load();
      },
      cancel);
  if (failed_write) return false;
  if (!r.ok) return send(fd, wy::error_event("text to speech failed: " + r.error, "tts_failed"));
  if (rate == 0) out = wy::serialize(wy::audio_start_event({kSttRate, 2, 1}, 0));
  wy::serialize_to(wy::audio_stop_event(), &out);
  return tcp::write_all(fd, out, kWriteTimeoutMs);
}

void WyomingServices::Impl::serve(int fd) {
  wy::EventReader reader;
  std::vector<wy::Event> events;
  std::optional<Transcription> transcription;
  char buf[16384];
  int64_t heard_ms = monotonic_ms();
  while (!stopping.load()) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, kPollMs) <= 0) {
      if (monotonic_ms() - heard_ms > kIdleMs) break;
      continue;
    }
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      break;
    }
    heard_ms = monotonic_ms();
    if (!reader.feed(std::string_view(buf, size_t(n)), &events)) {
      services.metrics.count_error(ErrorReason::kProtocolError);
      LOG_WARN("wyoming", "service connection: %s (%s); closing it", reader.error().message.c_str(),
               reader.error().code.c_str());
      send(fd, wy::error_event(reader.error().message, reader.error().code));
      // Closing with unread bytes would reset the connection and lose the error on its way:
      // end our side, and read what the client still sends, for a moment.
      shutdown(fd, SHUT_WR);
      const int64_t until = monotonic_ms() + 1000;
      while (monotonic_ms() < until) {
        pollfd q{fd, POLLIN, 0};
        if (poll(&q, 1, 100) > 0 && recv(fd, buf, sizeof buf, 0) <= 0) break;
      }
      break;
    }
    bool ok = true;
    for (const wy::Event& e : events) {
      if (!ok) break;
      const std::string& type = e.type;
      if (type == wy::kDescribe) {
        ok = send(fd, info());
      } else if (type == wy::kPing) {
        wy::Read<std::string> text = wy::read_text(e);
        ok =
            send(fd, wy::pong_event(text.ok() && !text.value->empty() ? text.value : std::nullopt));
      } else if (type == wy::kTranscribe) {
        wy::Read<wy::Transcribe> t = wy::read_transcribe(e);
        transcription.emplace();
        if (t.ok()) transcription->language = t.value->language;
      } else if (type == wy::kAudioStart) {
        if (!transcription) transcription.emplace();  // a transcribe is optional
      } else if (type == wy::kAudioChunk) {
        if (!transcription)
          ok = send(fd, wy::error_event("audio-chunk before transcribe or audio-start",
                                        "unexpected_audio"));
        else
          ok = audio(fd, *transcription, e);
      } else if (type == wy::kAudioStop) {
        if (!transcription) {
          ok = send(fd, wy::error_event("audio-stop without audio", "unexpected_audio"));
          continue;
        }
        SttResult r;
        if (transcription->stream) {
          if (transcription->resampler) {  // what the resampler still holds
            transcription->out.resize(transcription->resampler->max_output_frames() + 1024);
            while (size_t m = transcription->resampler->flush(transcription->out.data(),
                                                              transcription->out.size()))
              transcription->stream->feed(transcription->out.data(), m);
          }
          r = transcription->stream->finish(CancelToken());
        } else {
          r.ok = true;  // no audio: nothing said
        }
        transcription.reset();
        ok = r.ok
                 ? send(fd, wy::transcript_event(r.text, r.language))
                 : send(fd, wy::error_event("speech recognition failed: " + r.error, "stt_failed"));
      } else if (type == wy::kSynthesize) {
        ok = synthesize(fd, e);
      } else {
        ok = send(fd, wy::error_event("this service does not handle " + type, "unsupported_event"));
      }
    }
    events.clear();
    if (!ok) break;
  }
  // The socket is closed by whoever joins this thread (no fd is reused under a shutdown()).
}

void WyomingServices::Impl::accept_loop() {
  while (!stopping.load()) {
    pollfd p[2] = {{listen_fd, POLLIN, 0}, {waker.read_fd, POLLIN, 0}};
    poll(p, 2, refused.empty() ? 1000 : 100);
    {  // reap finished connections
      std::lock_guard<std::mutex> lock(mutex);
      for (auto it = connections.begin(); it != connections.end();) {
        if (it->done.load()) {
          it->thread.join();
          ::close(it->fd);
          it = connections.erase(it);
        } else {
          ++it;
        }
      }
    }
    for (auto it = refused.begin(); it != refused.end();) {
      char sink[4096];
      ssize_t n;
      while ((n = recv(it->first, sink, sizeof sink, 0)) > 0) {
      }
      if (n == 0 || monotonic_ms() >= it->second) {
        ::close(it->first);
        it = refused.erase(it);
      } else {
        ++it;
      }
    }
    if (!(p[0].revents & POLLIN)) continue;
    const int fd = accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) continue;
    std::lock_guard<std::mutex> lock(mutex);
    if (connections.size() >= size_t(config.max_connections)) {
      tcp::write_all(
          fd,
          wy::serialize(wy::error_event("busy: " + std::to_string(config.max_connections) +
                                            " connections are open (wyoming.max_connections)",
                                        "busy")),
          500);
      // Closed a moment later, after reading what the client sent: a close with unread bytes
      // would reset the connection and lose the error on its way.
      shutdown(fd, SHUT_WR);
      refused.push_back({fd, monotonic_ms() + 1000});
      LOG_WARN("wyoming", "service connection refused: %d already open", config.max_connections);
      continue;
    }
    Connection& c = connections.emplace_back();
    c.fd = fd;
    c.thread = std::thread([this, &c, fd] {
      serve(fd);
      c.done.store(true);
      waker.wake();
    });
  }
}

WyomingServices::WyomingServices(const WyomingConfig& config, Services& services)
    : impl_(std::make_unique<Impl>(config, services)) {}

WyomingServices::~WyomingServices() {
  stop();
}

bool WyomingServices::start(std::string* error) {
  Impl& s = *impl_;
  s.listen_fd = tcp::listen_on(s.config.listen, s.config.port, error);
  if (s.listen_fd < 0) {
    *error = "wyoming: cannot listen on " + s.config.listen + ":" + std::to_string(s.config.port) +
             ": " + *error;
    return false;
  }
  s.bound = tcp::bound_port(s.listen_fd);
  s.waker.open();
  s.acceptor = std::thread([&s] { s.accept_loop(); });
  LOG_INFO("wyoming", "serving asr (%s) and tts (%s) on %s:%d", s.services.stt->name().c_str(),
           s.services.tts->name().c_str(), s.config.listen.c_str(), s.bound);
  return true;
}

int WyomingServices::port() const {
  return impl_->bound;
}

void WyomingServices::stop() {
  Impl& s = *impl_;
  if (s.listen_fd < 0) return;
  s.stopping.store(true);
  s.waker.wake();
  if (s.acceptor.joinable()) s.acceptor.join();
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    for (auto& c : s.connections) {
      shutdown(c.fd, SHUT_RDWR);  // a thread in an engine call sees it when it writes
      c.thread.join();
      ::close(c.fd);
    }
    s.connections.clear();
  }
  for (auto& [fd, when] : s.refused)
    ::close(fd);
  s.refused.clear();
  ::close(s.listen_fd);
  s.listen_fd = -1;
  s.waker.close();
}

}  // namespace earshot::host
