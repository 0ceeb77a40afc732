// The embedded engines with their real Debian models: pocketsphinx recognises read speech,
// flite and espeak-ng speak (flite's speech is recognised back), echo echoes, and cancellation
// stops synthesis.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "dsp/resampler.h"
#include "host/engines/embedded_engines.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_audio.h"

namespace earshot::host {
namespace {

std::string recognise(SttEngine& stt, const std::vector<float>& pcm16k) {
  auto stream = stt.start("en");
  for (size_t i = 0; i < pcm16k.size(); i += 320)
    stream->feed(&pcm16k[i], std::min<size_t>(320, pcm16k.size() - i));
  SttResult r = stream->finish(CancelToken());
  EXPECT_TRUE(r.ok) << r.error;
  return r.text;
}

TEST(Pocketsphinx, RecognisesReadSpeechAndGivesPartialsAsItGoes) {
  std::string error;
  auto stt = make_pocketsphinx_stt({}, &error);
  ASSERT_TRUE(stt) << error;
  test::Audio clip = test::read_audio(
      test::data_path("pocketsphinx/librivox/sense_and_sensibility_01_austen_64kb-0870.wav"));
  auto stream = stt->start("en");
  int partials = 0;
  for (size_t i = 0; i + 320 <= clip.samples.size(); i += 320) {
    stream->feed(&clip.samples[i], 320);
    if (i % 16000 == 0 && stream->partial()) ++partials;
  }
  SttResult r = stream->finish(CancelToken());
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_GE(partials, 3);  // incremental: words appear while the person speaks
  const std::string reference = test::read_file(
      test::data_path("pocketsphinx/librivox/sense_and_sensibility_01_austen_64kb-0870.txt"));
  // pocketsphinx's own level on this clip as one utterance is about 0.36.
  EXPECT_LT(test::word_error_rate(reference, r.text), 0.45) << r.text;
}

// Each stream holds a whole decoder (~65 MB): at most stt.max_streams at once, bridge-wide. One
// more waits for a decoder to come back, and fails as overloaded if none does in time.
TEST(Pocketsphinx, AtMostMaxStreamsDecodeAtOnce) {
  using namespace std::chrono_literals;
  EngineConfig config;
  config.max_streams = 2;
  std::string error;
  auto stt = make_pocketsphinx_stt(config, &error);
  ASSERT_TRUE(stt) << error;
  auto a = stt->start("en");
  auto b = stt->start("en");
  std::atomic<bool> started{false};
  std::unique_ptr<SttStream> c;
  std::thread third([&] {
    c = stt->start("en");
    started.store(true);
  });
  EXPECT_FALSE(started.load());
  a.reset();  // one utterance ends: its decoder goes back
  ASSERT_TRUE(test::wait_until([&] { return started.load(); }, 30s));
  third.join();
  SttResult r = c->finish(CancelToken());
  EXPECT_TRUE(r.ok) << r.error;
  // Two live again (b and c): a fourth fails after the wait, with a clear reason.
  auto d = stt->start("en");
  r = d->finish(CancelToken());
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("overloaded"), std::string::npos) << r.error;
}

TEST(Pocketsphinx, AMissingModelIsAStartUpError) {
  EngineConfig c;
  c.model_dir = "/nonexistent/model";
  std::string error;
  EXPECT_FALSE(make_pocketsphinx_stt(c, &error));
  EXPECT_NE(error.find("/nonexistent/model"), std::string::npos) << error;
}

std::vector<float> speak(TtsEngine& tts, const std::string& text, int* rate) {
  std::vector<float> out;
  TtsResult r = tts.synthesize(
      text, "",
      [&](const float* s, size_t n, int sample_rate) {
        out.insert(out.end(), s, s + n);
        *rate = sample_rate;
        return true;
      },
      CancelToken());
  EXPECT_TRUE(r.ok) << r.error;
  return out;
}

std::vector<float> to_16k(const std::vector<float>& x, int rate) {
  if (rate == 16000) return x;
  std::string error;
  auto rs = dsp::Resampler::create(rate, 16000, x.size(), &error);
  std::vector<float> out(rs->max_output_frames() * 2 + 64);
  size_t n = rs->process(x.data(), x.size(), out.data(), out.size());
  while (size_t m = rs->flush(out.data() + n, out.size() - n))
    n += m;
  out.resize(n);
  return out;
}

TEST(Flite, SpeaksWhatPocketsphinxRecognisesBack) {
  std::string error;
  auto tts = make_flite_tts({}, &error);
  ASSERT_TRUE(tts) << error;
  auto stt = make_pocketsphinx_stt({}, &error);
  ASSERT_TRUE(stt) << error;
  int rate = 0;
  const std::string text = "the weather today is sunny and warm";
  std::vector<float> audio = speak(*tts, text, &rate);
  EXPECT_EQ(rate, 16000);
  EXPECT_GT(audio.size(), size_t(rate));  // more than a second
  EXPECT_LT(test::word_error_rate(text, recognise(*stt, to_16k(audio, rate))), 0.3);
}

TEST(EspeakNg, SpeaksEnglishAndKannada) {
  EngineConfig c;
  c.voice = "kn";
  std::string error;
  auto tts = make_espeak_tts(c, &error);
  ASSERT_TRUE(tts) << error;
  int rate = 0;
  std::vector<float> audio = speak(*tts, "ನಮಸ್ಕಾರ", &rate);
  EXPECT_EQ(rate, 22050);
  EXPECT_GT(audio.size(), size_t(rate) / 4);
  std::vector<float> english;
  TtsResult r = tts->synthesize(
      "Hello there.", "en",
      [&](const float* s, size_t n, int) {
        english.insert(english.end(), s, s + n);
        return true;
      },
      CancelToken());
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_GT(english.size(), size_t(rate) / 4);
  c.voice = "no-such-voice";
  EXPECT_FALSE(make_espeak_tts(c, &error));
  EXPECT_NE(error.find("no voice 'no-such-voice'"), std::string::npos) << error;
}

TEST(Flite, StopsWhenTheCallbackSaysSo) {
  std::string error;
  auto tts = make_flite_tts({}, &error);
  ASSERT_TRUE(tts) << error;
  size_t calls = 0;
  TtsResult r = tts->synthesize(
      "This is a long sentence that would take a few seconds to say.", "",
      [&](const float*, size_t, int) { return ++calls < 3; }, CancelToken());
  EXPECT_TRUE(r.cancelled);
  EXPECT_EQ(calls, 3u);
}

TEST(Echo, AnswersWithWhatItHeardWordByWord) {
  auto llm = make_echo_llm();
  std::vector<std::string> pieces;
  LlmResult r = llm->chat(
      {{"system", "x"}, {"user", "turn on the lights"}},
      [&](std::string_view t) {
        pieces.emplace_back(t);
        return true;
      },
      CancelToken());
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.spoken, "You said: turn on the lights.");
  EXPECT_GT(pieces.size(), 3u);
}

}  // namespace
}  // namespace earshot::host
