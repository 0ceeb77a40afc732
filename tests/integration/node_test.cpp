// earshot-node as a user runs it: a real process streaming to the stand-in host over loopback.
// Each test says which point of the node's contract it shows.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "dsp/high_pass_filter.h"
#include "protocol/audio_frame.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_audio.h"

namespace earshot {
namespace {

using namespace std::chrono_literals;
using test::Subprocess;

const std::string kNode = std::string(EARSHOT_BINARY_DIR) + "/device/earshot-node";
const std::string kHost = std::string(EARSHOT_BINARY_DIR) + "/tools/earshot-standin-host";

struct FrameLine {
  uint64_t seq, ts;
  unsigned flags;
  bool redelivery;
  int run;  // the stand-in's pid: which host process stored it
};

std::vector<FrameLine> read_frames(const std::string& path) {
  std::vector<FrameLine> out;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded()) continue;
    out.push_back({j["seq"], j["ts"], j["flags"], j["redelivery"], j["run"]});
  }
  return out;
}

size_t count_lines(const std::string& path) {
  std::ifstream in(path);
  size_t n = 0;
  for (std::string line; std::getline(in, line);)
    ++n;
  return n;
}

// A scratch directory with an ALSA config defining `cap` (reads in.raw) and `play` (writes
// played.raw), and helpers to start the stand-in host and the node.
struct Fixture {
  std::string dir;
  int port = test::free_port();
  std::string token = "test-token";

