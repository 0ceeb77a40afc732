#include "tests/support/test_audio.h"

#include <gtest/gtest.h>
#include <sndfile.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "tests/support/subprocess.h"

namespace earshot::test {

std::string data_path(const std::string& relative) {
  return std::string(EARSHOT_TEST_DATA_DIR) + "/" + relative;
}

std::string scratch_dir(const std::string& name) {
  std::filesystem::path dir = std::filesystem::path(EARSHOT_BINARY_DIR) / "test-scratch" / name;
  // A run that was killed may have left a filesystem mounted below (the tests' small tmpfs
  // disks): detach it first, or the old files would survive the removal and mislead this run.
  std::ifstream mounts("/proc/mounts");
  const std::string prefix = dir.string() + "/";
  for (std::string device, point, rest; mounts >> device >> point && std::getline(mounts, rest);)
    if (point.rfind(prefix, 0) == 0) umount2(point.c_str(), MNT_DETACH);
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  std::filesystem::create_directories(dir);
  return dir.string();
}

Audio read_audio(const std::string& path) {
  Audio audio;
  SF_INFO info{};
  SNDFILE* f = sf_open(path.c_str(), SFM_READ, &info);
  if (!f) {
    ADD_FAILURE() << "cannot read " << path << ": " << sf_strerror(nullptr);
    return audio;
  }
  audio.sample_rate = info.samplerate;
  audio.channels = info.channels;
  audio.samples.resize(size_t(info.frames) * info.channels);
  sf_count_t got = sf_readf_float(f, audio.samples.data(), info.frames);
  audio.samples.resize(size_t(got) * info.channels);
  sf_close(f);
  return audio;
}

Audio read_raw_s16(const std::string& path, int sample_rate, int channels) {
  Audio audio;
  audio.sample_rate = sample_rate;
  audio.channels = channels;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    ADD_FAILURE() << "cannot read " << path;
    return audio;
  }
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t n = bytes.size() / 2;
  audio.samples.resize(n - n % size_t(channels));
  for (size_t i = 0; i < audio.samples.size(); ++i) {
    int16_t s = int16_t(uint16_t(uint8_t(bytes[2 * i])) | uint16_t(uint8_t(bytes[2 * i + 1])) << 8);
    audio.samples[i] = float(s) / 32768.0f;
  }
  return audio;
}

bool write_wav(const std::string& path, const Audio& audio) {
  SF_INFO info{};
  info.samplerate = audio.sample_rate;
  info.channels = audio.channels;
  info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
  SNDFILE* f = sf_open(path.c_str(), SFM_WRITE, &info);
  if (!f) return false;
  sf_count_t frames = sf_count_t(audio.frames());
  bool ok = sf_writef_float(f, audio.samples.data(), frames) == frames;
  sf_close(f);
  return ok;
}

bool write_raw_s16(const std::string& path, const Audio& audio) {
  std::ofstream out(path, std::ios::binary);
  for (float x : audio.samples) {
    long v = std::lround(std::clamp(x, -1.0f, 1.0f) * 32767.0f);
    char b[2] = {char(v & 0xff), char((v >> 8) & 0xff)};
    out.write(b, 2);
  }
  return bool(out);
}

Audio sox_convert(const Audio& in, int sample_rate, int channels, const std::string& scratch) {
  std::string src = scratch + "/sox_in.wav";
  std::string dst = scratch + "/sox_out.wav";
  if (!write_wav(src, in)) {
    ADD_FAILURE() << "cannot write " << src;
    return {};
  }
  int rc = run_command(
      {"sox", "-D", src, "-r", std::to_string(sample_rate), "-c", std::to_string(channels), dst},
      scratch + "/sox");
  if (rc != 0) {
    ADD_FAILURE() << "sox failed: " << rc;
    return {};
  }
  return read_audio(dst);
}

std::vector<float> to_mono(const Audio& audio) {
  std::vector<float> mono(audio.frames());
  for (size_t i = 0; i < mono.size(); ++i) {
    float sum = 0;
    for (int c = 0; c < audio.channels; ++c)
      sum += audio.samples[i * audio.channels + c];
    mono[i] = sum / float(audio.channels);
  }
  return mono;
}

double rms(const std::vector<float>& x) {
  if (x.empty()) return 0;
  double sum = 0;
  for (float v : x)
    sum += double(v) * v;
  return std::sqrt(sum / double(x.size()));
}

std::vector<float> mix_at_snr(const std::vector<float>& speech, const std::vector<float>& noise,
                              double snr_db) {
  std::vector<float> out(speech);
  if (noise.empty()) return out;
  double ps = rms(speech), pn = rms(noise);
  double gain = pn > 0 ? ps / (pn * std::pow(10.0, snr_db / 20.0)) : 0.0;
  for (size_t i = 0; i < out.size(); ++i)
    out[i] += float(gain * noise[i % noise.size()]);
  return out;
}

Alignment best_alignment(const std::vector<float>& a, const std::vector<float>& b, long max_lag) {
  Alignment best;
  best.correlation = -2;
  for (long lag = -max_lag; lag <= max_lag; ++lag) {
    double ab = 0, aa = 0, bb = 0;
    for (long i = 0; i < long(a.size()); ++i) {
      long j = i + lag;
      if (j < 0 || j >= long(b.size())) continue;
      ab += double(a[i]) * b[j];
      aa += double(a[i]) * a[i];
      bb += double(b[j]) * b[j];
    }
    double c = (aa > 0 && bb > 0) ? ab / std::sqrt(aa * bb) : 0;
    if (c > best.correlation) {
      best.correlation = c;
      best.lag = lag;
    }
  }
  return best;
}

std::vector<std::string> normalized_words(const std::string& text) {
  std::vector<std::string> words;
  std::string word;
  for (char c : text) {
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '\'') {
      word += char(std::tolower(static_cast<unsigned char>(c)));
    } else if (!word.empty()) {
      words.push_back(word);
      word.clear();
    }
  }
  if (!word.empty()) words.push_back(word);
  return words;
}

double word_error_rate(const std::string& reference, const std::string& hypothesis) {
  const std::vector<std::string> r = normalized_words(reference), h = normalized_words(hypothesis);
  if (r.empty()) return h.empty() ? 0.0 : 1.0;
  std::vector<size_t> prev(h.size() + 1), cur(h.size() + 1);
  for (size_t j = 0; j <= h.size(); ++j)
    prev[j] = j;
  for (size_t i = 1; i <= r.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= h.size(); ++j)
      cur[j] =
          std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r[i - 1] == h[j - 1] ? 0 : 1)});
    std::swap(prev, cur);
  }
  return double(prev[h.size()]) / double(r.size());
}

}  // namespace earshot::test
