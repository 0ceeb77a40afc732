// The shipped VAD model's weights (see docs/vad.md): the logistic regression over the first seven
// features that the detector has shipped with since c83fe9a (no hidden units in use, nothing on
// the newer features, the delta or the leaky average: delta_frames and leak are 0).
// bench/vad_fit --final ... --write writes a fitted network here; the candidates fitted for issue
// 10 are in bench/vad_models/, not shipped (docs/benchmarks.md says why).
#include "dsp/vad/voice_activity_detector.h"

namespace earshot::dsp {

const VadModel kVadModel = {
    {}, {}, {}, {0.949f, 0.291f, 2.264f, -0.001f, 10.793f, 0.230f, -0.582f}, -5.164f,
};

}  // namespace earshot::dsp
