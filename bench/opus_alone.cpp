// Opus alone: encodes a 16 kHz mono file in 20 ms frames with exactly the node's encoder settings
// (dsp::OpusFrameEncoder defaults: VOIP, in-band FEC). The yardstick for the node's whole-pipeline
// cost (bench/node_bench.sh runs both under callgrind).
//   build/release/bench/opus_alone FILE.wav
#include <sndfile.h>

#include <cstdio>
#include <string>
#include <vector>

#include "dsp/opus_frame_encoder.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: opus_alone FILE.wav (16 kHz mono)\n");
    return 2;
  }
  SF_INFO info{};
  SNDFILE* f = sf_open(argv[1], SFM_READ, &info);
  if (!f || info.samplerate != 16000 || info.channels != 1) {
    fprintf(stderr, "opus_alone: need a readable 16 kHz mono file\n");
    return 1;
  }
  std::string error;
  auto encoder = earshot::dsp::OpusFrameEncoder::create({}, &error);
  if (!encoder) {
    fprintf(stderr, "opus_alone: %s\n", error.c_str());
    return 1;
  }
  float pcm[320];
  unsigned char packet[1500];
  size_t frames = 0, bytes = 0;
  while (sf_readf_float(f, pcm, 320) == 320) {
    const int n = encoder->encode(pcm, packet, sizeof packet);
    if (n > 0) bytes += size_t(n), ++frames;
  }
  sf_close(f);
  printf("%zu frames, %zu bytes\n", frames, bytes);
  return 0;
}
