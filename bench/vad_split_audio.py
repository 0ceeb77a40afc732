"""What the held-out split scripts (bench/vad_heldout2.py, bench/vad_heldout3.py) share: decoding
a recording to 16 kHz mono 16-bit, pocketsphinx's word spans as bench/vad_data.sh labels a clip,
and writing the .wav and .words files. Deterministic: sox runs with -R (no random dither)."""
import array
import os
import re
import subprocess
import wave

RATE = 16000
MODEL = "/usr/share/pocketsphinx/model/en-us"


def decode(path, tmp, effects=(), informat=()):
    """The recording's samples at RATE, mono, 16-bit; `informat` are sox's input options (for
    headerless files), `effects` its effects."""
    out = os.path.join(tmp, "clip.wav")
    subprocess.run(["sox", "-R", *informat, path, "-r", str(RATE), "-c", "1", "-b", "16", out,
                    *effects], check=True, stderr=subprocess.DEVNULL)
    with wave.open(out) as w:
        return list(array.array("h", w.readframes(w.getnframes())))


def words_of(samples, tmp, text=None):
    """pocketsphinx's word spans [(start, end, word)] in seconds, as bench/vad_data.sh labels a
    clip: forced alignment to `text` (a JSGF grammar of exactly its words) or, without text, free
    recognition. Empty when the grammar cannot cover the recording (it says something else)."""
    wav = os.path.join(tmp, "align.wav")
    write_wav(wav, samples)
    args = ["pocketsphinx_continuous", "-infile", wav, "-time", "yes", "-logfn", "/dev/null",
            "-hmm", MODEL + "/en-us", "-dict", MODEL + "/cmudict-en-us.dict"]
    if text is not None:
        gram = os.path.join(tmp, "clip.gram")
        with open(gram, "w") as f:
            f.write(f"#JSGF V1.0;\ngrammar clip;\npublic <clip> = {text};\n")
        args += ["-jsgf", gram]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    spans = []
    for line in out.splitlines():
        # Word lines are "word start end score"; the hypothesis line is the words alone, and has
        # four fields too when it has four words.
        f = line.split()
        if (len(f) == 4 and f[0] not in ("<s>", "</s>", "<sil>", "[NOISE]")
                and re.fullmatch(r"[0-9.]+", f[1]) and re.fullmatch(r"[0-9.]+", f[2])):
            spans.append((float(f[1]), float(f[2]) + 0.01, re.sub(r"\(\d+\)$", "", f[0])))
    return spans


def write_words(path, spans, offset=0.0):
    with open(path, "w") as f:
        for a, b, w in spans:
            f.write(f"{a + offset:.2f} {b + offset:.2f} {w}\n")


def write_wav(path, x):
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(array.array("h", (max(-32768, min(32767, int(v))) for v in x)).tobytes())


def dictionary_words():
    """The words pocketsphinx's dictionary knows: a text can be aligned only if all are among them."""
    with open(MODEL + "/cmudict-en-us.dict", encoding="utf-8") as f:
        return {line.split()[0] for line in f}


def split_dirs(argv):
    """A split script's arguments (the unpacked packages' root, the output directory) and the
    directories it writes to, made: (root, out, speech, tmp)."""
    root, out = argv[1], argv[2]
    speech, tmp = os.path.join(out, "speech"), os.path.join(out, "tmp")
    os.makedirs(speech, exist_ok=True)
    os.makedirs(tmp, exist_ok=True)
    return root, out, speech, tmp
