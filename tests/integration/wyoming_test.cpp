// Wyoming, both directions, with real processes: the bridge drives a test Wyoming satellite
// (tests/integration/wyoming_peer.py, written from the protocol's documents) through a pipeline on
// real speech, and serves its engines to a test Wyoming client; zeroconf seen with avahi-browse.
// Engines: pocketsphinx, echo, flite (the reply repeats what was heard).
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "host/engines/embedded_engines.h"
#include "host/store/store.h"
#include "tests/integration/bridge_fixture.h"
#include "tests/integration/reply_checks.h"
#include "tests/support/speech/speech_check.h"

namespace earshot {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;
using test::Bridge;
using test::Subprocess;

const std::string kPeer = std::string(EARSHOT_SOURCE_DIR) + "/tests/integration/wyoming_peer.py";

using test::recognise;
using test::to_16k_mono;

// What flite says for `text` (as the bridge says it, sentence by sentence), read back by
// pocketsphinx: the baseline a reply is held to.
std::string flite_read_back(host::SttEngine& stt, const std::string& text) {
  std::string error;
  auto tts = host::make_flite_tts({}, &error);
  EXPECT_TRUE(tts) << error;
  if (!tts) return "";
  return recognise(stt, to_16k_mono(test::synthesise_like_the_bridge(*tts, {text})));
}

std::vector<json> events_of(const std::string& dir) {
  std::vector<json> out;
  std::ifstream in(dir + "/events.jsonl");
  for (std::string line; std::getline(in, line);)
    if (json j = json::parse(line, nullptr, false); !j.is_discarded()) out.push_back(j);
  return out;
}

bool exists(const std::string& path) {
  return access(path.c_str(), F_OK) == 0;  // sockets too
}

std::string satellite_toml(int port, int reconnect_max_ms) {
  return "[wyoming]\nreconnect_max_ms = " + std::to_string(reconnect_max_ms) +
         "\n[[wyoming.satellites]]\nname = \"kitchen\"\nhost = \"127.0.0.1\"\nport = " +
         std::to_string(port) + "\n";
}

// The bridge connects, runs our pipeline on real speech (jfk.wav streamed in real time as a
// satellite's microphone), and the satellite gets, in the order Home Assistant sends them:
// transcribe, voice-started, voice-stopped, transcript, then the reply as audio-start,
// audio-chunk*, audio-stop at the rate it asked for; it plays it and says `played`. What it heard
// reads back as well as flite's own reading of the reply text. The satellite killed and started
// again: the bridge is back within its backoff. The status page shows it all.
TEST(WyomingSatellite, BridgeRunsAPipelineOnRealSpeechAndReconnectsAfterTheSatelliteDies) {
  const int sat_port = test::free_port();
  const int reconnect_max_ms = 2000;
  Bridge bridge("wyoming_satellite",
                "[turn]\nend_of_turn_ms = 1500\n" + satellite_toml(sat_port, reconnect_max_ms));
  const std::string out = bridge.dir + "/satellite";
  const std::string wav = test::data_path("whisper.cpp/jfk.wav");
  auto sat = std::make_unique<Subprocess>(
      std::vector<std::string>{"python3", kPeer, "satellite", "--port", std::to_string(sat_port),
                               "--out", out, "--wav", wav, "--snd-rate", "22050"},
      bridge.dir + "/sat1");
  ASSERT_TRUE(test::wait_until([&] { return exists(out + "/listening"); }, 20s))
      << sat->stderr_text();
  bridge.start();

  ASSERT_TRUE(test::wait_until(
      [&] {
        for (const json& e : events_of(out))
          if (e["type"] == "(played sent)") return true;
        return false;
      },
      120s))
      << sat->stderr_text() << bridge.process->stderr_text();

  // The events, in order (pings and pongs aside).
  std::vector<std::string> order;
  std::string transcript, synthesized;
  int reply_rate = 0;
  for (const json& e : events_of(out)) {
    const std::string type = e["type"];
    if (type == "ping" || type == "audio-chunk") {
      if (type == "audio-chunk") reply_rate = e["data"]["rate"];
      if (type == "audio-chunk" && (order.empty() || order.back() != "audio-chunk*"))
        order.push_back("audio-chunk*");
      continue;
    }
    order.push_back(type);
    if (type == "transcript") transcript = e["data"]["text"];
    if (type == "synthesize") synthesized = e["data"]["text"];
  }
  std::ostringstream seen;
  for (const std::string& t : order)
    seen << t << " ";
  const std::vector<std::string> expected = {"describe",      "run-satellite", "transcribe",
                                             "voice-started", "voice-stopped", "transcript"};
  ASSERT_GE(order.size(), expected.size() + 3) << seen.str();
  for (size_t i = 0; i < expected.size(); ++i)
    EXPECT_EQ(order[i], expected[i]) << seen.str();
  // The reply: synthesize (its text, once whole) may come before or inside the audio.
  auto at = [&](const std::string& t) {
    return std::find(order.begin(), order.end(), t) - order.begin();
  };
  EXPECT_LT(at("audio-start"), at("audio-chunk*")) << seen.str();
  EXPECT_LT(at("audio-chunk*"), at("audio-stop")) << seen.str();
  EXPECT_LT(at("synthesize"), long(order.size())) << seen.str();
  EXPECT_EQ(reply_rate, 22050);  // the rate the satellite asked for in run-pipeline

  std::string error;
  auto stt = host::make_pocketsphinx_stt({}, &error);
  ASSERT_TRUE(stt) << error;
  const std::string reference = test::read_file(test::data_path("whisper.cpp/jfk.txt"));
  const double wer_original =
      test::word_error_rate(reference, recognise(*stt, to_16k_mono(test::read_audio(wav))));
  const double wer_heard = test::word_error_rate(reference, transcript);
  // The reply as the satellite played it, read back, against flite's own reading of the text.
  test::Audio reply = test::read_audio(out + "/reply.wav");
  EXPECT_EQ(reply.sample_rate, 22050);
  EXPECT_GT(reply.seconds(), 1.0);
  const std::string played_text = recognise(*stt, to_16k_mono(reply));
  const double wer_reply = test::word_error_rate(synthesized, played_text);
  const double wer_baseline =
      test::word_error_rate(synthesized, flite_read_back(*stt, synthesized));
  printf(
      "wyoming: heard \"%s\" (WER %.3f, pocketsphinx on the file %.3f); reply \"%s\" read back "
      "WER %.3f, flite directly %.3f\n",
      transcript.c_str(), wer_heard, wer_original, synthesized.c_str(), wer_reply, wer_baseline);
  // Lossless pcm16 at 16 kHz: recognition as on the file, but the turn is cut where our turn
  // detection ends it and decoded as it streams; 5 points of room.
  EXPECT_LE(wer_heard, wer_original + 0.05);
  EXPECT_FALSE(synthesized.empty());
  // 22050 Hz and back to 16 kHz on the way: within 10 points of flite read back directly.
  EXPECT_LE(wer_reply, wer_baseline + 0.10);

  // The status page: the satellite, its protocol, room (from its info) and state; its turn.
  // The turn is listed once the bridge has handled the satellite's `played`, which arrives after
  // the satellite logged sending it: wait for that, not for a fixed time.
  std::string body;
  json status;
  const auto turn_in = [&](const json& st) {
    for (const json& t : st["turns"])
      if (t["node_id"] == "wyoming-kitchen" && t["transcript"] == transcript) return true;
    return false;
  };
  test::wait_until(
      [&] {
        if (test::http_get("http://127.0.0.1:" + std::to_string(bridge.port) + "/api/status",
                           &body) != 200)
          return false;
        status = json::parse(body, nullptr, false);
        if (status.is_discarded()) return false;
        return turn_in(status);
      },
      20s);
  ASSERT_TRUE(status.is_object()) << body;
  bool listed = false;
  for (const json& s : status["sessions"])
    if (s["node_id"] == "wyoming-kitchen") {
      listed = true;
      EXPECT_EQ(s["protocol"], "wyoming");
      EXPECT_EQ(s["room"], "Kitchen");
      EXPECT_TRUE(s["state"] == "idle" || s["state"] == "speaking") << s.dump();
    }
  EXPECT_TRUE(listed) << body;
  EXPECT_TRUE(turn_in(status)) << body;

  // Killed and started again: the bridge connects within its backoff (1 s, then 2 s at most;
  // the satellite is down ~1 s), i.e. run-satellite again.
  sat->signal(SIGKILL);
  sat->wait(10s);
  std::remove((out + "/connected.1").c_str());  // the new satellite counts its runs from 1
  sat = std::make_unique<Subprocess>(
      std::vector<std::string>{"python3", kPeer, "satellite", "--port", std::to_string(sat_port),
                               "--out", out, "--turns", "0"},
      bridge.dir + "/sat2");
  const auto restarted = std::chrono::steady_clock::now();
  ASSERT_TRUE(test::wait_until([&] { return exists(out + "/connected.1"); },
                               std::chrono::milliseconds(reconnect_max_ms * 2 + 5000)))
      << sat->stderr_text() << bridge.process->stderr_text();
  const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - restarted);
  printf("wyoming: reconnected %lld ms after the satellite restarted\n", (long long)waited.count());
  EXPECT_NE(bridge.process->stderr_text().find("reconnecting in"), std::string::npos);
  ASSERT_EQ(bridge.stop(), 0) << bridge.process->stderr_text();

