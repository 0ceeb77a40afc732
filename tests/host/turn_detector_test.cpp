// TurnDetector without client segments (OpenAI Realtime clients stream everything, silence
// included): only the host VAD opens a turn, and a client that stops sending mid-silence still
// has its turn ended on the wall clock.
#include "host/turn_detector.h"

#include <gtest/gtest.h>

#include "tests/support/test_audio.h"

namespace earshot::host {
namespace {

constexpr size_t kFrame = 320;

std::vector<float> speech_16k() {
  test::Audio a = test::read_audio(test::data_path("cmu-arctic/cmu_arctic_us_aew_a0001.wav"));
  if (a.sample_rate != 16000)
    a = test::sox_convert(a, 16000, 1, test::scratch_dir("turn_detector"));
  return test::to_mono(a);
}

struct Stream {
  TurnDetector detector;
  uint64_t ts = 0;
  int64_t now = 0;
  explicit Stream(TurnConfig c) : detector(c) {}
  // Feeds `samples` as 20 ms frames with no flags; returns the events seen.
  std::vector<TurnDetector::Event> feed(const std::vector<float>& samples) {
    std::vector<TurnDetector::Event> events;
    for (size_t off = 0; off + kFrame <= samples.size(); off += kFrame) {
      const auto e = detector.on_frame(samples.data() + off, ts, 0, now);
      if (e != TurnDetector::Event::kNone) events.push_back(e);
      ts += kFrame;
      now += 20;
    }
    return events;
  }
};

TEST(TurnDetector, WithoutClientSegmentsSilenceOpensNoTurnAndSpeechDoes) {
  TurnConfig c;
  c.client_segments = false;
  Stream run(c);
  EXPECT_TRUE(run.feed(std::vector<float>(16000 * 2, 0.0f)).empty());  // 2 s of silence
  EXPECT_FALSE(run.detector.in_turn());
  const std::vector<TurnDetector::Event> events = run.feed(speech_16k());
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.front(), TurnDetector::Event::kTurnStarted);
  // The turn started where the speech did, not at the stream's first frame.
  EXPECT_GT(run.detector.last_speech_end(), uint64_t(16000 * 2));
}

TEST(TurnDetector, WithoutClientSegmentsSilenceInTheStreamEndsTheTurn) {
  TurnConfig c;
  c.client_segments = false;
  c.end_of_turn_ms = 500;
  Stream run(c);
  run.feed(speech_16k());
  const std::vector<TurnDetector::Event> events = run.feed(std::vector<float>(16000, 0.0f));
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back(), TurnDetector::Event::kTurnEnded);
}

TEST(TurnDetector, WithoutClientSegmentsAClientThatStopsSendingHasItsTurnEndedOnTheClock) {
  TurnConfig c;
  c.client_segments = false;
  c.end_of_turn_ms = 500;
  Stream run(c);
  run.feed(speech_16k());
  run.feed(std::vector<float>(16000 / 10, 0.0f));  // 100 ms of silence, then nothing
  if (!run.detector.in_turn()) GTEST_SKIP() << "the clip ends in more silence than the turn's";
  const int64_t deadline = run.detector.deadline_ms();
  ASSERT_GE(deadline, 0);
  EXPECT_LE(deadline, run.now + 500);
  EXPECT_EQ(run.detector.on_tick(deadline - 1), TurnDetector::Event::kNone);
  EXPECT_EQ(run.detector.on_tick(deadline), TurnDetector::Event::kTurnEnded);
}

TEST(TurnDetector, WithClientSegmentsASegmentStartOpensTheTurnEvenOnQuietPreRoll) {
  TurnConfig c;  // earshot.v1 nodes: their segment's first frame opens the turn
  TurnDetector d(c);
  const std::vector<float> quiet(kFrame, 0.0f);
  EXPECT_EQ(d.on_frame(quiet.data(), 0, 1 /* kFlagSegmentStart */, 0),
            TurnDetector::Event::kTurnStarted);
}

}  // namespace
}  // namespace earshot::host
