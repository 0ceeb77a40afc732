#include "tests/support/speech/speech_check.h"

#include <algorithm>

#include "dsp/opus_frame_decoder.h"
#include "dsp/resampler.h"
#include "host/engines/sentence_splitter.h"

namespace earshot::test {

std::vector<float> to_16k_mono(const Audio& audio) {
  std::vector<float> mono = to_mono(audio);
  if (audio.sample_rate == 16000) return mono;
  std::string error;
  auto rs = dsp::Resampler::create(audio.sample_rate, 16000, mono.size(), &error);
  std::vector<float> out(rs->max_output_frames() * 2 + 64);
  size_t n = rs->process(mono.data(), mono.size(), out.data(), out.size());
  while (size_t m = rs->flush(out.data() + n, out.size() - n))
    n += m;
  out.resize(n);
  return out;
}

std::string recognise(host::SttEngine& stt, const std::vector<float>& pcm16k) {
  auto stream = stt.start("en");
  for (size_t i = 0; i < pcm16k.size(); i += 320)
    stream->feed(&pcm16k[i], std::min<size_t>(320, pcm16k.size() - i));
  return stream->finish(host::CancelToken()).text;
}

Audio synthesise_like_the_bridge(host::TtsEngine& tts, const std::vector<std::string>& replies) {
  Audio out;
  out.channels = 1;
  auto say = [&](std::string sentence) {
    tts.synthesize(
        sentence, "",
        [&](const float* samples, size_t count, int rate) {
          out.sample_rate = rate;
          out.samples.insert(out.samples.end(), samples, samples + count);
          return true;
        },
        host::CancelToken());
  };
  for (const std::string& reply : replies) {
    host::SentenceSplitter splitter({});
    splitter.push(reply, say);
    splitter.finish(say);
  }
  return out;
}

Audio through_opus(const Audio& audio, const dsp::OpusEncoderSettings& settings, int decode_rate) {
  Audio out;
  out.sample_rate = decode_rate;
  out.channels = 1;
  std::string error;
  auto encoder = dsp::OpusFrameEncoder::create(settings, &error);
  auto decoder = dsp::OpusFrameDecoder::create(decode_rate, 1, &error);
  if (!encoder || !decoder) return out;
  std::vector<float> pcm = to_16k_mono(audio);
  const size_t frame = size_t(encoder->frame_samples());
  pcm.resize((pcm.size() + frame - 1) / frame * frame, 0.0f);
  std::vector<uint8_t> packet(4000);
  std::vector<float> decoded(size_t(decode_rate) / 50 * 6);
  for (size_t i = 0; i < pcm.size(); i += frame) {
    const int size = encoder->encode(&pcm[i], packet.data(), packet.size());
    if (size < 0) return out;
    const int n = decoder->decode(packet.data(), size_t(size), decoded.data(), decoded.size());
    if (n > 0) out.samples.insert(out.samples.end(), decoded.begin(), decoded.begin() + n);
  }
  return out;
}

}  // namespace earshot::test
