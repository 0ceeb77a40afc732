// Bridge under load: a REAL earshot-bridge process — its memory, file descriptors, shutdown time
// and a soak — with many simulated nodes, floods and clients that stop reading.
//
// The bridge runs as a child process with a config in a scratch directory. Its engines are, by
// default, OpenAI-compatible servers in this process that answer at once (STT: a fixed transcript;
// LLM: two short sentences streamed as SSE; TTS: 1 s of 24 kHz s16le PCM per sentence), so what is
// measured is the bridge's own work; `--engines embedded` uses the bridge's embedded defaults
// (pocketsphinx, echo, flite) instead. Nodes are raw WebSocket clients
// (tests/support/ws_test_client) in this process, one thread each, speaking earshot.v1: hello,
// then pre-encoded Opus speech (librivox clips) paced at 20 ms real time. A conversation node
// speaks for 2.5 s, then is silent for 3.5 s (a turn every 6 s, the bridge answering with ~2 s of
// reply audio); it reads everything the bridge sends and answers a finished reply with
// playback_done, nothing else. An ambient node sends 3 s segments with 2 s of silence between
// them. Nodes start at spread phases. The bridge's memory and descriptors are read from
// /proc/PID/status (VmRSS, VmHWM, Threads), /proc/PID/fd and /proc/PID/stat (CPU time), its
// counters from its /metrics.
//
//   bridge_load rss       RSS at baseline, with 20 sessions after 60 s, with 200 sessions after
//                         60 s, and 10 s after all of them closed; then 200 sessions (the same
//                         node ids) once more and 10 s after they closed, to tell memory kept
//                         as a high-water mark from memory that grows with every round.
//   bridge_load shutdown  200 sessions mid-turn, then SIGTERM: time until the bridge exits, against
//                         server.drain_timeout_ms (--drain-ms, 5000).
//   bridge_load soak --minutes M --nodes N
//                         a sample a minute; least-squares slope of RSS (kB/min) and fds (/min)
//                         over the samples after the first 2 minutes (warm-up); "flat" when
//                         |slope| x duration < 5 % of the mean.
//   bridge_load flood     the fault probe's scenario: 3 real-time conversation nodes, 1 real-time
//                         ambient node, 1 client flooding ambient audio as fast as its socket
//                         takes it; none of the 5 reads anything (4 KiB receive buffers); 60 s,
//                         then every session closed; RSS every 5 s, then 5, 10, 30 and 60 s
//                         after closing.
//
// Columns: rss_MB = VmRSS, hwm_MB = VmHWM (peak RSS so far), fds = entries in /proc/PID/fd,
// threads = the bridge's threads, cpu_% = the bridge's CPU time over the phase / wall time (200 % =
// both cores), turns / segments / frames_in = the bridge's earshot_turns_total,
// earshot_segments_stored_total, earshot_frames_received_total.
//
// Options: --bridge PATH (default: this build tree's host/earshot-bridge), --engines fake|embedded,
// --wrap "CMD ARGS" (run the bridge under a tool, e.g. "heaptrack -o FILE"), --seconds S (the
// 60 s phases), --drain-ms MS, --minutes M, --nodes N.
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <netinet/in.h>
#include <poll.h>

#include <dirent.h>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "dsp/opus_frame_encoder.h"
#include "host/engines/http_client.h"
#include "protocol/audio_frame.h"
#include "protocol/messages.h"
#include "tests/support/fake_http_server.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_audio.h"
#include "tests/support/ws_test_client.h"

