// The bridge under faults, floods and time — the fault probe's findings, each as a test with real
// processes: earshot-bridge with its embedded engines and SQLite store, earshot-node, the fault
// proxy (tools/fault_proxy.cpp) for link resets, a tmpfs of a set size for a full disk, and a
// hand-written WebSocket client for the clients that misbehave on purpose.
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "dsp/opus_frame_encoder.h"
#include "host/store/store.h"
#include "protocol/audio_frame.h"
#include "protocol/messages.h"
#include "tests/integration/bridge_fixture.h"
#include "tests/support/fake_http_server.h"
#include "tests/support/ws_test_client.h"

namespace earshot {
namespace {

using namespace std::chrono_literals;
using test::Bridge;
using test::librivox;
using test::Subprocess;
using test::WsTestClient;

const std::string kProxy = std::string(EARSHOT_BINARY_DIR) + "/tools/earshot-fault-proxy";

// Clips back to back with `gap_s` of silence after each: one ambient segment per clip.
test::Audio clips_with_gaps(const std::vector<std::string>& ids, double gap_s) {
  test::Audio in;
  in.sample_rate = 16000;
  in.channels = 1;
  for (const std::string& id : ids) {
    test::Audio clip = test::read_audio(librivox(id, ".wav"));
    in.samples.insert(in.samples.end(), clip.samples.begin(), clip.samples.end());
    in.samples.resize(in.samples.size() + size_t(16000 * gap_s), 0.0f);
  }
  return in;
}

// "… N frames sent …" from a node's closing log line.
uint64_t frames_sent(const std::string& log) {
  const size_t at = log.find(" frames sent");
  if (at == std::string::npos) return 0;
  const size_t comma = log.rfind(", ", at);
  return std::stoull(log.substr(comma + 2, at - comma - 2));
}

// Every frame 0..sent-1 of `node` is in exactly one stored segment, in order: nothing acknowledged
// was lost and nothing was stored twice.
void expect_every_frame_stored_once(host::Store& store, const std::string& node, uint64_t sent) {
  uint64_t next = 0;
  for (const host::SegmentRecord& g : store.segments(node)) {
    EXPECT_EQ(g.first_seq, next) << node << ": " << (g.first_seq < next ? "stored twice" : "lost")
                                 << " before seq " << g.first_seq;
    next = std::max(next, g.last_seq + 1);
  }
  EXPECT_EQ(next, sent) << node;
  ASSERT_TRUE(store.acked_seq(node));
  EXPECT_EQ(*store.acked_seq(node), sent - 1);
}

// A size-limited tmpfs for the store: a full disk is a file that fills it.
struct SmallDisk {
  std::string dir;
  bool mounted = false;
  explicit SmallDisk(const std::string& path, const char* size) : dir(path) {
    mkdir(dir.c_str(), 0755);
    umount2(dir.c_str(), MNT_DETACH);
    mounted = mount("tmpfs", dir.c_str(), "tmpfs", 0, (std::string("size=") + size).c_str()) == 0;
  }
  ~SmallDisk() {
    if (mounted) umount2(dir.c_str(), MNT_DETACH);
  }
  // Fills what is left (the store then fails to grow); returns the bytes written.
  size_t fill() {
    FILE* f = fopen((dir + "/filler").c_str(), "wb");
    if (!f) return 0;
    static const char block[4096] = {};
    size_t n = 0;
    while (fwrite(block, 1, sizeof block, f) == sizeof block)
      n += sizeof block;
    fclose(f);
    return n;
  }
  void free_space() { unlink((dir + "/filler").c_str()); }
};

// Point 1: the store fails (a full disk) for a while in the middle of an ambient stream. The node
// is told store_failed; nothing after the failure is acknowledged until it is stored; once space
// comes back, the waiting segments are stored in order and acknowledged. Before: the next stored
// segment's cumulative ack released the failed ones, which were never stored.
TEST(BridgeFaults, AFullDiskHoldsBackAcksUntilSpaceComesBackAndLosesNothing) {
  Bridge bridge("faults_full_disk");
  SmallDisk disk(bridge.dir + "/disk", "2m");
  if (!disk.mounted) GTEST_SKIP() << "cannot mount a tmpfs here (not root?): " << strerror(errno);
  // The store on the small disk; the bridge's config points there.
  {
    std::string toml = test::read_file(bridge.dir + "/bridge.toml");
    const std::string from = bridge.dir + "/earshot.db";
    toml.replace(toml.find(from), from.size(), disk.dir + "/earshot.db");
    std::ofstream(bridge.dir + "/bridge.toml") << toml;
  }
  bridge.start();
  const std::vector<std::string> ids = {"0880", "0930", "0890", "0920", "0870"};
  ASSERT_TRUE(test::write_wav(bridge.dir + "/in.wav", clips_with_gaps(ids, 1.5)));
  auto node = bridge.node(0, {"--mode", "ambient", "--source", "file", "--file",
                              bridge.dir + "/in.wav", "--sink", "none"});
  ASSERT_TRUE(test::wait_until(
      [&] { return bridge.process->stdout_text().find("segment [n0]") != std::string::npos; }, 60s))
      << bridge.process->stderr_text();
  ASSERT_GT(disk.fill(), 0u);
  // At least two segments fail while the disk is full.
  ASSERT_TRUE(test::wait_until(
      [&] { return bridge.metric("earshot_errors_total{reason=\"store_failed\"}") >= 2; }, 60s))
      << bridge.process->stderr_text();
  EXPECT_NE(node->stderr_text().find("error store_failed"), std::string::npos)
      << node->stderr_text();
  disk.free_space();
  ASSERT_EQ(node->wait(120s), 0) << node->stderr_text();
  ASSERT_EQ(bridge.stop(), 0) << bridge.process->stderr_text();
  EXPECT_NE(bridge.process->stderr_text().find("storing works again"), std::string::npos);

  std::string error;
  auto store = host::Store::open(disk.dir + "/earshot.db", {}, &error);
  ASSERT_TRUE(store) << error;
  EXPECT_EQ(store->segments("n0").size(), ids.size());
  expect_every_frame_stored_once(*store, "n0", frames_sent(node->stderr_text()));
}

// The fault proxy between a node and the bridge, driven through its stdin.
struct Proxy {
  std::unique_ptr<Subprocess> process;
  std::string fifo;
  int port = 0;
  int control = -1;
  Proxy(const std::string& dir, int target_port, std::vector<std::string> extra = {}) {
    fifo = dir + "/proxy.ctl";
    unlink(fifo.c_str());
    mkfifo(fifo.c_str(), 0600);
    std::vector<std::string> argv = {kProxy, "--listen-port", "0", "--target",
                                     "127.0.0.1:" + std::to_string(target_port)};
    argv.insert(argv.end(), extra.begin(), extra.end());
    process = std::make_unique<Subprocess>(argv, dir + "/proxy",
                                           std::map<std::string, std::string>{}, fifo);
    control = open(fifo.c_str(), O_WRONLY);
    test::wait_until(
        [&] { return process->stdout_text().find("listening on port ") != std::string::npos; },
        10s);
    const std::string out = process->stdout_text();
    const size_t at = out.find("listening on port ");
    if (at != std::string::npos) port = std::stoi(out.substr(at + 18));
  }
  ~Proxy() {
    if (control >= 0) close(control);
  }
  // Sends a command and waits for its "ok".
  bool command(const std::string& line) {
    const size_t before = count("ok " + line);
    const std::string text = line + "\n";
    if (write(control, text.data(), text.size()) != ssize_t(text.size())) return false;
    return test::wait_until([&] { return count("ok " + line) > before; }, 10s);
  }
  size_t count(const std::string& needle) {
    const std::string out = process->stdout_text();
    size_t n = 0;
    for (size_t at = out.find(needle); at != std::string::npos; at = out.find(needle, at + 1))
      ++n;
    return n;
  }
};

// Point 2: the link resets while the bridge is still working through an ambient backlog (a node
// redelivering quickly, pocketsphinx behind). The replaced session must neither store nor ack
// what the node's new session asks for again. Before: both sessions stored the same segments.
TEST(BridgeFaults, ALinkResetDuringABacklogStoresEverySegmentOnce) {
  Bridge bridge("faults_reset_backlog");
  bridge.start();
  Proxy proxy(bridge.dir, bridge.port);
  ASSERT_GT(proxy.port, 0) << proxy.process->stderr_text();
  const std::vector<std::string> ids = {"0880", "0930", "0890", "0920", "0870", "0880"};
  ASSERT_TRUE(test::write_wav(bridge.dir + "/in.wav", clips_with_gaps(ids, 1.0)));
  // The file is read faster than real time: the bridge's session falls seconds behind.
  std::vector<std::string> argv = {test::kNode,
                                   "--url",
                                   "ws://127.0.0.1:" + std::to_string(proxy.port) + "/",
                                   "--token",
                                   "t0",
                                   "--node-id",
                                   "n0",
                                   "--log-plain",
                                   "--drain-timeout-ms",
                                   "60000",
                                   "--mode",
                                   "ambient",
                                   "--source",
                                   "file",
                                   "--realtime=false",
                                   "--file",
                                   bridge.dir + "/in.wav",
                                   "--sink",
                                   "none"};
  Subprocess node(argv, bridge.dir + "/n0");
  // Once the first segment is stored, the rest is queued behind pocketsphinx: reset the link.
  ASSERT_TRUE(test::wait_until(
      [&] { return bridge.process->stdout_text().find("segment [n0]") != std::string::npos; }, 60s))
      << bridge.process->stderr_text();
  ASSERT_TRUE(proxy.command("reset"));
  ASSERT_EQ(node.wait(180s), 0) << node.stderr_text();
  ASSERT_EQ(bridge.stop(), 0) << bridge.process->stderr_text();
  EXPECT_NE(node.stderr_text().find("host has speech up to seq"), std::string::npos)
      << node.stderr_text();

  std::string error;
  auto store = host::Store::open(bridge.dir + "/earshot.db", {}, &error);
  ASSERT_TRUE(store) << error;
  EXPECT_EQ(store->segments("n0").size(), ids.size());
  expect_every_frame_stored_once(*store, "n0", frames_sent(node.stderr_text()));
}

// A client that speaks earshot.v1 itself: hello, then Opus frames as fast as it likes.
struct RawNode {
  WsTestClient ws;
  std::unique_ptr<dsp::OpusFrameEncoder> encoder;
  std::vector<std::string> packets;  // pre-encoded speech, cycled
  uint64_t seq = 0;
  std::string welcome;

