#!/usr/bin/env python3
"""Lays out a training noise of real music in many styles, singing among them, from Debian packages.

The detector false-alarms most on music it never heard (0.915 at recall 0.90, 10 dB, on one
held-out soundtrack), and training had only a synthesized tune and one orchestral soundtrack
(Wesnoth's). This noise gives it short excerpts of many styles and producers, and sung phrases
over backing loops (the hardest music for a detector of speech). None of its packages or
recordings is in a held-out split (their packages start with a-l or are listed in
tests/data/SOURCES), nor in the other training noises.

Called by bench/vad_data.sh with the unpacked packages' root; writes music_more.wav (16 kHz mono
16-bit, 120 s), which the script keeps as train_music_more.flac:

  29 excerpts of 3.5-5 s (20 in the first 70 %, 9 in the last 30 %) laid end to end with 100 ms
  crossfades, the kinds in a seeded order (no kind twice in a row); a track's excerpt starts a
  seeded 15-90 s into it, a file shorter than 30 s (a loop or a one-shot) is repeated from its
  start to the excerpt's length; each excerpt is brought to -23 dBFS RMS, or less where that
  would put its peak over -3 dBFS. A "vocals" excerpt is a backing (a loop, or once a band's
  track) at -6 to -14 dB under sung phrases laid one after another (0.1-0.5 s apart, each at -4
  to 0 dB, all peak-normalized first, the last cut at the excerpt's end).

Every kind is in both the first 70 % and the last 30 % (bench/vad_fit.cpp validates on the last
30 % of each noise), and the last 30 % hears only tracks, loops and phrases the first 70 % does
not, so validation also hears recordings fitting never did. The join at 70 % is a 20 ms fade out
and in, so no excerpt crosses it.

Kinds (first 70 % | last 30 %; package: files):
  electronic  nexuiz-music (music.pk3 sound/cdtracks/): brainsukker (elysis), digital-pursuit
              (Parapraxis); pushover-data: electro | nexuiz-music: beast-of-insanity (Braden
              Walters)
  rock        nexuiz-music: brokenlight, sixtyfour_revisited (blkrbt; dense distorted chords
              over a drum kit) | ninesix (blkrbt)
  chiptune    powermanga-data (sound/handheld_console/): music_game, music_menu |
              music_congratulations
  acoustic    sonic-pi-samples: guit_em9 (a strummed guitar), ambi_piano (a piano); pushover-data:
              japanese (plucked strings) | pushover-data: castle (plucked strings)
  band        planetblupi-music-ogg: music000, music004 | music007 (lively drum-kit tracks)
  ambient     singularity-music: Awakening, Coherence (pads) | pushover-data: space (pads)
  drums       sonic-pi-samples: loop_amen_full (a break), loop_tabla | loop_safari
  vocals      scratch (Media/Sounds/Vocals/): Singer1, Sing-me-a-song, Got-inspiration,
              Hey-yay-hey, Come-and-play, Doy-doy-doy, Join-us, Ya over scratch (Music Loops/):
              HumanBeatbox1, HipHop, GuitarChords1 and planetblupi-music-ogg: music001 |
              scratch: Singer2, Oooo-badada and sonic-pi-samples: ambi_choir over scratch:
              Garden, HumanBeatbox2 (all sung: Scratch's are a singer's phrases with words or
              scat syllables, ambi_choir a choir's held "ah")
Each part lays each listed track or backing loop once (the vocals' phrases as many times as
fill their excerpts).

Needs sox with its MP3 format (libsox-fmt-mp3: Scratch's phrases and loops are MP3s). Deterministic:
the choices come from a seeded generator and sox runs with -R.
"""
import math
import os
import random
import subprocess
import sys
import zipfile

from vad_split_audio import RATE, decode, split_dirs, write_wav

NEXUIZ = "usr/share/games/nexuiz/data/music.pk3"  # a zip; its members are "pk3:" paths below
NEX = "pk3:sound/cdtracks/"
PUSH = "usr/share/pushover/themes/"
PM = "usr/share/games/powermanga/sound/handheld_console/"
SPI = "usr/share/sonic-pi/samples/"
BLUPI = "usr/share/planetblupi/music/"
SING = "usr/share/games/singularity/music/"
SCR = "usr/share/scratch/Media/Sounds/"
LOOPS = SCR + "Music Loops/"
VOCALS = SCR + "Vocals/"

