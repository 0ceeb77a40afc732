// Audio helpers for tests: read and write files, compare signals. Tests only; allocates freely.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace earshot::test {

// Absolute path of a file under tests/data, e.g. data_path("whisper.cpp/jfk.wav").
std::string data_path(const std::string& relative);

// A fresh, empty directory under the build tree for this test (removed only by the next run).
std::string scratch_dir(const std::string& name);

struct Audio {
  int sample_rate = 0;
  int channels = 0;
  std::vector<float> samples;  // interleaved, [-1, 1]
  size_t frames() const { return channels ? samples.size() / channels : 0; }
  double seconds() const { return sample_rate ? double(frames()) / sample_rate : 0.0; }
};

// Reads any file libsndfile reads (WAV, FLAC, ...). Fails the current test (ADD_FAILURE) and
// returns an empty Audio if it cannot.
Audio read_audio(const std::string& path);
// Reads headerless signed 16-bit little-endian PCM.
Audio read_raw_s16(const std::string& path, int sample_rate, int channels);
// Writes 16-bit WAV. Returns false on failure.
bool write_wav(const std::string& path, const Audio& audio);
// Writes headerless signed 16-bit little-endian PCM.
bool write_raw_s16(const std::string& path, const Audio& audio);

// Converts with sox (the Debian command-line tool) — the reference resampler tests compare with.
Audio sox_convert(const Audio& in, int sample_rate, int channels, const std::string& scratch);

// Mono mixdown by averaging channels.
std::vector<float> to_mono(const Audio& audio);

// Mixes `noise` (looped) into `speech` so that the speech/noise power ratio is `snr_db`.
std::vector<float> mix_at_snr(const std::vector<float>& speech, const std::vector<float>& noise,
                              double snr_db);

struct Alignment {
  double correlation = 0;  // normalized cross-correlation at the best lag, in [-1, 1]
  long lag = 0;            // samples: b[i + lag] best matches a[i]
};
// Best normalized correlation of b against a for lags in [-max_lag, max_lag].
Alignment best_alignment(const std::vector<float>& a, const std::vector<float>& b, long max_lag);

double rms(const std::vector<float>& x);

// Word error rate of `hypothesis` against `reference`: (substitutions + deletions + insertions) /
// reference words, after lower-casing and dropping punctuation.
double word_error_rate(const std::string& reference, const std::string& hypothesis);
std::vector<std::string> normalized_words(const std::string& text);

}  // namespace earshot::test