  bool start(int port, const std::string& node_id, const std::string& token, protocol::Mode mode,
             int receive_buffer = 0) {
    std::string error;
    if (!ws.connect(port, {"Authorization: Bearer " + token}, receive_buffer, &error)) {
      ADD_FAILURE() << error;
      return false;
    }
    protocol::Hello hello;
    hello.node_id = node_id;
    hello.audio = {"opus", 16000, 1, 20};
    hello.mode = mode;
    hello.capabilities = {"playback"};
    ws.send_text(protocol::to_json(hello));
    const WsTestClient::Received r = ws.read(5000);
    welcome = r.payload;
    if (r.kind != WsTestClient::Received::kText || welcome.find("welcome") == std::string::npos) {
      ADD_FAILURE() << "no welcome: " << welcome;
      return false;
    }
    dsp::OpusEncoderSettings settings;
    encoder = dsp::OpusFrameEncoder::create(settings, &error);
    test::Audio speech = test::read_audio(librivox("0880", ".wav"));
    uint8_t packet[1500];
    for (size_t i = 0; i + 320 <= speech.samples.size(); i += 320) {
      const int n = encoder->encode(&speech.samples[i], packet, sizeof packet);
      if (n > 0) packets.emplace_back(reinterpret_cast<char*>(packet), size_t(n));
    }
    return !packets.empty();
  }
  // The next frame on the microphone stream; every `segment` frames a segment ends.
  std::string next_frame(int segment = 100) {
    protocol::AudioFrameHeader h;
    h.seq = seq;
    h.timestamp = seq * 320;
    if (seq % uint64_t(segment) == 0) h.flags |= protocol::kFlagSegmentStart;
    if (seq % uint64_t(segment) == uint64_t(segment - 1)) h.flags |= protocol::kFlagSegmentEnd;
    const std::string& p = packets[seq % packets.size()];
    uint8_t wire[protocol::kMaxAudioFrameSize];
    const size_t n = protocol::write_audio_frame(h, reinterpret_cast<const uint8_t*>(p.data()),
                                                 p.size(), wire, sizeof wire);
    ++seq;
    return std::string(reinterpret_cast<char*>(wire), n);
  }
};

// Points 3 and 5: a client floods audio far faster than real time. Beyond the allowed burst it is
// told too_fast and closed with 4029, while a real node next to it is served as usual; and the
// bridge, sent SIGTERM with the flooder's backlog queued, exits within its drain timeout.
// Before: 821,700 frames in 60 s with the connection kept, and a SIGTERM that took 6 minutes.
TEST(BridgeFaults, AFloodingClientIsCutOffAndOthersAreServed) {
  Bridge bridge("faults_flood", "", "listen = \"127.0.0.1\"\naudio_burst_s = 5\n");
  bridge.start();
  test::Audio in = clips_with_gaps({"0880", "0930"}, 1.5);
  ASSERT_TRUE(test::write_wav(bridge.dir + "/in.wav", in));
  RawNode flooder;
  ASSERT_TRUE(flooder.start(bridge.port, "n1", "t1", protocol::Mode::kAmbient));
  auto node = bridge.node(0, {"--mode", "ambient", "--source", "file", "--file",
                              bridge.dir + "/in.wav", "--sink", "none"});
  // Flood until the bridge stops taking it: the socket blocks (backpressure) or closes.
  const auto started = std::chrono::steady_clock::now();
  uint64_t sent = 0;
  while (flooder.ws.send_binary(flooder.next_frame(), 200) &&
         std::chrono::steady_clock::now() - started < 60s)
    ++sent;
  std::vector<std::string> texts;
  const int code = flooder.ws.read_until_closed(30000, &texts);
  EXPECT_EQ(code, protocol::kCloseTooFast) << sent << " frames sent";
  bool told = false;
  for (const std::string& t : texts)
    told |= t.find("\"too_fast\"") != std::string::npos;
  EXPECT_TRUE(told);
  EXPECT_GE(bridge.metric("earshot_errors_total{reason=\"client_too_fast\"}"), 1);
  // The real node next to it: everything it said stored once.
  ASSERT_EQ(node->wait(120s), 0) << node->stderr_text();
  ASSERT_EQ(bridge.stop(), 0) << bridge.process->stderr_text();
  std::string error;
  auto store = host::Store::open(bridge.dir + "/earshot.db", {}, &error);
  ASSERT_TRUE(store) << error;
  EXPECT_EQ(store->segments("n0").size(), 2u);
  expect_every_frame_stored_once(*store, "n0", frames_sent(node->stderr_text()));
}

TEST(BridgeFaults, SigtermWithAFloodingClientsBacklogExitsWithinTheDrainTimeout) {
  // A burst allowance as large as it goes, so the flooder is held back by TCP (its backlog
  // queued in the session), not cut off first.
  Bridge bridge("faults_sigterm", "",
                "listen = \"127.0.0.1\"\ndrain_timeout_ms = 2000\naudio_burst_s = 3600\n");
  bridge.start();
  RawNode flooder;
  ASSERT_TRUE(flooder.start(bridge.port, "n1", "t1", protocol::Mode::kAmbient));
  // Enough to keep pocketsphinx busy for minutes: the bridge stops reading long before.
  uint64_t sent = 0;
  while (sent < 20000 && flooder.ws.send_binary(flooder.next_frame(), 500))
    ++sent;
  ASSERT_TRUE(test::wait_until([&] { return bridge.frames_received() > 100; }, 30s));
  const auto t0 = std::chrono::steady_clock::now();
  bridge.process->signal(SIGTERM);
  const int status = bridge.process->wait(60s);
  const double took_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(status, 0) << bridge.process->stderr_text();
  // The drain timeout, plus the one-second grace the drain gives the sockets.
  EXPECT_LT(took_s, 2.0 + 3.0) << bridge.process->stderr_text();
}

// Point 4's other half: a client that stops reading (its receive window closed) while a long reply
// is sent to it is closed after server.stalled_client_ms with 4012; a node next to it is served.
TEST(BridgeFaults, AClientThatStopsReadingIsClosedAndOthersAreServed) {
  // A long answer: far more reply audio than the socket buffers hold.
  test::FakeHttpServer llm([&](const test::HttpRequestSeen&, test::HttpResponder& r) {
    r.start_chunked(200, "text/event-stream");
    for (int i = 0; i < 40; ++i)
      r.chunk(test::sse(
          R"({"choices":[{"index":0,"delta":{"content":"This is one more sentence of a very long answer that goes on. "}}]})"));
    r.chunk(test::sse("[DONE]"));
    r.end_chunked();
  });
  Bridge bridge(
      "faults_stalled",
      "[llm]\nengine = \"openai\"\nbase_url = \"" + llm.base_url() + "\"\nmodel = \"m\"\n",
      "listen = \"127.0.0.1\"\nstalled_client_ms = 2000\n");
  bridge.start();
  RawNode reader;
  ASSERT_TRUE(reader.start(bridge.port, "n1", "t1", protocol::Mode::kConversation, 2048));
  // One turn of real speech, then silence at real time's pace is not needed: the turn ends on
  // the bridge's clock once the frames stop.
  for (size_t i = 0; i < reader.packets.size(); ++i)
    ASSERT_TRUE(reader.ws.send_binary(reader.next_frame(int(reader.packets.size()))));
  // Now it reads nothing. The bridge answers; its writes back up; it closes the link.
  ASSERT_TRUE(test::wait_until(
      [&] { return bridge.metric("earshot_errors_total{reason=\"client_stalled\"}") >= 1; }, 90s))
      << bridge.process->stderr_text();
  EXPECT_NE(bridge.process->stderr_text().find("has read nothing for 2000 ms; closing (4012)"),
            std::string::npos);
  // A node next to it is served as usual.
  test::Audio in = clips_with_gaps({"0930"}, 1.5);
  ASSERT_TRUE(test::write_wav(bridge.dir + "/in.wav", in));
  auto node = bridge.node(0, {"--mode", "ambient", "--source", "file", "--file",
                              bridge.dir + "/in.wav", "--sink", "none"});
  ASSERT_EQ(node->wait(60s), 0) << node->stderr_text();
  ASSERT_EQ(bridge.stop(), 0) << bridge.process->stderr_text();
  std::string error;
  auto store = host::Store::open(bridge.dir + "/earshot.db", {}, &error);
  ASSERT_TRUE(store) << error;
  expect_every_frame_stored_once(*store, "n0", frames_sent(node->stderr_text()));
}

}  // namespace
}  // namespace earshot
