// Opus at the pipeline's settings: speech survives a round trip, FEC rebuilds a lost packet better
// than concealment, and a corrupt packet is an error, not a crash.
#include <gtest/gtest.h>

#include "dsp/opus_frame_decoder.h"
#include "dsp/opus_frame_encoder.h"
#include "tests/support/test_audio.h"

namespace earshot::dsp {
namespace {

struct Coded {
  std::vector<std::vector<uint8_t>> packets;
};

Coded encode(const std::vector<float>& pcm) {
  std::string err;
  auto enc = OpusFrameEncoder::create({}, &err);
  Coded c;
  uint8_t buf[1500];
  for (size_t i = 0; i + 320 <= pcm.size(); i += 320) {
    const int n = enc->encode(pcm.data() + i, buf, sizeof buf);
    EXPECT_GT(n, 0);
    c.packets.emplace_back(buf, buf + n);
  }
  return c;
}

double error_energy(const std::vector<float>& a, const std::vector<float>& b, size_t from,
                    size_t n) {
  double e = 0;
  for (size_t i = from; i < from + n && i < a.size() && i < b.size(); ++i)
    e += (a[i] - b[i]) * (a[i] - b[i]);
  return e;
}

TEST(Opus, SpeechRoundTripCorrelates) {
  test::Audio jfk = test::read_audio(test::data_path("whisper.cpp/jfk.wav"));
  Coded c = encode(jfk.samples);
  std::string err;
  auto dec = OpusFrameDecoder::create(16000, 1, &err);
  std::vector<float> out;
  float frame[320];
  for (auto& p : c.packets) {
    ASSERT_EQ(dec->decode(p.data(), p.size(), frame, 320), 320);
    out.insert(out.end(), frame, frame + 320);
  }
  test::Alignment al = test::best_alignment(jfk.samples, out, 400);
  EXPECT_GT(al.correlation, 0.9);
  size_t bytes = 0;
  for (auto& p : c.packets)
    bytes += p.size();
  // About the 32 kbit/s asked for (VBR: within 20 %).
  const double bitrate = double(bytes) * 8 / jfk.seconds();
  EXPECT_GT(bitrate, 32000.0 * 0.8);
  EXPECT_LT(bitrate, 32000.0 * 1.2);
}

TEST(Opus, FecRebuildsALostPacketBetterThanConcealment) {
  test::Audio jfk = test::read_audio(test::data_path("whisper.cpp/jfk.wav"));
  Coded c = encode(jfk.samples);
  std::string err;
  float frame[320];
  const size_t lost = 60;  // a frame in the middle of speech
  std::vector<float> with_fec, with_plc, clean;
  auto d1 = OpusFrameDecoder::create(16000, 1, &err);
  auto d2 = OpusFrameDecoder::create(16000, 1, &err);
  auto d3 = OpusFrameDecoder::create(16000, 1, &err);
  for (size_t i = 0; i < 120; ++i) {
    auto& p = c.packets[i];
    d3->decode(p.data(), p.size(), frame, 320);
    clean.insert(clean.end(), frame, frame + 320);
    if (i == lost) {
      auto& next = c.packets[i + 1];
      ASSERT_EQ(d1->decode_fec(next.data(), next.size(), frame, 320), 320);
      with_fec.insert(with_fec.end(), frame, frame + 320);
      ASSERT_EQ(d2->conceal(frame, 320), 320);
      with_plc.insert(with_plc.end(), frame, frame + 320);
      continue;
    }
    d1->decode(p.data(), p.size(), frame, 320);
    with_fec.insert(with_fec.end(), frame, frame + 320);
    d2->decode(p.data(), p.size(), frame, 320);
    with_plc.insert(with_plc.end(), frame, frame + 320);
  }
  const double e_fec = error_energy(clean, with_fec, lost * 320, 320);
  const double e_plc = error_energy(clean, with_plc, lost * 320, 320);
  EXPECT_LT(e_fec, e_plc);
}

TEST(Opus, CorruptPacketIsAnErrorNotACrash) {
  std::string err;
  auto dec = OpusFrameDecoder::create(16000, 1, &err);
  float frame[5760];
  // TOC byte claiming a code-3 packet with an impossible frame count.
  const uint8_t garbage[] = {0xFF, 0xFF, 0xFF, 0xFF, 0x00};
  EXPECT_LT(dec->decode(garbage, sizeof garbage, frame, 5760), 0);
  EXPECT_LT(dec->decode(nullptr, 0, frame, 5760), 0);
}

}  // namespace
}  // namespace earshot::dsp