  // Stored like any client's turn.
  auto store = host::Store::open(bridge.dir + "/earshot.db", {}, &error);
  ASSERT_TRUE(store) << error;
  bool stored = false;
  for (const host::TurnRecord& t : store->turns())
    stored |= t.node_id == "wyoming-kitchen" && t.transcript == transcript;
  EXPECT_TRUE(stored);
}

// A satellite that dies while its reply plays (SIGKILL: no `played`) heard at most what the bridge
// had written to its socket. It plays as a speaker does (--play-realtime), so most of a reply of
// seconds is still with the bridge when it dies. The turn is stored and remembered as cut there,
// not as heard in full.
TEST(WyomingSatellite, AReplyWhoseSatelliteDiesMidwayIsKeptAsHeardOnlyUpToWhatWasSent) {
  const int sat_port = test::free_port();
  Bridge bridge("wyoming_satellite_dies",
                "[turn]\nend_of_turn_ms = 1500\n" + satellite_toml(sat_port, 2000));
  const std::string out = bridge.dir + "/satellite";
  Subprocess sat(
      {"python3", kPeer, "satellite", "--port", std::to_string(sat_port), "--out", out, "--wav",
       test::data_path("whisper.cpp/jfk.wav"), "--snd-rate", "22050", "--play-realtime"},
      bridge.dir + "/sat");
  ASSERT_TRUE(test::wait_until([&] { return exists(out + "/listening"); }, 20s))
      << sat.stderr_text();
  bridge.start();
  // Killed as its reply starts to sound.
  ASSERT_TRUE(test::wait_until(
      [&] {
        for (const json& e : events_of(out))
          if (e["type"] == "audio-chunk") return true;
        return false;
      },
      120s))
      << sat.stderr_text() << bridge.process->stderr_text();
  sat.signal(SIGKILL);
  sat.wait(10s);
  // The turn is printed once its reply is settled (--print-turns).
  ASSERT_TRUE(test::wait_until(
      [&] { return bridge.process->stdout_text().find("heard \"") != std::string::npos; }, 60s))
      << bridge.process->stderr_text();
  ASSERT_EQ(bridge.stop(), 0) << bridge.process->stderr_text();
  test::expect_reply_kept_as_cut(bridge.process->stderr_text(), bridge.dir + "/earshot.db",
                                 "wyoming-kitchen", "node:wyoming-kitchen");
}

