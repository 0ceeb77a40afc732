// The OpenAI Realtime door end to end, as an application meets it: the official `openai` npm
// client (6.x, OpenAIRealtimeWS over `ws`, pinned by package-lock.json and installed by
// tools/install-deps.sh) talks over wss:// to a real earshot-bridge with its embedded engines
// (pocketsphinx, echo, flite) and its SQLite store. realtime_e2e.mjs drives the client and writes
// what it saw; this test checks it, the audio (recognised again with pocketsphinx) and the store.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <signal.h>

#include <filesystem>
#include <fstream>

#include "dsp/resampler.h"
#include "host/engines/embedded_engines.h"
#include "host/store/store.h"
#include "tests/integration/bridge_fixture.h"
#include "tests/integration/reply_checks.h"
#include "tests/support/speech/speech_check.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_audio.h"

namespace earshot {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using test::Bridge;
using test::Subprocess;

const std::string kScripts = std::string(EARSHOT_SOURCE_DIR) + "/tests/realtime";

std::vector<float> resample(const std::vector<float>& in, int from, int to) {
  if (from == to) return in;
  std::string error;
  auto rs = dsp::Resampler::create(from, to, in.size(), &error);
  EXPECT_TRUE(rs) << error;
  if (!rs) return {};
  std::vector<float> out(rs->max_output_frames() * 2 + 64);
  size_t n = rs->process(in.data(), in.size(), out.data(), out.size());
  while (size_t m = rs->flush(out.data() + n, out.size() - n))
    n += m;
  out.resize(n);
  return out;
}

using test::recognise;

std::vector<float> read_pcm24k(const std::string& path) {
  test::Audio a = test::read_raw_s16(path, 24000, 1);
  return a.samples;
}

// One clip of real speech, as a microphone streams it: 24 kHz pcm16 with half a second of silence
// before and three after (the server VAD ends the turn on the audio, not on a timer).
struct Clip {
  std::string wav, reference;
};

// The client always dials wss:// (OpenAIRealtimeWS): the bridge serves TLS with a certificate
// made here, which the client trusts (its `ca` option), checked against 127.0.0.1. API key
// "rt-secret"; the store in the bridge's directory.
void serve_tls(Bridge& bridge) {
  ASSERT_EQ(
      test::run_command({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                         bridge.dir + "/key.pem", "-out", bridge.dir + "/cert.pem", "-days", "2",
                         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"},
                        bridge.dir + "/openssl"),
      0)
      << test::read_file(bridge.dir + "/openssl.err");
  std::ofstream(bridge.dir + "/bridge.toml")
      << "[server]\nlisten = \"127.0.0.1\"\nport = " << bridge.port << "\n"
      << "tls_cert = \"" << bridge.dir << "/cert.pem\"\ntls_key = \"" << bridge.dir
      << "/key.pem\"\n"
      << "shared_token = \"rt-secret\"\n"
      << "[store]\npath = \"" << bridge.dir << "/earshot.db\"\n";
}

TEST(RealtimeClient, TheOpenAiClientHasASpokenTurnACancelATruncateATextTurnAndErrors) {
  ASSERT_TRUE(std::filesystem::exists(kScripts + "/node_modules/openai/package.json"))
      << "the openai npm package is not installed: run tools/install-deps.sh";
  const Clip clip{test::librivox("0870", ".wav"), test::read_file(test::librivox("0870", ".txt"))};

  Bridge bridge("realtime_client");
  serve_tls(bridge);
  bridge.start();

  const test::Audio speech = test::read_audio(clip.wav);
  std::vector<float> mic(12000, 0.0f);
  const std::vector<float> voice = resample(test::to_mono(speech), speech.sample_rate, 24000);
  mic.insert(mic.end(), voice.begin(), voice.end());
  mic.insert(mic.end(), 72000, 0.0f);
  ASSERT_TRUE(test::write_raw_s16(bridge.dir + "/speech.pcm", test::Audio{24000, 1, mic}));

  Subprocess client({"node", kScripts + "/realtime_e2e.mjs",
                     "https://127.0.0.1:" + std::to_string(bridge.port) + "/v1", "rt-secret",
                     bridge.dir + "/cert.pem", bridge.dir + "/speech.pcm", bridge.dir + "/out"},
                    bridge.dir + "/client");
  const int exit_code = client.wait(300s);
  const std::string result_text = test::read_file(bridge.dir + "/out/result.json");
  ASSERT_EQ(exit_code, 0) << client.stderr_text() << result_text;
  const json r = json::parse(result_text);
  ASSERT_TRUE(r.value("ok", false)) << result_text;

  // Refused: a wrong API key (4001) and another path (4000), each with an error event first.
  EXPECT_EQ(r["wrong_key"]["code"], 4001);
  EXPECT_EQ(r["wrong_key"]["error"]["code"], "invalid_api_key");
  EXPECT_EQ(r["wrong_path"]["code"], 4000);
  EXPECT_EQ(r["wrong_path"]["error"]["code"], "not_found");

  // The client dialed the door's route, and the session it was given is the GA shape.
  EXPECT_EQ(r["url"],
            "wss://127.0.0.1:" + std::to_string(bridge.port) + "/v1/realtime?model=gpt-realtime");
  EXPECT_EQ(r["session_created"]["session"]["type"], "realtime");
  EXPECT_EQ(r["session_created"]["session"]["model"], "gpt-realtime");
  EXPECT_EQ(
      r["session_updated"]["session"]["audio"]["input"]["turn_detection"]["silence_duration_ms"],
      1500);

  // Bad input: an error event each, the event_id it named, and the connection went on (all the
  // rest of this test ran on it).
  const json& errors = r["errors"];
  EXPECT_EQ(errors["audio-before-session"]["code"], "session_not_configured");
  EXPECT_EQ(errors["unknown-type"]["code"], "unknown_event_type");
  EXPECT_EQ(errors["unknown-type"]["param"], "type");
  EXPECT_EQ(errors["bad-base64"]["code"], "invalid_base64");
  EXPECT_EQ(errors["bad-base64"]["param"], "audio");
  EXPECT_EQ(errors["oversized"]["code"], "message_too_large");
  for (const char* id : {"audio-before-session", "unknown-type", "bad-base64"}) {
    EXPECT_EQ(errors[id]["event_id"], id);
    EXPECT_EQ(errors[id]["type"], "invalid_request_error");
  }

  // The spoken turn: one item from speech_started to the transcript, heard as well as pocketsphinx
  // hears the original file (the bound of Bridge.RealSpeechThroughNodeAndBridge...).
  const json& turn = r["turn"];
  const std::string item = turn["speech_started"]["item_id"];
  EXPECT_EQ(turn["speech_stopped"]["item_id"], item);
  EXPECT_EQ(turn["committed"]["item_id"], item);
  EXPECT_EQ(turn["transcript_item_id"], item);
  // The item starts at the speech (after half a second of silence) less the 300 ms prefix
  // padding: the silence before it opened no turn.
  EXPECT_LE(turn["speech_started"]["audio_start_ms"].get<int>(), 500);
  EXPECT_GE(turn["speech_started"]["audio_start_ms"].get<int>(), 100);
  EXPECT_GT(turn["speech_stopped"]["audio_end_ms"].get<int>(),
            500 + int(speech.seconds() * 1000) - 1500);
  std::string error;
  auto stt = host::make_pocketsphinx_stt({}, &error);
  ASSERT_TRUE(stt) << error;
  const std::string transcript = turn["transcript"];
  const std::string original =
      recognise(*stt, resample(test::to_mono(speech), speech.sample_rate, 16000));
  const double wer = test::word_error_rate(clip.reference, transcript);
  const double wer_original = test::word_error_rate(clip.reference, original);
  printf("input transcript WER %.3f (pocketsphinx on the original %.3f): \"%s\"\n", wer,
         wer_original, transcript.c_str());
  EXPECT_LE(wer, wer_original + 0.02) << transcript << " vs " << original;

  // The spoken answer: completed with usage, its events in order, every delta before the audio
  // was declared done, and the audio says what the transcript says.
  const json& done = turn["response_done"]["response"];
  EXPECT_EQ(done["status"], "completed");
  EXPECT_TRUE(done["usage"].is_object());
  EXPECT_TRUE(done["usage"]["total_tokens"].is_number());
  ASSERT_EQ(done["output"].size(), 1u);
  EXPECT_EQ(done["output"][0]["role"], "assistant");
  EXPECT_EQ(done["output"][0]["content"][0]["type"], "output_audio");
  const std::string answer = turn["answer_transcript"];
  EXPECT_EQ(answer, "You said: " + transcript + ".");  // the echo LLM
  EXPECT_EQ(turn["deltas_after_done"], 0);
  const std::vector<std::string> sequence = turn["sequence"];
  const std::vector<std::string> closing(sequence.end() - 6, sequence.end());
  EXPECT_EQ(closing, (std::vector<std::string>{
                         "response.output_audio.delta", "response.output_audio.done",
                         "response.output_audio_transcript.done", "response.content_part.done",
                         "response.output_item.done", "response.done"}));
  EXPECT_EQ(sequence.front(), "response.created");
  const std::vector<float> reply = read_pcm24k(bridge.dir + "/out/reply-1.pcm");
  EXPECT_EQ(reply.size() * 2, turn["audio_bytes"].get<size_t>());
  EXPECT_EQ(turn["audio_bytes"].get<size_t>(), turn["audio_deltas"].get<size_t>() * 960);  // 20 ms
  ASSERT_GT(reply.size(), 24000u) << "less than a second of answer";
  ASSERT_TRUE(test::write_wav(bridge.dir + "/out/reply-1.wav", test::Audio{24000, 1, reply}));
  const std::string heard_back = recognise(*stt, resample(reply, 24000, 16000));
  const double reply_wer = test::word_error_rate(answer, heard_back);
  printf("answer audio WER %.3f: \"%s\"\n", reply_wer, heard_back.c_str());
  // flite read back by pocketsphinx: as in the Bridge test, 0.35 allows its own errors on
  // synthetic speech and still fails on audio that is cut, garbled or the wrong rate.
  EXPECT_LT(reply_wer, 0.35);

  // conversation.item.truncate: past the end is an error; at one second it is done.
  EXPECT_EQ(r["truncate"]["error"]["param"], "audio_end_ms");
  EXPECT_EQ(r["truncate"]["truncated"]["audio_end_ms"], 1000);

  // response.cancel mid-answer: cancelled as the client's, the item incomplete, and not one more
  // delta of it after its response.done.
  const json& cancelled = r["cancel"]["response_done"]["response"];
  EXPECT_EQ(cancelled["status"], "cancelled");
  EXPECT_EQ(cancelled["status_details"]["reason"], "client_cancelled");
  EXPECT_EQ(cancelled["output"][0]["status"], "incomplete");
  EXPECT_GE(r["cancel"]["audio_deltas"].get<int>(), 1);
  EXPECT_EQ(r["cancel"]["deltas_after_done"], 0);

  // The text-only turn: text deltas and text, no audio.
  const json& text = r["text_turn"];
  EXPECT_EQ(text["created"]["response"]["output_modalities"], json::array({"text"}));
  EXPECT_EQ(text["text"], "You said: what time is it.");
  std::string joined;
  for (const json& d : text["text_deltas"])
    joined += d.get<std::string>();
  EXPECT_EQ(joined, text["text"]);
  EXPECT_EQ(text["response_done"]["response"]["status"], "completed");
  EXPECT_EQ(text["audio_deltas"], 0);

  EXPECT_EQ(r["unique_event_ids"], r["events"]);
  // The only error events were the ones provoked.
  EXPECT_EQ(r["error_events"].size(), 5u) << r["error_events"].dump();

  // What the bridge kept: the spoken turn with what the client heard of its answer (the truncate
  // at one second), and the cancelled answer marked as cut.
  ASSERT_EQ(bridge.stop(), 0) << bridge.process->stderr_text();
  auto store = host::Store::open(bridge.dir + "/earshot.db", {}, &error);
  ASSERT_TRUE(store) << error;
  bool spoken = false, typed = false;
  for (const host::TurnRecord& t : store->turns()) {
    EXPECT_EQ(t.node_id.rfind("realtime-", 0), 0u) << t.node_id;
    if (t.transcript == transcript) {
      spoken = true;
      EXPECT_EQ(t.reply_full, answer);
      EXPECT_TRUE(t.interrupted) << "the truncate did not reach the store";
      EXPECT_LT(t.reply.size(), t.reply_full.size()) << t.reply;
    }
    if (t.transcript == "what time is it") typed = true;
  }
  EXPECT_TRUE(spoken) << "the spoken turn was not stored";
  EXPECT_TRUE(typed) << "the typed turn was not stored";
}

// A client that dies while its answer is being sent (SIGKILL at the first audio delta: no
// truncate, no cancel, no close frame) heard at most what had left the bridge. The turn is stored
// as cut there, not as heard in full (as it was before the door told the conversation the client
// had gone).
TEST(RealtimeClient, AnAnswerWhoseClientDiesMidwayIsKeptAsHeardOnlyUpToWhatWasSent) {
  ASSERT_TRUE(std::filesystem::exists(kScripts + "/node_modules/openai/package.json"))
      << "the openai npm package is not installed: run tools/install-deps.sh";
  Bridge bridge("realtime_client_leaves");
  serve_tls(bridge);
  bridge.start();

  Subprocess client({"node", kScripts + "/realtime_leave.mjs",
                     "https://127.0.0.1:" + std::to_string(bridge.port) + "/v1", "rt-secret",
                     bridge.dir + "/cert.pem"},
                    bridge.dir + "/client");
  ASSERT_TRUE(test::wait_until(
      [&] { return client.stdout_text().find("first audio delta") != std::string::npos; }, 120s))
      << client.stderr_text() << bridge.process->stderr_text();
  client.signal(SIGKILL);
  client.wait(10s);
  // The turn is printed once its reply is settled (--print-turns).
  ASSERT_TRUE(test::wait_until(
      [&] { return bridge.process->stdout_text().find("heard \"") != std::string::npos; }, 60s))
      << bridge.process->stderr_text();
  ASSERT_EQ(bridge.stop(), 0) << bridge.process->stderr_text();
  // Killed as the answer began: what had been sent is a strict prefix of it (or nothing). A
  // Realtime client keeps no memory across connections: its id is new each time.
  test::expect_reply_kept_as_cut(bridge.process->stderr_text(), bridge.dir + "/earshot.db", "", "");
}

}  // namespace
}  // namespace earshot
