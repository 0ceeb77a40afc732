"""What the held-out split scripts (bench/vad_heldout2.py to vad_heldout6.py) share: decoding a
recording to 16 kHz mono 16-bit, pocketsphinx's word spans as bench/vad_data.sh labels a clip, the
check that labels cover a recording's speech, laying labelled recordings end to end, writing the
.wav and .words files, streams of noise events and peak normalization. Deterministic: sox runs
with -R (no random dither)."""
import array
import os
import re
import subprocess
import sys
import wave

RATE = 16000
MODEL = "/usr/share/pocketsphinx/model/en-us"
# Laughs and interjections: in a text or a recognition, words the recording does not say as words.
LAUGHS = r"\b(HA|HAH|HEH|AH|AAH|OH|OOH|HMM|HM|UH|UM|UGH)\b"


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


def words_known(text, known):
    """The text as the grammar's words (lower case, punctuation dropped), or None when a word is
    not in pocketsphinx's dictionary."""
    words = re.sub(r"[^a-z' ]", " ", text.lower().replace("\u2019", "'")).split()
    words = [w.strip("'") for w in words if w.strip("'")]
    return " ".join(words) if words and all(w in known for w in words) else None


def longest_unlabelled(y, spans):
    """The longest stretch (seconds) of y's loud 10 ms frames outside every span, gaps under
    100 ms (between syllables) bridged: loud is within 25 dB of its loudest frame, measured on the
    first difference (so hum and rumble count little)."""
    frames = len(y) // 160
    level = [sum((y[i] - y[i - 1]) ** 2 for i in range(max(1, k * 160), (k + 1) * 160)) + 1
             for k in range(frames)]
    loud = max(level) / 10 ** 2.5
    missed = [level[k] >= loud and not any(a <= (k + 0.5) / 100 < b for a, b, _ in spans)
              for k in range(frames)]
    longest, start, last = 0, None, None
    for k in range(frames):
        if not missed[k]:
            continue
        if last is None or k - last > 10:
            start = k
        last = k
        longest = max(longest, last - start + 1)
    return longest / 100


def lay_out(lines, tmp, out, name, rng, enough, pause=(0.3, 0.7), laughs=False,
            fallback=False):
    """Labels each (samples, text) in turn (aligned to the text, or free recognition where it is
    None) and lays the ones whose labels cover their speech end to end with `pause` (0.3-0.7 s) of
    digital silence between them, until `enough(taken, seconds)`; writes name.wav/.words. With
    `laughs`, a recording whose recognised words have a laugh or interjection is left out too; with
    `fallback`, one whose alignment does not cover it is labelled by free recognition instead."""
    x, words, taken, tried, free = [], [], 0, 0, 0
    pad = [0] * (RATE * 3 // 10)  # recordings cut to their first word: aligned with a pause
    for y, text in lines:
        tried += 1
        spans = words_of(pad + y + pad, tmp, text)
        # Said otherwise than its text (or nothing recognised): left out. The alignment can also
        # give its silence speech the text does not have: left out when 300 ms of it is loud.
        if text is not None and fallback and (
                not spans or longest_unlabelled(pad + y + pad, spans) >= 0.3):
            spans = words_of(pad + y + pad, tmp)
            free += 1
        if not spans or longest_unlabelled(pad + y + pad, spans) >= 0.3:
            continue
        # Free recognition hears a laugh ("ha ha") as words: not speech, so left out.
        if laughs and re.search(LAUGHS, " ".join(w for _, _, w in spans).upper()):
            continue
        at = len(x) / RATE - len(pad) / RATE
        words += [(a + at, b + at, w) for a, b, w in spans]
        x += y + [0] * int(RATE * rng.uniform(*pause))
        taken += 1
        if enough(taken, len(x) / RATE):
            break
    write_wav(os.path.join(out, name + ".wav"), x)
    write_words(os.path.join(out, name + ".words"), words)
    print(f"{name}: {taken} of {tried} labelled" + (f" ({free} tried by free recognition)"
                                                     if fallback else "") +
          f", {len(x) / RATE:.1f} s", file=sys.stderr)


def lay_out_halves(found, tmp, out, name, rng, enough, pause=(0.3, 0.7), fallback=False):
    """Shuffles (path, text) pairs in a seeded order and lays each half out as name_1 and name_2
    (lay_out, with its `fallback`), each recording decoded and normalised to -6 dBFS."""
    found.sort()
    rng.shuffle(found)

    def said(chosen):
        for path, text in chosen:
            yield decode(path, tmp, ("norm", "-6")), text

    half = len(found) // 2
    lay_out(said(found[:half]), tmp, out, name + "_1", rng, enough, pause, fallback=fallback)
    lay_out(said(found[half:]), tmp, out, name + "_2", rng, enough, pause, fallback=fallback)


def peak_normalized(x, dbfs=-1.0):
    peak = max(abs(v) for v in x) or 1
    gain = 32767 * 10 ** (dbfs / 20) / peak
    return [round(v * gain) for v in x]


def event_stream(events, rng, gap):
    """One seeded stream of the events with `gap` (seconds, uniform) between them (60 s)."""
    s = []
    while len(s) < 60 * RATE:
        s += rng.choice(events) + [0] * int(RATE * rng.uniform(*gap))
    return s[:60 * RATE]


def events_stream(events, rng):
    """Two seeded streams of the events with 0-1 s between them, overlapped (60 s)."""
    streams = []
    for _ in range(2):
        s = []
        while len(s) < 60 * RATE:
            s += rng.choice(events) + [0] * int(RATE * rng.uniform(0, 1))
        streams.append(s[:60 * RATE])
    return [a + b for a, b in zip(*streams)]
