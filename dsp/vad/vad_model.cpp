// The shipped VAD model's weights (see docs/vad.md): the logistic regression over the first seven
// features that the detector has shipped with since c83fe9a (no hidden units in use, nothing on
// the newer features or the stacked frames). bench/vad_fit --final ... --write writes a fitted
// network here; the candidate fitted for issue 10 is bench/vad_models/candidate_hiss_e4.cpp, not
// shipped (docs/benchmarks.md says why).
#include "dsp/vad/voice_activity_detector.h"

namespace earshot::dsp {

const VadModel kVadModel = {
    {}, {}, {}, {0.949f, 0.291f, 2.264f, -0.001f, 10.793f, 0.230f, -0.582f}, -5.164f,
};

}  // namespace earshot::dsp
