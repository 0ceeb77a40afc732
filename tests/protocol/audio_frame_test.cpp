// Binary audio frames: exact byte layout, round trip, every error, and sequence tracking.
#include "protocol/audio_frame.h"

#include <gtest/gtest.h>

#include <vector>

#include "protocol/sequence_tracker.h"

namespace earshot::protocol {
namespace {

TEST(AudioFrame, ByteLayoutIsBigEndianAsDocumented) {
  AudioFrameHeader h;
  h.stream = Stream::kReply;
  h.flags = kFlagSegmentStart | kFlagPreRoll;
  h.seq = 0x0102030405060708ull;
  h.timestamp = 0x1112131415161718ull;
  const uint8_t payload[] = {0xAA, 0xBB, 0xCC};
  uint8_t out[64];
  ASSERT_EQ(write_audio_frame(h, payload, 3, out, sizeof out), 23u);
  const std::vector<uint8_t> expected = {1,    1,    0x00, 0x09, 1,    2,    3,    4,
                                         5,    6,    7,    8,    0x11, 0x12, 0x13, 0x14,
                                         0x15, 0x16, 0x17, 0x18, 0xAA, 0xBB, 0xCC};
  EXPECT_EQ(std::vector<uint8_t>(out, out + 23), expected);
}

TEST(AudioFrame, RoundTrips) {
  AudioFrameHeader h{Stream::kMicrophone, kFlagSegmentEnd | kFlagRedelivery, 42, 13440};
  std::vector<uint8_t> payload(kMaxOpusPacket, 7);
  std::vector<uint8_t> out(kMaxAudioFrameSize);
  const size_t n = write_audio_frame(h, payload.data(), payload.size(), out.data(), out.size());
  ASSERT_EQ(n, kMaxAudioFrameSize);
  AudioFrameView v;
  ASSERT_EQ(parse_audio_frame(out.data(), n, &v), FrameError::kOk);
  EXPECT_EQ(v.header.stream, Stream::kMicrophone);
  EXPECT_EQ(v.header.flags, h.flags);
  EXPECT_EQ(v.header.seq, 42u);
  EXPECT_EQ(v.header.timestamp, 13440u);
  EXPECT_EQ(v.payload_size, kMaxOpusPacket);
  EXPECT_EQ(v.payload, out.data() + kAudioHeaderSize);
}

TEST(AudioFrame, ParserRejectsEveryMalformedFrame) {
  uint8_t frame[kAudioHeaderSize + 2] = {1, 0, 0, 0};
  AudioFrameView v;
  EXPECT_EQ(parse_audio_frame(frame, kAudioHeaderSize, &v), FrameError::kTooShort);
  EXPECT_EQ(parse_audio_frame(frame, 3, &v), FrameError::kTooShort);
  EXPECT_EQ(parse_audio_frame(nullptr, 0, &v), FrameError::kTooShort);
  EXPECT_EQ(parse_audio_frame(frame, sizeof frame, &v), FrameError::kOk);
  frame[0] = 2;
  EXPECT_EQ(parse_audio_frame(frame, sizeof frame, &v), FrameError::kBadVersion);
  frame[0] = 1;
  frame[1] = 9;
  EXPECT_EQ(parse_audio_frame(frame, sizeof frame, &v), FrameError::kBadStream);
  frame[1] = 0;
  frame[3] = 0x80;
  EXPECT_EQ(parse_audio_frame(frame, sizeof frame, &v), FrameError::kUnknownFlags);
  frame[3] = 0;
  std::vector<uint8_t> big(kMaxAudioFrameSize + 1, 0);
  big[0] = 1;
  EXPECT_EQ(parse_audio_frame(big.data(), big.size(), &v), FrameError::kOversized);
  EXPECT_STRNE(to_string(FrameError::kOversized), "");
}

TEST(AudioFrame, WriterRefusesWhatCannotBeSent) {
  uint8_t payload[4] = {};
  uint8_t out[16];
  FrameError e;
  EXPECT_EQ(write_audio_frame({}, payload, 4, out, sizeof out, &e), 0u);
  EXPECT_EQ(e, FrameError::kBufferTooSmall);
  uint8_t big_out[64];
  EXPECT_EQ(write_audio_frame({}, payload, 0, big_out, sizeof big_out, &e), 0u);
  EXPECT_EQ(e, FrameError::kEmptyPayload);
  AudioFrameHeader bad;
  bad.flags = 0x100;
  EXPECT_EQ(write_audio_frame(bad, payload, 4, big_out, sizeof big_out, &e), 0u);
  EXPECT_EQ(e, FrameError::kUnknownFlags);
}

TEST(SequenceTracker, AcceptsInOrderDropsDuplicatesCountsGaps) {
  SequenceTracker t;
  EXPECT_EQ(t.accept(0), SeqVerdict::kNext);
  EXPECT_EQ(t.accept(1), SeqVerdict::kNext);
  EXPECT_EQ(t.accept(1), SeqVerdict::kDuplicate);
  EXPECT_EQ(t.accept(0), SeqVerdict::kDuplicate);
  EXPECT_EQ(t.accept(5), SeqVerdict::kGap);
  EXPECT_EQ(t.lost(), 3u);
  EXPECT_EQ(t.duplicates(), 2u);
  EXPECT_EQ(t.expected(), 6u);
}

TEST(SequenceTracker, ResumesFromAHighWaterMarkAfterReconnect) {
  SequenceTracker t(99);  // the host had stored up to 99 before the link dropped
  EXPECT_EQ(t.accept(98), SeqVerdict::kDuplicate);  // redelivered: already stored
  EXPECT_EQ(t.accept(99), SeqVerdict::kDuplicate);
  EXPECT_EQ(t.accept(100), SeqVerdict::kNext);
  EXPECT_EQ(t.lost(), 0u);
}

}  // namespace
}  // namespace earshot::protocol
