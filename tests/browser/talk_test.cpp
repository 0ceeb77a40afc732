// The browser client (/talk) in a real browser: Debian's chromium, headless, with a fake
// microphone fed from a WAV file, against a real earshot-bridge with its embedded engines
// (pocketsphinx, echo, flite). tests/browser/talk_driver.mjs drives chromium through
// playwright-core (pinned in tests/browser/package.json; tools/install-deps.sh runs `npm ci`),
// waits on conditions in the page, and hands back what the page saw and decoded, and screenshots.
//
// What is checked: what the person said is stored as well as pocketsphinx hears the original
// files (the end-to-end bound of tests/integration/bridge_test.cpp); the reply the page decoded
// and played is the reply the bridge wrote (recognised again); speech over a reply stops it and
// the bridge stores only what was heard; a bad token is refused with a clear message; and the
// talk page and the status page with its stage bars are drawn.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "host/engines/embedded_engines.h"
#include "host/store/store.h"
#include "tests/integration/bridge_fixture.h"
#include "tests/support/fake_http_server.h"
#include "tests/support/speech/speech_check.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_audio.h"

namespace earshot {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;
using test::Bridge;
using test::kBridge;
using test::librivox;

const std::string kDriver = std::string(EARSHOT_SOURCE_DIR) + "/tests/browser/talk_driver.mjs";

using test::recognise;
using test::to_16k_mono;

// --- the bridge, its tokens, and the page
// ----------------------------------------------------------

// Makes a client token with the bridge's own command; "" on failure.
std::string add_token(const Bridge& bridge, const std::string& name) {
  std::string out;
  if (test::run_command({kBridge, "--config", bridge.dir + "/bridge.toml", "tokens", "add", name},
                        bridge.dir + "/tokens-add-" + name, 30s, &out) != 0)
    return "";
  const size_t at = out.find("token:");
  if (at == std::string::npos) return "";
  const size_t start = out.find_first_not_of(' ', at + 6);
  return out.substr(start, out.find('\n', start) - start);
}

struct Page {
  int exit = -1;
  json result;
  std::string dir;
  std::string log() const {
    return "driver exit " + std::to_string(exit) + "\n" + result.dump(1).substr(0, 6000) +
           "\nconsole:\n" + test::read_file(dir + "/console.log") +
           test::read_file(dir + ".err").substr(0, 3000);
  }
  // The page's events of one type.
  std::vector<json> events(const std::string& type) const {
    std::vector<json> out;
    for (const json& e : result.value("events", json::array()))
      if (e.value("type", "") == type) out.push_back(e);
    return out;
  }
};

// Opens `url` in headless chromium with `wav` as its microphone, presses Start (unless
// `click` is false) and waits for `wait_for` (a JS expression over t = window.earshotTest).
Page open_page(const Bridge& bridge, const std::string& tag, const std::string& url,
               const std::string& wav, const std::string& wait_for, int timeout_ms,
               json extra = json::object()) {
  Page page;
  page.dir = bridge.dir + "/" + tag;
  json config = {{"url", url},          {"wav", wav},
                 {"outDir", page.dir},  {"userDataDir", bridge.dir + "/" + tag + "-profile"},
                 {"waitFor", wait_for}, {"timeoutMs", timeout_ms}};
  config.update(extra);
  std::ofstream(bridge.dir + "/" + tag + ".json") << config.dump(1);
  page.exit = test::run_command({"node", kDriver, bridge.dir + "/" + tag + ".json"}, page.dir,
                                std::chrono::milliseconds(timeout_ms) + 120s);
  std::ifstream in(page.dir + "/result.json");
  page.result = json::parse(in, nullptr, false);
  if (page.result.is_discarded()) page.result = json::object();
  return page;
}

test::Audio silence(double seconds) {
  test::Audio a;
  a.sample_rate = 16000;
  a.channels = 1;
  a.samples.assign(size_t(seconds * 16000), 0.0f);
  return a;
}

void append(test::Audio* to, const test::Audio& clip) {
  to->samples.insert(to->samples.end(), clip.samples.begin(), clip.samples.end());
}

void append_silence(test::Audio* to, double seconds) {
  to->samples.resize(to->samples.size() + size_t(seconds * 16000), 0.0f);
}

// A screenshot with something drawn on it: not one colour, not blank.
void expect_drawn(const json& stats, const std::string& what) {
  EXPECT_GT(stats.value("drawnFraction", 0.0), 0.005) << what << ": " << stats.dump();
  EXPECT_GT(stats.value("stddev", 0.0), 5.0) << what << ": " << stats.dump();
}

bool preconditions(std::string* why) {
  const std::string playwright =
      std::string(EARSHOT_SOURCE_DIR) + "/tests/browser/node_modules/playwright-core/package.json";
  if (access(playwright.c_str(), R_OK) != 0) {
    *why = "playwright-core is not installed: run tools/install-deps.sh (npm ci in tests/browser)";
    return false;
  }
  return true;
}

// Real speech through the page, one clip per visit (the page is opened again for each, as a person
// would: the reloaded page numbers its frames from 0 again and is renumbered above what the bridge
// has). Each turn is stored, answered, and the answer the page decoded and played is the one the
// bridge wrote.
//
// Recognition is measured against pocketsphinx on the very audio the page sent. pocketsphinx's
// result on these recordings swings by several points with a shift of a few milliseconds or a
// little Opus noise (jfk.wav padded by 3 ms reads "and not like your been trained in you are you",
// by 6 ms "and not what your country can do for you"; pocketsphinx_continuous on the six files
// ranges over 0.36-0.45 for shifts of 0-8 ms), and the bridge hears the page's Opus, not its PCM:
// two runs with the same sent audio (0.505) heard 0.473 and 0.538. So the rate is held within 8
// points of it, and what would be a real loss is checked clip by clip: each visit's turns carry at
// least 3/4 of the words pocketsphinx finds in what that visit sent (a clip lost at a reconnect or
// a turn cut short shows there, not as a few points). Against the original files, which the node
// reads frame-aligned, the page is held to a looser bound.
TEST(BrowserClient, SpeechFromTheMicrophoneIsRecognisedAsWellAsTheOriginalAndTheReplyPlays) {
  std::string why;
  ASSERT_TRUE(preconditions(&why)) << why;
  Bridge bridge("browser_talk", "[turn]\nend_of_turn_ms = 1500\n");
  bridge.start();
  const std::string token = add_token(bridge, "kitchen-tablet");
  ASSERT_FALSE(token.empty()) << test::read_file(bridge.dir + "/tokens-add-kitchen-tablet.err");

  struct Clip {
    std::string wav, reference;
  };
  // Not jfk.wav: pocketsphinx reads it anywhere from chance to nearly right with a few ms of shift
  // (above), so it moved the whole score by more than the page's path ever did.
  std::vector<Clip> clips;
  for (const char* id : {"0870", "0880", "0890", "0920", "0930"})
    clips.push_back({librivox(id, ".wav"), test::read_file(librivox(id, ".txt"))});
  const std::string base = "http://127.0.0.1:" + std::to_string(bridge.port);
  std::vector<Page> pages;
  std::string reference;
  for (size_t i = 0; i < clips.size(); ++i) {
    test::Audio mic = silence(1.0);
    append(&mic, test::read_audio(clips[i].wav));
    append_silence(&mic, 1.0);
    const std::string wav = bridge.dir + "/mic-" + std::to_string(i) + ".wav";
    ASSERT_TRUE(test::write_wav(wav, mic));
    reference += clips[i].reference + " ";
    // Done when the microphone has played its file and every reply begun has been played (or
    // cut by the person's own next words).
    const std::string done =
        "t.events.some(e => e.type === 'playback_done') && "
        "performance.now() > t.events[0].at + " +
        std::to_string(int(mic.seconds() * 1000) + 1000) +
        " && t.events.filter(e => e.type === 'speech_out_start').every(s => t.events.some(e => "
        "['playback_done', 'barge_in', 'host_interrupt'].includes(e.type) && e.reply === "
        "s.reply))";
    json extra = json::object();
    if (i + 1 == clips.size()) extra["statusUrl"] = base + "/";
    pages.push_back(open_page(bridge, "talk-" + std::to_string(i),
                              base + "/talk?test=1#token=" + token, wav, done, 90000, extra));
    ASSERT_EQ(pages.back().exit, 0) << pages.back().log();
  }
  ASSERT_EQ(bridge.stop(), 0) << bridge.process->stderr_text();

  std::string error;
  auto store = host::Store::open(bridge.dir + "/earshot.db", {}, &error);
  ASSERT_TRUE(store) << error;
  auto stt = host::make_pocketsphinx_stt({}, &error);
  ASSERT_TRUE(stt) << error;
  std::map<std::string, std::string> written;   // session_id/turn_id -> reply_full
  std::map<std::string, std::string> heard_in;  // session_id -> its transcripts
  for (const host::TurnRecord& t : store->turns()) {
    EXPECT_EQ(t.node_id, "browser-kitchen-tablet");
    heard_in[t.session_id] += t.transcript + " ";
    written[t.session_id + "/" + t.turn_id] = t.reply_full;
  }
  EXPECT_GE(store->turns().size(), clips.size());
  EXPECT_EQ(store->sessions("browser-kitchen-tablet").size(), clips.size());
  std::string heard, sent, original;
  for (size_t i = 0; i < clips.size(); ++i) {
    ASSERT_FALSE(pages[i].events("welcome").empty()) << pages[i].log();
    const std::string heard_here = heard_in[pages[i].events("welcome")[0].value("session", "")];
    const std::string sent_here =
        recognise(*stt, to_16k_mono(test::read_audio(pages[i].dir + "/sent.wav")));
    EXPECT_GE(4 * test::normalized_words(heard_here).size(),
              3 * test::normalized_words(sent_here).size())
        << "visit " << i << " heard: " << heard_here << "\nsent: " << sent_here;
    heard += heard_here + " ";
    sent += sent_here + " ";
    original += recognise(*stt, to_16k_mono(test::read_audio(clips[i].wav))) + " ";
  }
  const double wer_page = test::word_error_rate(reference, heard);
  const double wer_sent = test::word_error_rate(reference, sent);
  const double wer_original = test::word_error_rate(reference, original);
  printf(
      "WER through the browser and the bridge %.3f; pocketsphinx on the audio the page sent %.3f, "
      "on the original files %.3f\n",
      wer_page, wer_sent, wer_original);
  // Each stage against its own input, 8 points of room each: the bridge hears the page's audio
  // through Opus and cut where turns end, where pocketsphinx reads the sent audio whole; the page
  // keeps its gate's segments of what its microphone gave it. Two readings' noise add up: with
  // jfk.wav among the clips the first alone moved by -4.3 to +6.5 points over six runs, and one CI
  // run read the page +5.7 and the bridge +2.8 points (+8.5 end to end). A real loss fails the
  // per-visit word count above.
  EXPECT_LE(wer_page, wer_sent + 0.08) << "heard: " << heard << "\nsent: " << sent;
  EXPECT_LE(wer_sent, wer_original + 0.08) << "sent: " << sent << "\noriginal: " << original;

  // Each reply played to its end: decoded by the page, played by its worklet (as much as was
  // decoded), and it says what the bridge wrote.
  std::string replies_written, replies_played;
  std::vector<std::string> replies_written_each;
  int replies = 0;
  for (const Page& page : pages) {
    // The page spoke Opus (WebCodecs is in Debian's chromium).
    ASSERT_FALSE(page.events("welcome").empty()) << page.log();
    EXPECT_EQ(page.events("welcome")[0].value("codec", ""), "opus");
    const std::string session = page.events("welcome")[0].value("session", "");
    for (const json& start : page.events("speech_out_start")) {
      const std::string reply = start.value("reply", ""), turn = start.value("turn", "");
      const json& r = page.result["replies"][reply];
      ASSERT_TRUE(r.is_object()) << reply << "\n" << page.log();
      if (r.value("outcome", "") != "done") continue;  // cut by the person's next words
      const double decoded_ms = 1000.0 * r.value("samples", 0.0) / r.value("rate", 1.0);
      EXPECT_GT(decoded_ms, 1000.0) << reply;
      EXPECT_NEAR(r.value("playedMs", 0.0), decoded_ms, 60.0) << reply;
      test::Audio played = test::read_audio(page.dir + "/reply-" + reply + ".wav");
      replies_played += recognise(*stt, to_16k_mono(played)) + " ";
      replies_written += written[session + "/" + turn] + " ";
      replies_written_each.push_back(written[session + "/" + turn]);
      ++replies;
    }
  }
  EXPECT_GE(replies, int(clips.size()));
  // The written replies repeat what was heard, so they differ from run to run, and how well flite
  // read back by pocketsphinx does depends on the words (0.31 and 0.38 in two runs). The bound is
  // therefore set by the same replies synthesised here as the bridge does (flite, sentence by
  // sentence), through the same Opus settings the door uses for replies and decoded at 48 kHz as
  // WebCodecs does, and recognised without the bridge or the page. What those two add is held to
  // 15 points. Measured: 4.6 (0.275 against 0.229), 7.4 and 9.7 with the machine otherwise idle;
  // 12.4 in a full run of the test command, alone but after the fault tests; 13.7 with chromium
  // starved of CPU by four compilers (so the test runs alone). Pocketsphinx reading different
  // replies each run is most of that spread: 12 points failed once (2026-11-30) with every reply
  // played whole. A reply garbled, cut or mixed with another reads far worse, and a cut one also
  // fails the played-length check above.
  auto tts = host::make_flite_tts({}, &error);
  ASSERT_TRUE(tts) << error;
  dsp::OpusEncoderSettings reply_opus;  // as host/doors/earshot_v1_door.cpp sets it
  reply_opus.inband_fec = false;
  reply_opus.expected_loss_percent = 0;
  const test::Audio direct = test::through_opus(
      test::synthesise_like_the_bridge(*tts, replies_written_each), reply_opus, 48000);
  ASSERT_GT(direct.samples.size(), 0u);
  const std::string replies_direct = recognise(*stt, to_16k_mono(direct));
  const double wer_reply = test::word_error_rate(replies_written, replies_played);
  const double wer_direct = test::word_error_rate(replies_written, replies_direct);
  printf(
      "WER of the replies the page decoded against what the bridge wrote %.3f; the same text "
      "synthesised and sent through Opus here %.3f\n",
      wer_reply, wer_direct);
  EXPECT_LE(wer_reply, wer_direct + 0.15)
      << "written: " << replies_written << "\nplayed: " << replies_played
      << "\ndirect: " << replies_direct;

  // What a person sees: the talk page with the turn, the status page with each turn's bars.
  const Page& last = pages.back();
  const json& layout = last.result["layout"];
  EXPECT_GE(layout[".turn"].value("count", 0), 1);
  EXPECT_GT(layout[".heard"].value("width", 0.0), 50.0);
  EXPECT_GT(layout[".reply"].value("width", 0.0), 50.0);
  EXPECT_GT(layout["#meter"].value("width", 0.0), 0.0);
  expect_drawn(last.result["screenshot"], "talk.png");
  const json& status = last.result["statusLayout"];
  EXPECT_GE(status[".stage-bar"].value("count", 0), 6) << status.dump();
  EXPECT_GT(status[".stage-bar"].value("width", 0.0), 1.0) << status.dump();
  EXPECT_EQ(status["a[href='/talk']"].value("count", 0), 1);
  expect_drawn(last.result["statusScreenshot"], "status.png");
  // The bridge sends turn_timings to clients that ask (the page does), and /talk draws the same
  // bars as the status page.
  ASSERT_FALSE(last.events("turn_timings").empty());
  EXPECT_GE(layout[".stage-bar"].value("count", 0), 1);
  EXPECT_GT(layout[".stage-bar"].value("width", 0.0), 1.0);
}

// Barge-in: the person asks, waits while the (long) answer plays, then speaks over it. The page
// stops playing at once and tells the bridge how much it played before any frame of the new
// speech; the bridge stops the reply and stores only the part that was heard.
TEST(BrowserClient, SpeakingOverTheReplyStopsItAndTheBridgeStoresWhatWasHeard) {
  std::string why;
  ASSERT_TRUE(preconditions(&why)) << why;
  std::atomic<int> llm_requests{0};
  test::FakeHttpServer llm([&](const test::HttpRequestSeen&, test::HttpResponder& r) {
    const int n = llm_requests.fetch_add(1);
    r.start_chunked(200, "text/event-stream; charset=utf-8");
    auto delta = [&](const std::string& text) {
      return r.chunk(test::sse(
          R"({"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":")" +
          text + R"("},"finish_reason":null}]})"));
    };
    if (n > 0) {
      delta("Okay.");
    } else {  // twenty sentences, a word every 60 ms: far longer than the person waits
      for (int s = 0; s < 20; ++s)
        for (const char* w : {"This ", "is ", "sentence ", "number ", "something ", "of ", "a ",
                              "very ", "long ", "answer. "})
          if (!delta(w) || !r.wait_ms(60)) return;
    }
    r.chunk(test::sse("[DONE]"));
    r.end_chunked();
  });
  Bridge bridge("browser_barge_in", "[llm]\nengine = \"openai\"\nbase_url = \"" + llm.base_url() +
                                        "\"\nmodel = \"m\"\n");
  bridge.start();
  const std::string token = add_token(bridge, "den");
  ASSERT_FALSE(token.empty());
  // A question, 8 s of quiet while the answer plays, then talking over it.
  test::Audio mic = silence(1.0);
  append(&mic, test::read_audio(librivox("0880", ".wav")));
  append_silence(&mic, 8.0);
  append(&mic, test::read_audio(test::data_path("whisper.cpp/jfk.wav")));
  append_silence(&mic, 3.0);
  ASSERT_TRUE(test::write_wav(bridge.dir + "/mic.wav", mic));
  const std::string base = "http://127.0.0.1:" + std::to_string(bridge.port);
  const Page page =
      open_page(bridge, "talk", base + "/talk?test=1#token=" + token, bridge.dir + "/mic.wav",
                "t.events.some(e => e.type === 'barge_in') && "
                "t.events.filter(e => e.type === 'transcript').length >= 2",
                int(mic.seconds() * 1000) + 40000);
  ASSERT_EQ(page.exit, 0) << page.log();
  ASSERT_EQ(bridge.stop(), 0) << bridge.process->stderr_text();

  // The page stopped the first reply itself, after playing some of it, and did not play it on.
  const std::vector<json> barge = page.events("barge_in");
  ASSERT_EQ(barge.size(), 1u) << page.log();
  const std::string reply = barge[0].value("reply", "");
  const double played_ms = barge[0].value("playedMs", 0.0);
  EXPECT_GT(played_ms, 1000.0) << page.log();
  EXPECT_EQ(page.result["replies"][reply].value("outcome", ""), "interrupted by the page");
  for (const json& done : page.events("playback_done"))
    EXPECT_NE(done.value("reply", ""), reply);
  // What it says it played is what ran on the clock between its first sound and the barge-in
  // (an underrun would make it less, never more).
  double started_at = -1;
  for (const json& s : page.events("playback_started"))
    if (s.value("reply", "") == reply) started_at = s.value("at", 0.0);
  ASSERT_GE(started_at, 0) << page.log();
  EXPECT_LE(played_ms, barge[0].value("at", 0.0) - started_at + 100.0);
  EXPECT_GE(played_ms, barge[0].value("at", 0.0) - started_at - 500.0);

  // The bridge had the page's interrupt (it counts what it sent after it), stopped sending, and
  // kept only what was heard.
  const std::string log = bridge.process->stderr_text();
  const size_t at = log.find(" reply frame(s) sent after the node's interrupt arrived");
  ASSERT_NE(at, std::string::npos) << log;
  const size_t colon = log.rfind(": ", at);
  EXPECT_LE(std::stoi(log.substr(colon + 2, at - colon - 2)), 2) << log;
  std::string error;
  auto store = host::Store::open(bridge.dir + "/earshot.db", {}, &error);
  ASSERT_TRUE(store) << error;
  auto turns = store->turns();
  ASSERT_GE(turns.size(), 2u);
  const host::TurnRecord& first = turns[0];
  EXPECT_TRUE(first.interrupted);
  EXPECT_FALSE(first.reply.empty());
  EXPECT_LT(first.reply.size(), first.reply_full.size());
  EXPECT_EQ(first.reply_full.rfind(first.reply.substr(0, 20), 0), 0u)
      << "heard: " << first.reply << "\nwritten: " << first.reply_full;
  // The heard text takes about as long to say as was played (flite: ~14 characters a second).
  EXPECT_LT(played_ms / 1000.0, double(first.reply.size()) / 8.0 + 1.0) << first.reply;
  EXPECT_GT(played_ms / 1000.0, double(first.reply.size()) / 25.0 - 1.0) << first.reply;
}

