#!/usr/bin/env python
"""Train a phase predictor on voxaug mixtures and measure it on a test set; writes results/phase.json.

    python tools/experiments/phase.py --corpus CORPUS --testset TESTSET --out OUT [--epochs 4 --epoch-length 1024 --bs 4 --crop 64]
    python tools/experiments/phase.py --corpus CORPUS --testset TESTSET --out OUT --checkpoint OUT/phase   # measure an existing predictor
    python tools/experiments/phase.py --corpus CORPUS --testset TESTSET --out OUT --train-only             # train, no measurement
    python tools/experiments/phase.py --corpus CORPUS --testset TESTSET --out OUT --checkpoint OUT/phase --maps-only   # the phase maps only

CORPUS holds audio/{train,valid}/{instrumental,vocals}; TESTSET holds song folders with mixture/instrumental/vocals.
The stems of every test song are rebuilt with (a) the mixture's phase, (b) the predicted phase, (c) the true phase,
with the bundled vocal remover's magnitudes (mask x |mixture|, on the separator's window grid) and with the true
magnitudes; scored by whole-track SDR (mean over songs) and museval median SDR (median over songs). The phase error
(radians, weighted by the true stem magnitude) is summed over all model bins of all songs.
"""
import argparse, json, os, shlex, sys, time, warnings
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]


def hardware(device=None):
    from frame_transformer.device import describe_hardware
    return describe_hardware(device)


def train(a):
    "Train a predictor as the options say: the `PhaseRunConfig` fields the options name (the device is the best available)."
    from dataclasses import fields
    from frame_transformer.phase_train import train_phase_predictor, PhaseRunConfig
    corpus = Path(a.corpus)/'audio'
    command = 'python tools/experiments/phase.py ' + ' '.join(shlex.quote(x) for x in sys.argv[1:])
    run = PhaseRunConfig(**{f.name: getattr(a, f.name) for f in fields(PhaseRunConfig) if hasattr(a, f.name)})
    train_phase_predictor(corpus/'train'/'instrumental', corpus/'train'/'vocals', run, show_progress=sys.stdout.isatty(),
                          valid_sources=(corpus/'valid'/'instrumental', corpus/'valid'/'vocals'),
                          meta=dict(command=command, hardware=hardware()))
    return Path(a.out)/'phase'


def draw_maps(true, mixture, predicted, name, path):
    "Phase maps of 128 bins x 128 frames (from a third into the song) of one channel, saved as JPEG."
    import matplotlib; matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from frame_transformer.phase import show_phase_maps
    start = true.shape[-1]//3
    axs = show_phase_maps(true, mixture, predicted, bins=slice(0, 128), frames=slice(start, start + 128),
                          title=f"{name} vocals (left channel), phase predicted from the vocal remover's magnitudes")
    fig = axs.flat[0].figure
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=72, pil_kwargs={'quality': 80}); plt.close(fig)


