#!/usr/bin/env python3
"""Lays out synthesized voices from Debian's Festival voices as more VAD training material.

The real voices in training are few: the fitting side holds about five minutes of speech, most of
it isolated words. Festival's voices in Debian give twelve more speakers (men, women and a child;
diphone, cluster-unit and HTS voices built from recordings of real people), reading whole
sentences, and Festival knows where each word starts and ends, so the word labels are exact rather
than recognised. Every voice reads the same English sentences (the Italian, Finnish, Catalan,
Russian and Czech voices read them with their own language's sounds: the detector needs speech,
not sense).

Called by bench/vad_data.sh with the unpacked packages' root (festival, libestools2.5, festlex-*,
festvox-*); writes 16 kHz mono 16-bit WAVs and word labels ("start end word" per line, seconds):

  speech/tts_<voice>.wav/.words  ten sentences of one voice, each at a seeded speed (0.85-1.25 of
                                 the voice's own) and level (0, -6, -12 or -18 dB under a -3 dBFS
                                 peak), laid end to end with 0.3-1.0 s of silence; the word spans
                                 are Festival's own (its segments' start and end).

Which voices are validation's is said in bench/vad_fit.cpp (is_validation_clip): ked, hy_fi_mv
and czech_dita, one of each kind of voice the others come from.

Festival is run from the unpacked root: its paths are rewritten to that root, and the init file is
loaded by hand (the binary looks for /usr/share/festival only). Needs sox. Deterministic: the
choices come from a seeded generator and sox runs with -R.
"""
import os
import random
import re
import subprocess
import sys
import wave
import array

RATE = 16000

# (output name, Festival voice)
VOICES = [
    ("kal", "kal_diphone"),            # US English, man (diphone)
    ("ked", "ked_diphone"),            # US English, man (diphone)
    ("slt", "cmu_us_slt_arctic_hts"),  # US English, woman (HTS)
    ("lp", "lp_diphone"),              # Italian, woman
    ("pc", "pc_diphone"),              # Italian, man
    ("ona", "upc_ca_ona_hts"),         # Catalan, woman (HTS)
    ("lj", "suo_fi_lj_diphone"),       # Finnish, woman
    ("mv", "hy_fi_mv_diphone"),        # Finnish, man
    ("nsh", "msu_ru_nsh_clunits"),     # Russian, man (cluster units)
    ("dita", "czech_dita"),            # Czech, woman
    ("krb", "czech_krb"),              # Czech, a boy
    ("machac", "czech_machac"),        # Czech, man
]

SENTENCES = [
    "Could you turn on the kitchen lights, please?",
    "What is the weather going to be like tomorrow morning?",
    "Set a timer for twelve minutes.",
    "Remind me to call my sister after dinner.",
    "How long do I need to boil an egg?",
    "Play some quiet music in the living room.",
    "Turn the heating down by two degrees.",
    "Is the back door locked?",
    "Add milk, bread and apples to the shopping list.",
    "What time does the pharmacy close on Saturday?",
    "Stop. That is enough for now, thank you.",
    "Read me the news headlines.",
    "The train to the city leaves at half past seven.",
    "We walked along the river until the sun went down.",
    "She opened the window and listened to the rain.",
    "My grandfather built this table fifty years ago.",
    "Please wake me up at six thirty tomorrow.",
    "How many cups are in a litre?",
    "Tell me a short story about a fox and a crow.",
    "Lower the blinds in the bedroom.",
    "Which song is playing right now?",
    "Send a message to Anna: I will be late tonight.",
    "The children are already asleep upstairs.",
    "Why is the sky blue in the daytime?",
    "Switch off every light downstairs.",
    "I would like a cup of tea with lemon.",
    "Can you spell the word necessary for me?",
    "The meeting has been moved to Thursday afternoon.",
    "Open the garage door, then close it in five minutes.",
    "What is twenty three times fourteen?",
    "Nobody has watered the plants this week.",
    "Good night. See you in the morning.",
    "Start the washing machine on the short program.",
    "How far is it from here to the nearest beach?",
    "Tomorrow we are going to visit the old castle.",
    "Mute the television for a moment.",
]
PER_VOICE = 10