using namespace earshot;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// ---------------------------------------------------------------------------------------------
// Instant OpenAI-compatible engines: one HTTP server for /audio/transcriptions,
// /chat/completions and /audio/speech. A detached thread per connection; nothing is kept.
class InstantEngines {
 public:
  InstantEngines() {
    // 1 s of a 24 kHz tone, s16le: what Kokoro's "pcm" format sends.
    for (int i = 0; i < 24000; ++i) {
      const auto v = int16_t(6000 * std::sin(float(i) * 2 * float(M_PI) * 180 / 24000));
      tts_body_.push_back(char(v & 0xff));
      tts_body_.push_back(char((v >> 8) & 0xff));
    }
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);  // not the bridge's
    int one = 1;
    setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    listen(listen_fd_, 256);
    socklen_t len = sizeof addr;
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }
  ~InstantEngines() {
    stop_.store(true);
    acceptor_.join();
    close(listen_fd_);
    test::wait_until([&] { return active_.load() == 0; }, 5s);
  }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1"; }
  uint64_t requests() const { return requests_.load(); }

 private:
  void accept_loop() {
    while (!stop_.load()) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      const int fd = accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) continue;
      active_.fetch_add(1);
      std::thread([this, fd] {
        serve(fd);
        active_.fetch_sub(1);
      }).detach();
    }
  }
  void serve(int fd) {
    std::string data, path;
    size_t header_end = std::string::npos, content_length = 0;
    char buf[16384];
    while (true) {
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 5000) <= 0) break;
      const ssize_t n = recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      data.append(buf, size_t(n));
      if (header_end == std::string::npos) {
        header_end = data.find("\r\n\r\n");
        if (header_end == std::string::npos) continue;
        const size_t sp1 = data.find(' '), sp2 = data.find(' ', sp1 + 1);
        path = data.substr(sp1 + 1, sp2 - sp1 - 1);
        std::string head = data.substr(0, header_end);
        std::transform(head.begin(), head.end(), head.begin(),
                       [](unsigned char c) { return char(std::tolower(c)); });
        const size_t cl = head.find("\r\ncontent-length:");
        if (cl != std::string::npos) content_length = std::stoul(head.substr(cl + 17));
      }
      if (data.size() >= header_end + 4 + content_length) break;
    }
    test::HttpResponder r(fd);
    requests_.fetch_add(1);
    if (path.find("/audio/transcriptions") != std::string::npos) {
      r.full(200, "application/json", R"({"text":" What time is it?","language":"en"})");
    } else if (path.find("/chat/completions") != std::string::npos) {
      r.start_chunked(200, "text/event-stream");
      r.chunk(test::sse(R"({"choices":[{"index":0,"delta":{"content":"It is noon. "}}]})"));
      r.chunk(test::sse(R"({"choices":[{"index":0,"delta":{"content":"Have a nice day."}}]})"));
      r.chunk(test::sse("[DONE]"));
      r.end_chunked();
    } else if (path.find("/audio/speech") != std::string::npos) {
      r.full(200, "audio/pcm", tts_body_);
    } else {
      r.full(404, "application/json", R"({"error":"no such route"})");
    }
    shutdown(fd, SHUT_WR);
    close(fd);
  }
  std::string tts_body_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> active_{0};
  std::atomic<uint64_t> requests_{0};
  std::thread acceptor_;
};

// ---------------------------------------------------------------------------------------------
// The bridge process and what /proc says about it.
struct ProcSample {
  double t_s = 0;
  long rss_kb = 0, hwm_kb = 0, threads = 0, fds = 0;
  double cpu_s = 0;  // utime + stime
};

long status_field(const std::string& status, const char* name) {
  const size_t at = status.find(std::string("\n") + name + ":");
  if (at == std::string::npos) return -1;
  return std::stol(status.substr(at + strlen(name) + 2));
}

class BridgeProcess {
 public:
  struct Options {
    std::string binary, engines = "fake", engines_url, wrap;
    int drain_ms = 5000;
    std::string extra_server_toml;
  };
  BridgeProcess(const std::string& name, const Options& o)
      : dir_(test::scratch_dir(name)), port_(test::free_port()) {
    config_ = dir_ + "/bridge.toml";
    std::ofstream f(config_);
    f << "[server]\nlisten = \"127.0.0.1\"\nport = " << port_
      << "\nshared_token = \"bench\"\ndrain_timeout_ms = " << o.drain_ms << "\n"
      << o.extra_server_toml << "[store]\npath = \"" << dir_ << "/earshot.db\"\n";
    if (o.engines == "fake") {
      f << "[stt]\nengine = \"openai\"\nbase_url = \"" << o.engines_url
        << "\"\nmodel = \"whisper\"\nlanguage = \"en\"\n"
        << "[llm]\nengine = \"openai\"\nbase_url = \"" << o.engines_url << "\"\nmodel = \"m\"\n"
        << "[tts]\nengine = \"openai\"\nbase_url = \"" << o.engines_url
        << "\"\nmodel = \"kokoro\"\nvoice = \"af_heart\"\nresponse_format = \"pcm\"\n"
        << "sample_rate = 24000\n";
    }
    f.close();
    std::vector<std::string> argv;
    std::istringstream wrap(o.wrap);
    for (std::string word; wrap >> word;)
      argv.push_back(word);
    binary_ = o.binary;
    argv.insert(argv.end(), {o.binary, "--config", config_});
    process_ = std::make_unique<test::Subprocess>(argv, dir_ + "/bridge");
    if (!test::wait_until(
            [&] { return process_->stdout_text().find("listening on port") != std::string::npos; },
            180s)) {
      fprintf(stderr, "bridge_load: the bridge did not start:\n%s\n",
              process_->stderr_text().c_str());
      exit(1);
    }
    pid_ = find_pid();
  }
  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  const std::string& dir() const { return dir_; }
  test::Subprocess& process() { return *process_; }

