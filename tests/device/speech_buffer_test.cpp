// SpeechBuffer: the node's promise that speech reaches the host once, in order, across reconnects,
// and that a full buffer loses the oldest audio (counted), never the newest.
#include "device/link/speech_buffer.h"

#include <gtest/gtest.h>

#include <random>
#include <thread>
#include <vector>

#include "protocol/audio_frame.h"

namespace earshot::device {
namespace {

using protocol::AudioFrameView;

struct Sent {
  uint64_t seq;
  uint16_t flags;
  uint64_t timestamp;
  std::vector<uint8_t> payload;
};

// Takes every frame the buffer has to send on this connection.
std::vector<Sent> take_all(SpeechBuffer& b) {
  std::vector<Sent> out;
  uint8_t wire[protocol::kMaxAudioFrameSize];
  while (size_t n = b.take_next_to_send(wire, sizeof wire)) {
    AudioFrameView v;
    EXPECT_EQ(protocol::parse_audio_frame(wire, n, &v), protocol::FrameError::kOk);
    out.push_back({v.header.seq, v.header.flags, v.header.timestamp,
                   std::vector<uint8_t>(v.payload, v.payload + v.payload_size)});
  }
  return out;
}

std::vector<uint8_t> packet(uint64_t i, size_t size) {
  std::vector<uint8_t> p(size);
  for (size_t k = 0; k < size; ++k)
    p[k] = uint8_t(i * 31 + k);
  return p;
}

TEST(SpeechBuffer, SendsEachFrameOnceInOrderWithItsFlagsAndTimestamp) {
  SpeechBuffer b({});
  for (uint64_t i = 0; i < 5; ++i) {
    auto p = packet(i, 40 + i);
    EXPECT_EQ(b.push(i == 0 ? protocol::kFlagSegmentStart : 0, i * 320, p.data(), p.size()), i);
  }
  std::vector<Sent> sent = take_all(b);
  ASSERT_EQ(sent.size(), 5u);
  for (uint64_t i = 0; i < 5; ++i) {
    EXPECT_EQ(sent[i].seq, i);
    EXPECT_EQ(sent[i].timestamp, i * 320);
    EXPECT_EQ(sent[i].payload, packet(i, 40 + i));
    EXPECT_EQ(sent[i].flags & protocol::kFlagRedelivery, 0);
  }
  EXPECT_EQ(sent[0].flags, protocol::kFlagSegmentStart);
  EXPECT_TRUE(take_all(b).empty());  // nothing twice on one connection
  EXPECT_EQ(b.stats().pending, 5u);  // kept until acknowledged
}

TEST(SpeechBuffer, AckFreesFramesAndReconnectResendsOnlyTheUnacknowledged) {
  SpeechBuffer b({});
  for (uint64_t i = 0; i < 6; ++i) {
    auto p = packet(i, 30);
    b.push(0, i * 320, p.data(), p.size());
  }
  take_all(b);
  b.ack(2);
  EXPECT_EQ(b.stats().pending, 3u);
  // The link drops; the new connection's welcome says the host stored up to seq 3.
  b.on_welcome(3);
  std::vector<Sent> again = take_all(b);
  ASSERT_EQ(again.size(), 2u);
  EXPECT_EQ(again[0].seq, 4u);
  EXPECT_EQ(again[1].seq, 5u);
  EXPECT_TRUE(again[0].flags & protocol::kFlagRedelivery);
  EXPECT_EQ(again[1].payload, packet(5, 30));
}

TEST(SpeechBuffer, HostWithNoRecordGetsEverythingUnacknowledgedAgain) {
  SpeechBuffer b({});
  for (uint64_t i = 0; i < 3; ++i) {
    auto p = packet(i, 30);
    b.push(0, 0, p.data(), p.size());
  }
  take_all(b);
  b.on_welcome(std::nullopt);
  std::vector<Sent> again = take_all(b);
  ASSERT_EQ(again.size(), 3u);
  EXPECT_EQ(again[0].seq, 0u);
}

// The node restarted (numbering from 0 again) but the host remembers seq 100: what the node holds
// is renumbered above the host's mark, or the host would drop new speech as duplicates.
TEST(SpeechBuffer, RestartedNodeRenumbersAboveTheHostsHighWaterMark) {
  SpeechBuffer b({});
  for (uint64_t i = 0; i < 3; ++i) {
    auto p = packet(i, 30);
    b.push(0, i, p.data(), p.size());
  }
  b.on_welcome(100);
  std::vector<Sent> sent = take_all(b);
  ASSERT_EQ(sent.size(), 3u);
  for (uint64_t i = 0; i < 3; ++i) {
    EXPECT_EQ(sent[i].seq, 101 + i);
    EXPECT_EQ(sent[i].payload, packet(i, 30));
  }
  auto p = packet(9, 30);
  EXPECT_EQ(b.push(0, 0, p.data(), p.size()), 104u);
}

TEST(SpeechBuffer, FullByFramesDropsTheOldestAndCountsIt) {
  SpeechBuffer b({4, 64 * 1024});
  std::vector<uint64_t> dropped;
  b.set_drop_callback([&](uint64_t seq, uint64_t total) {
    dropped.push_back(seq);
    EXPECT_EQ(total, dropped.size());
  });
  for (uint64_t i = 0; i < 6; ++i) {
    auto p = packet(i, 30);
    b.push(0, 0, p.data(), p.size());
  }
  EXPECT_EQ(dropped, (std::vector<uint64_t>{0, 1}));
  EXPECT_EQ(b.stats().dropped, 2u);
  std::vector<Sent> sent = take_all(b);
  ASSERT_EQ(sent.size(), 4u);
  EXPECT_EQ(sent.front().seq, 2u);
  EXPECT_EQ(sent.back().payload, packet(5, 30));
}

// Payloads of varying size wrap around the byte ring; whatever is kept comes out intact.
TEST(SpeechBuffer, PayloadsSurviveTheByteRingWrappingAround) {
  SpeechBuffer b({1000, 4000});
  std::mt19937 rng(7);
  uint64_t next_expected = 0;
  for (uint64_t i = 0; i < 2000; ++i) {
    const size_t size = 1 + rng() % 400;
    auto p = packet(i, size);
    b.push(0, i, p.data(), p.size());
    if (i % 3 == 2) {
      for (const Sent& s : take_all(b)) {
        ASSERT_GE(s.seq, next_expected);
        EXPECT_EQ(s.payload, packet(s.timestamp, s.payload.size())) << "seq " << s.seq;
        next_expected = s.seq + 1;
        b.ack(s.seq);
      }
    }
  }
  EXPECT_GT(next_expected, 1900u);
}

// The pipeline thread pushes while the link thread sends and acknowledges: every frame once. (The
// buffer holds all of them, so a lagging consumer can never see a drop here.)
TEST(SpeechBuffer, ConcurrentProducerAndConsumerSeeEveryFrameOnceInOrder) {
  constexpr uint64_t kFrames = 20000;
  SpeechBuffer b({kFrames, 4 << 20});
  std::thread producer([&] {
    for (uint64_t i = 0; i < kFrames; ++i) {
      auto p = packet(i, 1 + i % 90);
      b.push(0, i, p.data(), p.size());
    }
  });
  uint64_t expected = 0;
  uint8_t wire[protocol::kMaxAudioFrameSize];
  while (expected < kFrames) {
    size_t n = b.take_next_to_send(wire, sizeof wire);
    if (!n) {
      std::this_thread::yield();
      continue;
    }
    AudioFrameView v;
    ASSERT_EQ(protocol::parse_audio_frame(wire, n, &v), protocol::FrameError::kOk);
    ASSERT_EQ(v.header.seq, expected);
    ASSERT_EQ(v.payload_size, 1 + expected % 90);
    b.ack(expected);
    ++expected;
  }
  producer.join();
  EXPECT_EQ(b.stats().dropped, 0u);
  EXPECT_EQ(b.stats().pending, 0u);
}

}  // namespace
}  // namespace earshot::device
