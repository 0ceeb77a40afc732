#include "device/audio/optional_libs.h"

#include <dlfcn.h>

#include <utility>

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

// Loads `soname` once per API and resolves its functions with `bind(lib, api)`.
template <typename Api, typename Bind>
const Api* load_once(const char* soname, Bind bind, std::string* error) {
  static const std::pair<Api, std::string> loaded = [&] {
    Api api{};
    Library lib(soname);
    bind(lib, api);
    return std::make_pair(api, lib.error());
  }();
  if (!loaded.second.empty()) {
    *error = loaded.second;
    return nullptr;
  }
  return &loaded.first;
}

}  // namespace

const SndfileApi* sndfile_api(std::string* error) {
  return load_once<SndfileApi>(
      "libsndfile.so.1",
      [](Library& lib, SndfileApi& a) {
        lib.get(&a.open, "sf_open");
        lib.get(&a.close, "sf_close");
        lib.get(&a.strerror, "sf_strerror");
        lib.get(&a.error, "sf_error");
        lib.get(&a.readf_short, "sf_readf_short");
        lib.get(&a.writef_short, "sf_writef_short");
        lib.get(&a.seek, "sf_seek");
        lib.get(&a.command, "sf_command");
      },
      error);
}

const OpusencApi* opusenc_api(std::string* error) {
  return load_once<OpusencApi>(
      "libopusenc.so.0",
      [](Library& lib, OpusencApi& a) {
        lib.get(&a.comments_create, "ope_comments_create");
        lib.get(&a.comments_add, "ope_comments_add");
        lib.get(&a.comments_destroy, "ope_comments_destroy");
        lib.get(&a.encoder_create_file, "ope_encoder_create_file");
        lib.get(&a.encoder_ctl, "ope_encoder_ctl");
        lib.get(&a.encoder_write_float, "ope_encoder_write_float");
        lib.get(&a.encoder_drain, "ope_encoder_drain");
        lib.get(&a.encoder_destroy, "ope_encoder_destroy");
        lib.get(&a.strerror, "ope_strerror");
      },
      error);
}

}  // namespace earshot::device
