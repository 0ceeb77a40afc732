#!/usr/bin/env python3
"""Lays out a training noise of real household and everyday sounds from Debian packages.

On held-out material the detector false-alarms most on household and impulsive sounds (taps,
doors, toaster clunks, doorbells, cutlery), which training barely had (one kitchen recording).
This noise gives it many short, distinct ones. None of its packages or recordings is in a held-out
split (their packages start with a-l or are listed in tests/data/SOURCES).

Called by bench/vad_data.sh with the unpacked packages' root; writes household.wav (16 kHz mono
16-bit, 90 s, peak-normalized to -3 dBFS), which the script keeps as train_household.flac:

  a main stream of events (one recording, or a walk of 4-9 footsteps, or 2-4 knocks) 0.2-1.5 s
  apart, each at -2 to -20 dB from its peak-normalized level; a second, sparser stream (1-4 s apart,
  -8 to -26 dB) laid over it, so events also overlap; under both a quiet room tone (seeded brown-ish
  noise about 60 dB under the peak). Long recordings (running water, alarms) give 1.5-4 s excerpts.

Every kind of sound is in both the first 70 % and the last 30 % (bench/vad_fit.cpp validates on
the last 30 % of each noise); in a kind with three or more recordings every third one is heard in
the last 30 % only, so validation also hears recordings fitting never did.

Kinds (package: files):
  door      minetest-data (minetest_game): doors_{door,glass_door,steel_door,fencegate}_{open,close},
            xpanes_steel_bar_door_{open,close}
  cupboard  minetest-data: default_chest_{open,close}
  steps     minetest-data: default_{wood,hard,metal,gravel}_footstep.N (as walks on one floor;
            the hard floor in the last 30 % only)
  knock     pychess: move1, mov2, capture1, capture2, castle (pieces on a wooden board); xboard:
            woodthunk; pokerth-data: check (a knock on the table); minetest-data:
            default_dig_choppy.N (as 2-4 knocks)
  clink     minetest-data: default_glass_footstep, default_break_glass.N, default_dug_metal.N,
            default_place_node_metal.N, default_tool_breaks.N; pingus-data: chink, ting;
            sound-icons: glass-water-1; pokerth-data: bet, raise, allin, call (chips)
  thud      minetest-data: default_place_node.N, default_place_node_hard.N, default_dug_node.N,
            default_dig_cracky.N; xboard: slap; pingus-data: plop, plop2
  water     minetest-data: env_sounds_water.N (running water), default_water_footstep.N
            (splashes); pingus-data: splash; minetest-mod-xdecor: xdecor_boiling_water
  paper     pokerth-data: dealtwocards, fold (cards); sound-theme-freedesktop: trash-empty
  click     minetest-mod-mesecons: mesecons_button_{push,pop}, mesecons_switch, mesecons_lever,
            piston_{extend,retract}; sound-theme-freedesktop: camera-shutter; minetest-data:
            fire_flint_and_steel (a lighter); pingus-data: tick; xboard: pop2
  ring      sound-theme-freedesktop: phone-incoming-call, phone-outgoing-calling,
            phone-outgoing-busy, bell, alarm-clock-elapsed; xboard: phone, ding1; pychess: alarm
  beep      sound-theme-freedesktop: message, message-new-instant, complete, dialog-information,
            device-added, device-removed, audio-volume-change, suspend-error
  rolling   minetest-data: carts_cart_moving.N (a trolley)
No file has a voice (the packages' spoken, sung or shouted files are not among them).

Needs sox. Deterministic: the choices come from a seeded generator and sox runs with -R.
"""
import os
import random
import sys

from vad_split_audio import RATE, decode, split_dirs, write_wav

MTG = "usr/share/games/minetest/games/minetest_game/mods/"
MESECONS = "usr/share/games/minetest/mods/mesecons/"
FD = "usr/share/sounds/freedesktop/stereo/"
XBOARD = "usr/share/games/xboard/sounds/"
PYCHESS = "usr/share/pychess/sounds/"
POKERTH = "usr/share/games/pokerth/sounds/default/"
PINGUS = "usr/share/games/pingus/data/sounds/"
ICONS = "usr/share/sounds/sound-icons/"


def numbered(path, n):
    return [f"{path}.{i}.ogg" for i in range(1, n + 1)]


