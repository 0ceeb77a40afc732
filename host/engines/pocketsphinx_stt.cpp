// PocketsphinxStt: a pool of decoders (each loads the model once, ~30 MB); a stream borrows one
// for its utterance and gives it back.
#include <pocketsphinx.h>

#include <algorithm>
#include <mutex>
#include <vector>

#include "host/engines/embedded_engines.h"

namespace earshot::host {
namespace {

constexpr const char* kDefaultModelDir = "/usr/share/pocketsphinx/model/en-us";

class DecoderPool {
 public:
  DecoderPool(std::string model_dir) : dir_(std::move(model_dir)) {}
  ~DecoderPool() {
    for (ps_decoder_t* d : free_)
      ps_free(d);
  }
  ps_decoder_t* take(std::string* error) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!free_.empty()) {
        ps_decoder_t* d = free_.back();
        free_.pop_back();
        return d;
      }
    }
    const std::string hmm = dir_ + "/en-us", lm = dir_ + "/en-us.lm.bin",
                      dict = dir_ + "/cmudict-en-us.dict";
    cmd_ln_t* config = cmd_ln_init(nullptr, ps_args(), TRUE, "-hmm", hmm.c_str(), "-lm", lm.c_str(),
                                   "-dict", dict.c_str(), "-logfn", "/dev/null", nullptr);
    ps_decoder_t* d = config ? ps_init(config) : nullptr;
    if (config) cmd_ln_free_r(config);
    if (!d) *error = "pocketsphinx could not load its model from " + dir_;
    return d;
  }
  void give_back(ps_decoder_t* d) {
    std::lock_guard<std::mutex> lock(mutex_);
    free_.push_back(d);
  }

 private:
  std::string dir_;
  std::mutex mutex_;
  std::vector<ps_decoder_t*> free_;
};

class PocketsphinxStream : public SttStream {
 public:
  PocketsphinxStream(DecoderPool& pool, ps_decoder_t* d, std::string error)
      : pool_(pool), d_(d), error_(std::move(error)) {
    if (d_ && ps_start_utt(d_) < 0) error_ = "pocketsphinx could not start an utterance";
  }
  ~PocketsphinxStream() override {
    if (!d_) return;
    if (!finished_) ps_end_utt(d_);
    pool_.give_back(d_);
  }
  void feed(const float* samples, size_t count) override {
    if (!d_ || !error_.empty()) return;
    int16_t pcm[1600];
    while (count > 0) {
      const size_t n = std::min(count, sizeof pcm / sizeof pcm[0]);
      for (size_t i = 0; i < n; ++i)
        pcm[i] = int16_t(std::clamp(samples[i], -1.0f, 1.0f) * 32767.0f);
      ps_process_raw(d_, pcm, n, FALSE, FALSE);  // incremental: the search runs as audio comes
      samples += n;
      count -= n;
    }
  }
  std::optional<std::string> partial() override {
    if (!d_ || !error_.empty()) return std::nullopt;
    int32 score = 0;
    const char* hyp = ps_get_hyp(d_, &score);
    std::string text = hyp ? hyp : "";
    if (text.empty() || text == last_partial_) return std::nullopt;
    last_partial_ = text;
    return text;
  }
  SttResult finish(const CancelToken&) override {
    SttResult r;
    if (!error_.empty()) {
      r.error = error_;
      return r;
    }
    ps_end_utt(d_);
    finished_ = true;
    int32 score = 0;
    const char* hyp = ps_get_hyp(d_, &score);
    r.ok = true;
    r.text = hyp ? hyp : "";
    r.language = "en";
    return r;
  }

 private:
  DecoderPool& pool_;
  ps_decoder_t* d_;
  std::string error_;
  std::string last_partial_;
  bool finished_ = false;
};

class PocketsphinxStt : public SttEngine {
 public:
  explicit PocketsphinxStt(std::string dir) : pool_(std::move(dir)) {}
  std::string name() const override { return "pocketsphinx(en-us)"; }
  std::unique_ptr<SttStream> start(const std::string&) override {
    std::string error;
    ps_decoder_t* d = pool_.take(&error);
    return std::make_unique<PocketsphinxStream>(pool_, d, error);
  }
  DecoderPool pool_;
};

}  // namespace

std::unique_ptr<SttEngine> make_pocketsphinx_stt(const EngineConfig& config, std::string* error) {
  auto engine = std::make_unique<PocketsphinxStt>(config.model_dir.empty() ? kDefaultModelDir
                                                                           : config.model_dir);
  // Load one decoder now: a missing model is a start-up error, not a first-turn surprise.
  ps_decoder_t* d = engine->pool_.take(error);
  if (!d) return nullptr;
  engine->pool_.give_back(d);
  return engine;
}

}  // namespace earshot::host
