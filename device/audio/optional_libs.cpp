#include "device/audio/optional_libs.h"

#include <dlfcn.h>

namespace earshot::device {
namespace {

// Resolves every symbol or none: `error` names the first that is missing.
class Library {
 public:
  explicit Library(const char* soname) : soname_(soname) {
    handle_ = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
    if (!handle_) error_ = std::string("cannot load ") + soname + ": " + dlerror();
  }
  template <typename F>
  void get(F* out, const char* name) {
    if (!handle_) return;
    void* p = dlsym(handle_, name);
    if (!p && error_.empty()) error_ = std::string(soname_) + " has no " + name;
    *out = reinterpret_cast<F>(p);
  }
  const std::string& error() const { return error_; }

 private:
  const char* soname_;
  void* handle_ = nullptr;  // never closed: the functions stay in use until exit
  std::string error_;
};

template <typename Api>
struct Loaded {
  Api api{};
  std::string error;
};

}  // namespace

const SndfileApi* sndfile_api(std::string* error) {
  static const Loaded<SndfileApi> loaded = [] {
    Loaded<SndfileApi> l;
    Library lib("libsndfile.so.1");
    lib.get(&l.api.open, "sf_open");
    lib.get(&l.api.close, "sf_close");
    lib.get(&l.api.strerror, "sf_strerror");
    lib.get(&l.api.error, "sf_error");
    lib.get(&l.api.readf_short, "sf_readf_short");
    lib.get(&l.api.writef_short, "sf_writef_short");
    lib.get(&l.api.seek, "sf_seek");
    lib.get(&l.api.command, "sf_command");
    l.error = lib.error();
    return l;
  }();
  if (!loaded.error.empty()) {
    *error = loaded.error;
    return nullptr;
  }
  return &loaded.api;
}

const OpusencApi* opusenc_api(std::string* error) {
  static const Loaded<OpusencApi> loaded = [] {
    Loaded<OpusencApi> l;
    Library lib("libopusenc.so.0");
    lib.get(&l.api.comments_create, "ope_comments_create");
    lib.get(&l.api.comments_add, "ope_comments_add");
    lib.get(&l.api.comments_destroy, "ope_comments_destroy");
    lib.get(&l.api.encoder_create_file, "ope_encoder_create_file");
    lib.get(&l.api.encoder_ctl, "ope_encoder_ctl");
    lib.get(&l.api.encoder_write_float, "ope_encoder_write_float");
    lib.get(&l.api.encoder_drain, "ope_encoder_drain");
    lib.get(&l.api.encoder_destroy, "ope_encoder_destroy");
    lib.get(&l.api.strerror, "ope_strerror");
    l.error = lib.error();
    return l;
  }();
  if (!loaded.error.empty()) {
    *error = loaded.error;
    return nullptr;
  }
  return &loaded.api;
}

}  // namespace earshot::device