  ProcSample sample(Clock::time_point t0) const {
    ProcSample s;
    s.t_s = seconds_since(t0);
    const std::string status = test::read_file("/proc/" + std::to_string(pid_) + "/status");
    s.rss_kb = status_field(status, "VmRSS");
    s.hwm_kb = status_field(status, "VmHWM");
    s.threads = status_field(status, "Threads");
    if (DIR* d = opendir(("/proc/" + std::to_string(pid_) + "/fd").c_str())) {
      while (dirent* e = readdir(d))
        if (e->d_name[0] != '.') ++s.fds;
      closedir(d);
    }
    const std::string stat = test::read_file("/proc/" + std::to_string(pid_) + "/stat");
    const size_t paren = stat.rfind(')');
    if (paren != std::string::npos) {
      std::istringstream in(stat.substr(paren + 2));
      std::string field;
      unsigned long long utime = 0, stime = 0;
      for (int i = 3; i <= 15 && in >> field; ++i) {
        if (i == 14) utime = std::stoull(field);
        if (i == 15) stime = std::stoull(field);
      }
      s.cpu_s = double(utime + stime) / double(sysconf(_SC_CLK_TCK));
    }
    return s;
  }

  // What each open descriptor points at ("socket:[…]" as "socket").
  std::vector<std::string> fd_targets() const {
    std::vector<std::string> out;
    const std::string dir = "/proc/" + std::to_string(pid_) + "/fd";
    if (DIR* d = opendir(dir.c_str())) {
      while (dirent* e = readdir(d)) {
        if (e->d_name[0] == '.') continue;
        char target[512];
        const ssize_t n = readlink((dir + "/" + e->d_name).c_str(), target, sizeof target - 1);
        std::string t(target, size_t(std::max<ssize_t>(0, n)));
        if (t.rfind("socket:", 0) == 0) t = "socket";
        out.push_back(t);
      }
      closedir(d);
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  // A counter from /metrics, or -1.
  long metric(const std::string& counter) const {
    std::string body;
    host::HttpRequest req;
    req.url = "http://127.0.0.1:" + std::to_string(port_) + "/metrics";
    req.first_byte_timeout_ms = 5000;
    host::http_request(
        req,
        [&](std::string_view chunk) {
          body.append(chunk);
          return true;
        },
        host::CancelToken());
    const std::string name = "\n" + counter + " ";
    const size_t at = body.find(name);
    return at == std::string::npos ? -1 : std::stol(body.substr(at + name.size()));
  }

 private:
  // The bridge itself: our child, or (under --wrap) the process running the bridge binary with
  // our config.
  pid_t find_pid() const {
    DIR* d = opendir("/proc");
    pid_t found = process_->pid();
    while (dirent* e = readdir(d)) {
      if (!isdigit(uint8_t(e->d_name[0]))) continue;
      const std::string cmdline = test::read_file(std::string("/proc/") + e->d_name + "/cmdline");
      if (cmdline.rfind(binary_ + '\0', 0) == 0 && cmdline.find(config_) != std::string::npos)
        found = pid_t(atoi(e->d_name));
    }
    closedir(d);
    return found;
  }
  std::string dir_, config_, binary_;
  int port_;
  pid_t pid_ = -1;
  std::unique_ptr<test::Subprocess> process_;
};

// ---------------------------------------------------------------------------------------------
// Simulated nodes.
enum class Kind { kConversation, kAmbient, kFlooder };

// Pre-encoded speech: Opus packets of librivox clips back to back, shared by every node.
std::vector<std::string> speech_packets() {
  std::string error;
  auto encoder = dsp::OpusFrameEncoder::create({}, &error);
  std::vector<std::string> packets;
  uint8_t packet[1500];
  for (const char* id : {"0880", "0930", "0890", "0920", "0870"}) {
    test::Audio clip = test::read_audio(test::data_path(
        std::string("pocketsphinx/librivox/sense_and_sensibility_01_austen_64kb-") + id + ".wav"));
    for (size_t i = 0; i + 320 <= clip.samples.size(); i += 320) {
      const int n = encoder->encode(&clip.samples[i], packet, sizeof packet);
      if (n > 0) packets.emplace_back(reinterpret_cast<char*>(packet), size_t(n));
    }
  }
  return packets;
}

class SimNode {
 public:
  SimNode(Kind kind, int index, int port, const std::vector<std::string>& packets, bool reads)
      : kind_(kind), index_(index), port_(port), packets_(packets), reads_(reads) {
    const int cycle = kind == Kind::kConversation ? kConvCycle : kAmbientCycle;
    tick_ = (index * 37) % cycle;  // spread the turns
    packet_at_ = size_t(index * 211) % packets_.size();
  }
  ~SimNode() { stop(); }
  void start() {
    thread_ = std::thread([this] { run(); });
  }
  void request_stop() { stop_.store(true); }
  void stop() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
  }
  bool welcomed() const { return welcomed_.load(); }
  bool gone() const { return gone_.load(); }
  bool speaking() const { return speaking_.load(); }
  bool in_reply() const { return in_reply_.load(); }
  int close_code() const { return close_code_.load(); }
  Kind kind() const { return kind_; }
  uint64_t frames_sent() const { return frames_sent_.load(); }
  uint64_t reply_frames() const { return reply_frames_.load(); }
  uint64_t replies() const { return replies_.load(); }
  uint64_t completed_reply_frames() const { return completed_reply_frames_.load(); }
  uint64_t reply_ms() const { return reply_ms_.load(); }  // speech_out_start -> _end, summed
  const std::string& failure() const { return failure_; }
  // Wall time the connection was seen to end (close frame or TCP end), if it did.
  Clock::time_point ended_at() const { return ended_at_; }

 private:
  static constexpr int kConvSpeech = 125, kConvCycle = 300;        // 2.5 s speech, 3.5 s silent
  static constexpr int kAmbientSpeech = 150, kAmbientCycle = 250;  // 3 s segments, 2 s between

  std::string frame(uint16_t flags) {
    protocol::AudioFrameHeader h;
    h.seq = seq_++;
    h.timestamp = ts_;
    h.flags = flags;
    const std::string& p = packets_[packet_at_++ % packets_.size()];
    uint8_t wire[protocol::kMaxAudioFrameSize];
    const size_t n = protocol::write_audio_frame(h, reinterpret_cast<const uint8_t*>(p.data()),
                                                 p.size(), wire, sizeof wire);
    return std::string(reinterpret_cast<char*>(wire), n);
  }
  void ended(int code) {
    if (gone_.exchange(true)) return;
    close_code_.store(code);
    ended_at_ = Clock::now();
  }
  // The reply is over once speech_out_end has named its last frame and that frame has arrived
  // (control messages may overtake paced reply audio): then playback_done, as a node that played
  // it to its end would send.
  void reply_maybe_done() {
    if (!end_seen_ || last_reply_seq_ < reply_last_seq_) return;
    end_seen_ = false;
    in_reply_.store(false);
    replies_.fetch_add(1);
    completed_reply_frames_.fetch_add(uint64_t(reply_last_seq_ + 1));
    reply_ms_.fetch_add(uint64_t(
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - reply_started_)
            .count()));
    nlohmann::json done = {{"type", "playback_done"},
                           {"reply_id", reply_id_},
                           {"played_ms", (reply_last_seq_ + 1) * 20}};
    ws_.send_text(done.dump(), 500);
  }
  void handle(const test::WsTestClient::Received& r) {
    using R = test::WsTestClient::Received;
    if (r.kind == R::kBinary) {
      reply_frames_.fetch_add(1);
      protocol::AudioFrameView view;
      if (protocol::parse_audio_frame(reinterpret_cast<const uint8_t*>(r.payload.data()),
                                      r.payload.size(), &view) == protocol::FrameError::kOk)
        last_reply_seq_ = int64_t(view.header.seq);
      reply_maybe_done();
    } else if (r.kind == R::kText) {
      if (r.payload.find("\"speech_out_start\"") != std::string::npos) {
        in_reply_.store(true);
        end_seen_ = false;
        last_reply_seq_ = -1;
        reply_started_ = Clock::now();
      } else if (r.payload.find("\"speech_out_end\"") != std::string::npos) {
        const auto j = nlohmann::json::parse(r.payload, nullptr, false);
        if (j.is_discarded() || !j.contains("reply_id") || !j.contains("last_seq")) return;
        reply_id_ = j["reply_id"].get<std::string>();
        reply_last_seq_ = j["last_seq"].get<int64_t>();
        end_seen_ = true;
        reply_maybe_done();
      }
    } else if (r.kind == R::kClose) {
      ended(r.close_code);
    } else if (r.kind == R::kGone) {
      ended(0);
    }
  }
  void run() {
    std::string error;
    if (!ws_.connect(port_, {"Authorization: Bearer bench"}, reads_ ? 0 : 4096, &error)) {
      failure_ = error;
      ended(-1);
      return;
    }
    protocol::Hello hello;
    hello.node_id = (kind_ == Kind::kConversation ? "load-c" : "load-a") + std::to_string(index_);
    hello.audio = {"opus", 16000, 1, 20};
    hello.mode =
        kind_ == Kind::kConversation ? protocol::Mode::kConversation : protocol::Mode::kAmbient;
    hello.capabilities = {"playback"};
    ws_.send_text(protocol::to_json(hello));
    const auto welcome = ws_.read(10000);
    if (welcome.kind != test::WsTestClient::Received::kText ||
        welcome.payload.find("welcome") == std::string::npos) {
      failure_ = "no welcome: " + welcome.payload;
      ended(-1);
      return;
    }
    // A node that comes back numbers on from what the bridge has (docs/protocol.md, delivery).
    const auto w = nlohmann::json::parse(welcome.payload, nullptr, false);
    if (!w.is_discarded() && w.contains("acked_seq") && w["acked_seq"].is_number_unsigned())
      seq_ = w["acked_seq"].get<uint64_t>() + 1;
    welcomed_.store(true);
    if (kind_ == Kind::kFlooder) return flood();
    const int speech = kind_ == Kind::kConversation ? kConvSpeech : kAmbientSpeech;
    const int cycle = kind_ == Kind::kConversation ? kConvCycle : kAmbientCycle;
    auto next = Clock::now();
    while (!stop_.load() && !gone_.load()) {
      if (Clock::now() >= next) {
        const int at = tick_ % cycle;
        if (at < speech) {
          uint16_t flags = 0;
          if (at == 0) flags |= protocol::kFlagSegmentStart;
          if (at == speech - 1) flags |= protocol::kFlagSegmentEnd;
          speaking_.store(true);
          if (ws_.send_binary(frame(flags), 1000)) frames_sent_.fetch_add(1);
        } else {
          speaking_.store(false);
        }
        ts_ += 320;
        ++tick_;
        next += 20ms;
        continue;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(next - Clock::now());
      if (reads_) {
        handle(ws_.read(std::max(1, int(left.count()))));
      } else {
        std::this_thread::sleep_until(next);
      }
    }
  }
  // As fast as the socket takes it; segments of 100 frames.
  void flood() {
    while (!stop_.load()) {
      const int at = tick_ % 100;
      uint16_t flags = 0;
      if (at == 0) flags |= protocol::kFlagSegmentStart;
      if (at == 99) flags |= protocol::kFlagSegmentEnd;
      if (ws_.send_binary(frame(flags), 200)) {
        frames_sent_.fetch_add(1);
        ts_ += 320;
        ++tick_;
      } else {
        --seq_;  // not sent: the same seq next time
        --packet_at_;
        std::this_thread::sleep_for(10ms);
      }
    }
  }

  Kind kind_;
  int index_, port_;
  const std::vector<std::string>& packets_;
  bool reads_;
  test::WsTestClient ws_;
  std::thread thread_;
  std::atomic<bool> stop_{false}, welcomed_{false}, gone_{false}, speaking_{false},
      in_reply_{false};
  std::atomic<int> close_code_{0};
  std::atomic<uint64_t> frames_sent_{0}, reply_frames_{0}, replies_{0}, reply_ms_{0},
      completed_reply_frames_{0};
  Clock::time_point reply_started_{};
  uint64_t seq_ = 0, ts_ = 0;
  size_t packet_at_ = 0;
  int tick_ = 0;
  bool end_seen_ = false;
  int64_t last_reply_seq_ = -1, reply_last_seq_ = -1;
  std::string reply_id_;
  std::string failure_;
  Clock::time_point ended_at_{};
};

using Nodes = std::vector<std::unique_ptr<SimNode>>;

// Adds `count` nodes, a quarter of them ambient, and waits until every one is welcomed.
void add_nodes(Nodes& nodes, size_t count, int port, const std::vector<std::string>& packets) {
  const size_t first = nodes.size();
  for (size_t i = first; i < first + count; ++i) {
    const Kind kind = i % 4 == 3 ? Kind::kAmbient : Kind::kConversation;
    nodes.push_back(std::make_unique<SimNode>(kind, int(i), port, packets, true));
    nodes.back()->start();
    std::this_thread::sleep_for(5ms);  // connect gradually, like nodes coming up
  }
  const bool all = test::wait_until(
      [&] {
        return std::all_of(nodes.begin() + long(first), nodes.end(),
                           [](auto& n) { return n->welcomed() || n->gone(); });
      },
      60s);
  size_t failed = 0;
  for (auto& n : nodes)
    if (n->gone() && !n->welcomed()) {
      if (++failed <= 3) fprintf(stderr, "bridge_load: a node failed: %s\n", n->failure().c_str());
    }
  if (!all || failed) fprintf(stderr, "bridge_load: %zu node(s) not welcomed\n", failed);
}

void close_nodes(Nodes& nodes) {
  for (auto& n : nodes)
    n->request_stop();
  for (auto& n : nodes)
    n->stop();
  nodes.clear();  // each socket closed (TCP close, no close frame: a node that vanishes)
}

size_t closed_by_bridge(const Nodes& nodes) {
  return size_t(std::count_if(nodes.begin(), nodes.end(), [](auto& n) { return n->gone(); }));
}

// What the nodes saw: frames sent, replies heard, their mean length in frames and in wall time.
std::string node_summary(const Nodes& nodes) {
  uint64_t sent = 0, replies = 0, reply_frames = 0, reply_ms = 0;
  for (auto& n : nodes) {
    sent += n->frames_sent();
    replies += n->replies();
    reply_frames += n->completed_reply_frames();
    reply_ms += n->reply_ms();
  }
  char text[256];
  snprintf(text, sizeof text,
           "nodes: %llu microphone frames sent, %llu replies heard to their end (mean %.0f "
           "frames, %.0f ms from speech_out_start to the last frame)",
           (unsigned long long)sent, (unsigned long long)replies,
           replies ? double(reply_frames) / double(replies) : 0.0,
           replies ? double(reply_ms) / double(replies) : 0.0);
  return text;
}

struct Row {
  std::string phase;
  size_t sessions;
  ProcSample s;
  double cpu_pct;
  long turns, segments, frames_in;
};

void print_rows(const std::vector<Row>& rows) {
  printf(
      "| phase | sessions | rss_MB | hwm_MB | fds | threads | cpu_%% | turns | segments | "
      "frames_in |\n|---|---|---|---|---|---|---|---|---|---|\n");
  for (const Row& r : rows)
    printf("| %s | %zu | %.1f | %.1f | %ld | %ld | %.0f | %ld | %ld | %ld |\n", r.phase.c_str(),
           r.sessions, double(r.s.rss_kb) / 1024, double(r.s.hwm_kb) / 1024, r.s.fds, r.s.threads,
           r.cpu_pct, r.turns, r.segments, r.frames_in);
  fflush(stdout);
}

struct Args {
  std::string mode;
  BridgeProcess::Options bridge;
  double seconds = 60;
  double minutes = 60;
  size_t nodes = 20;
};

Row row(const BridgeProcess& b, const std::string& phase, size_t sessions, Clock::time_point t0,
        const ProcSample& since) {
  Row r;
  r.phase = phase;
  r.sessions = sessions;
  r.s = b.sample(t0);
  const double wall = r.s.t_s - since.t_s;
  r.cpu_pct = wall > 0 ? 100.0 * (r.s.cpu_s - since.cpu_s) / wall : 0;
  r.turns = b.metric("earshot_turns_total");
  r.segments = b.metric("earshot_segments_stored_total");
  r.frames_in = b.metric("earshot_frames_received_total");
  return r;
}

// 1. RSS at baseline, 20 sessions, 200 sessions, and after closing.
int run_rss(const Args& a, const std::vector<std::string>& packets) {
  BridgeProcess bridge("bridge_load_rss", a.bridge);
  const auto t0 = Clock::now();
  std::vector<Row> rows;
  std::this_thread::sleep_for(3s);
  ProcSample mark = bridge.sample(t0);
  rows.push_back(row(bridge, "baseline (started, no sessions)", 0, t0, mark));
  const std::vector<std::string> fds_before = bridge.fd_targets();
  Nodes nodes;
  add_nodes(nodes, 20, bridge.port(), packets);
  mark = bridge.sample(t0);
  std::this_thread::sleep_for(std::chrono::duration<double>(a.seconds));
  const std::string after = ", after " + std::to_string(int(a.seconds)) + " s";
  rows.push_back(
      row(bridge, "20 sessions" + after, nodes.size() - closed_by_bridge(nodes), t0, mark));
  add_nodes(nodes, 180, bridge.port(), packets);
  mark = bridge.sample(t0);
  std::this_thread::sleep_for(std::chrono::duration<double>(a.seconds));
  rows.push_back(
      row(bridge, "200 sessions" + after, nodes.size() - closed_by_bridge(nodes), t0, mark));
  const std::string summary = node_summary(nodes);
  close_nodes(nodes);
  mark = bridge.sample(t0);
  std::this_thread::sleep_for(10s);
  rows.push_back(row(bridge, "10 s after all closed",
                     size_t(std::max(0L, bridge.metric("earshot_sessions_active"))), t0, mark));
  // Once more: what stays after closing is a high-water mark if it does not grow again.
  add_nodes(nodes, 200, bridge.port(), packets);
  mark = bridge.sample(t0);
  std::this_thread::sleep_for(std::chrono::duration<double>(a.seconds));
  rows.push_back(
      row(bridge, "200 sessions again" + after, nodes.size() - closed_by_bridge(nodes), t0, mark));
  close_nodes(nodes);
  mark = bridge.sample(t0);
  std::this_thread::sleep_for(10s);
  rows.push_back(row(bridge, "10 s after all closed again",
                     size_t(std::max(0L, bridge.metric("earshot_sessions_active"))), t0, mark));
  print_rows(rows);
  const std::vector<std::string> fds_after = bridge.fd_targets();
  std::vector<std::string> added;
  std::set_difference(fds_after.begin(), fds_after.end(), fds_before.begin(), fds_before.end(),
                      std::back_inserter(added));
  printf("\ndescriptors open after closing that were not open at baseline:");
  for (const std::string& t : added)
    printf(" %s", t.c_str());
  printf("%s\n", added.empty() ? " none" : "");
  printf("%s\nbridge: %ld reply frames dropped, %ld microphone frames late, %ld lost\n",
         summary.c_str(), bridge.metric("earshot_reply_frames_dropped_total"),
         bridge.metric("earshot_frames_late_total"), bridge.metric("earshot_frames_lost_total"));
  bridge.process().signal(SIGTERM);
  bridge.process().wait(30s);
  return 0;
}

// 2. SIGTERM with 200 sessions mid-turn.
int run_shutdown(const Args& a, const std::vector<std::string>& packets) {
  BridgeProcess bridge("bridge_load_shutdown", a.bridge);
  Nodes nodes;
  add_nodes(nodes, 200, bridge.port(), packets);
  // Long enough that every conversation node has had a turn and replies are playing.
  std::this_thread::sleep_for(std::chrono::duration<double>(std::min(a.seconds, 15.0)));
  size_t speaking = 0, replying = 0;
  for (auto& n : nodes) {
    speaking += n->speaking();
    replying += n->in_reply();
  }
  const long sessions = bridge.metric("earshot_sessions_active");
  const std::string summary = node_summary(nodes);
  const auto t0 = Clock::now();
  kill(bridge.pid(), SIGTERM);
  const int status = bridge.process().wait(120s);
  const double took = seconds_since(t0);
  double last_close = 0;
  std::map<int, size_t> codes;
  for (auto& n : nodes) {
    if (!n->gone()) continue;
    ++codes[n->close_code()];
    last_close = std::max(last_close, std::chrono::duration<double>(n->ended_at() - t0).count());
  }
  printf(
      "| sessions | speaking at SIGTERM | reply playing at SIGTERM | drain_timeout_ms | "
      "SIGTERM -> exit s | exit status | last node link ended s |\n"
      "|---|---|---|---|---|---|---|\n");
  printf("| %ld | %zu | %zu | %d | %.2f | %d | %.2f |\n", sessions, speaking, replying,
         a.bridge.drain_ms, took, status, last_close);
  printf("\nclose codes seen by the nodes:");
  for (auto& [code, count] : codes)
    printf(" %d x%zu", code, count);
  printf(" (0: TCP end without a close frame)\nbefore SIGTERM, %s\n", summary.c_str());
  const std::string err = bridge.process().stderr_text();
  size_t from = err.size() > 1500 ? err.size() - 1500 : 0;
  printf("\nlast lines of the bridge's log:\n%s\n", err.substr(from).c_str());
  close_nodes(nodes);
  return status == 0 ? 0 : 1;
}

// Least-squares slope of y over x.
double slope(const std::vector<double>& x, const std::vector<double>& y) {
  const double n = double(x.size());
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    sx += x[i];
    sy += y[i];
    sxx += x[i] * x[i];
    sxy += x[i] * y[i];
  }
  const double d = n * sxx - sx * sx;
  return d == 0 ? 0 : (n * sxy - sx * sy) / d;
}

