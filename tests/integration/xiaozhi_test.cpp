// xiaozhi-esp32 boxes against a real earshot-bridge (embedded engines: pocketsphinx, echo, flite;
// the SQLite store), through the door on /xiaozhi/v1/ and the OTA check-in on /xiaozhi/ota/. The
// box is tests/integration/xiaozhi_box.h: written from the firmware's documents, real libopus, a
// real WebSocket. Real speech, streamed at a microphone's pace. Last, the isolation test across
// doors: a box, a Wyoming satellite (tests/integration/wyoming_peer.py) and an earshot.v1 node at
// once.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>

#include "dsp/resampler.h"
#include "host/clock.h"
#include "host/engines/embedded_engines.h"
#include "host/engines/http_client.h"
#include "tests/integration/bridge_fixture.h"
#include "tests/integration/reply_checks.h"
#include "tests/integration/xiaozhi_box.h"
#include "tests/support/speech/speech_check.h"
#include "tests/support/test_audio.h"

namespace earshot {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using test::Bridge;
using test::XiaozhiBox;

// The boxes this bridge knows: [nodes] "xiaozhi-" + MAC = token; the first is in the kitchen.
constexpr const char* kBoxes =
    "xiaozhi-aabbccddee01 = \"box-1\"\nxiaozhi-aabbccddee02 = \"box-2\"\n"
    "xiaozhi-aabbccddee03 = \"box-3\"\n";

void configure(Bridge& bridge, const std::string& extra = "") {
  std::ofstream(bridge.dir + "/bridge.toml")
      << "[server]\nlisten = \"127.0.0.1\"\nport = " << bridge.port << "\n"
      << "[nodes]\nn0 = \"t0\"\n"
      << kBoxes << "[rooms]\nxiaozhi-aabbccddee01 = \"kitchen\"\n"
      << "[store]\npath = \"" << bridge.dir << "/earshot.db\"\n"
      << "[turn]\nend_of_turn_ms = 1500\n"
      << extra;
}

XiaozhiBox::Options box(int n, int version = 1) {
  XiaozhiBox::Options o;
  o.version = version;
  o.device_id = "AA:BB:CC:DD:EE:0" + std::to_string(n);
  o.client_id = "6f7a1c2e-0000-4000-8000-00000000000" + std::to_string(n);
  o.token = "box-" + std::to_string(n);
  return o;
}

std::vector<float> resample(const std::vector<float>& in, int from, int to) {
  if (from == to) return in;
  std::string error;
  auto rs = dsp::Resampler::create(from, to, in.size(), &error);
  std::vector<float> out(rs->max_output_frames() * 2 + 64);
  size_t n = rs->process(in.data(), in.size(), out.data(), out.size());
  while (size_t m = rs->flush(out.data() + n, out.size() - n))
    n += m;
  out.resize(n);
  return out;
}

struct Speech {
  std::string reference;
  std::vector<float> pcm16k;  // the clip
};
Speech speech(const char* id) {
  const test::Audio a = test::read_audio(test::librivox(id, ".wav"));
  return {test::read_file(test::librivox(id, ".txt")),
          resample(test::to_mono(a), a.sample_rate, 16000)};
}
// Silence before and after: the bridge's VAD ends the turn on the audio (1.5 s of quiet).
std::vector<float> padded(const std::vector<float>& pcm, double before_s, double after_s) {
  std::vector<float> out(size_t(before_s * 16000), 0.0f);
  out.insert(out.end(), pcm.begin(), pcm.end());
  out.insert(out.end(), size_t(after_s * 16000), 0.0f);
  return out;
}

// pocketsphinx, as the bridge runs it, for what a box said and heard.
struct Recognizer {
  std::unique_ptr<host::SttEngine> stt;
  Recognizer() {
    std::string error;
    stt = host::make_pocketsphinx_stt({}, &error);
    EXPECT_TRUE(stt) << error;
  }
  std::string operator()(const std::vector<float>& pcm16k) const {
    return test::recognise(*stt, pcm16k);
  }
};

// What the reply audio is held to: the same reply synthesised as the bridge does (flite, sentence
// by sentence), through 60 ms Opus as the door sends it, decoded at the box's rate, recognised —
// pocketsphinx's own errors on this text, in this run.
double baseline_wer(const Recognizer& recognise, const std::string& reply, int box_rate) {
  std::string error;
  auto tts = host::make_flite_tts({}, &error);
  EXPECT_TRUE(tts) << error;
  dsp::OpusEncoderSettings door;
  door.frame_ms = 60;
  door.inband_fec = false;
  door.expected_loss_percent = 0;
  const test::Audio heard =
      test::through_opus(test::synthesise_like_the_bridge(*tts, {reply}), door, box_rate);
  return test::word_error_rate(reply, recognise(test::to_16k_mono(heard)));
}

// POSTs a check-in as the firmware does (Ota::CheckVersion, SetupHttp).
long ota_check_in(int port, const std::string& device_id, const std::string& body,
                  std::string* answer) {
  host::HttpRequest req;
  req.url = "http://127.0.0.1:" + std::to_string(port) + "/xiaozhi/ota/";
  req.body = body;
  req.headers = {"Activation-Version: 1",
                 "Device-Id: " + device_id,
                 "Client-Id: 6f7a1c2e-0000-4000-8000-000000000001",
                 "User-Agent: bread-compact-wifi/1.9.0",
                 "Accept-Language: en-US",
                 "Content-Type: application/json"};
  host::HttpResponse r = host::http_request(
      req,
      [&](std::string_view chunk) {
        answer->append(chunk);
        return true;
      },
      host::CancelToken());
  if (!r.ok) *answer += r.error_body;
  return r.status;
}

json status(int port) {
  std::string body;
  test::http_get("http://127.0.0.1:" + std::to_string(port) + "/api/status", &body);
  return json::parse(body, nullptr, false);
}

const json* session_of(const json& s, const std::string& node_id) {
  for (const json& x : s["sessions"])
    if (x["node_id"] == node_id) return &x;
  return nullptr;
}

size_t index_of(const std::vector<std::string>& events, const std::string& e, size_t from = 0) {
  for (size_t i = from; i < events.size(); ++i)
    if (events[i] == e) return i;
  return events.size();
}

std::string joined(const std::vector<std::string>& parts) {
  std::string out;
  for (const std::string& p : parts)
    out += (out.empty() ? "" : " ") + p;
  return out;
}

// OTA check-in → WebSocket → hello; MCP tools listed page by page; auto mode: real speech, the
// bridge ends the turn, stt → llm → tts start → sentence_start → audio → tts stop, and the reply
// audio (60 ms Opus at the announced 24 kHz) says the reply. The status page shows the box.
TEST(Xiaozhi, ABoxChecksInSaysHelloListsItsToolsAndIsAnsweredInAutoMode) {
  Bridge bridge("xiaozhi_auto");
  configure(bridge);
  bridge.start();

  // The OTA check-in: a known box gets its WebSocket and token; the time; no firmware upgrade.
  const json info = {{"version", 2},
                     {"language", "en-US"},
                     {"mac_address", "aa:bb:cc:dd:ee:01"},
                     {"uuid", "6f7a1c2e-0000-4000-8000-000000000001"},
                     {"chip_model_name", "esp32s3"},
                     {"application", {{"name", "xiaozhi"}, {"version", "1.9.0"}}},
                     {"board", {{"type", "bread-compact-wifi"}}}};
  std::string answer;
  const int64_t before_ms = host::wall_ms();
  ASSERT_EQ(ota_check_in(bridge.port, "aa:bb:cc:dd:ee:01", info.dump(), &answer), 200) << answer;
  const json ota = json::parse(answer);
  EXPECT_EQ(ota["websocket"]["url"],
            "ws://127.0.0.1:" + std::to_string(bridge.port) + "/xiaozhi/v1/");
  EXPECT_EQ(ota["websocket"]["token"], "box-1");
  EXPECT_GE(ota["server_time"]["timestamp"].get<int64_t>(), before_ms);
  EXPECT_LE(ota["server_time"]["timestamp"].get<int64_t>(), host::wall_ms());
  EXPECT_TRUE(ota["server_time"]["timezone_offset"].is_number_integer());
  EXPECT_EQ(ota["firmware"]["version"], "1.9.0");  // its own: nothing newer
  EXPECT_EQ(ota["firmware"]["url"], "");
  EXPECT_FALSE(ota.contains("activation"));
  // An unknown box is refused, and told what to add.
  std::string refused;
  EXPECT_EQ(ota_check_in(bridge.port, "aa:bb:cc:dd:ee:99", info.dump(), &refused), 403);
  EXPECT_NE(refused.find("xiaozhi-aabbccddee99"), std::string::npos) << refused;

  XiaozhiBox::Options o = box(1);
  o.token = ota["websocket"]["token"];
  XiaozhiBox b(o);
  std::string error;
  ASSERT_TRUE(b.connect(bridge.port, &error)) << error;
  ASSERT_TRUE(b.hello(&error)) << error;
  EXPECT_EQ(b.server_sample_rate, 24000);
  EXPECT_EQ(b.server_frame_duration, 60);

  // MCP: initialize, then tools/list page by page (one tool per page here).
  ASSERT_TRUE(b.pump_until(
      [&] { return std::count(b.mcp_requests.begin(), b.mcp_requests.end(), "tools/list") >= 2; },
      5000));
  EXPECT_EQ(b.mcp_requests.front(), "initialize");
  json s;
  ASSERT_TRUE(test::wait_until(
      [&] {
        s = status(bridge.port);
        const json* me = session_of(s, "xiaozhi-aabbccddee01");
        return me && (*me)["tools"].size() == 2;
      },
      5s))
      << s.dump();
  const json& me = *session_of(s, "xiaozhi-aabbccddee01");
  EXPECT_EQ(me["protocol"], "xiaozhi");
  EXPECT_EQ(me["room"], "kitchen");
  EXPECT_EQ(me["tools"][1], "self.audio_speaker.set_volume");
  EXPECT_EQ(me["state"], "idle");

  // Auto mode: the wake word, then listening; the bridge decides where the turn ends.
  const Speech clip = speech("0870");
  b.wake_word("hey earshot");
  b.listen_start("auto");
  b.stream(padded(clip.pcm16k, 0.5, 2.5));
  ASSERT_TRUE(b.pump_until([&] { return b.tts_stops >= 1; }, 60000))
      << "events: " << joined(b.events);

  // The firmware's order around a reply.
  const std::vector<std::string>& e = b.events;
  const size_t stt = index_of(e, "stt"), llm = index_of(e, "llm"), start = index_of(e, "tts:start"),
               sentence = index_of(e, "tts:sentence_start"), audio = index_of(e, "audio"),
               stop = index_of(e, "tts:stop");
  EXPECT_LT(stt, llm) << joined(e);
  EXPECT_LT(llm, start) << joined(e);
  EXPECT_LT(start, sentence) << joined(e);
  EXPECT_LT(sentence, audio) << joined(e);
  EXPECT_LT(audio, stop) << joined(e);
  EXPECT_EQ(index_of(e, "audio", audio + 2), e.size()) << "audio after tts stop: " << joined(e);
  EXPECT_EQ(b.packets_not_speaking, 0);
  EXPECT_EQ(b.bad_packets, 0);
  EXPECT_EQ(b.max_packet_ms, 60);
  EXPECT_EQ(b.emotions.front(), "neutral");

  // What the bridge heard, as well as pocketsphinx hears what the box sent (its Opus decoded
  // again): the door and the bridge's turn taking cost nothing beyond pocketsphinx's own swing of
  // a word or two with alignment (tests/support/speech).
  const Recognizer recognise;
  ASSERT_EQ(b.stt.size(), 1u);
  const double wer = test::word_error_rate(clip.reference, b.stt[0]);
  const double wer_sent = test::word_error_rate(clip.reference, recognise(b.sent_audio));
  printf(
      "xiaozhi auto: transcript WER %.3f (what the box sent, recognised: %.3f; the original "
      "file: %.3f): \"%s\"\n",
      wer, wer_sent, test::word_error_rate(clip.reference, recognise(clip.pcm16k)),
      b.stt[0].c_str());
  EXPECT_LE(wer, wer_sent + 0.10);

  // The reply: the echo LLM's text in sentence_start, and its audio at 24 kHz says it.
  const std::string reply = joined(b.sentences);
  EXPECT_EQ(reply, "You said: " + b.stt[0] + ".");
  ASSERT_GT(b.played.size(), size_t(24000)) << "less than a second of reply";
  const std::string heard_back = recognise(resample(b.played, 24000, 16000));
  const double reply_wer = test::word_error_rate(reply, heard_back);
  const double flite_wer = baseline_wer(recognise, reply, 24000);
  printf(
      "xiaozhi auto: reply audio WER %.3f (the same reply synthesised and sent as the bridge "
      "does, recognised: %.3f): \"%s\"\n",
      reply_wer, flite_wer, heard_back.c_str());
  EXPECT_LE(reply_wer, flite_wer + 0.10);

  // The turn is on the status page under the box.
  ASSERT_TRUE(test::wait_until(
      [&] {
        s = status(bridge.port);
        for (const json& t : s["turns"])
          if (t["node_id"] == "xiaozhi-aabbccddee01" && t["transcript"] == b.stt[0]) return true;
        return false;
      },
      5s))
      << s.dump();
  EXPECT_EQ(bridge.stop(), 0) << bridge.process->stderr_text();
}

// Binary protocols 2 and 3 (their headers both ways) in manual mode — listen start/stop is the
// turn — with reply audio at 16 kHz (xiaozhi.output_sample_rate).
TEST(Xiaozhi, ProtocolVersions2And3InManualModeAt16kHz) {
  Bridge bridge("xiaozhi_manual");
  configure(bridge, "[xiaozhi]\noutput_sample_rate = 16000\n");
  bridge.start();
  const Recognizer recognise;
  const Speech clip = speech("0890");
  for (int version : {2, 3}) {
    SCOPED_TRACE("binary protocol " + std::to_string(version));
    XiaozhiBox b(box(version, version));
    std::string error;
    ASSERT_TRUE(b.connect(bridge.port, &error)) << error;
    ASSERT_TRUE(b.hello(&error)) << error;
    EXPECT_EQ(b.server_sample_rate, 16000);
    b.listen_start("manual");
    // The button is held while speaking, released right after: no silence for a VAD to hear.
    b.stream(padded(clip.pcm16k, 0.2, 0.2));
    b.listen_stop();
    ASSERT_TRUE(b.pump_until([&] { return b.tts_stops >= 1; }, 60000)) << joined(b.events);
    ASSERT_EQ(b.stt.size(), 1u) << joined(b.events);
    const double wer = test::word_error_rate(clip.reference, b.stt[0]);
    const double wer_sent = test::word_error_rate(clip.reference, recognise(b.sent_audio));
    printf("xiaozhi v%d manual: transcript WER %.3f (what the box sent, recognised: %.3f)\n",
           version, wer, wer_sent);
    EXPECT_LE(wer, wer_sent + 0.10) << b.stt[0];
    EXPECT_EQ(b.bad_packets, 0);
    EXPECT_EQ(b.packets_not_speaking, 0);
    EXPECT_EQ(b.max_packet_ms, 60);
    const std::string reply = joined(b.sentences);
    EXPECT_EQ(reply, "You said: " + b.stt[0] + ".");
    ASSERT_GT(b.played.size(), size_t(16000));
    const double reply_wer = test::word_error_rate(reply, recognise(b.played));
    const double flite_wer = baseline_wer(recognise, reply, 16000);
    printf(
        "xiaozhi v%d manual: reply audio WER %.3f (the same reply synthesised and sent as the "
        "bridge does, recognised: %.3f)\n",
        version, reply_wer, flite_wer);
    EXPECT_LE(reply_wer, flite_wer + 0.10);
  }
  EXPECT_EQ(bridge.stop(), 0) << bridge.process->stderr_text();
}

// Realtime mode (the box keeps streaming while it plays): barge-in by abort, then by speech. Each
// stops the reply's audio at once with tts stop; the turn is stored as interrupted.
TEST(Xiaozhi, RealtimeModeBargeInByAbortAndBySpeech) {
  Bridge bridge("xiaozhi_realtime");
  configure(bridge);
  bridge.start();
  XiaozhiBox b(box(1));
  std::string error;
  ASSERT_TRUE(b.connect(bridge.port, &error)) << error;
  ASSERT_TRUE(b.hello(&error)) << error;
  b.listen_start("realtime");

  // 1. abort, a second into a reply.
  const Speech first = speech("0920");
  b.stream(padded(first.pcm16k, 0.3, 2.0));
  ASSERT_TRUE(b.pump_until([&] { return b.speaking && b.reply_packets >= 17; }, 60000))
      << joined(b.events);
  const int at_abort = b.reply_packets, stops_at_abort = b.tts_stops;
  b.abort_speaking();
  ASSERT_TRUE(b.pump_until([&] { return b.tts_stops > stops_at_abort; }, 2000)) << joined(b.events);
  // What was already on its way (the pacer sends 120 ms ahead) may still come; no more.
  EXPECT_LE(b.last_reply_packets, at_abort + 4) << "audio went on after the abort";
  b.pump(1500);
  EXPECT_EQ(b.packets_not_speaking, 0) << "reply audio after the tts stop";

  // 2. speech over a reply: the bridge hears it, stops the reply and answers the new turn. (Turns
  // are found by what was said, not counted: a loaded machine may cut a clip in two.)
  const Speech second = speech("0930"), third = speech("0880");
  b.stream(padded(second.pcm16k, 0.3, 2.0));
  ASSERT_TRUE(b.pump_until([&] { return b.speaking && b.reply_packets >= 10; }, 60000))
      << joined(b.events);
  const int stops_before = b.tts_stops;
  b.stream(padded(third.pcm16k, 0.0, 2.0));  // spoken over the reply
  auto heard_third = [&] {
    return std::any_of(b.stt.begin(), b.stt.end(), [&](const std::string& t) {
      return test::word_error_rate(third.reference, t) <= 0.5;
    });
  };
  // The cut reply's tts stop, then the new turn's reply to its end.
  ASSERT_TRUE(b.pump_until(
      [&] { return heard_third() && !b.speaking && b.tts_stops >= stops_before + 2; }, 60000))
      << joined(b.events) << " / heard: " << joined(b.stt);
  EXPECT_EQ(b.packets_not_speaking, 0);

  // The store: both cut replies are stored as interrupted.
  json s;
  ASSERT_TRUE(test::wait_until(
      [&] {
        s = status(bridge.port);
        int interrupted = 0;
        for (const json& t : s["turns"])
          if (t["node_id"] == "xiaozhi-aabbccddee01" && t["interrupted"] == true) ++interrupted;
        return interrupted >= 2;
      },
      10s))
      << s.dump();
  EXPECT_EQ(bridge.stop(), 0) << bridge.process->stderr_text();
}

// A box that drops off while its reply plays (its connection closed without a word: power cut,
// Wi-Fi gone) says nothing of what it played: it heard at most the packets that had left the
// bridge. The turn is stored and remembered as cut there, not as heard in full.
TEST(Xiaozhi, AReplyWhoseBoxLeavesMidwayIsKeptAsHeardOnlyUpToWhatWasSent) {
  Bridge bridge("xiaozhi_box_leaves");
  configure(bridge);
  bridge.start();
  auto b = std::make_unique<XiaozhiBox>(box(2));  // no room: its memory is its own
  std::string error;
  ASSERT_TRUE(b->connect(bridge.port, &error)) << error;
  ASSERT_TRUE(b->hello(&error)) << error;
  b->listen_start("auto");
  b->stream(padded(speech("0870").pcm16k, 0.5, 2.5));
  ASSERT_TRUE(b->pump_until([&] { return b->speaking && b->reply_packets >= 3; }, 60000))
      << joined(b->events);
  b.reset();  // the socket closes: no abort, no close frame
  // The turn is printed once its reply is settled (--print-turns).
  ASSERT_TRUE(test::wait_until(
      [&] { return bridge.process->stdout_text().find("heard \"") != std::string::npos; }, 60s))
      << bridge.process->stderr_text();
  ASSERT_EQ(bridge.stop(), 0) << bridge.process->stderr_text();
  // Gone a few packets into a reply of seconds: a strict prefix of it (or nothing).
  test::expect_reply_kept_as_cut(bridge.process->stderr_text(), bridge.dir + "/earshot.db",
                                 "xiaozhi-aabbccddee02", "node:xiaozhi-aabbccddee02");
}

// Bad input: an unknown box, a version the bridge does not speak, a bad hello, oversized and
// malformed audio — each told clearly (an alert, a close code), while another box's turn goes on.
TEST(Xiaozhi, BadInputIsRefusedClearlyAndOtherSessionsGoOn) {
  Bridge bridge("xiaozhi_bad");
  configure(bridge);
  bridge.start();
  std::string error;
  XiaozhiBox good(box(1));
  ASSERT_TRUE(good.connect(bridge.port, &error)) << error;
  ASSERT_TRUE(good.hello(&error)) << error;
  good.listen_start("auto");

  {  // unknown box, and a known box with the wrong token
    XiaozhiBox::Options o = box(9);
    o.token = "guess";
    XiaozhiBox stranger(o);
    ASSERT_TRUE(stranger.connect(bridge.port, &error)) << error;
    EXPECT_TRUE(stranger.pump_until([&] { return stranger.close_code >= 0; }, 5000));
    EXPECT_EQ(stranger.close_code, 4001);
    ASSERT_EQ(stranger.alerts.size(), 1u);
    EXPECT_NE(stranger.alerts[0].find("not valid"), std::string::npos) << stranger.alerts[0];
  }
  {  // binary protocol 7
    XiaozhiBox future(box(2, 7));
    ASSERT_TRUE(future.connect(bridge.port, &error)) << error;
    EXPECT_TRUE(future.pump_until([&] { return future.close_code >= 0; }, 5000));
    EXPECT_EQ(future.close_code, 4002);
    ASSERT_EQ(future.alerts.size(), 1u);
    EXPECT_NE(future.alerts[0].find("1, 2 and 3"), std::string::npos) << future.alerts[0];
  }
  {  // a listen before the hello
    XiaozhiBox rude(box(2));
    ASSERT_TRUE(rude.connect(bridge.port, &error)) << error;
    rude.send_raw_text(R"({"session_id":"","type":"listen","state":"start","mode":"auto"})");
    EXPECT_TRUE(rude.pump_until([&] { return rude.close_code >= 0; }, 5000));
    EXPECT_EQ(rude.close_code, 4000);
    ASSERT_EQ(rude.alerts.size(), 1u);
    EXPECT_NE(rude.alerts[0].find("must be a hello"), std::string::npos) << rude.alerts[0];
  }
  {  // a hello with 8 kHz PCM
    XiaozhiBox odd(box(2));
    ASSERT_TRUE(odd.connect(bridge.port, &error)) << error;
    odd.send_raw_text(R"({"type":"hello","version":1,"transport":"websocket","audio_params":)"
                      R"({"format":"pcm","sample_rate":8000,"channels":1,"frame_duration":20}})");
    EXPECT_TRUE(odd.pump_until([&] { return odd.close_code >= 0; }, 5000));
    EXPECT_EQ(odd.close_code, 4003);
    ASSERT_EQ(odd.alerts.size(), 1u);
    EXPECT_NE(odd.alerts[0].find("16000"), std::string::npos) << odd.alerts[0];
  }
  XiaozhiBox clumsy(box(3, 2));
  ASSERT_TRUE(clumsy.connect(bridge.port, &error)) << error;
  ASSERT_TRUE(clumsy.hello(&error)) << error;
  clumsy.listen_start("auto");
  {  // oversized audio, and a version 2 header whose payload_size lies: dropped, told once
    clumsy.send_raw_binary(std::string(20000, '\x01'));
    std::string lying = clumsy.packet(std::vector<float>(960, 0.0f).data());
    lying[15] = char(lying[15] + 7);
    clumsy.send_raw_binary(lying);
    EXPECT_TRUE(clumsy.pump_until([&] { return !clumsy.alerts.empty(); }, 5000));
    EXPECT_NE(clumsy.alerts[0].find("larger than"), std::string::npos) << clumsy.alerts[0];
    clumsy.pump(500);
    EXPECT_EQ(clumsy.close_code, -1) << "closed for a dropped frame";
  }

  // The good box was never disturbed: a whole turn, answered.
  const Speech clip = speech("0930");
  good.stream(padded(clip.pcm16k, 0.3, 2.5));
  ASSERT_TRUE(good.pump_until([&] { return good.tts_stops >= 1; }, 60000)) << joined(good.events);
  ASSERT_EQ(good.stt.size(), 1u);
  EXPECT_LE(test::word_error_rate(clip.reference, good.stt[0]), 0.5) << good.stt[0];
  EXPECT_TRUE(good.alerts.empty());
  EXPECT_EQ(good.close_code, -1);
  EXPECT_EQ(bridge.stop(), 0) << bridge.process->stderr_text();
}

// --- Every kind of device at once ---------------------------------------------------------------

const std::string kWyomingPeer =
    std::string(EARSHOT_SOURCE_DIR) + "/tests/integration/wyoming_peer.py";

// What a Wyoming satellite peer logged (tests/integration/wyoming_peer.py: OUT/events.jsonl).
std::vector<json> wyoming_events(const std::string& out) {
  std::vector<json> events;
  std::ifstream in(out + "/events.jsonl");
  for (std::string line; std::getline(in, line);)
    if (json j = json::parse(line, nullptr, false); !j.is_discarded()) events.push_back(j);
  return events;
}

bool file_exists(const std::string& path) {
  return std::ifstream(path).good();
}

// The transcripts a node was told (its log: heard: "...").
std::vector<std::string> node_heard(const std::string& log) {
  std::vector<std::string> out;
  const std::string mark = "heard: \"";
  for (size_t at = log.find(mark); at != std::string::npos; at = log.find(mark, at + 1)) {
    const size_t from = at + mark.size(), to = log.find("\"\n", from);
    if (to != std::string::npos) out.push_back(log.substr(from, to - from));
  }
  return out;
}

bool has_word(const std::vector<std::string>& words, const std::string& w) {
  return std::find(words.begin(), words.end(), w) != words.end();
}

// One device in the isolation test: what it said, what the bridge heard from it and answered it,
// what it heard back.
struct Device {
  std::string id, clip;           // client id as turns are stored; the librivox clip it speaks
  std::string reference;          // the clip's text
  std::vector<std::string> told;  // the transcripts it was sent, one per turn
  std::vector<json> turns;        // its turns on the status page, oldest first
  std::string reply_got;          // the reply text it was sent (the node gets audio only)
  std::string heard;              // its reply audio, re-recognised
};

// Isolation across protocols: a xiaozhi box, a Wyoming satellite and an earshot.v1 node speak
// three different sentences at once. The bridge hears each under its own id (each transcript is
// nearest its own clip), answers each with its own words and none of the others' (the echo LLM
// repeats the transcript), each plays audio that reads back as its own reply, and the status page
// lists each turn under its own id.
TEST(DeviceDoors, AXiaozhiBoxAWyomingSatelliteAndANodeAtOnceEachHearTheirOwnReply) {
  const int sat_port = test::free_port();
  Bridge bridge("device_doors_isolation");
  configure(bridge,
            "[wyoming]\nreconnect_max_ms = 1000\n[[wyoming.satellites]]\nname = "
            "\"porch\"\nhost = \"127.0.0.1\"\nport = " +
                std::to_string(sat_port) + "\n");
  Device box_d{"xiaozhi-aabbccddee01", "0920"}, sat_d{"wyoming-porch", "0870"},
      node_d{"n0", "0890"};
  const std::vector<Device*> all = {&box_d, &sat_d, &node_d};
  for (Device* d : all)
    d->reference = test::read_file(test::librivox(d->clip, ".txt"));

  // The satellite is dialled by the bridge, and hears its wake word when the test says `go`.
  const std::string sat_out = bridge.dir + "/satellite", go = bridge.dir + "/go";
  test::Subprocess sat(
      {"python3", kWyomingPeer, "satellite", "--port", std::to_string(sat_port), "--out", sat_out,
       "--wav", test::librivox(sat_d.clip, ".wav"), "--snd-rate", "22050", "--start-when", go},
      bridge.dir + "/sat");
  ASSERT_TRUE(test::wait_until([&] { return file_exists(sat_out + "/listening"); }, 20s))
      << sat.stderr_text();
  bridge.start();
  ASSERT_TRUE(test::wait_until([&] { return file_exists(sat_out + "/connected.1"); }, 20s))
      << sat.stderr_text() << bridge.process->stderr_text();
  XiaozhiBox b(box(1));
  std::string error;
  ASSERT_TRUE(b.connect(bridge.port, &error)) << error;
  ASSERT_TRUE(b.hello(&error)) << error;
  b.listen_start("auto");

  // All three at once: the node from its file, the satellite from its WAV, the box from here.
  const std::string node_reply_wav = bridge.dir + "/node-reply.wav";
  auto node =
      bridge.node(0, {"--source", "file", "--file", test::librivox(node_d.clip, ".wav"), "--sink",
                      "wav", "--playback-file", node_reply_wav, "--playback-pace"});
  std::ofstream(go).close();
  const Speech clip = speech(box_d.clip.c_str());
  b.stream(padded(clip.pcm16k, 0.3, 2.5));
  // Three decoders at once on a small machine: give each more time than a test of one.
  ASSERT_TRUE(b.pump_until([&] { return b.tts_stops >= 1; }, 120000)) << joined(b.events);
  ASSERT_TRUE(test::wait_until(
      [&] {
        for (const json& e : wyoming_events(sat_out))
          if (e["type"] == "(played sent)") return true;
        return false;
      },
      120s))
      << sat.stderr_text() << bridge.process->stderr_text();
  ASSERT_EQ(node->wait(120s), 0) << node->stderr_text();

  // What each was told and sent (the box's, below: it may still be told more).
  std::vector<std::string> synthesized;
  for (const json& e : wyoming_events(sat_out)) {
    if (e["type"] == "transcript") sat_d.told.push_back(e["data"].value("text", ""));
    if (e["type"] == "synthesize") synthesized.push_back(e["data"].value("text", ""));
  }
  sat_d.reply_got = joined(synthesized);
  node_d.told = node_heard(node->stderr_text());

  // The status page lists each one's turns under its own id, as it was told them. A turn is
  // listed once the bridge has the device's playback report (the node's, the satellite's
  // `played`), which may come after the device is done: wait for it, not for a time. A loaded
  // machine may cut the box's sentence in two turns: it listens on until its replies are over.
  json s;
  auto turns_of = [&](const json& st, const std::string& id) {
    std::vector<json> out;
    if (!st.is_object() || !st.contains("turns")) return out;
    for (auto t = st["turns"].rbegin(); t != st["turns"].rend(); ++t)  // oldest first
      if ((*t)["node_id"] == id) out.push_back(*t);
    return out;
  };
  auto transcripts = [](const std::vector<json>& turns) {
    std::vector<std::string> out;
    for (const json& t : turns)
      out.push_back(t["transcript"].get<std::string>());
    return out;
  };
  ASSERT_TRUE(test::wait_until(
      [&] {
        b.pump(20);
        box_d.told = b.stt;
        s = status(bridge.port);
        return !b.speaking && std::all_of(all.begin(), all.end(), [&](const Device* d) {
          return transcripts(turns_of(s, d->id)) == d->told;
        });
      },
      60s))
      << s.dump() << "\nthe box was told: " << joined(b.stt);
  box_d.reply_got = joined(b.sentences);
  for (Device* d : all) {
    ASSERT_FALSE(d->told.empty()) << d->id << " was told no transcript";
    d->turns = turns_of(s, d->id);
  }

  // The audio each one played, read back.
  const Recognizer recognise;
  box_d.heard = recognise(resample(b.played, 24000, 16000));
  sat_d.heard = recognise(test::to_16k_mono(test::read_audio(sat_out + "/reply.wav")));
  node_d.heard = recognise(test::to_16k_mono(test::read_audio(node_reply_wav)));

  for (const Device* d : all) {
    const std::string told = joined(d->told);
    std::string reply, echoes;  // what the bridge stored as heard; what it meant to say
    bool cut = false;
    for (size_t i = 0; i < d->turns.size(); ++i) {
      const json& t = d->turns[i];
      const std::string echo = "You said: " + d->told[i] + ".";
      reply += (reply.empty() ? "" : " ") + t["reply"].get<std::string>();
      echoes += (echoes.empty() ? "" : " ") + echo;
      // A loaded machine may end a turn inside a sentence; the rest, the device's next turn, may
      // then begin before the first is answered (no reply) or over its reply (interrupted: the
      // stored reply keeps what was heard). Such a turn holds words of its own echo only; the
      // device's last turn is answered whole.
      const bool answered = t["interrupted"] == false && !t["reply"].get<std::string>().empty();
      if (!answered) {
        EXPECT_LT(i + 1, d->turns.size()) << "its last turn was not answered: " << t.dump();
        cut = true;
        for (const std::string& w : test::normalized_words(t["reply"].get<std::string>()))
          EXPECT_TRUE(has_word(test::normalized_words(echo), w)) << w << " in " << t.dump();
      } else {
        EXPECT_EQ(t["reply"], echo) << t.dump();
        // The door said when the reply's first byte left (the turn's latency figures).
        EXPECT_GE(t["timings"].value("first_frame_sent_ms", -1.0),
                  t["timings"].value("end_of_turn_ms", 0.0))
            << t.dump();
      }
    }
    SCOPED_TRACE(d->id + " was told \"" + told + "\", answered \"" + reply + "\", played \"" +
                 d->heard + "\"");
    printf("isolation: %s said %s, heard as \"%s\"; its reply played back reads \"%s\"%s\n",
           d->id.c_str(), d->clip.c_str(), told.c_str(), d->heard.c_str(),
           cut ? " (a turn was cut by the next)" : "");
    // The reply text it was sent: its own echoes, whole, or (cut) words of them only.
    if (d != &node_d && !cut) {
      EXPECT_EQ(d->reply_got, echoes);
    } else {
      for (const std::string& w : test::normalized_words(d->reply_got))
        EXPECT_TRUE(has_word(test::normalized_words(echoes), w)) << w;
    }
    const double own_wer = test::word_error_rate(d->reference, told);
    const std::vector<std::string> own = test::normalized_words(told);
    for (const Device* other : all) {
      if (other == d) continue;
      SCOPED_TRACE("the other: " + other->id);
      // Its own speech: what it was told is nearer its own clip than the other's.
      EXPECT_LT(own_wer, test::word_error_rate(other->reference, told));
      // Its own words, none of the other's: words of the other's transcripts that its own do not
      // hold are in neither its stored reply nor the reply text it was sent.
      for (const std::string& w : test::normalized_words(joined(other->told))) {
        if (has_word(own, w)) continue;
        EXPECT_FALSE(has_word(test::normalized_words(reply), w)) << w;
        EXPECT_FALSE(has_word(test::normalized_words(d->reply_got), w)) << w;
      }
      // The audio it played reads back as its own reply, not the other's.
      std::string other_reply;
      for (const json& t : other->turns)
        other_reply += " " + t["reply"].get<std::string>();
      EXPECT_LT(test::word_error_rate(reply, d->heard),
                test::word_error_rate(other_reply, d->heard));
    }
  }
  EXPECT_EQ(bridge.stop(), 0) << bridge.process->stderr_text();
}

}  // namespace
}  // namespace earshot
