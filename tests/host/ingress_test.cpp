// Ingress for an OpenAI Realtime client (pcm16 at 24 kHz, cut by the door into 20 ms frames):
// every input frame gives one 16 kHz frame at once, stamped with its input time, and the turn
// detector behind it ends a turn when the audio that completes end_of_turn_ms of silence comes
// in — not one append later, when the resampler would have let it out.
#include "host/conversation/ingress.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "host/turn_detector.h"
#include "tests/support/test_audio.h"

namespace earshot::host {
namespace {

constexpr size_t kIn = 480;  // 20 ms at 24 kHz

std::string pcm16(const std::vector<float>& x, size_t from) {
  std::string out(kIn * 2, '\0');
  for (size_t i = 0; i < kIn; ++i) {
    const float v = from + i < x.size() ? x[from + i] : 0.0f;
    const auto s = uint16_t(int16_t(std::lrint(std::clamp(v, -1.0f, 1.0f) * 32767.0f)));
    out[2 * i] = char(s & 0xff);
    out[2 * i + 1] = char(s >> 8);
  }
  return out;
}

struct Realtime {
  Metrics metrics;
  Ingress ingress{metrics, metrics.client("rt", "room"), InputCodec::kPcm16, 24000, std::nullopt};
  uint64_t seq = 0;
  Realtime() {
    std::string error;
    EXPECT_TRUE(ingress.start(&error)) << error;
  }
  // One input frame, arrived at `arrived_ms`; the frames it completed.
  std::vector<PcmFrame> append(const std::string& bytes, int64_t arrived_ms) {
    InputFrame f;
    f.seq = seq++;
    f.payload = bytes;
    f.arrived_ms = arrived_ms;
    std::vector<PcmFrame> out;
    std::string error;
    EXPECT_EQ(ingress.accept(
                  f, [&](const PcmFrame& p) { out.push_back(p); }, &error),
              Ingress::Verdict::kAccepted)
        << error;
    return out;
  }
};

TEST(Ingress, EachOf24kHzInputFramesGivesIts16kHzFrameAtOnceStampedWithItsInputTime) {
  Realtime rt;
  std::vector<float> tone(kIn * 50);
  for (size_t i = 0; i < tone.size(); ++i)
    tone[i] = 0.3f * float(std::sin(2 * M_PI * 440.0 * double(i) / 24000));
  for (size_t k = 0; k < 50; ++k) {
    const int64_t arrived = 1000 + int64_t(k) * 20;
    const std::vector<PcmFrame> got = rt.append(pcm16(tone, k * kIn), arrived);
    ASSERT_EQ(got.size(), 1u) << "input frame " << k;
    // The resampler's delay (8 ms, made 10) lags: the frame is the input's 20 ms, 10 ms earlier
    // (the first one starts with the delay's silence).
    EXPECT_EQ(got[0].timestamp, k == 0 ? 0 : k * 320 - 160) << "input frame " << k;
    EXPECT_EQ(got[0].arrived_ms, arrived);
    EXPECT_EQ(got[0].end_arrived_ms, arrived - 10) << "its end came in 10 ms of audio earlier";
  }
}

// Audio that comes in 60 ms at a time: each 20 ms of it is dated where it falls, as if sent in
// real time (the turn's end of speech is not put off to the end of its input frame).
TEST(Ingress, EachFrameOfALongerInputIsDatedWhereItsAudioFalls) {
  Realtime rt;
  const std::string silence(kIn * 2 * 3, '\0');
  for (int64_t k = 0; k < 5; ++k) {
    const int64_t arrived = 1000 + k * 60;
    const std::vector<PcmFrame> got = rt.append(silence, arrived);
    ASSERT_EQ(got.size(), 3u);
    for (size_t i = 0; i < 3; ++i)
      EXPECT_EQ(got[i].end_arrived_ms, arrived - 10 - 20 * int64_t(2 - i)) << k << ", " << i;
  }
}

TEST(Ingress, ATurnEndsWithTheAppendThatCompletesItsSilence) {
  TurnConfig c;
  c.client_segments = false;
  c.end_of_turn_ms = 500;
  test::Audio a = test::read_audio(test::data_path("cmu-arctic/cmu_arctic_us_aew_a0001.wav"));
  if (a.sample_rate != 24000) a = test::sox_convert(a, 24000, 1, test::scratch_dir("ingress"));
  const std::vector<float> speech = test::to_mono(a);
  Realtime rt;
  TurnDetector detector(c);
  bool ended = false, started = false;
  const size_t frames = speech.size() / kIn + 100;  // the clip, then 2 s of silence
  for (size_t k = 0; k < frames && !ended; ++k) {
    const int64_t arrived = int64_t(k + 1) * 20;  // when its 20 ms were complete, in real time
    for (const PcmFrame& p : rt.append(pcm16(speech, k * kIn), arrived)) {
      const auto e = detector.on_frame(p.pcm, p.timestamp, p.flags, p.end_arrived_ms);
      started = started || e == TurnDetector::Event::kTurnStarted;
      ended = ended || e == TurnDetector::Event::kTurnEnded;
    }
    if (ended || !detector.in_turn()) continue;
    // Audio up to (k + 1) * 20 ms has come in, the last 10 ms of it still held back. The
    // turn is due end_of_turn_ms of that audio past the last speech the VAD heard: if that is
    // before the next append, the clock ends it then, not the next append's frame.
    const int64_t received_ms = int64_t(k + 1) * 20;
    const int64_t due = arrived + std::max<int64_t>(0, int64_t(detector.last_speech_end() / 16) +
                                                           500 - received_ms);
    if (due < arrived + 20) {
      ASSERT_GE(detector.deadline_ms(), 0) << "after input frame " << k;
      EXPECT_LE(detector.deadline_ms(), due) << "after input frame " << k;
      ended = detector.on_tick(due) == TurnDetector::Event::kTurnEnded;
      ASSERT_TRUE(ended) << "after input frame " << k;
    }
  }
  EXPECT_TRUE(started);
  EXPECT_TRUE(ended);
}

}  // namespace
}  // namespace earshot::host