// The wake word said over a reply (a satellite that plays at real time sends a new run-pipeline a
// second into it, when the reply has long been voiced to its end). The satellite says nothing of
// what it played, so the reply is kept as cut at the frames written to its socket. The old door
// reported the frames queued for the link (the whole reply) and no played point, and a reply voiced
// to its end was stored as heard in full.
TEST(WyomingSatellite, AReplyCutByANewPipelineIsKeptAsHeardOnlyUpToWhatWasWritten) {
  const int sat_port = test::free_port();
  Bridge bridge("wyoming_satellite_wakes_over",
                "[turn]\nend_of_turn_ms = 1500\n" + satellite_toml(sat_port, 2000));
  const std::string out = bridge.dir + "/satellite";
  Subprocess sat({"python3", kPeer, "satellite", "--port", std::to_string(sat_port), "--out", out,
                  "--wav", test::data_path("whisper.cpp/jfk.wav"), "--snd-rate", "22050",
                  "--play-realtime", "--wake-over-reply-ms", "1000"},
                 bridge.dir + "/sat");
  ASSERT_TRUE(test::wait_until([&] { return exists(out + "/listening"); }, 20s))
      << sat.stderr_text();
  bridge.start();
  ASSERT_TRUE(test::wait_until(
      [&] {
        for (const json& e : events_of(out))
          if (e["type"] == "(run-pipeline sent over the reply)") return true;
        return false;
      },
      120s))
      << sat.stderr_text() << bridge.process->stderr_text();
  // The turn is printed once its reply is settled (--print-turns).
  ASSERT_TRUE(test::wait_until(
      [&] { return bridge.process->stdout_text().find("heard \"") != std::string::npos; }, 60s))
      << bridge.process->stderr_text();
  ASSERT_EQ(bridge.stop(), 0) << bridge.process->stderr_text();
  test::expect_reply_kept_as_cut(bridge.process->stderr_text(), bridge.dir + "/earshot.db",
                                 "wyoming-kitchen", "node:wyoming-kitchen", "interrupted (client)");
}