def maps_only(a, checkpoint):
    "Only the phase-map picture of the first test song (the same computation as in `measure`)."
    from frame_transformer.audio import split_nyquist
    from frame_transformer.phase import load_phase_model, predict_phase
    from frame_transformer.streaming import windowed
    from frame_transformer.separate import load_separation_model
    from frame_transformer.evaluate import find_test_songs, read_test_song
    predictor = load_phase_model(checkpoint)
    remover, config = load_separation_model(a.remover)
    song = find_test_songs(a.testset)[0]
    mixture, _, vocals = (torch.from_numpy(np.pad(w, ((0, 0), (0, config.n_fft//2)))) for w in read_test_song(song))
    bins = split_nyquist(config.stft(mixture))[0]
    scale = bins.abs().max()
    with torch.no_grad(): mask = windowed(lambda b: remover(b.abs()), bins.abs()/scale, config.crop_frames).clamp(0, 1)
    predicted = predict_phase(predictor, (1 - mask)*bins.abs()/scale, bins/scale, a.phase_crop)
    draw_maps(split_nyquist(config.stft(vocals))[0][0], bins[0], predicted[0], song['name'], a.maps)


def measure(a, checkpoint):
    from frame_transformer.audio import split_nyquist, join_nyquist
    from frame_transformer.phase import load_phase_model, predict_phase, unit, show_phase_maps
    from frame_transformer.streaming import windowed
    from frame_transformer.separate import load_separation_model
    from frame_transformer.evaluate import find_test_songs, read_test_song, whole_track_sdr, museval_sdr
    device = a.device or 'cpu'
    predictor = load_phase_model(checkpoint, device)
    remover, config = load_separation_model(a.remover)
    remover = remover.to(device).eval()
    if (config.n_fft, config.hop_length) != (predictor.config.n_fft, predictor.config.hop_length):
        raise SystemExit("the vocal remover and the phase predictor use different spectrograms")
    stft = config.stft
    songs = find_test_songs(a.testset)[:a.songs]
    rows, errors, per_song = {}, {}, []
    maps_done = False
    started = time.time()
    for song in songs:
        mixture, instrumental, vocals = read_test_song(song)
        if a.seconds: mixture, instrumental, vocals = (w[:, :int(a.seconds*config.sample_rate)] for w in (mixture, instrumental, vocals))
        n, half = mixture.shape[1], config.n_fft//2
        # frames run half a window past the end, as in the separator: at the very end of a centred STFT the summed
        # squared window is ~1e-5, and the inverse of a spectrogram whose phase was changed blows up there
        padded = lambda w: torch.from_numpy(np.pad(w, ((0, 0), (0, half))))
        spec = stft(padded(mixture)).to(device)
        bins, nyquist = split_nyquist(spec)
        scale = bins.abs().max().clamp_min(1e-8)
        with torch.no_grad():
            mask = windowed(lambda b: remover(b.abs()), bins.abs()/scale, config.crop_frames).clamp(0, 1)
        true = {'instrumental': stft(padded(instrumental)).to(device), 'vocals': stft(padded(vocals)).to(device)}
        refs = {'instrumental': instrumental, 'vocals': vocals}
        magnitudes = {'vocal remover': {'instrumental': mask*bins.abs(), 'vocals': (1 - mask)*bins.abs()},
                      'true': {s: split_nyquist(t)[0].abs() for s, t in true.items()}}
        nyquists = {'vocal remover': {'instrumental': mask[:, -1:]*nyquist, 'vocals': (1 - mask[:, -1:])*nyquist},
                    'true': {s: split_nyquist(t)[1] for s, t in true.items()}}
        record = {'song': song['name']}
        for mags, stems in magnitudes.items():
            for stem, magnitude in stems.items():
                true_bins = split_nyquist(true[stem])[0]
                phases = {'(a) mixture': unit(bins), '(c) true (oracle)': unit(true_bins),
                          '(b) predicted': predict_phase(predictor, magnitude/scale, bins/scale, a.phase_crop)}
                weight = true_bins.abs()
                for name in ('(a) mixture', '(b) predicted'):
                    error = (phases[name]/phases['(c) true (oracle)']).angle().abs()
                    e = errors.setdefault((mags, stem, name), [0., 0.])
                    e[0] += float((weight*error).sum()); e[1] += float(weight.sum())
                for name, phase in phases.items():
                    wave = stft.inverse(join_nyquist(magnitude*phase, nyquists[mags][stem]), length=n + half)[:, :n].cpu().numpy()
                    record[f'{mags}|{name}|{stem}|whole'] = whole_track_sdr(refs[stem], wave)
                    if a.museval: record[f'{mags}|{name}|{stem}|museval'] = museval_sdr({stem: refs[stem]}, {stem: wave})[stem]
                if not maps_done and mags == 'vocal remover' and stem == 'vocals' and a.maps:
                    draw_maps(true_bins[0], bins[0], phases['(b) predicted'][0], song['name'], a.maps); maps_done = True
        per_song.append(record)
        print(f"{song['name']}: {time.time() - started:.0f} s", flush=True)
    table = []
    for mags in magnitudes:
        for name in ('(a) mixture', '(b) predicted', '(c) true (oracle)'):
            row = {'magnitudes': mags, 'phase': name}
            for stem in ('vocals', 'instrumental'):
                row[f'{stem} SDR whole (mean)'] = float(np.mean([r[f'{mags}|{name}|{stem}|whole'] for r in per_song]))
                if a.museval: row[f'{stem} SDR museval (median)'] = float(np.nanmedian([r[f'{mags}|{name}|{stem}|museval'] for r in per_song]))
            table.append(row)
    phase_error = [{'magnitudes': mags, 'stem': stem, 'mixture phase (rad)': errors[(mags, stem, '(a) mixture')][0]/errors[(mags, stem, '(a) mixture')][1],
                    'predicted phase (rad)': errors[(mags, stem, '(b) predicted')][0]/errors[(mags, stem, '(b) predicted')][1]}
                   for mags in magnitudes for stem in ('vocals', 'instrumental')]
    return table, phase_error, per_song, [s['name'] for s in songs], n


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--corpus', required=True, help='a corpus built by ft-corpus build')
    p.add_argument('--testset', required=True, help='a folder of test songs, as ft-eval reads them')
    p.add_argument('--out', required=True, help='where the predictor is saved')
    p.add_argument('--config', default='small'); p.add_argument('--crop', type=int, default=64)
    p.add_argument('--bs', type=int, default=4); p.add_argument('--epochs', type=int, default=4)
    p.add_argument('--epoch-length', type=int, default=1024); p.add_argument('--valid-length', type=int, default=32)
    p.add_argument('--lr', type=float, default=1e-3); p.add_argument('--seed', type=int, default=0)
    p.add_argument('--workers', type=int, default=0); p.add_argument('--device', default=None, help='where the predictor is measured')
    p.add_argument('--checkpoint', default=None, help="measure this phase checkpoint instead of training one")
    p.add_argument('--remover', default=None, help="vocal remover checkpoint (default: the bundled model)")
    p.add_argument('--train-only', action='store_true')
    p.add_argument('--maps-only', action='store_true', help="only redraw the phase-map picture")
    p.add_argument('--songs', type=int, default=None); p.add_argument('--seconds', type=float, default=None)
    p.add_argument('--phase-crop', type=int, default=256, help="window of the predictor on whole songs (frames)")
    p.add_argument('--no-museval', dest='museval', action='store_false')
    p.add_argument('--results', default=str(ROOT/'results'/'phase.json'))
    p.add_argument('--maps', default=str(ROOT/'results'/'phase_maps.jpg'))
    a = p.parse_args()
    warnings.filterwarnings('ignore')
    torch.manual_seed(a.seed)
    checkpoint = Path(a.checkpoint) if a.checkpoint else train(a)
    if a.train_only: return
    if a.maps_only: return maps_only(a, checkpoint)
    from frame_transformer.model import read_checkpoint_info
    info = read_checkpoint_info(checkpoint)['meta']
    started = time.time()
    table, phase_error, per_song, names, _ = measure(a, checkpoint)
    results = dict(
        command='python tools/experiments/phase.py ' + ' '.join(shlex.quote(x) for x in sys.argv[1:]),
        train_command=info.get('command'), hardware=hardware(a.device), training_hardware=info.get('hardware'),
        note="measured on a CPU at a small scale" if not str(a.device or '').startswith('cuda') else "GPU run",
        training=info.get('training'), predictor_config=read_checkpoint_info(checkpoint)['config'],
        remover=str(a.remover or 'bundled default model'),
        test_set=f"{len(names)} songs of {a.testset}" + (f", first {a.seconds} s of each" if a.seconds else ", whole (30 s each)"),
        phase_crop=a.phase_crop, measure_minutes=round((time.time() - started)/60, 2),
        table=table, phase_error=phase_error, per_song=per_song,
        phase_maps=Path(a.maps).name if a.maps else None,
        gpu_command="python tools/experiments/phase.py --corpus CORPUS --testset TESTSET --out OUT --device cuda --config small --crop 256 --bs 16 "
                    "--epochs 40 --epoch-length 4096 --workers 8")
    Path(a.results).parent.mkdir(parents=True, exist_ok=True)
    Path(a.results).write_text(json.dumps(results, indent=1))
    import pandas as pd
    print(pd.DataFrame(table).round(2).to_string()); print(pd.DataFrame(phase_error).round(3).to_string())


if __name__ == '__main__': main()
