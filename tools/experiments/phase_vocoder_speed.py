"""Milliseconds per stretched vocal crop on one CPU thread: librosa's phase vocoder (what the CPU data path used before)
against `frame_transformer.augment.phase_vocoder`, alone and inside `pitch_stretch` (soxr, then the phase vocoder), on the
campaign's crops (nbs/09b_augment.ipynb, 15_training_bench):

    python tools/experiments/phase_vocoder_speed.py [--seconds 3] [--repeats 30] [--out results/phase_vocoder_speed.json]

The ways alternate within each round, so that a drift of the machine touches all of them; the median round is reported.
Run it alone.
"""
import argparse, json, sys, time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]

def ways(wave, rate, semitones, sr):
    "name -> a function doing one stretch of `wave` (stereo float32) the way it names."
    import librosa
    from frame_transformer.audio import resample
    from frame_transformer.augment import phase_vocoder, pitch_stretch
    n = round(wave.shape[1]/rate)
    factor = 2**(semitones/12)
    def librosa_pitch_stretch():
        w = resample(wave, sr*factor, sr)
        return librosa.effects.time_stretch(w, rate=rate/factor, n_fft=1024, hop_length=256)
    return {'librosa time_stretch': lambda: librosa.effects.time_stretch(wave, rate=rate, n_fft=1024, hop_length=256),
            'phase_vocoder (torch)': lambda: phase_vocoder(torch.from_numpy(wave)[None], [rate], n),
            'soxr + librosa time_stretch': librosa_pitch_stretch,
            'pitch_stretch (soxr + phase_vocoder)': lambda: pitch_stretch(wave, semitones, rate, sr)}

def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--seconds', type=float, default=3., help='length of the stretched crop')
    parser.add_argument('--rate', type=float, default=1.1)
    parser.add_argument('--semitones', type=float, default=1.5)
    parser.add_argument('--repeats', type=int, default=30)
    parser.add_argument('--out', help='write the table to this JSON file')
    a = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from frame_transformer.device import describe_hardware
    torch.set_num_threads(1)
    sr = 44100
    rng = np.random.default_rng(0)
    wave = (0.1*rng.standard_normal((2, int(a.seconds*sr*a.rate)))).astype(np.float32)
    fns = ways(wave, a.rate, a.semitones, sr)
    for f in fns.values(): f()                                # first calls (numba, FFT plans): not timed
    times = {name: [] for name in fns}
    for _ in range(a.repeats):
        for name, f in fns.items():
            start = time.perf_counter(); f(); times[name].append(1000*(time.perf_counter() - start))
    ms = {name: float(np.median(t)) for name, t in times.items()}
    base = {'phase_vocoder (torch)': 'librosa time_stretch', 'pitch_stretch (soxr + phase_vocoder)': 'soxr + librosa time_stretch'}
    rows = [dict(way=name, ms=round(m, 1), speedup=round(ms[base[name]]/m, 2) if name in base else 1.0) for name, m in ms.items()]
    print(f"{a.seconds:g} s stereo crops, rate {a.rate}, {a.semitones:+g} semitones, 1 thread, median of {a.repeats}")
    for r in rows: print(f"{r['way']:40s} {r['ms']:7.1f} ms  x{r['speedup']:.2f}")
    if a.out:
        Path(a.out).write_text(json.dumps(dict(what=f'milliseconds per {a.seconds:g}-second stereo crop stretched by {a.rate} '
                                               f'({a.semitones:+g} semitones for pitch_stretch), median of {a.repeats} alternating rounds',
                                               command='python tools/experiments/phase_vocoder_speed.py --out results/phase_vocoder_speed.json',
                                               hardware=describe_hardware(), threads=1, rows=rows), indent=1) + '\n')

if __name__ == '__main__': main()
