// libsndfile and libopusenc, loaded the first time they are needed.
//
// A node capturing from ALSA and playing to ALSA uses neither: they serve the file source, the WAV
// sink and --record (debugging, tests, demos). Linked normally they would be mapped into every node
// anyway, with the codec libraries libsndfile pulls in (FLAC, Vorbis, MP3) and a second, shared
// libopus — about 1.2 MB of resident memory on a board that runs for months. Loading them with
// dlopen() on first use keeps that out of the appliance. Thread-safe; a library that cannot be
// loaded gives a clear error and nothing else.
#pragma once

#include <opus/opusenc.h>
#include <sndfile.h>

#include <string>

namespace earshot::device {

struct SndfileApi {
  SNDFILE* (*open)(const char* path, int mode, SF_INFO* info);
  int (*close)(SNDFILE* file);
  const char* (*strerror)(SNDFILE* file);
  int (*error)(SNDFILE* file);
  sf_count_t (*readf_short)(SNDFILE* file, short* ptr, sf_count_t frames);
  sf_count_t (*writef_short)(SNDFILE* file, const short* ptr, sf_count_t frames);
  sf_count_t (*seek)(SNDFILE* file, sf_count_t frames, int whence);
  int (*command)(SNDFILE* file, int command, void* data, int datasize);
};

struct OpusencApi {
  OggOpusComments* (*comments_create)();
  int (*comments_add)(OggOpusComments* comments, const char* tag, const char* value);
  void (*comments_destroy)(OggOpusComments* comments);
  OggOpusEnc* (*encoder_create_file)(const char* path, OggOpusComments* comments, opus_int32 rate,
                                     int channels, int family, int* error);
  int (*encoder_ctl)(OggOpusEnc* enc, int request, ...);
  int (*encoder_write_float)(OggOpusEnc* enc, const float* pcm, int samples_per_channel);
  int (*encoder_drain)(OggOpusEnc* enc);
  void (*encoder_destroy)(OggOpusEnc* enc);
  const char* (*strerror)(int error);
};

// The library's functions, or nullptr with `*error` saying what could not be loaded.
const SndfileApi* sndfile_api(std::string* error);
const OpusencApi* opusenc_api(std::string* error);

}  // namespace earshot::device
