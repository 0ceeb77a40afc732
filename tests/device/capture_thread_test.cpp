// CaptureThread with a file source: every frame of the file reaches the ring in order, and the
// pipeline thread may poll stats() while the capture thread reads (the ThreadSanitizer suite
// checks that this polling is not a data race).
#include "device/audio/capture_thread.h"

#include <gtest/gtest.h>

#include <vector>

#include "tests/support/test_audio.h"

namespace earshot::device {
namespace {

TEST(CaptureThread, StatsPolledWhileAFileIsReadCountEveryFrameOnce) {
  const std::string path = test::data_path("whisper.cpp/jfk.wav");
  const test::Audio expected = test::read_audio(path);
  ASSERT_GT(expected.frames(), 16000u);

  auto source = make_file_source({path, /*realtime=*/false, /*loop=*/false});
  std::string error;
  ASSERT_TRUE(source->open(&error)) << error;
  ASSERT_EQ(source->format().channels, 1);
  SpscRing<int16_t> ring(4096);
  CaptureThread capture(*source, ring, /*period_frames=*/160, /*backpressure=*/true);
  ASSERT_TRUE(capture.start(&error)) << error;

  std::vector<int16_t> got, chunk(1024);
  uint64_t last_seen = 0;
  // The pipeline's loop: drain the ring and poll the counters, as NodePipeline::step() does.
  while (true) {
    const bool finished = capture.finished();  // read before draining: nothing comes after it
    for (size_t n; (n = ring.read(chunk.data(), chunk.size())) > 0;)
      got.insert(got.end(), chunk.begin(), chunk.begin() + long(n));
    const CaptureStats s = capture.stats();
    EXPECT_GE(s.source.frames_read, last_seen);   // a counter never goes back
    EXPECT_GE(s.source.frames_read, got.size());  // counted before it is written to the ring
    last_seen = s.source.frames_read;
    if (finished) break;
    capture.wait_for_data(std::chrono::milliseconds(100));
  }
  capture.stop();
  EXPECT_FALSE(capture.failed()) << capture.error();

  ASSERT_EQ(got.size(), expected.frames());
  EXPECT_EQ(capture.stats().source.frames_read, expected.frames());
  EXPECT_EQ(capture.stats().dropped_frames, 0u);
  size_t mismatches = 0;
  for (size_t i = 0; i < got.size(); ++i)
    mismatches += std::abs(got[i] / 32768.0f - expected.samples[i]) > 1.0f / 32768;
  EXPECT_EQ(mismatches, 0u);
}

}  // namespace
}  // namespace earshot::device