struct PeerResult {
  int status = -1;
  json result;
  std::string output;
};

PeerResult run_client(const std::string& dir, const std::string& tag, int port,
                      std::vector<std::string> args) {
  std::vector<std::string> argv = {"python3", kPeer, "client", "--port", std::to_string(port)};
  argv.insert(argv.end(), args.begin(), args.end());
  PeerResult r;
  r.status = test::run_command(argv, dir + "/" + tag, 120s, &r.output);
  r.result = json::parse(r.output, nullptr, false);
  if (!r.result.is_object()) r.result = json::object();  // the checks then say what was wrong
  return r;
}

// The bridge's engines as Wyoming services: info describes asr and tts as Home Assistant reads
// them; a WAV is transcribed as pocketsphinx reads the file; a sentence is synthesised and reads
// back as flite's does. Bad framing and oversized events get a clear error and close that
// connection only (a transcription running at the same time is unaffected); one connection over
// max_connections is told busy.
TEST(WyomingServices, TranscribeAndSynthesizeThroughTheBridgeWithLimits) {
  const int port = test::free_port();
  Bridge bridge("wyoming_services",
                "[wyoming]\nserve = true\nlisten = \"127.0.0.1\"\nport = " + std::to_string(port) +
                    "\nadvertise = false\nmax_connections = 3\n");
  bridge.start();
  EXPECT_NE(bridge.process->stdout_text().find("wyoming services on port " + std::to_string(port)),
            std::string::npos);

  PeerResult info = run_client(bridge.dir, "describe", port, {"describe"});
  ASSERT_EQ(info.status, 0) << info.output;
  ASSERT_EQ(info.result["type"], "info") << info.output;
  const json& asr = info.result["data"]["asr"];
  const json& tts = info.result["data"]["tts"];
  ASSERT_EQ(asr.size(), 1u) << info.output;
  EXPECT_TRUE(asr[0]["installed"].get<bool>());
  EXPECT_EQ(asr[0]["models"][0]["languages"][0], "en");
  EXPECT_TRUE(asr[0]["models"][0]["installed"].get<bool>());
  EXPECT_FALSE(asr[0]["models"][0]["attribution"]["name"].get<std::string>().empty());
  ASSERT_EQ(tts.size(), 1u) << info.output;
  EXPECT_TRUE(tts[0]["voices"][0]["installed"].get<bool>());

  std::string error;
  auto stt = host::make_pocketsphinx_stt({}, &error);
  ASSERT_TRUE(stt) << error;
  const std::string wav = test::data_path("whisper.cpp/jfk.wav");
  const std::string reference = test::read_file(test::data_path("whisper.cpp/jfk.txt"));

  // Bad framing while a transcription runs on another connection.
  PeerResult transcribed, bad_header, bad_payload;
  std::thread transcriber([&] {
    transcribed = run_client(bridge.dir, "transcribe", port, {"transcribe", "--wav", wav});
  });
  bad_header = run_client(bridge.dir, "bad_header", port, {"bad-header"});
  bad_payload = run_client(bridge.dir, "bad_payload", port, {"bad-payload"});
  transcriber.join();
  ASSERT_EQ(transcribed.status, 0) << transcribed.output;
  ASSERT_EQ(transcribed.result["type"], "transcript") << transcribed.output;
  const std::string text = transcribed.result["data"]["text"];
  const double wer = test::word_error_rate(reference, text);
  const double wer_file =
      test::word_error_rate(reference, recognise(*stt, to_16k_mono(test::read_audio(wav))));
  printf("wyoming service: transcript \"%s\" WER %.3f, pocketsphinx on the file %.3f\n",
         text.c_str(), wer, wer_file);
  EXPECT_LE(wer, wer_file + 0.02);
  for (const PeerResult* bad : {&bad_header, &bad_payload}) {
    ASSERT_EQ(bad->status, 0) << bad->output;
    EXPECT_EQ(bad->result["type"], "error") << bad->output;
    EXPECT_TRUE(bad->result["closed"].get<bool>()) << bad->output;
  }
  EXPECT_EQ(bad_header.result["data"]["code"], "header_too_long") << bad_header.output;
  EXPECT_EQ(bad_payload.result["data"]["code"], "payload_too_long") << bad_payload.output;

  const std::string sentence = "The weather in the kitchen is warm and sunny today.";
  PeerResult spoken =
      run_client(bridge.dir, "synthesize", port,
                 {"synthesize", "--text", sentence, "--out", bridge.dir + "/tts.wav"});
  ASSERT_EQ(spoken.status, 0) << spoken.output;
  ASSERT_EQ(spoken.result["type"], "audio-stop") << spoken.output;
  test::Audio audio = test::read_audio(bridge.dir + "/tts.wav");
  EXPECT_EQ(audio.sample_rate, spoken.result["rate"].get<int>());
  EXPECT_GT(audio.seconds(), 1.5);
  const double wer_tts = test::word_error_rate(sentence, recognise(*stt, to_16k_mono(audio)));
  const double wer_flite = test::word_error_rate(sentence, flite_read_back(*stt, sentence));
  printf("wyoming service: synthesised sentence read back WER %.3f, flite directly %.3f\n", wer_tts,
         wer_flite);
  EXPECT_LE(wer_tts, wer_flite + 0.05);

  // max_connections = 3: three held, the fourth is told busy.
  std::vector<std::unique_ptr<Subprocess>> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(
        std::make_unique<Subprocess>(std::vector<std::string>{"python3", kPeer, "client", "--port",
                                                              std::to_string(port), "hold"},
                                     bridge.dir + "/hold" + std::to_string(i)));
    ASSERT_TRUE(test::wait_until(
        [&] { return held.back()->stdout_text().find("info") != std::string::npos; }, 20s));
  }
  PeerResult busy = run_client(bridge.dir, "busy", port, {"describe"});
  EXPECT_EQ(busy.result["type"], "error") << busy.output;
  EXPECT_EQ(busy.result["data"]["code"], "busy") << busy.output;
  held.clear();  // SIGKILLed: their connections close
  ASSERT_TRUE(test::wait_until(
      [&] { return run_client(bridge.dir, "again", port, {"describe"}).result["type"] == "info"; },
      20s));
  ASSERT_EQ(bridge.stop(), 0) << bridge.process->stderr_text();
}