KINDS = {
    "door": [MTG + f"doors/sounds/doors_{d}_{a}.ogg"
             for d in ("door", "glass_door", "steel_door", "fencegate") for a in ("open", "close")]
            + [MTG + f"xpanes/sounds/xpanes_steel_bar_door_{a}.ogg" for a in ("open", "close")],
    "cupboard": [MTG + "default/sounds/default_chest_open.ogg",
                 MTG + "default/sounds/default_chest_close.ogg"],
    "knock": [PYCHESS + f + ".ogg" for f in ("move1", "mov2", "capture1", "capture2", "castle")]
             + [XBOARD + "woodthunk.wav", POKERTH + "check.wav"]
             + numbered(MTG + "default/sounds/default_dig_choppy", 3),
    "clink": [MTG + "default/sounds/default_glass_footstep.ogg"]
             + numbered(MTG + "default/sounds/default_break_glass", 3)
             + numbered(MTG + "default/sounds/default_dug_metal", 2)
             + numbered(MTG + "default/sounds/default_place_node_metal", 2)
             + numbered(MTG + "default/sounds/default_tool_breaks", 3)
             + [PINGUS + "chink.wav", PINGUS + "ting.wav", ICONS + "glass-water-1.wav"]
             + [POKERTH + f + ".wav" for f in ("bet", "raise", "allin", "call")],
    "thud": numbered(MTG + "default/sounds/default_place_node", 3)
            + numbered(MTG + "default/sounds/default_place_node_hard", 2)
            + numbered(MTG + "default/sounds/default_dug_node", 2)
            + numbered(MTG + "default/sounds/default_dig_cracky", 3)
            + [XBOARD + "slap.wav", PINGUS + "plop.wav", PINGUS + "plop2.wav"],
    "water": numbered(MTG + "env_sounds/sounds/env_sounds_water", 4)
             + numbered(MTG + "default/sounds/default_water_footstep", 3)
             + [PINGUS + "splash.wav",
                "usr/share/games/minetest/mods/xdecor/sounds/xdecor_boiling_water.ogg"],
    "paper": [POKERTH + "dealtwocards.wav", POKERTH + "fold.wav", FD + "trash-empty.oga"],
    "click": [MESECONS + "mesecons_button/sounds/mesecons_button_push.ogg",
              MESECONS + "mesecons_button/sounds/mesecons_button_pop.ogg",
              MESECONS + "mesecons_switch/sounds/mesecons_switch.ogg",
              MESECONS + "mesecons_walllever/sounds/mesecons_lever.ogg",
              MESECONS + "mesecons_pistons/sounds/piston_extend.ogg",
              MESECONS + "mesecons_pistons/sounds/piston_retract.ogg",
              FD + "camera-shutter.oga", MTG + "fire/sounds/fire_flint_and_steel.ogg",
              PINGUS + "tick.wav", XBOARD + "pop2.wav"],
    "ring": [FD + f + ".oga" for f in ("phone-incoming-call", "phone-outgoing-calling",
                                       "phone-outgoing-busy", "bell", "alarm-clock-elapsed")]
            + [XBOARD + "phone.wav", XBOARD + "ding1.wav", PYCHESS + "alarm.ogg"],
    "beep": [FD + f + ".oga" for f in ("message", "message-new-instant", "complete",
                                       "dialog-information", "device-added", "device-removed",
                                       "audio-volume-change", "suspend-error")],
    "rolling": numbered(MTG + "carts/sounds/carts_cart_moving", 3),
}
STEPS = {floor: numbered(MTG + f"default/sounds/default_{floor}_footstep", n)
         for floor, n in (("wood", 2), ("hard", 3), ("metal", 3), ("gravel", 4))}
SECONDS, FIT_SHARE = 90, 0.7
LONG = 4.0  # recordings longer than this give 1.5-4 s excerpts
FADE = RATE // 50  # 20 ms fades on excerpts


def load(root, tmp, rel):
    """The recording at 16 kHz mono as floats, peak-normalized to -1 dBFS (-R: no random dither)."""
    return [v / 32768 for v in decode(os.path.join(root, rel), tmp, ("norm", "-1"))]


def excerpt(x, rng):
    if len(x) <= LONG * RATE:
        return x
    n = int(rng.uniform(1.5, LONG) * RATE)
    at = rng.randrange(len(x) - n)
    y = x[at:at + n]
    for i in range(FADE):
        y[i] *= i / FADE
        y[-1 - i] *= i / FADE
    return y


