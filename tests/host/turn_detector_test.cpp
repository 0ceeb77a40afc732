// TurnDetector without client segments (OpenAI Realtime clients stream everything, silence
// included): only the host VAD opens a turn, and a client that stops sending mid-silence still
// has its turn ended on the wall clock.
#include "host/turn_detector.h"

#include <gtest/gtest.h>

#include "dsp/vad/voice_activity_detector.h"
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
  run.feed(std::vector<float>(16000 * 4 / 10, 0.0f));  // 400 ms of silence, then nothing
  if (!run.detector.in_turn()) GTEST_SKIP() << "the clip ends in more silence than the turn's";
  const int64_t deadline = run.detector.deadline_ms();
  ASSERT_GE(deadline, 0);
  EXPECT_LE(deadline, run.now + 100);  // the rest of the 500 ms, no more
  EXPECT_EQ(run.detector.on_tick(deadline - 1), TurnDetector::Event::kNone);
  EXPECT_EQ(run.detector.on_tick(deadline), TurnDetector::Event::kTurnEnded);
}

// A stream held up mid-speech (a box on Wi-Fi, a loaded machine) is given stall_grace_ms more
// before its turn is ended on the clock; when it comes back in time, the turn goes on as one.
TEST(TurnDetector, WithoutClientSegmentsAStreamHeldUpMidSpeechIsGivenTheGrace) {
  TurnConfig c;
  c.client_segments = false;
  c.end_of_turn_ms = 500;
  c.stall_grace_ms = 1500;
  const std::vector<float> speech = speech_16k();
  Stream run(c);
  // Up to a frame the VAD calls speech, in the middle of the clip.
  std::vector<float> first_half(speech.begin(),
                                speech.begin() + speech.size() / 2 / kFrame * kFrame);
  run.feed(first_half);
  ASSERT_TRUE(run.detector.in_turn());
  const int64_t deadline = run.detector.deadline_ms();
  ASSERT_GE(deadline, 0);
  const int64_t stalled_at = run.now;
  EXPECT_GT(deadline, stalled_at + 1500);  // more than the grace: not 500 ms
  EXPECT_LE(deadline, stalled_at + 500 + 1500);
  // 1.2 s later (past end_of_turn_ms, within the grace) the rest arrives: still the same turn.
  EXPECT_EQ(run.detector.on_tick(stalled_at + 1200), TurnDetector::Event::kNone);
  run.now = stalled_at + 1200;
  const std::vector<TurnDetector::Event> rest =
      run.feed(std::vector<float>(speech.begin() + first_half.size(), speech.end()));
  for (TurnDetector::Event e : rest)
    EXPECT_NE(e, TurnDetector::Event::kTurnStarted) << "the turn was split by the stall";
  // Without the grace the stall would have ended it.
  TurnConfig strict = c;
  strict.stall_grace_ms = 0;
  Stream cut(strict);
  cut.feed(first_half);
  ASSERT_TRUE(cut.detector.in_turn());
  EXPECT_EQ(cut.detector.on_tick(cut.now + 1200), TurnDetector::Event::kTurnEnded);
}

// The silence that ends a turn counts from the end of the last 10 ms the VAD called speech, not
// from the end of the 20 ms frame it falls in: where frames fall against a voice is chance (the
// Realtime door's resampler shifts them by its delay).
TEST(TurnDetector, SpeechEndsWithTheLast10msTheVadCalledSpeech) {
  TurnConfig c;
  c.client_segments = false;
  c.end_of_turn_ms = 500;
  int ending_mid_frame = 0;
  // The clip (and silence) as it is and 10 ms later: the VAD's 10 ms steps fall on the same audio,
  // the frames 10 ms apart, so a speech end on a frame's edge in one run is in a frame's middle in
  // the other.
  for (size_t shift : {size_t(0), kFrame / 2}) {
    std::vector<float> speech(shift, 0.0f);
    const std::vector<float> clip = speech_16k();
    speech.insert(speech.end(), clip.begin(), clip.end());
    speech.resize(speech.size() + 16000, 0.0f);  // and a second of silence: the turn ends
    dsp::VadConfig vc;
    vc.threshold = c.vad_threshold;
    dsp::VoiceActivityDetector vad(vc);  // the detector's own VAD, run alongside
    Stream run(c);
    uint64_t heard_end = 0;
    for (size_t off = 0; off + kFrame <= speech.size(); off += kFrame) {
      vad.process(&speech[off]);
      const bool first = vad.is_speech();
      vad.process(&speech[off + kFrame / 2]);
      const bool second = vad.is_speech();
      if (second) {
        heard_end = run.ts + kFrame;
      } else if (first) {
        heard_end = run.ts + kFrame / 2;
        ++ending_mid_frame;
      }
      run.feed(std::vector<float>(speech.begin() + long(off), speech.begin() + long(off + kFrame)));
      if (run.detector.in_turn()) {
        ASSERT_EQ(run.detector.last_speech_end(), heard_end) << "shift " << shift << ", " << off;
      }
    }
  }
  EXPECT_GT(ending_mid_frame, 0) << "no speech in the clip ended mid-frame";
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
