// JitterBuffer: reply packets come out in sequence order however they arrived; gaps, duplicates,
// late and far-ahead packets are told apart and counted.
#include "device/playback/jitter_buffer.h"

#include <gtest/gtest.h>

namespace earshot::device {
namespace {

bool insert(JitterBuffer& j, uint64_t seq) {
  uint8_t p[4] = {uint8_t(seq), 1, 2, 3};
  return j.insert(seq, p, 1 + seq % 4);
}

TEST(JitterBuffer, ReordersPacketsBySequence) {
  JitterBuffer j(16, 100);
  for (uint64_t s : {2, 0, 3, 1})
    EXPECT_TRUE(insert(j, s));
  EXPECT_EQ(j.depth(), 4u);
  EXPECT_EQ(j.highest(), 3u);
  uint8_t out[100];
  size_t size = 0;
  for (uint64_t s = 0; s < 4; ++s) {
    ASSERT_EQ(j.pop(s, out, &size), JitterBuffer::Next::kPacket);
    EXPECT_EQ(out[0], uint8_t(s));
    EXPECT_EQ(size, 1 + s % 4);
  }
  EXPECT_EQ(j.pop(4, out, &size), JitterBuffer::Next::kEmpty);
}

TEST(JitterBuffer, AGapIsMissingWhileLaterPacketsWaitAndPeekSeesTheNextForFec) {
  JitterBuffer j(16, 100);
  insert(j, 0);
  insert(j, 2);
  uint8_t out[100];
  size_t size = 0;
  EXPECT_EQ(j.pop(0, out, &size), JitterBuffer::Next::kPacket);
  EXPECT_FALSE(j.has(1));
  EXPECT_TRUE(j.peek(2, out, &size));
  EXPECT_EQ(out[0], 2);
  EXPECT_EQ(j.pop(1, out, &size), JitterBuffer::Next::kMissing);
  EXPECT_EQ(j.pop(2, out, &size), JitterBuffer::Next::kPacket);
}

TEST(JitterBuffer, DuplicatesLateAndFarAheadPacketsAreRefusedAndCounted) {
  JitterBuffer j(8, 100);
  EXPECT_TRUE(insert(j, 0));
  EXPECT_FALSE(insert(j, 0));
  EXPECT_EQ(j.duplicates(), 1u);
  uint8_t out[100];
  size_t size = 0;
  j.pop(0, out, &size);
  EXPECT_FALSE(insert(j, 0));  // its turn has passed
  EXPECT_EQ(j.late(), 1u);
  EXPECT_FALSE(insert(j, 9));  // beyond the 8 slots ahead of what plays next
  EXPECT_EQ(j.overflow(), 1u);
  uint8_t big[200] = {};
  EXPECT_FALSE(j.insert(3, big, sizeof big));  // larger than any Opus packet we accept
  EXPECT_FALSE(j.insert(3, big, 0));
  EXPECT_EQ(j.depth(), 0u);
}

TEST(JitterBuffer, SkippingAheadDiscardsOlderPacketsAndClearStartsAfresh) {
  JitterBuffer j(16, 100);
  for (uint64_t s = 0; s < 5; ++s)
    insert(j, s);
  uint8_t out[100];
  size_t size = 0;
  EXPECT_EQ(j.pop(3, out, &size), JitterBuffer::Next::kPacket);
  EXPECT_EQ(j.depth(), 1u);
  j.clear();
  EXPECT_EQ(j.depth(), 0u);
  EXPECT_TRUE(insert(j, 0));  // a new reply numbers from 0 again
}

}  // namespace
}  // namespace earshot::device