// Zeroconf: with a private D-Bus and an avahi-daemon restricted to loopback (nothing goes out on
// the machine's network), avahi-browse finds the bridge's _wyoming._tcp service on its port.
TEST(WyomingZeroconf, ServicesAreAdvertisedAndVisibleWithAvahiBrowse) {
  for (const char* tool :
       {"/usr/bin/dbus-daemon", "/usr/sbin/avahi-daemon", "/usr/bin/avahi-browse"})
    if (!exists(tool)) GTEST_SKIP() << tool << " is not installed (tools/install-deps.sh)";
  if (exists("/run/avahi-daemon/pid"))
    GTEST_SKIP() << "an avahi-daemon already runs on this machine: a second cannot start (its pid "
                    "file is fixed); not touching the machine's own";
  const std::string dir = test::scratch_dir("wyoming_zeroconf");
  const std::string bus = dir + "/bus";
  std::ofstream(dir + "/bus.conf")
      << "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN\" "
         "\"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
         "<busconfig><type>system</type><listen>unix:path="
      << bus
      << "</listen><auth>EXTERNAL</auth><policy context=\"default\"><allow user=\"*\"/>"
         "<allow own=\"*\"/><allow send_type=\"method_call\"/><allow send_destination=\"*\"/>"
         "<allow receive_type=\"*\"/></policy></busconfig>\n";
  std::ofstream(dir + "/avahi.conf") << "[server]\nuse-ipv4=yes\nuse-ipv6=no\nallow-interfaces=lo\n"
                                        "enable-dbus=yes\n[publish]\npublish-hinfo=no\n"
                                        "publish-workstation=no\n";
  const std::map<std::string, std::string> env = {{"DBUS_SYSTEM_BUS_ADDRESS", "unix:path=" + bus}};
  Subprocess dbus({"dbus-daemon", "--config-file=" + dir + "/bus.conf", "--nofork"}, dir + "/dbus");
  if (!test::wait_until([&] { return exists(bus) || !dbus.running(); }, 10s) || !exists(bus))
    GTEST_SKIP() << "no D-Bus here: dbus-daemon did not start: " << dbus.stderr_text();
  Subprocess avahi(
      {"avahi-daemon", "-f", dir + "/avahi.conf", "--no-drop-root", "--no-chroot", "--no-rlimits"},
      dir + "/avahi", env);
  if (!test::wait_until(
          [&] {
            return avahi.stderr_text().find("Server startup complete") != std::string::npos ||
                   !avahi.running();
          },
          15s) ||
      !avahi.running())
    GTEST_SKIP() << "avahi-daemon cannot run here: " << avahi.stderr_text();

  const int port = test::free_port();
  const std::string name = "Earshot test " + std::to_string(getpid());
  Bridge bridge("wyoming_zeroconf_bridge",
                "[wyoming]\nserve = true\nlisten = \"127.0.0.1\"\nport = " + std::to_string(port) +
                    "\nservice_name = \"" + name + "\"\n");
  bridge.process = std::make_unique<Subprocess>(
      std::vector<std::string>{test::kBridge, "--config", bridge.dir + "/bridge.toml"},
      bridge.dir + "/bridge", env);
  ASSERT_TRUE(test::wait_until(
      [&] { return bridge.process->stderr_text().find("advertising") != std::string::npos; }, 60s))
      << bridge.process->stderr_text();
  std::string browsed;
  ASSERT_TRUE(test::wait_until(
      [&] {
        browsed.clear();
        Subprocess browse({"avahi-browse", "-r", "-t", "-p", "_wyoming._tcp"}, dir + "/browse",
                          env);
        browse.wait(10s);
        browsed = browse.stdout_text();
        return browsed.find(";" + std::to_string(port) + ";") != std::string::npos;
      },
      30s))
      << browsed;
  std::string escaped = name;  // avahi-browse -p writes spaces as \032
  for (size_t at; (at = escaped.find(' ')) != std::string::npos;)
    escaped.replace(at, 1, "\\032");
  EXPECT_NE(browsed.find(escaped), std::string::npos) << browsed;
  ASSERT_EQ(bridge.stop(), 0) << bridge.process->stderr_text();
  avahi.signal(SIGTERM);
  avahi.wait(10s);
  dbus.signal(SIGTERM);
  dbus.wait(10s);
}