def festival_script(lib, voice, texts, out_dir, first=0):
    """A Festival batch script that synthesizes `texts` (with their speeds) into out_dir/N.wav,
    N counting from `first`, and prints each word's span as "N start end word"."""
    q = lambda s: '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'
    lines = [
        f"(set! libdir {q(lib)})",
        f"(set! datadir {q(lib)})",
        f"(set! load-path '({q(lib)}))",
        f"(load {q(lib + 'init.scm')})",
        f"(set! voice-path '({q(lib + 'voices/')}))",
        f"(voice_{voice})",
    ]
    for i, (text, stretch) in enumerate(texts, first):
        lines += [
            f"(Parameter.set 'Duration_Stretch {stretch:.3f})",
            f"(set! u (utt.synth (Utterance Text {q(text)})))",
            f"(utt.save.wave u {q(os.path.join(out_dir, f'{i}.wav'))} 'riff)",
            "(mapcar (lambda (w) (format t \"%d %s %s %s\\n\" " + str(i) +
            " (item.feat w \"R:SylStructure.daughter1.daughter1.segment_start\")"
            " (item.feat w \"R:SylStructure.daughtern.daughtern.segment_end\")"
            " (item.name w))) (utt.relation.items u 'Word))",
        ]
    return "\n".join(lines) + "\n"


def read_wav(path):
    with wave.open(path) as w:
        assert w.getframerate() == RATE and w.getnchannels() == 1 and w.getsampwidth() == 2
        return array.array("h", w.readframes(w.getnframes()))


def write_wav(path, samples):
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(array.array("h", samples).tobytes())


def main():
    root, out = sys.argv[1], sys.argv[2]
    lib = os.path.join(os.path.abspath(root), "usr/share/festival") + "/"
    # The voices name their files by absolute path: point them at the unpacked root.
    for d, _, files in os.walk(lib):
        for f in files:
            if f.endswith(".scm"):
                p = os.path.join(d, f)
                with open(p, encoding="latin-1") as fh:
                    s = fh.read()
                fixed = re.sub(r'"/usr/share/festival/', '"' + lib, s)  # once: lib is absolute
                if fixed != s:
                    with open(p, "w", encoding="latin-1") as fh:
                        fh.write(fixed)
    env = dict(os.environ, LD_LIBRARY_PATH=os.path.join(os.path.abspath(root),
                                                        "usr/lib/x86_64-linux-gnu"))
    festival = os.path.join(root, "usr/bin/festival")
    os.makedirs(os.path.join(out, "speech"), exist_ok=True)
    rng = random.Random(20261201)
    for name, voice in VOICES:
        tmp = os.path.join(out, "tmp_" + name)
        os.makedirs(tmp, exist_ok=True)
        # One Festival run per sentence: a voice that cannot say one (the Italian man fails on a
        # few) skips it for the next in its seeded order.
        texts, spans = [], {}
        for text in rng.sample(SENTENCES, len(SENTENCES)):
            if len(texts) == PER_VOICE:
                break
            i = len(texts)
            stretch = rng.uniform(0.85, 1.25)
            script = os.path.join(tmp, f"{i}.scm")
            with open(script, "w") as fh:
                fh.write(festival_script(lib, voice, [(text, stretch)], tmp, i))
            run = subprocess.run([festival, "-b", script], env=env, capture_output=True,
                                 text=True)
            got = []
            for line in run.stdout.splitlines():
                parts = line.split()
                if len(parts) == 4 and parts[0] == str(i):
                    got.append((float(parts[1]), float(parts[2]), parts[3]))
            if run.returncode != 0 or not got:
                print(f"tts_{name}: cannot say {text!r}, skipped")
                continue
            texts.append((text, stretch))
            spans[i] = got
        samples, words = [], []
        for i in range(len(texts)):
            src = os.path.join(tmp, f"{i}.wav")
            res = os.path.join(tmp, f"{i}_16k.wav")
            gain = -3 - 6 * (i % 4)  # peak at -3, -9, -15, -21 dBFS
            subprocess.run(["sox", "-R", src, "-r", str(RATE), "-c", "1", "-b", "16", res,
                            "norm", str(gain)], check=True)
            pause = int(RATE * rng.uniform(0.3, 1.0))
            samples.extend([0] * pause)
            start = len(samples) / RATE
            samples.extend(read_wav(res))
            assert i in spans, f"{voice}: no words for sentence {i}"
            for a, b, w in spans[i]:
                if b > a:
                    words.append((start + a, start + b, w))
        samples.extend([0] * int(RATE * 0.5))
        base = os.path.join(out, "speech", "tts_" + name)
        write_wav(base + ".wav", samples)
        with open(base + ".words", "w") as fh:
            for a, b, w in words:
                fh.write(f"{a:.3f} {b:.3f} {w}\n")
        print(f"tts_{name}: {len(samples) / RATE:.1f} s, {len(words)} words")


if __name__ == "__main__":
    main()