// 3. Soak: a sample a minute.
int run_soak(const Args& a, const std::vector<std::string>& packets) {
  BridgeProcess bridge("bridge_load_soak", a.bridge);
  Nodes nodes;
  add_nodes(nodes, a.nodes, bridge.port(), packets);
  const auto t0 = Clock::now();
  printf(
      "| minute | rss_kB | hwm_kB | fds | threads | cpu_%% | turns | segments | sessions |\n"
      "|---|---|---|---|---|---|---|---|---|\n");
  std::vector<double> minute, rss, fds;
  ProcSample prev = bridge.sample(t0);
  const int total = int(std::lround(a.minutes));
  for (int m = 0; m <= total; ++m) {
    std::this_thread::sleep_until(t0 + std::chrono::minutes(m));
    const ProcSample s = bridge.sample(t0);
    const double cpu = m == 0 ? 0 : 100.0 * (s.cpu_s - prev.cpu_s) / (s.t_s - prev.t_s);
    prev = s;
    printf("| %d | %ld | %ld | %ld | %ld | %.0f | %ld | %ld | %ld |\n", m, s.rss_kb, s.hwm_kb,
           s.fds, s.threads, cpu, bridge.metric("earshot_turns_total"),
           bridge.metric("earshot_segments_stored_total"),
           bridge.metric("earshot_sessions_active"));
    fflush(stdout);
    if (m >= 2) {
      minute.push_back(m);
      rss.push_back(double(s.rss_kb));
      fds.push_back(double(s.fds));
    }
  }
  const size_t gone = closed_by_bridge(nodes);
  const std::string summary = node_summary(nodes);
  close_nodes(nodes);
  if (minute.size() < 2) {
    printf("\ntoo short for a slope (needs samples after minute 2)\n");
    return 0;
  }
  const double duration = minute.back() - minute.front();
  auto verdict = [&](const char* what, const char* unit, const std::vector<double>& y) {
    double mean = 0;
    for (double v : y)
      mean += v;
    mean /= double(y.size());
    const double k = slope(minute, y);
    const double drift = std::fabs(k) * duration;
    printf(
        "%s: slope %.2f %s/min over minutes %.0f-%.0f (mean %.1f): %.2f %% of the mean over "
        "the run: %s\n",
        what, k, unit, minute.front(), minute.back(), mean, 100 * drift / mean,
        drift < 0.05 * mean ? "flat" : "NOT flat");
  };
  printf("\n");
  verdict("RSS", "kB", rss);
  verdict("fds", "fds", fds);
  printf("nodes closed by the bridge during the soak: %zu\n%s\n", gone, summary.c_str());
  bridge.process().signal(SIGTERM);
  bridge.process().wait(30s);
  return 0;
}