// The same bridge without any daemon: it runs, says it is not advertising, and serves.
TEST(WyomingZeroconf, NoDaemonIsLoggedAndTheBridgeServesAnyway) {
  const int port = test::free_port();
  Bridge bridge("wyoming_no_avahi", "[wyoming]\nserve = true\nlisten = \"127.0.0.1\"\nport = " +
                                        std::to_string(port) + "\n");
  const std::string dir = test::scratch_dir("wyoming_no_avahi_bus");
  bridge.process = std::make_unique<Subprocess>(
      std::vector<std::string>{test::kBridge, "--config", bridge.dir + "/bridge.toml"},
      bridge.dir + "/bridge",
      std::map<std::string, std::string>{
          {"DBUS_SYSTEM_BUS_ADDRESS", "unix:path=" + dir + "/none"}});
  ASSERT_TRUE(test::wait_until(
      [&] { return bridge.process->stdout_text().find("listening on port") != std::string::npos; },
      60s))
      << bridge.process->stderr_text();
  ASSERT_TRUE(test::wait_until(
      [&] { return bridge.process->stderr_text().find("not advertised") != std::string::npos; },
      10s))
      << bridge.process->stderr_text();
  PeerResult info = run_client(bridge.dir, "describe", port, {"describe"});
  EXPECT_EQ(info.result["type"], "info") << info.output;
  ASSERT_EQ(bridge.stop(), 0) << bridge.process->stderr_text();
}

}  // namespace
}  // namespace earshot