  explicit Fixture(const std::string& name) : dir(test::scratch_dir(name)) {
    std::ofstream(dir + "/asound.conf")
        << "pcm.cap { type file slave.pcm { type null } file \"/dev/null\" infile \"" << dir
        << "/in.raw\" format \"raw\" }\n"
        << "pcm.play { type file slave.pcm { type null } file \"" << dir
        << "/played.raw\" format \"raw\" }\n";
  }
  std::map<std::string, std::string> alsa_env() const {
    return {{"ALSA_CONFIG_PATH", dir + "/asound.conf"}};
  }
  std::unique_ptr<Subprocess> host(const std::string& tag, std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {kHost,
                                     "--port",
                                     std::to_string(port),
                                     "--token",
                                     token,
                                     "--state",
                                     dir + "/host.state",
                                     "--frames-log",
                                     dir + "/frames.jsonl",
                                     "--out-wav",
                                     dir + "/got-" + tag + ".wav"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto p = std::make_unique<Subprocess>(argv, dir + "/host-" + tag);
    EXPECT_TRUE(test::wait_until(
        [&] { return p->stdout_text().find("listening on") != std::string::npos; }, 10s))
        << p->stderr_text();
    return p;
  }
  std::unique_ptr<Subprocess> node(std::vector<std::string> extra,
                                   const std::string& tag = "node") {
    std::vector<std::string> argv = {
        kNode,       "--url",      "ws://127.0.0.1:" + std::to_string(port) + "/",
        "--token",   token,        "--node-id",
        "test-node", "--log-plain"};
    if (std::find(extra.begin(), extra.end(), "--drain-timeout-ms") == extra.end()) {
      argv.push_back("--drain-timeout-ms");
      argv.push_back("5000");
    }
    argv.insert(argv.end(), extra.begin(), extra.end());
    return std::make_unique<Subprocess>(argv, dir + "/" + tag, alsa_env());
  }
};

// Point 2: real ALSA capture at 48 kHz stereo reaches the host as the same speech.
TEST(Node, AlsaCaptureAt48kStereoReachesTheHostAsTheSameSpeech) {
  Fixture fx("node_alsa_48k");
  test::Audio ref = test::read_audio(test::data_path("whisper.cpp/jfk.wav"));  // 16 kHz mono
  test::Audio in48 = test::sox_convert(ref, 48000, 2, fx.dir);
  ASSERT_EQ(in48.channels, 2);
  ASSERT_TRUE(test::write_raw_s16(fx.dir + "/in.raw", in48));
  auto host = fx.host("a");
  // pace: the file plugin is not paced, a sound card is.
  auto node = fx.node({"--source", "alsa", "--device", "cap", "--sample-rate", "48000",
                       "--channels", "2", "--pace", "--sink", "none"});
  // Wait until the host has audio past the end of the clip (the plugin then captures silence) or
  // the last segment ended.
  const uint64_t end = ref.samples.size();
  ASSERT_TRUE(test::wait_until(
      [&] {
        std::vector<FrameLine> f = read_frames(fx.dir + "/frames.jsonl");
        return !f.empty() && (f.back().ts >= end || (f.back().flags & protocol::kFlagSegmentEnd &&
                                                     f.back().ts + 16000 >= end));
      },
      40s))
      << node->stderr_text();
  node->signal(SIGTERM);
  EXPECT_EQ(node->wait(10s), 0) << node->stderr_text();
  EXPECT_NE(node->stderr_text().find("alsa:cap 48000 Hz 2 ch"), std::string::npos)
      << node->stderr_text();

  // Place each decoded frame (320 samples, in log order) at its timestamp.
  std::vector<FrameLine> frames = read_frames(fx.dir + "/frames.jsonl");
  test::Audio got = test::read_audio(fx.dir + "/got-a.wav");
  ASSERT_EQ(got.samples.size(), frames.size() * 320);
  std::vector<float> timeline(std::max<size_t>(frames.back().ts + 320, end), 0.0f);
  std::set<uint64_t> sent;
  for (size_t i = 0; i < frames.size(); ++i) {
    if (i) {
      ASSERT_EQ(frames[i].seq, frames[i - 1].seq + 1);  // none lost
    }
    sent.insert(frames[i].ts / 320);
    std::copy(got.samples.begin() + long(i * 320), got.samples.begin() + long(i * 320 + 320),
              timeline.begin() + long(frames[i].ts));
  }
  // Every 20 ms of the clip's words with speech energy (above -40 dBFS) was sent, give or take one
  // frame: what the person said is all there. The words are where pocketsphinx aligned them
  // (tests/data/vad/train/whisper.cpp_jfk.words); the background between and after them (the
  // pause after "Americans" at -44 to -38 dBFS, the crowd rising after "country") is not speech,
  // and a detector that leaves it out is right to.
  std::vector<std::pair<double, double>> words;
  {
    std::ifstream in(test::data_path("vad/train/whisper.cpp_jfk.words"));
    double t0, t1;
    std::string word;
    while (in >> t0 >> t1 >> word)
      words.emplace_back(t0, t1);
  }
  ASSERT_GT(words.size(), 15u);
  auto in_words = [&](size_t block) {
    const double mid = (double(block) + 0.5) * 320 / 16000;
    return std::any_of(words.begin(), words.end(),
                       [&](const auto& w) { return mid >= w.first && mid < w.second; });
  };
  size_t speech_blocks = 0;
  for (size_t k = 0; (k + 1) * 320 <= end; ++k) {
    std::vector<float> block(ref.samples.begin() + long(k * 320),
                             ref.samples.begin() + long(k * 320 + 320));
    if (!in_words(k) || test::rms(block) < 0.01) continue;
    ++speech_blocks;
    EXPECT_TRUE(sent.count(k) || sent.count(k + 1) || (k && sent.count(k - 1))) << "block " << k;
  }
  EXPECT_GT(speech_blocks, 200u);
  // The same duration: the speech the host got starts and ends where the reference's does, within
  // one 20 ms frame (first and last 20 ms blocks of the words above -40 dBFS, in each).
  auto speech_span = [&](const std::vector<float>& x, size_t length) {
    long first = -1, last = -1;
    for (size_t k = 0; (k + 1) * 320 <= length; ++k) {
      std::vector<float> block(x.begin() + long(k * 320), x.begin() + long(k * 320 + 320));
      if (!in_words(k) || test::rms(block) < 0.01) continue;
      if (first < 0) first = long(k);
      last = long(k);
    }
    return std::make_pair(first, last);
  };
  const auto [ref_first, ref_last] = speech_span(ref.samples, end);
  const auto [got_first, got_last] = speech_span(timeline, end);
  EXPECT_LE(std::abs(got_first - ref_first), 1) << got_first << " vs " << ref_first;
  EXPECT_LE(std::abs((got_last - got_first) - (ref_last - ref_first)), 1)
      << "speech lasted " << (got_last - got_first) * 20 << " ms at the host, "
      << (ref_last - ref_first) * 20 << " ms in the reference";
  // The same speech: the reference through the node's 80 Hz high-pass (whose phase shift a
  // waveform comparison would otherwise count) correlates with what the host decoded. Opus alone
  // at the node's settings scores 0.97 on this clip; the 48k->16k path matches sox at > 0.99;
  // 0.9 leaves room for the codec only. The best lag must be the codec's delay, within one frame.
  std::vector<float> expected = ref.samples;
  dsp::HighPassFilter hp(16000, 80);
  hp.process(expected.data(), expected.size());
  std::vector<float> span(timeline.begin(), timeline.begin() + long(end));
  test::Alignment al = test::best_alignment(expected, span, 400);
  EXPECT_GT(al.correlation, 0.9) << "lag " << al.lag;
  EXPECT_LE(std::abs(al.lag), 320);
}

// Point 3: --record writes a valid Ogg Opus file of what was sent.
TEST(Node, RecordWritesAnOggOpusFileThatOpusdecDecodes) {
  Fixture fx("node_record");
  auto host = fx.host("a");
  auto node = fx.node({"--source", "file", "--file", test::data_path("whisper.cpp/jfk.wav"),
                       "--realtime=false", "--sink", "none", "--record", fx.dir + "/sent.opus"});
  ASSERT_EQ(node->wait(60s), 0) << node->stderr_text();
  const size_t frames = count_lines(fx.dir + "/frames.jsonl");
  ASSERT_GT(frames, 100u);
  std::string out;
  ASSERT_EQ(
      test::run_command({"opusdec", "--rate", "16000", fx.dir + "/sent.opus", fx.dir + "/sent.wav"},
                        fx.dir + "/opusdec"),
      0)
      << test::read_file(fx.dir + "/opusdec.err");
  test::Audio decoded = test::read_audio(fx.dir + "/sent.wav");
  EXPECT_NEAR(decoded.seconds(), double(frames) * 0.020, 0.020);
}

// Point 4: the host dies mid-speech and comes back; every frame arrives once, in order.
// The host's store (its frames log, appended by every host process) holds every frame the node
// sent exactly once, in order, however many host processes it took.
void expect_exactly_once(const std::vector<FrameLine>& stored, size_t expected_runs) {
  ASSERT_FALSE(stored.empty());
  std::set<int> runs;
  for (size_t i = 0; i < stored.size(); ++i) {
    runs.insert(stored[i].run);
    ASSERT_EQ(stored[i].seq, i) << "frame " << i << " missing, repeated or out of order";
  }
  EXPECT_EQ(runs.size(), expected_runs);
}

TEST(Node, HostCrashMidSpeechThenRestart_EveryFrameArrivesExactlyOnce) {
  Fixture fx("node_host_crash");
  auto host = fx.host("a", {"--exit-after-frames", "120"});
  auto node = fx.node({"--source", "file", "--file", test::data_path("whisper.cpp/jfk.wav"),
                       "--realtime", "--sink", "none", "--backoff-max-ms", "500"});
  ASSERT_EQ(host->wait(30s), 3);  // crashed after accepting 120 frames, the last one unacked
  auto host2 = fx.host("b");      // same port, same state file
  ASSERT_EQ(node->wait(60s), 0) << node->stderr_text();
  std::vector<FrameLine> stored = read_frames(fx.dir + "/frames.jsonl");
  ASSERT_GT(stored.size(), 120u);
  EXPECT_EQ(stored[119].run, stored[0].run);  // stored by the first host, never acknowledged:
  EXPECT_NE(stored[120].run, stored[0].run);  // resent after reconnect and dropped as seen
  expect_exactly_once(stored, 2);
  EXPECT_NE(node->stderr_text().find("disconnected"), std::string::npos);
}

TEST(Node, ConnectionKilledMidSpeechThenHostRestarted_EveryFrameArrivesExactlyOnce) {
  Fixture fx("node_link_kill");
  auto host = fx.host("a", {"--ack-every", "7"});  // acks lag behind: some frames must be resent
  auto node = fx.node({"--source", "file", "--file", test::data_path("whisper.cpp/jfk.wav"),
                       "--realtime", "--sink", "none", "--backoff-max-ms", "500"});
  ASSERT_TRUE(test::wait_until([&] { return count_lines(fx.dir + "/frames.jsonl") >= 150; }, 30s));
  host->signal(SIGKILL);
  host->wait(5s);
  auto host2 = fx.host("b", {"--ack-every", "7"});
  ASSERT_EQ(node->wait(60s), 0) << node->stderr_text();
  expect_exactly_once(read_frames(fx.dir + "/frames.jsonl"), 2);
}

// A connection attempt that stalls in the middle of its WebSocket upgrade (a path that stops
// and comes back, played by the fault proxy) is abandoned and redialed. Before, the node kept the
// stalled attempt for ever and never connected again: the randomized bridge fault run found it.
TEST(Node, AConnectionAttemptThatStallsIsAbandonedAndRedialed) {
  Fixture fx("node_stalled_dial");
  auto host = fx.host("a");
  const std::string fifo = fx.dir + "/proxy.ctl";
  unlink(fifo.c_str());
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  Subprocess proxy({std::string(EARSHOT_BINARY_DIR) + "/tools/earshot-fault-proxy", "--listen-port",
                    "0", "--target", "127.0.0.1:" + std::to_string(fx.port)},
                   fx.dir + "/proxy", {}, fifo);
  const int control = open(fifo.c_str(), O_WRONLY);
  ASSERT_GE(control, 0);
  auto say = [&](const std::string& command) {
    const std::string line = command + "\n";
    ASSERT_EQ(write(control, line.data(), line.size()), ssize_t(line.size()));
    ASSERT_TRUE(test::wait_until(
        [&] { return proxy.stdout_text().find("ok " + command) != std::string::npos; }, 10s));
  };
  ASSERT_TRUE(test::wait_until(
      [&] { return proxy.stdout_text().find("listening on port ") != std::string::npos; }, 10s));
  const std::string out = proxy.stdout_text();
  const int proxy_port = std::stoi(out.substr(out.find("listening on port ") + 18));
  say("stall");
  std::vector<std::string> argv = {kNode,
                                   "--url",
                                   "ws://127.0.0.1:" + std::to_string(proxy_port) + "/",
                                   "--token",
                                   fx.token,
                                   "--node-id",
                                   "kitchen",
                                   "--log-plain",
                                   "--source",
                                   "file",
                                   "--file",
                                   test::data_path("whisper.cpp/jfk.wav"),
                                   "--sink",
                                   "none",
                                   "--backoff-max-ms",
                                   "500",
                                   "--drain-timeout-ms",
                                   "60000"};
  Subprocess node(argv, fx.dir + "/node");
  // The first attempt hangs in its upgrade; the node gives it up (2 x the handshake timeout).
  ASSERT_TRUE(test::wait_until(
      [&] { return node.stderr_text().find("connection attempt ended") != std::string::npos; },
      30s))
      << node.stderr_text();
  say("pass");
  ASSERT_EQ(node.wait(60s), 0) << node.stderr_text();
  EXPECT_NE(node.stderr_text().find("connected: session"), std::string::npos);
  expect_exactly_once(read_frames(fx.dir + "/frames.jsonl"), 1);
  close(control);
}

// Point 4: a full buffer drops the oldest audio with a counter and a log line, never a crash.
TEST(Node, FullBufferDropsOldestWithACountAndALogLine) {
  Fixture fx("node_buffer_full");
  auto host = fx.host("a", {"--no-ack"});
  auto node = fx.node({"--source", "file", "--file", test::data_path("whisper.cpp/jfk.wav"),
                       "--realtime=false", "--sink", "none", "--buffer-seconds", "1",
                       "--drain-timeout-ms", "300"});
  const int rc = node->wait(60s);
  const std::string log = node->stderr_text();
  EXPECT_EQ(rc, 1) << log;  // it says what was left unacknowledged; no signal, no crash
  EXPECT_NE(log.find("speech buffer full: dropped oldest frame"), std::string::npos) << log;
  EXPECT_NE(log.find("not acknowledged"), std::string::npos) << log;
  EXPECT_NE(log.find(" dropped,"), std::string::npos);
}

// Point 5: bad input gives a clear error; the process goes on, or exits saying why.
TEST(Node, BadTokenIsFatalWithAClearMessage) {
  Fixture fx("node_bad_token");
  auto host = fx.host("a");
  fx.token = "wrong";
  auto node = fx.node(
      {"--source", "file", "--file", test::data_path("whisper.cpp/jfk.wav"), "--sink", "none"});
  EXPECT_EQ(node->wait(20s), 1);
  EXPECT_NE(node->stderr_text().find("refused the token"), std::string::npos)
      << node->stderr_text();
}

TEST(Node, WrongProtocolVersionIsFatalWithAClearMessage) {
  Fixture fx("node_bad_version");
  auto host = fx.host("a", {"--refuse-version"});
  auto node = fx.node(
      {"--source", "file", "--file", test::data_path("whisper.cpp/jfk.wav"), "--sink", "none"});
  EXPECT_EQ(node->wait(20s), 1);
  EXPECT_NE(node->stderr_text().find("no protocol version in common"), std::string::npos)
      << node->stderr_text();
}

TEST(Node, MalformedMessagesFromTheHostAreIgnoredAndStreamingGoesOn) {
  Fixture fx("node_garbage");
  auto host = fx.host("a", {"--send-garbage"});
  auto node = fx.node({"--source", "file", "--file", test::data_path("whisper.cpp/jfk.wav"),
                       "--realtime=false", "--sink", "none"});
  EXPECT_EQ(node->wait(60s), 0) << node->stderr_text();
  EXPECT_GT(count_lines(fx.dir + "/frames.jsonl"), 400u);
  // Each was reported as what it was, and ignored.
  const std::string log = node->stderr_text();
  for (const char* what : {"control message: not valid JSON", "ack.seq: must be a non-negative",
                           "hello is not a host->node message",
                           "audio frame: ", "audio frame on the microphone stream"})
    EXPECT_NE(log.find(what), std::string::npos) << what << "\n" << log;
}

// Point 6: barge-in. The host starts a reply as soon as the node connects; the node plays it
// through ALSA (`play`, whose file plugin writes what is played to played.raw) while the capture
// side (`cap`) holds 2.5 s of room silence and then speech. When the VAD fires, playback stops
// within two frames, the played file ends there, and the interrupt message says how much was
// played.
TEST(Node, BargeInStopsPlaybackWithinTwoFramesAndReportsThePlayedDuration) {
  Fixture fx("node_barge_in");
  test::Audio speech = test::read_audio(test::data_path("whisper.cpp/jfk.wav"));
  test::Audio in;
  in.sample_rate = 16000;
  in.channels = 1;
  in.samples.assign(40000, 0.0f);  // 2.5 s of silence
  in.samples.insert(in.samples.end(), speech.samples.begin(), speech.samples.begin() + 48000);
  in.samples.resize(in.samples.size() + 160000, 0.0f);  // then silence (the plugin loops at EOF)
  ASSERT_TRUE(test::write_raw_s16(fx.dir + "/in.raw", in));
  // The reply: 11 s of speech, far longer than the 2.5 s before the person talks over it.
  auto host = fx.host("a", {"--reply-wav", test::data_path("whisper.cpp/jfk.wav"),
                            "--reply-on-connect", "--max-replies", "1"});
  auto node =
      fx.node({"--source", "alsa", "--device", "cap", "--sample-rate", "16000", "--channels", "1",
               "--pace", "--sink", "alsa", "--playback-device", "play", "--playback-pace"});
  nlohmann::json interrupt;
  ASSERT_TRUE(test::wait_until(
      [&] {
        std::istringstream lines(host->stdout_text());
        for (std::string line; std::getline(lines, line);) {
          auto j = nlohmann::json::parse(line, nullptr, false);
          if (!j.is_discarded() && j.is_object() && j.value("type", "") == "interrupt") {
            interrupt = j;
            return true;
          }
        }
        return false;
      },
      30s))
      << node->stderr_text() << host->stderr_text();
  node->signal(SIGTERM);
  EXPECT_EQ(node->wait(15s), 0) << node->stderr_text();

  // The host hears of the barge-in before the speech that caused it: were it the other way round,
  // a host could stop the reply itself first and never learn how much of it was heard.
  const std::string messages = host->stdout_text();
  const size_t interrupt_at = messages.find("\"type\":\"interrupt\"");
  const size_t speech_at = messages.find("\"type\":\"speech_start\"");
  ASSERT_NE(speech_at, std::string::npos) << messages;
  EXPECT_LT(interrupt_at, speech_at) << messages;

  // The node measured the stop: VAD fired -> device flushed, at most two 20 ms frames.
  const std::string log = node->stderr_text();
  const size_t at = log.find("ms after the VAD fired");
  ASSERT_NE(at, std::string::npos) << log;
  const size_t comma = log.rfind(", ", at);
  const double stop_ms = std::stod(log.substr(comma + 2, at - comma - 2));
  EXPECT_LE(stop_ms, 40.0) << log;

  // The interrupt names the reply and reports what was played: the reply started soon after the
  // node connected and ran until the speech at 2.5 s (+ the VAD's onset), so between 1.5 and 3.5 s.
  EXPECT_EQ(interrupt.value("reply_id", ""), "r1");
  const uint64_t played_ms = interrupt.value("played_ms", uint64_t(0));
  EXPECT_GT(played_ms, 1500u);
  EXPECT_LT(played_ms, 3500u);
  // The played file ends there: what ALSA received is what the node says was heard, give or take
  // the one frame written ahead of the clock. Nothing of the reply was played after the interrupt.
  const test::Audio played = test::read_raw_s16(fx.dir + "/played.raw", 16000, 1);
  const double played_file_ms = played.seconds() * 1000.0;
  EXPECT_NEAR(played_file_ms, double(played_ms), 20.0 + 1.0)
      << "file " << played_file_ms << " ms, reported " << played_ms << " ms";
  // What was played is the reply from its start: it correlates with the reply's first second.
  ASSERT_GT(played.samples.size(), 16000u);
  std::vector<float> head(speech.samples.begin(), speech.samples.begin() + 16000);
  std::vector<float> got(played.samples.begin(), played.samples.begin() + 16000);
  EXPECT_GT(test::best_alignment(head, got, 400).correlation, 0.8);
}

// At the end of a file the node waits for the answer to what was said last. A reply that began
// while the person was still speaking (so no barge-in: that fires when speech starts) answers the
// speech before it, not the segment that ended under it: when that reply ends, the node still
// waits for the next one. (Seen in the end-to-end test on a loaded machine: the node left after
// the first of two replies, and the bridge stored the second as heard.)
TEST(Node, AtTheEndOfAFileTheNodeWaitsForTheReplyToItsLastSegment) {
  Fixture fx("node_last_reply");
  test::Audio speech = test::read_audio(test::data_path("whisper.cpp/jfk.wav"));
  test::Audio in;
  in.sample_rate = 16000;
  in.channels = 1;
  in.samples.assign(8000, 0.0f);  // 0.5 s of silence, 2 s of speech, 1.5 s of silence
  in.samples.insert(in.samples.end(), speech.samples.begin() + 8000,
                    speech.samples.begin() + 40000);
  in.samples.resize(in.samples.size() + 24000, 0.0f);
  ASSERT_TRUE(test::write_wav(fx.dir + "/in.wav", in));
  // Each reply is 4 s of speech: the first starts with the speech and outlasts it; the second
  // answers the segment end, 300 ms after the node reported the first one played.
  test::Audio reply;
  reply.sample_rate = 16000;
  reply.channels = 1;
  reply.samples.assign(speech.samples.begin() + 48000, speech.samples.begin() + 112000);
  ASSERT_TRUE(test::write_wav(fx.dir + "/reply.wav", reply));
  auto host = fx.host("a", {"--reply-wav", fx.dir + "/reply.wav", "--reply-on-speech-start",
                            "--reply-delay-ms", "300", "--max-replies", "2"});
  auto node = fx.node({"--source", "file", "--file", fx.dir + "/in.wav", "--realtime", "--sink",
                       "wav", "--playback-file", fx.dir + "/played.wav", "--playback-pace",
                       "--drain-timeout-ms", "20000"});
  ASSERT_EQ(node->wait(60s), 0) << node->stderr_text();
  host->signal(SIGTERM);
  host->wait(10s);

  // The host heard both replies played to their end, and in that order: the first after the
  // segment ended (it outlasted the speech), the second after the first.
  const std::string messages = host->stdout_text();
  const size_t end_at = messages.find("\"type\":\"speech_end\"");
  const size_t r1_done = messages.find("\"reply_id\":\"r1\"");
  const size_t r2_done = messages.find("\"reply_id\":\"r2\"");
  ASSERT_NE(end_at, std::string::npos) << messages;
  ASSERT_NE(r1_done, std::string::npos) << messages;
  ASSERT_NE(r2_done, std::string::npos) << "the node left before the last reply\n"
                                        << messages << node->stderr_text();
  EXPECT_LT(end_at, r1_done) << messages;
  EXPECT_EQ(messages.find("\"type\":\"interrupt\""), std::string::npos) << messages;
  EXPECT_NE(node->stderr_text().find("2 replies"), std::string::npos) << node->stderr_text();
  // And the file holds both: 8 s of reply.
  const test::Audio played = test::read_audio(fx.dir + "/played.wav");
  EXPECT_GT(played.seconds(), 7.8);
}

TEST(Node, MissingDeviceUnreadableFileAndBadRatesAreClearErrors) {
  Fixture fx("node_bad_input");
  auto run = [&](std::vector<std::string> args, const std::string& tag) {
    auto p = fx.node(args, tag);
    const int rc = p->wait(20s);
    return std::make_pair(rc, p->stderr_text() + p->stdout_text());
  };
  auto [rc1, out1] =
      run({"--check", "--source", "alsa", "--device", "nosuchpcm", "--sink", "none"}, "c1");
  EXPECT_EQ(rc1, 1);
  EXPECT_NE(out1.find("cannot open ALSA capture device 'nosuchpcm'"), std::string::npos) << out1;
  auto [rc2, out2] =
      run({"--source", "file", "--file", fx.dir + "/missing.wav", "--sink", "none"}, "c2");
  EXPECT_EQ(rc2, 1);
  EXPECT_NE(out2.find("cannot open '" + fx.dir + "/missing.wav'"), std::string::npos) << out2;
  auto [rc3, out3] = run({"--source", "stdin", "--stdin-rate", "4000", "--sink", "none"}, "c3");
  EXPECT_EQ(rc3, 2);
  EXPECT_NE(out3.find("4000 Hz is not supported"), std::string::npos) << out3;
  auto [rc4, out4] = run({"--check", "--sink", "alsa", "--playback-device", "nosuchpcm", "--source",
                          "file", "--file", test::data_path("whisper.cpp/jfk.wav")},
                         "c4");
  EXPECT_EQ(rc4, 1);
  EXPECT_NE(out4.find("cannot open ALSA playback device 'nosuchpcm'"), std::string::npos) << out4;
  // A file that is not audio.
  std::ofstream(fx.dir + "/notes.wav") << "this is not audio\n";
  auto [rc6, out6] =
      run({"--source", "file", "--file", fx.dir + "/notes.wav", "--sink", "none"}, "c6");
  EXPECT_EQ(rc6, 1);
  EXPECT_NE(out6.find("cannot open '" + fx.dir + "/notes.wav': Format not recognised"),
            std::string::npos)
      << out6;
  // A device that exists passes --check.
  std::ofstream(fx.dir + "/in.raw") << std::string(9600, '\0');
  auto [rc5, out5] =
      run({"--check", "--source", "alsa", "--device", "cap", "--sink", "none"}, "c5");
  EXPECT_EQ(rc5, 0) << out5;
  EXPECT_NE(out5.find("audio devices OK"), std::string::npos) << out5;
}

// --check proves what it can of every file the config names, one line per problem, and exits 1;
// it creates none of the files it checks. A malformed bridge URL is a config error (exit 2).
TEST(Node, CheckNamesEveryUnusableFileOnItsOwnLineAndCreatesNothing) {
  Fixture fx("node_check_files");
  const std::string jfk = test::data_path("whisper.cpp/jfk.wav");
  auto run = [&](std::vector<std::string> args, const std::string& tag) {
    auto p = fx.node(args, tag);
    const int rc = p->wait(20s);
    return std::make_pair(rc, p->stderr_text() + p->stdout_text());
  };
  // A CA file that is not there: the probe's case, which said OK.
  auto [rc1, out1] = run({"--check", "--ca-file", fx.dir + "/no-ca.pem", "--source", "file",
                          "--file", jfk, "--sink", "none"},
                         "c1");
  EXPECT_EQ(rc1, 1) << out1;
  EXPECT_NE(
      out1.find("host.ca_file: cannot read '" + fx.dir + "/no-ca.pem': No such file or directory"),
      std::string::npos)
      << out1;
  EXPECT_EQ(out1.find("OK"), std::string::npos) << out1;

  // Four problems at once, each on its own line.
  std::ofstream(fx.dir + "/notes.txt") << "not a certificate\n";
  auto [rc2, out2] = run({"--check", "--ca-file", fx.dir + "/notes.txt", "--source", "file",
                          "--file", fx.dir + "/missing.wav", "--sink", "wav", "--playback-file",
                          fx.dir + "/no-dir/played.wav", "--record", fx.dir},
                         "c2");
  EXPECT_EQ(rc2, 1) << out2;
  std::vector<std::string> lines;
  std::istringstream in(out2);
  for (std::string line; std::getline(in, line);)
    if (line.rfind("earshot-node: check: ", 0) == 0) lines.push_back(line);
  ASSERT_EQ(lines.size(), 4u) << out2;
  EXPECT_NE(out2.find("host.ca_file: '" + fx.dir + "/notes.txt' holds no PEM certificate"),
            std::string::npos)
      << out2;
  EXPECT_NE(out2.find("capture: cannot open '" + fx.dir + "/missing.wav'"), std::string::npos)
      << out2;
  EXPECT_NE(out2.find("playback.playback_file: cannot create '" + fx.dir +
                      "/no-dir/played.wav': directory '" + fx.dir + "/no-dir'"),
            std::string::npos)
      << out2;
  EXPECT_NE(out2.find("debug.record: '" + fx.dir + "' is a directory"), std::string::npos) << out2;

  // All usable: a real CA certificate, a writable place for both outputs. Nothing is created.
  ASSERT_EQ(test::run_command({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                               "-keyout", fx.dir + "/ca.key", "-out", fx.dir + "/ca.pem", "-days",
                               "2", "-subj", "/CN=earshot-test-ca"},
                              fx.dir + "/openssl"),
            0);
  auto [rc3, out3] =
      run({"--check", "--ca-file", fx.dir + "/ca.pem", "--source", "file", "--file", jfk, "--sink",
           "wav", "--playback-file", fx.dir + "/played.wav", "--record", fx.dir + "/sent.opus"},
          "c3");
  EXPECT_EQ(rc3, 0) << out3;
  EXPECT_NE(out3.find("OK"), std::string::npos) << out3;
  EXPECT_NE(access((fx.dir + "/ca.pem").c_str(), R_OK), -1);
  EXPECT_EQ(access((fx.dir + "/played.wav").c_str(), F_OK), -1) << "--check created a file";
  EXPECT_EQ(access((fx.dir + "/sent.opus").c_str(), F_OK), -1) << "--check created a file";

  // The bridge URL must be one the link can dial.
  for (const char* url :
       {"ws://127.0.0.1:99999/", "ws://:8765/", "wss://bridge:87x/", "http://127.0.0.1:8765/"}) {
    Subprocess node(
        {kNode, "--check", "--url", url, "--source", "file", "--file", jfk, "--sink", "none"},
        fx.dir + "/url");
    EXPECT_EQ(node.wait(20s), 2) << url;
    EXPECT_NE(node.stderr_text().find("host.url: "), std::string::npos) << node.stderr_text();
  }
}

// A command line CLI11 cannot parse is bad configuration: exit 2 (systemd's
// RestartPreventExitStatus=2 then stops retrying), with CLI11's message. --help is not an error.
TEST(Node, CommandLineErrorsExit2AndHelpExits0) {
  Fixture fx("node_cli_errors");
  struct Case {
    std::vector<std::string> args;
    int code;
    std::string says;
  };
  const std::vector<Case> cases = {
      {{"--no-such-flag"}, 2, "The following argument was not expected: --no-such-flag"},
      {{"--sample-rate", "notanumber"}, 2, "--sample-rate"},
      {{"--check", "stray"}, 2, "stray"},
      {{"--help"}, 0, "--config"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> argv = {kNode};
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    Subprocess node(argv, fx.dir + "/cli");
    EXPECT_EQ(node.wait(20s), c.code) << c.args[0];
    EXPECT_NE((node.stderr_text() + node.stdout_text()).find(c.says), std::string::npos)
        << node.stderr_text() << node.stdout_text();
  }
}

}  // namespace
}  // namespace earshot
