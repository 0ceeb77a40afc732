// Speech checks for end-to-end tests: what a client heard, recognised again with the bridge's own
// embedded recogniser, and the baseline it is held to — the same words synthesised the way the
// bridge synthesises them and recognised without the bridge, its codecs or the client between.
// pocketsphinx reading flite back is far from perfect and its error rate depends on the words, so a
// fixed bound on a reply that repeats what was heard is either loose or flaky; a baseline from the
// same run is neither.
#pragma once

#include <string>
#include <vector>

#include "dsp/opus_frame_encoder.h"
#include "host/engines/engines.h"
#include "tests/support/test_audio.h"

namespace earshot::test {

// Mono, resampled to 16 kHz (speexdsp through dsp::Resampler) if it is at another rate.
std::vector<float> to_16k_mono(const Audio& audio);

// The text `stt` recognises in 16 kHz mono audio, fed in 20 ms pieces as a stream would be.
std::string recognise(host::SttEngine& stt, const std::vector<float>& pcm16k);

// Each reply split into sentences as the bridge's responder splits them (SentenceSplitter with
// its default first clause), each sentence synthesised by `tts` with its default voice; one after
// the other, at the engine's rate.
Audio synthesise_like_the_bridge(host::TtsEngine& tts, const std::vector<std::string>& replies);

// `audio` sent as a door sends it: resampled to 16 kHz, Opus-encoded in 20 ms packets with
// `settings`, and decoded at `decode_rate` as the client decodes it (a browser's WebCodecs
// decodes at 48 kHz). The tail that does not fill a packet is padded with silence.
Audio through_opus(const Audio& audio, const dsp::OpusEncoderSettings& settings, int decode_rate);

}  // namespace earshot::test