def event(kind, pool, clips, rng):
    """One event of `kind` from `pool` (its files for this part): a clip, or a walk or knocks."""
    if kind == "steps":
        files = pool[rng.choice(sorted(pool))]
        out, t = [], 0.0
        for _ in range(rng.randint(4, 9)):
            g = 10 ** (rng.uniform(-2, 0) / 20)
            out.append((int(t * RATE), [v * g for v in clips[rng.choice(files)]]))
            t += rng.uniform(0.45, 0.65)
        return out
    f = rng.choice(pool)
    if kind == "knock":
        out, t = [], 0.0
        for _ in range(rng.randint(2, 4)):
            out.append((int(t * RATE), clips[f]))
            t += rng.uniform(0.15, 0.3)
        return out
    return [(0, excerpt(list(clips[f]), rng))]


def split_pools():
    """(fit, validation) files per kind: every third recording of a kind with three or more is
    for the last 30 % only; the other kinds' recordings are in both."""
    fit, val = {}, {}
    kinds = dict(KINDS, steps=STEPS)
    for kind, files in kinds.items():
        if kind == "steps":  # floors, not files: the hard floor is heard in validation only
            fit[kind] = {f: v for f, v in files.items() if f != "hard"}
            val[kind] = {"hard": files["hard"]}
        elif len(files) >= 3:
            fit[kind] = [f for i, f in enumerate(files) if i % 3 != 2]
            val[kind] = [f for i, f in enumerate(files) if i % 3 == 2]
        else:
            fit[kind] = val[kind] = list(files)
    return fit, val


def stream(pools, clips, rng, start, end, gaps, levels, x, heard):
    """Adds events to x from `start` to `end` (samples), `gaps` seconds apart, at `levels` dB;
    every kind once in a shuffled round before any comes again. Adds each kind's samples to
    `heard`."""
    t, order = start + int(rng.uniform(*gaps) * RATE), []
    while t < end:
        if not order:
            order = sorted(pools)
            rng.shuffle(order)
        kind = order.pop()
        g = 10 ** (rng.uniform(*levels) / 20)
        last = t
        for at, y in event(kind, pools[kind], clips, rng):
            n = min(len(y), end - (t + at))
            for i in range(max(0, n)):
                x[t + at + i] += g * y[i]
            last = max(last, t + at + n)
            heard[kind] = heard.get(kind, 0) + max(0, n)
        t = last + int(rng.uniform(*gaps) * RATE)


def room_tone(rng, n):
    """A quiet, seeded brown-ish noise (white noise through a one-pole low-pass, its DC removed)."""
    y, lp, hp_in, hp = [], 0.0, 0.0, 0.0
    for _ in range(n):
        lp = 0.97 * lp + 0.03 * rng.gauss(0, 1)
        hp = 0.995 * (hp + lp - hp_in)
        hp_in = lp
        y.append(hp)
    peak = max(abs(v) for v in y)
    return [v * 10 ** (-55 / 20) / peak for v in y]


def main():
    root, out, _, tmp = split_dirs(sys.argv)
    rng = random.Random(20261203)
    fit, val = split_pools()
    files = sorted({f for pools in (fit, val) for k, v in pools.items()
                    for f in (sum(v.values(), []) if k == "steps" else v)})
    clips = {f: load(root, tmp, f) for f in files}
    n = SECONDS * RATE
    cut = int(n * FIT_SHARE)
    x = room_tone(rng, n)
    for part, pools, a, b in (("first 70 %", fit, 0, cut), ("last 30 %", val, cut, n)):
        heard = {}
        stream(pools, clips, rng, a, b, (0.2, 1.5), (-20, -2), x, heard)
        stream(pools, clips, rng, a, b, (1.0, 4.0), (-26, -8), x, heard)
        print(f"{part}: " + ", ".join(f"{k} {heard[k] / RATE:.1f} s" for k in sorted(heard)),
              file=sys.stderr)
    peak = max(abs(v) for v in x)
    write_wav(os.path.join(out, "household.wav"), [v * 32767 * 10 ** (-3 / 20) / peak for v in x])
    print(f"household: {len(files)} recordings, {SECONDS} s", file=sys.stderr)


if __name__ == "__main__":
    main()