// Exactly once across a bridge that dies mid-turn: after a first turn is stored and answered,
// the bridge is killed (SIGKILL) while the person speaks again, and started again. The page
// reconnects, forgets what welcome.acked_seq says the bridge has, sends the rest again, and every
// microphone frame it numbered ends up in exactly one stored turn: the first turn once, the cut
// one once and whole, both answered.
TEST(BrowserClient, ABridgeKilledMidTurnGetsEveryFrameOnceFromThePageAfterItsRestart) {
  std::string why;
  ASSERT_TRUE(preconditions(&why)) << why;
  Bridge bridge("browser_redelivery", "[turn]\nend_of_turn_ms = 1500\n");
  bridge.start("bridge-1");
  const std::string token = add_token(bridge, "porch");
  ASSERT_FALSE(token.empty());
  test::Audio mic = silence(1.0);
  append(&mic, test::read_audio(librivox("0870", ".wav")));  // 7.1 s, one sentence
  append_silence(&mic, 12.0);
  append(&mic, test::read_audio(librivox("0880", ".wav")));
  append_silence(&mic, 8.0);
  ASSERT_TRUE(test::write_wav(bridge.dir + "/mic.wav", mic));
  const std::string base = "http://127.0.0.1:" + std::to_string(bridge.port);
  Page page;
  page.dir = bridge.dir + "/talk";
  const json config = {
      {"url", base + "/talk?test=1#token=" + token},
      {"wav", bridge.dir + "/mic.wav"},
      {"outDir", page.dir},
      {"userDataDir", bridge.dir + "/talk-profile"},
      {"waitFor",
       "t.events.filter(e => e.type === 'playback_done').length >= 2 && t.pending === 0"},
      {"timeoutMs", int(mic.seconds() * 1000) + 60000}};
  std::ofstream(bridge.dir + "/talk.json") << config.dump(1);
  test::Subprocess driver({"node", kDriver, bridge.dir + "/talk.json"}, page.dir);
  // The first sentence is 360 frames with its pre-roll and hangover; 80 frames into the second
  // segment (the question, ~1.3 s of its 3 s), the bridge dies.
  ASSERT_TRUE(test::wait_until([&] { return bridge.frames_received() >= 440; }, 60s))
      << bridge.process->stderr_text();
  bridge.process->signal(SIGKILL);
  bridge.process->wait(10s);
  bridge.start("bridge-2");
  page.exit = driver.wait(std::chrono::milliseconds(int(mic.seconds() * 1000) + 120000));
  {
    std::ifstream in(page.dir + "/result.json");
    page.result = json::parse(in, nullptr, false);
  }
  ASSERT_EQ(page.exit, 0) << page.log() << driver.stderr_text();
  ASSERT_EQ(bridge.stop(), 0) << bridge.process->stderr_text();

  // The page connected twice; the second welcome told it what the bridge already had: the first
  // turn, not the cut one.
  const std::vector<json> welcomes = page.events("welcome");
  ASSERT_GE(welcomes.size(), 2u) << page.log();
  ASSERT_TRUE(welcomes[1]["ackedSeq"].is_number()) << page.log();
  EXPECT_GE(welcomes[1].value("ackedSeq", 0), 300);
  EXPECT_LT(welcomes[1].value("ackedSeq", 0), 440);
  std::string error;
  auto store = host::Store::open(bridge.dir + "/earshot.db", {}, &error);
  ASSERT_TRUE(store) << error;
  const uint64_t sent = page.result.value("nextSeq", uint64_t(0));
  ASSERT_GT(sent, 300u);
  ASSERT_TRUE(store->acked_seq("browser-porch"));
  EXPECT_EQ(*store->acked_seq("browser-porch"), sent - 1);
  // Every stored turn covers its own frames: no overlap, in order.
  int64_t next = -1;
  std::string heard;
  for (const host::TurnRecord& t : store->turns()) {
    EXPECT_GT(t.first_seq, next) << "turn " << t.turn_id << " overlaps the one before";
    EXPECT_GE(t.last_seq, t.first_seq);
    next = t.last_seq;
    heard += t.transcript + " | ";
  }
  // Each sentence once: the first ("... leisure to consider how much ... in his power to do for
  // them"), and the one the bridge died in, whole ("he was not an ill disposed young man").
  auto count = [&](const std::string& word) {
    size_t n = 0;
    for (size_t at = heard.find(word); at != std::string::npos; at = heard.find(word, at + 1))
      ++n;
    return n;
  };
  EXPECT_EQ(count("consider"), 1u) << heard;
  EXPECT_EQ(count("power"), 1u) << heard;
  EXPECT_EQ(count("he was not"), 1u) << heard;
  EXPECT_EQ(count("young man"), 1u) << heard;
  EXPECT_EQ(store->turns().size(), 2u) << heard;
}

