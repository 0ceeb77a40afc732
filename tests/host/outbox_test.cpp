// The outbox between a session's threads and the event loop: reply audio produced faster than
// real time is held back, never dropped (a reply longer than the queue lost its middle before),
// and barge-in or a closed connection frees a producer that waits.
#include "host/outbox.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "tests/support/subprocess.h"

namespace earshot::host {
namespace {

using namespace std::chrono_literals;

TEST(Outbox, AReplyLongerThanTheQueueIsHeldBackNotDropped) {
  Outbox::Limits limits;
  limits.max_audio_frames = 10;
  limits.lead_ms = 0;
  Outbox outbox(limits, [] {});
  std::atomic<int> pushed{0};
  // The voice thread: 100 frames, due 20 ms apart from t=0.
  std::thread voice([&] {
    for (int i = 0; i < 100; ++i) {
      outbox.push_audio(std::string(1, char(i)), int64_t(i) * 20);
      pushed.fetch_add(1);
    }
  });
  ASSERT_TRUE(test::wait_until([&] { return pushed.load() == 10; }, 5s));
  EXPECT_EQ(pushed.load(), 10);  // held at the limit, not running ahead
  // The pacer releases them in order as they fall due; every frame comes out once.
  std::string out;
  int64_t now = 0;
  while (out.size() < 100) {
    OutItem item;
    if (outbox.pop_ready(now, &item)) {
      ASSERT_TRUE(item.binary);
      out += item.bytes;
    } else if (outbox.audio_queued() == 0) {
      ASSERT_TRUE(test::wait_until([&] { return outbox.audio_queued() > 0; }, 5s));
    } else {
      now = outbox.next_audio_release_ms();  // the pacer's clock moves to the next due frame
    }
  }
  voice.join();
  for (int i = 0; i < 100; ++i)
    EXPECT_EQ(out[size_t(i)], char(i));
  EXPECT_EQ(outbox.audio_dropped(), 0u);
}

TEST(Outbox, BargeInAndDetachFreeAWaitingProducer) {
  Outbox::Limits limits;
  limits.max_audio_frames = 2;
  Outbox outbox(limits, [] {});
  std::atomic<bool> done{false};
  std::thread voice([&] {
    for (int i = 0; i < 5; ++i)
      outbox.push_audio("x", 0);
    done.store(true);
  });
  ASSERT_TRUE(test::wait_until([&] { return outbox.audio_queued() == 2; }, 5s));
  EXPECT_EQ(outbox.clear_audio(), 2u);  // barge-in: what waited is dropped, the rest refused
  voice.join();
  EXPECT_TRUE(done.load());
  OutItem item;
  EXPECT_FALSE(outbox.pop_ready(1000000, &item));

  outbox.open_audio();
  std::thread again([&] {
    for (int i = 0; i < 5; ++i)
      outbox.push_audio("y", 0);
  });
  ASSERT_TRUE(test::wait_until([&] { return outbox.audio_queued() == 2; }, 5s));
  outbox.detach();  // the connection closed
  again.join();
}

TEST(Outbox, AudioCanGoOutAsTextForJsonWireFormats) {
  Outbox::Limits limits;
  limits.lead_ms = 0;
  limits.audio_as_text = true;
  Outbox outbox(limits, [] {});
  outbox.push_control("{\"type\":\"response.created\"}");
  outbox.push_audio("{\"type\":\"response.output_audio.delta\"}", 0);
  OutItem item;
  ASSERT_TRUE(outbox.pop_ready(0, &item));
  EXPECT_FALSE(item.binary);
  ASSERT_TRUE(outbox.pop_ready(0, &item));
  EXPECT_FALSE(item.binary);  // paced like audio, written as text
  EXPECT_EQ(item.bytes, "{\"type\":\"response.output_audio.delta\"}");
}

}  // namespace
}  // namespace earshot::host