// 4. The fault probe's flood.
int run_flood(const Args& a, const std::vector<std::string>& packets) {
  BridgeProcess bridge("bridge_load_flood", a.bridge);
  const auto t0 = Clock::now();
  Nodes nodes;
  for (int i = 0; i < 5; ++i) {
    const Kind kind = i < 3 ? Kind::kConversation : (i == 3 ? Kind::kAmbient : Kind::kFlooder);
    nodes.push_back(std::make_unique<SimNode>(kind, i, bridge.port(), packets, false));
    nodes.back()->start();
  }
  test::wait_until(
      [&] {
        return std::all_of(nodes.begin(), nodes.end(),
                           [](auto& n) { return n->welcomed() || n->gone(); });
      },
      30s);
  std::vector<Row> rows;
  ProcSample mark = bridge.sample(t0);
  rows.push_back(row(bridge, "0 s (5 sessions welcomed)", 5, t0, mark));
  for (int s = 5; s <= int(a.seconds); s += 5) {
    std::this_thread::sleep_until(t0 + std::chrono::seconds(s));
    rows.push_back(row(bridge, std::to_string(s) + " s",
                       size_t(std::max(0L, bridge.metric("earshot_sessions_active"))), t0, mark));
    mark = rows.back().s;
  }
  const uint64_t flooded = nodes[4]->frames_sent();
  close_nodes(nodes);
  const auto closed = Clock::now();
  for (int s : {5, 10, 30, 60}) {
    std::this_thread::sleep_until(closed + std::chrono::seconds(s));
    rows.push_back(row(bridge, std::to_string(s) + " s after closing",
                       size_t(std::max(0L, bridge.metric("earshot_sessions_active"))), t0, mark));
    mark = rows.back().s;
  }
  print_rows(rows);
  printf("\nflooder: %llu frames sent (%.0f s of audio); bridge: too_fast %ld, stalled %ld\n",
         (unsigned long long)flooded, double(flooded) * 0.02,
         bridge.metric("earshot_errors_total{reason=\"client_too_fast\"}"),
         bridge.metric("earshot_errors_total{reason=\"client_stalled\"}"));
  const auto t_term = Clock::now();
  kill(bridge.pid(), SIGTERM);
  const int status = bridge.process().wait(600s);
  printf("SIGTERM -> exit: %.1f s (status %d)\n", seconds_since(t_term), status);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  Args a;
  a.bridge.binary = std::string(EARSHOT_BINARY_DIR) + "/host/earshot-bridge";
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        fprintf(stderr, "bridge_load: %s needs a value\n", arg.c_str());
        exit(2);
      }
      return argv[++i];
    };
    if (arg == "--bridge")
      a.bridge.binary = value();
    else if (arg == "--engines")
      a.bridge.engines = value();
    else if (arg == "--wrap")
      a.bridge.wrap = value();
    else if (arg == "--seconds")
      a.seconds = std::stod(value());
    else if (arg == "--drain-ms")
      a.bridge.drain_ms = std::stoi(value());
    else if (arg == "--minutes")
      a.minutes = std::stod(value());
    else if (arg == "--nodes")
      a.nodes = size_t(std::stoul(value()));
    else if (a.mode.empty() && arg[0] != '-')
      a.mode = arg;
    else {
      fprintf(stderr, "bridge_load: unknown argument %s\n", arg.c_str());
      return 2;
    }
  }
  if (a.mode != "rss" && a.mode != "shutdown" && a.mode != "soak" && a.mode != "flood") {
    fprintf(stderr,
            "usage: bridge_load rss|shutdown|soak|flood [--bridge PATH] [--engines fake|embedded] "
            "[--wrap CMD] [--seconds S] [--drain-ms MS] [--minutes M] [--nodes N]\n");
    return 2;
  }
  if (a.bridge.engines != "fake" && a.bridge.engines != "embedded") {
    fprintf(stderr, "bridge_load: --engines fake or embedded\n");
    return 2;
  }
  std::unique_ptr<InstantEngines> engines;
  if (a.bridge.engines == "fake") {
    engines = std::make_unique<InstantEngines>();
    a.bridge.engines_url = engines->base_url();
  }
  const std::vector<std::string> packets = speech_packets();
  printf("bridge_load %s: %s, engines %s%s%s\n\n", a.mode.c_str(), a.bridge.binary.c_str(),
         a.bridge.engines.c_str(), a.bridge.wrap.empty() ? "" : ", under ", a.bridge.wrap.c_str());
  fflush(stdout);
  if (a.mode == "rss") return run_rss(a, packets);
  if (a.mode == "shutdown") return run_shutdown(a, packets);
  if (a.mode == "soak") return run_soak(a, packets);
  return run_flood(a, packets);
}