// A token that is wrong or revoked is refused (error bad_token, close 4001) and the page says
// so; a page without a token says where to get one; a good token works over https (the bridge's
// certificate, as a browser off this machine needs for the microphone).
TEST(BrowserClient, ABadTokenIsRefusedWithAClearMessageAndAGoodOneWorksOverHttps) {
  std::string why;
  ASSERT_TRUE(preconditions(&why)) << why;
  Bridge bridge("browser_tokens");
  ASSERT_EQ(
      test::run_command({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                         bridge.dir + "/key.pem", "-out", bridge.dir + "/cert.pem", "-days", "2",
                         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"},
                        bridge.dir + "/openssl"),
      0);
  {  // TLS in the fixture's [server] table

    std::ifstream in(bridge.dir + "/bridge.toml");
    std::stringstream toml;
    toml << in.rdbuf();
    std::string text = toml.str();
    text.replace(text.find("[server]\n"), 9,
                 "[server]\ntls_cert = \"" + bridge.dir + "/cert.pem\"\ntls_key = \"" + bridge.dir +
                     "/key.pem\"\n");
    std::ofstream(bridge.dir + "/bridge.toml") << text;
  }
  bridge.start();
  const std::string revoked = add_token(bridge, "hall");
  ASSERT_FALSE(revoked.empty());
  ASSERT_EQ(test::run_command(
                {kBridge, "--config", bridge.dir + "/bridge.toml", "tokens", "revoke", "hall"},
                bridge.dir + "/tokens-revoke"),
            0);
  const std::string good = add_token(bridge, "hall");
  ASSERT_FALSE(good.empty());
  ASSERT_NE(good, revoked);
  ASSERT_TRUE(test::write_wav(bridge.dir + "/quiet.wav", silence(2.0)));
  const std::string base = "https://127.0.0.1:" + std::to_string(bridge.port);
  const json tls = {{"ignoreCertificateErrors", true}};

  // The revoked token: refused, and the page says what to do.
  Page refused =
      open_page(bridge, "revoked", base + "/talk?test=1#token=" + revoked,
                bridge.dir + "/quiet.wav", "t.events.some(e => e.type === 'closed')", 30000, tls);
  ASSERT_EQ(refused.exit, 0) << refused.log();
  const std::vector<json> closed = refused.events("closed");
  EXPECT_EQ(closed[0].value("code", 0), 4001) << refused.log();
  EXPECT_EQ(closed[0].value("error", ""), "bad_token") << refused.log();
  const std::string problem = refused.result.value("problem", "");
  EXPECT_NE(problem.find("refused this page's token"), std::string::npos) << problem;
  EXPECT_NE(problem.find("earshot-bridge tokens add"), std::string::npos) << problem;
  EXPECT_GT(refused.result["layout"]["#problem"].value("height", 0.0), 10.0);
  expect_drawn(refused.result["screenshot"], "refused talk.png");
  EXPECT_TRUE(refused.events("welcome").empty());

  // A token for another client's name is refused the same way: the name comes from the store.
  const std::string wrong_name = "den" + good.substr(good.find('.'));
  Page other =
      open_page(bridge, "other", base + "/talk?test=1#token=" + wrong_name,
                bridge.dir + "/quiet.wav", "t.events.some(e => e.type === 'closed')", 30000, tls);
  ASSERT_EQ(other.exit, 0) << other.log();
  EXPECT_EQ(other.events("closed")[0].value("code", 0), 4001) << other.log();

  // No token at all: the page says where one comes from, and does not start.
  Page none = open_page(bridge, "none", base + "/talk?test=1", bridge.dir + "/quiet.wav",
                        "t.events.some(e => e.type === 'no_token')", 20000,
                        {{"ignoreCertificateErrors", true}, {"click", false}});
  ASSERT_EQ(none.exit, 0) << none.log();
  EXPECT_NE(none.result.value("problem", "").find("needs a token"), std::string::npos);

  // The good token, over https and wss.
  Page welcome =
      open_page(bridge, "good", base + "/talk?test=1#token=" + good, bridge.dir + "/quiet.wav",
                "t.events.some(e => e.type === 'welcome')", 30000, tls);
  ASSERT_EQ(welcome.exit, 0) << welcome.log();
  EXPECT_EQ(welcome.result.value("problem", "x"), "");
  EXPECT_GE(bridge.metric("earshot_errors_total{reason=\"bad_token\"}"), 2);
  ASSERT_EQ(bridge.stop(), 0) << bridge.process->stderr_text();
  std::string error;
  auto store = host::Store::open(bridge.dir + "/earshot.db", {}, &error);
  ASSERT_TRUE(store) << error;
  EXPECT_EQ(store->sessions("browser-hall").size(), 1u);
  EXPECT_TRUE(store->sessions("browser-den").empty());
}

// The pcm16 fallback, for browsers without WebCodecs' AudioEncoder (forced here with
// ?codec=pcm16): welcome.audio echoes pcm16, what was said is recognised as well as from the
// original file, and the reply comes back as 16 kHz pcm16 frames that the page plays.
TEST(BrowserClient, Pcm16SpeechIsRecognisedAndTheReplyPlays) {
  std::string why;
  ASSERT_TRUE(preconditions(&why)) << why;
  Bridge bridge("browser_pcm16", "[turn]\nend_of_turn_ms = 1500\n");
  bridge.start();
  const std::string token = add_token(bridge, "attic");
  ASSERT_FALSE(token.empty());
  const std::string reference = test::read_file(librivox("0890", ".txt"));
  test::Audio mic = silence(1.0);
  append(&mic, test::read_audio(librivox("0890", ".wav")));
  append_silence(&mic, 12.0);
  ASSERT_TRUE(test::write_wav(bridge.dir + "/mic.wav", mic));
  const std::string base = "http://127.0.0.1:" + std::to_string(bridge.port);
  Page page =
      open_page(bridge, "pcm16", base + "/talk?test=1&codec=pcm16#token=" + token,
                bridge.dir + "/mic.wav", "t.events.some(e => e.type === 'playback_done')", 60000);
  ASSERT_EQ(page.exit, 0) << page.log();
  ASSERT_EQ(bridge.stop(), 0) << bridge.process->stderr_text();
  EXPECT_EQ(page.events("welcome")[0].value("codec", ""), "pcm16");
  std::string error;
  auto store = host::Store::open(bridge.dir + "/earshot.db", {}, &error);
  ASSERT_TRUE(store) << error;
  auto stt = host::make_pocketsphinx_stt({}, &error);
  ASSERT_TRUE(stt) << error;
  ASSERT_FALSE(store->turns().empty());
  // What was said: as pocketsphinx hears the samples the page sent (pcm16 is lossless, so the
  // bridge decoded the same samples; one word of the fourteen may fall differently when its
  // recogniser ran while the person spoke); and not far from the original file.
  const double sent = test::word_error_rate(
      reference, recognise(*stt, to_16k_mono(test::read_audio(page.dir + "/sent.wav"))));
  const double original = test::word_error_rate(
      reference, recognise(*stt, to_16k_mono(test::read_audio(librivox("0890", ".wav")))));
  const double stored = test::word_error_rate(reference, store->turns()[0].transcript);
  EXPECT_LE(stored, sent + 0.08) << store->turns()[0].transcript;
  EXPECT_LE(stored, original + 0.15) << store->turns()[0].transcript;
  // The reply: 16 kHz samples as the bridge sent them, played to the end, as long as flite takes
  // to say it (~14 characters a second), and speech, not noise: a byte-order or scaling mistake
  // turns speech into something white-noise-like, which crosses zero every other sample. (Its
  // words are checked on the Opus path, over all six replies: one short reply read back by
  // pocketsphinx is too noisy a measure.)
  ASSERT_FALSE(page.events("speech_out_start").empty()) << page.log();
  const std::string reply = page.events("speech_out_start")[0].value("reply", "");
  const json& r = page.result["replies"][reply];
  EXPECT_EQ(r.value("rate", 0), 16000);
  EXPECT_EQ(r.value("outcome", ""), "done");
  const std::string& written = store->turns()[0].reply_full;
  const test::Audio played = test::read_audio(page.dir + "/reply-" + reply + ".wav");
  EXPECT_GT(played.seconds(), double(written.size()) / 25.0) << written;
  EXPECT_LT(played.seconds(), double(written.size()) / 8.0 + 1.0) << written;
  EXPECT_NEAR(r.value("playedMs", 0.0), played.seconds() * 1000.0, 60.0);
  const std::vector<float> pcm = test::to_mono(played);
  size_t loud = 0, crossings = 0;
  for (size_t i = 1; i < pcm.size(); ++i) {
    if (std::fabs(pcm[i]) < 0.01f) continue;
    ++loud;
    crossings += (pcm[i] > 0) != (pcm[i - 1] > 0);
  }
  EXPECT_GT(test::rms(pcm), 0.01);
  ASSERT_GT(loud, pcm.size() / 10);
  EXPECT_LT(double(crossings) / double(loud), 0.25) << "zero crossings per loud sample";
}

}  // namespace
}  // namespace earshot