# kind -> (the first 70 %'s files, the last 30 %'s files); each part has one excerpt per file.
KINDS = {
    "electronic": ([NEX + "brainsukker.ogg", NEX + "digital-pursuit.ogg", PUSH + "electro.ogg"],
                   [NEX + "beast-of-insanity.ogg"]),
    "rock": ([NEX + "brokenlight.ogg", NEX + "sixtyfour_revisited.ogg"], [NEX + "ninesix.ogg"]),
    "chiptune": ([PM + "music_game.ogg", PM + "music_menu.ogg"],
                 [PM + "music_congratulations.ogg"]),
    "acoustic": ([SPI + "guit_em9.flac", SPI + "ambi_piano.flac", PUSH + "japanese.ogg"],
                 [PUSH + "castle.ogg"]),
    "band": ([BLUPI + "music000.ogg", BLUPI + "music004.ogg"], [BLUPI + "music007.ogg"]),
    "ambient": ([SING + "Awakening.ogg", SING + "Coherence.ogg"], [PUSH + "space.ogg"]),
    "drums": ([SPI + "loop_amen_full.flac", SPI + "loop_tabla.flac"], [SPI + "loop_safari.flac"]),
    # The backing loops; the phrases sung over them are PHRASES'.
    "vocals": ([LOOPS + "HumanBeatbox1.mp3", LOOPS + "HipHop.mp3", LOOPS + "GuitarChords1.mp3",
                BLUPI + "music001.ogg"], [LOOPS + "Garden.mp3", LOOPS + "HumanBeatbox2.mp3"]),
}
PHRASES = ([VOCALS + f for f in ("Singer1.wav", "Sing-me-a-song.mp3", "Got-inspiration.mp3",
                                 "Hey-yay-hey.mp3", "Come-and-play.mp3", "Doy-doy-doy.mp3",
                                 "Join-us.mp3", "Ya.wav")],
           [VOCALS + "Singer2.wav", VOCALS + "Oooo-badada.mp3", SPI + "ambi_choir.flac"])
SECONDS = 120
LOOP = 30.0  # files shorter than this are loops (or one-shots), repeated from their start
XFADE = RATE // 10  # 100 ms crossfades between excerpts
FADE = RATE // 50  # 20 ms fades at the start, the end and the 70 % join
RMS, PEAK = 10 ** (-23 / 20), 10 ** (-3 / 20)


class Source:
    """Decodes the packages' files: plain paths under the root, "pk3:" members of Nexuiz's zip."""

    def __init__(self, root, tmp):
        self.root, self.tmp = root, tmp
        self.pk3 = zipfile.ZipFile(os.path.join(root, NEXUIZ))

    def path(self, rel):
        if not rel.startswith("pk3:"):
            return os.path.join(self.root, rel)
        out = os.path.join(self.tmp, "track.ogg")
        with open(out, "wb") as f:
            f.write(self.pk3.read(rel[len("pk3:"):]))
        return out

    def samples(self, rel, effects=()):
        """The file's samples at 16 kHz mono as floats (-R: no random dither)."""
        return [v / 32768 for v in decode(self.path(rel), self.tmp, effects)]

    def excerpt(self, rel, n, rng):
        """n samples of the file: from a seeded 15-90 s in, or a short file repeated from 0."""
        path = self.path(rel)
        seconds = float(subprocess.run(["soxi", "-D", path], check=True, capture_output=True,
                                       text=True).stdout)
        if seconds < LOOP:
            x = [v / 32768 for v in decode(path, self.tmp)]
            return [x[i % len(x)] for i in range(n)], 0.0
        at = round(rng.uniform(15, min(90, seconds - n / RATE - 5)), 2)
        x = [v / 32768 for v in decode(path, self.tmp, ("trim", f"{at:.2f}", f"{n / RATE:.4f}"))]
        return (x + [0.0] * n)[:n], at


def vocals(src, backing, phrases, queue, n, rng):
    """A backing (loop or track) at -6 to -14 dB under sung phrases laid one after another (each
    at -4 to 0 dB, 0.1-0.5 s apart, cut at the excerpt's end). The phrases come from `queue`, which
    the part's vocal excerpts share: all of them in a seeded order before any comes again."""
    x, _ = src.excerpt(backing, n, rng)
    peak = max(abs(v) for v in x) or 1.0
    g = 10 ** (rng.uniform(-14, -6) / 20) / peak
    x = [v * g for v in x]
    t, sung = int(rng.uniform(0, 0.4) * RATE), []
    while t < n:
        if not queue:
            queue.extend(phrases)
            rng.shuffle(queue)
        f = queue.pop()
        y = src.samples(f, ("norm", "-1"))
        g = 10 ** (rng.uniform(-4, 0) / 20)
        for i in range(min(len(y), n - t)):
            x[t + i] += g * y[i]
        sung.append(os.path.basename(f))
        t += len(y) + int(rng.uniform(0.1, 0.5) * RATE)
    return x, sung


def levelled(x):
    """x at -23 dBFS RMS, or quieter where that would put its peak over -3 dBFS."""
    rms = (sum(v * v for v in x) / len(x)) ** 0.5
    peak = max(abs(v) for v in x)
    if rms == 0:
        return x
    g = min(RMS / rms, PEAK / peak)
    return [v * g for v in x]


def order_of(kinds, rng):
    """The kinds in a seeded order with no kind twice in a row."""
    while True:
        order = list(kinds)
        rng.shuffle(order)
        if all(a != b for a, b in zip(order, order[1:])):
            return order


def part(src, files, phrases, n, rng, log):
    """n samples of excerpts, one per (kind, file) in `files`, in a seeded order with no kind
    twice in a row; lengths seeded and scaled to fill n with 100 ms crossfades between them."""
    kinds = [k for k in sorted(files) for _ in files[k]]
    order = order_of(kinds, rng)
    queues = {k: rng.sample(files[k], len(files[k])) for k in files}
    weights = [rng.uniform(0.85, 1.15) for _ in order]
    bounds = [0]
    for w in weights:
        bounds.append(bounds[-1] + w)
    bounds = [round(b / bounds[-1] * n) for b in bounds]
    out, queue = [0.0] * n, []
    for i, kind in enumerate(order):
        # The excerpt spans its slot plus half a crossfade either side (not past the part's ends).
        a = max(0, bounds[i] - XFADE // 2)
        b = min(n, bounds[i + 1] + XFADE // 2)
        f = queues[kind].pop()
        if kind == "vocals":
            x, sung = vocals(src, f, phrases, queue, b - a, rng)
            what = f"{os.path.basename(f)} under {', '.join(sung)}"
        else:
            x, at = src.excerpt(f, b - a, rng)
            what = f"{os.path.basename(f)} from {at:.2f} s"
        x = levelled(x)
        rms = 10 * math.log10(sum(v * v for v in x) / len(x) or 1e-12)
        fade_in = FADE if i == 0 else XFADE
        fade_out = FADE if i == len(order) - 1 else XFADE
        for j in range(fade_in):
            x[j] *= j / fade_in
        for j in range(fade_out):
            x[-1 - j] *= j / fade_out
        for j, v in enumerate(x):
            out[a + j] += v
        log.append((kind, (bounds[i + 1] - bounds[i]) / RATE, f"{what}, {rms:.1f} dBFS RMS"))
    return out


def main():
    root, out, _, tmp = split_dirs(sys.argv)
    rng = random.Random(20261204)
    src = Source(root, tmp)
    n = SECONDS * RATE
    cut = n * 7 // 10  # bench/vad_fit.cpp's cut
    x = []
    for name, pick, m in (("first 70 %", 0, cut), ("last 30 %", 1, n - cut)):
        log = []
        files = {k: v[pick] for k, v in KINDS.items()}
        x += part(src, files, PHRASES[pick], m, rng, log)
        for kind, seconds, what in log:
            print(f"  {kind:10s} {seconds:4.1f} s  {what}", file=sys.stderr)
        kinds = sorted({k for k, _, _ in log})
        print(f"{name}: " + ", ".join(
            f"{k} {sum(s for kk, s, _ in log if kk == k):.1f} s" for k in kinds), file=sys.stderr)
    write_wav(os.path.join(out, "music_more.wav"), [v * 32767 for v in x])
    print(f"music_more: {SECONDS} s", file=sys.stderr)


if __name__ == "__main__":
    main()
