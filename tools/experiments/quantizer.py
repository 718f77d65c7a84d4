#!/usr/bin/env python
"""Codebook-size sweep of the frame codec (`frame_transformer.quantizer`): train one codec per K, score it on held-out songs.

    OMP_NUM_THREADS=1 python tools/experiments/quantizer.py --corpus CORPUS --testset TESTSET --out OUT [--sizes 16 64 256 1024 0] [--steps 600]
        [--bs 8] [--seconds 20] [--config small] [--device cpu] [--results results/quantizer.json]

For every codebook size K (0 = no quantization: the continuous-bottleneck upper baseline) a codec of the same
configuration is trained for the same number of steps on voxaug mixtures of CORPUS/audio/train/{instrumental,vocals}
(seed 0, light augmentation: gain, channel swap, polarity) through the project's Learner (`quantizer.train_codec`:
one cycle over --epochs epochs, validated on CORPUS/audio/valid, checkpoints and history in OUT/K{K}-run), saved to
OUT/K{K} (safetensors + JSON), then measured on
the mixtures of TESTSET (songs never used for training; each cut to its first --seconds seconds):
reconstruction L2 on the compressed magnitude, spectral convergence, SDR (whole track) of the audio resynthesised with
the original phase and with 32 iterations of Griffin-Lim, code perplexity and dead codes. A first row scores the
original magnitude through Griffin-Lim and, as a floor, each song's own average spectrum repeated in every frame. The rows are written to
--results (JSON) with the command and the hardware. On a GPU use e.g. `--device cuda --steps 20000 --bs 16 --seconds 30`.
"""
import argparse, json, math, os, platform, sys, time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch


def corpus_sources(corpus):
    "The corpus's training folders and, where it has them, its validation folders (else files held out of training)."
    corpus = Path(corpus)
    train = tuple(corpus/'audio'/'train'/kind for kind in ('instrumental', 'vocals'))
    valid = tuple(corpus/'audio'/'valid'/kind for kind in ('instrumental', 'vocals'))
    return train, (valid if all(p.is_dir() for p in valid) else None)


def test_mixtures(testset, seconds, sr=44100):
    from frame_transformer.evaluate import find_test_songs
    from frame_transformer.audio import load_audio
    songs = []
    for song in find_test_songs(testset):
        wave = load_audio(song['mixture'], sr)
        songs.append((song['name'], wave[:, :int(seconds*sr)] if seconds else wave))
    return songs


def measure(codec, songs, griffin_lim_iters=32):
    "Scores of `codec` (a FrameCodec; None: the original magnitude, to score Griffin-Lim alone) on `songs`."
    from frame_transformer.quantizer import (griffin_lim, spectral_convergence, compress, expand, perplexity, dead_codes,
                                             stereo_spectrogram)
    from frame_transformer.audio import Stft, split_nyquist
    from frame_transformer.evaluate import whole_track_sdr
    rows, all_codes = [], []
    for name, wave in songs:
        stft = codec.config.stft if codec else Stft()
        spec = stereo_spectrogram(wave, stft)
        magnitude = spec.abs()
        length = (spec.shape[-1] - 1)*stft.hop_length
        reference = wave[:, :length]
        if codec:
            original_phase, decoded = codec.reconstruct(wave, phase='original')
            if codec.config.quantized: all_codes.append(codec.encode(wave))
            power = codec.config.power
        else: original_phase, decoded, power = reference, magnitude, 0.3
        gl = griffin_lim(decoded, stft, griffin_lim_iters, length=length).numpy()
        bins = split_nyquist(magnitude)[0]
        extra = {}
        if codec is None:   # the song's own long-term average spectrum, repeated in every frame: no frame detail at all
            average = compress(bins, power).mean(-1, keepdim=True).expand_as(bins)
            extra = dict(average_spectrum_l2=float(torch.nn.functional.mse_loss(average, compress(bins, power))),
                         average_spectrum_spectral_convergence=spectral_convergence(bins, expand(average, power)))
        rows.append(dict(song=name, **extra,
                         l2=float(torch.nn.functional.mse_loss(compress(split_nyquist(decoded)[0], power), compress(bins, power))),
                         spectral_convergence=spectral_convergence(bins, split_nyquist(decoded)[0]),
                         sdr_original_phase=whole_track_sdr(reference, original_phase[:, :length]),
                         sdr_griffin_lim=whole_track_sdr(reference, gl)))
    summary = {k: float(np.mean([r[k] for r in rows])) for k in rows[0] if k != 'song'}
    if all_codes:
        codes, K = torch.cat(all_codes), codec.config.codebook_size
        summary.update(perplexity=perplexity(codes, K), dead_codes=dead_codes(codes, K), frames=len(codes))
    return summary, rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--corpus', required=True, help='a corpus built by ft-corpus build')
    p.add_argument('--testset', required=True, help='a folder of test songs, as ft-eval reads them')
    p.add_argument('--out', required=True, help='where the codecs are saved')
    p.add_argument('--sizes', type=int, nargs='+', default=[16, 64, 256, 1024, 0])
    p.add_argument('--steps', type=int, default=600)
    p.add_argument('--epochs', type=int, default=5, help='the steps in this many epochs, each ending with a validation')
    p.add_argument('--valid-length', type=int, default=64, help='validation examples')
    p.add_argument('--bs', type=int, default=8)
    p.add_argument('--lr', type=float, default=2e-3)
    p.add_argument('--seconds', type=float, default=20.)
    p.add_argument('--config', default='small')
    p.add_argument('--device', default='cpu')
    p.add_argument('--results', default='results/quantizer.json')
    p.add_argument('--baselines-only', action='store_true', help='recompute only the first row (no training) in an existing --results file')
    args = p.parse_args(argv)
    from frame_transformer.quantizer import CodecRunConfig, FrameCodec, train_codec, save_codec
    from frame_transformer.augment import Augmentations
    from frame_transformer.model import count_parameters
    out, results_path = Path(args.out), Path(args.results)
    out.mkdir(parents=True, exist_ok=True)
    songs = test_mixtures(args.testset, args.seconds)
    results = dict(
        command='OMP_NUM_THREADS=%s python tools/experiments/quantizer.py %s' % (os.environ.get('OMP_NUM_THREADS', ''), ' '.join(sys.argv[1:] if argv is None else argv)),
        hardware=dict(device=args.device, torch_threads=torch.get_num_threads(), cpu=platform.processor() or platform.machine(),
                      cpus=os.cpu_count(), gpu=torch.cuda.get_device_name() if args.device.startswith('cuda') else None),
        data=dict(train=f'voxaug mixtures of {args.corpus}/audio/train (seed 0; gain, swap, polarity augmentation)',
                  test=f'{len(songs)} mixtures of {args.testset}, first {args.seconds:g} s of each' if args.seconds else f'{len(songs)} mixtures of {args.testset}'),
        steps=args.steps, epochs=args.epochs, batch_size=args.bs, lr_max=args.lr, griffin_lim_iters=32, rows=[])
    def write():
        results_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = results_path.with_suffix('.json.part'); tmp.write_text(json.dumps(results, indent=1)); os.replace(tmp, results_path)
    command = results['command']
    if args.baselines_only:
        results = json.loads(results_path.read_text())
        results['baseline_command'] = command
    t = time.time()
    summary, per_song = measure(None, songs)
    baseline = dict(codec='original magnitude (Griffin-Lim only)', codebook_size=None, bits_per_second=None,
                    **summary, per_song=per_song, eval_seconds=time.time() - t)
    if args.baselines_only: results['rows'][0] = baseline
    else: results['rows'].append(baseline)
    print(baseline['codec'], {k: round(v, 3) for k, v in summary.items()}, flush=True)
    write()
    if args.baselines_only: return results
    (train, valid), steps_per_epoch = corpus_sources(args.corpus), max(1, args.steps//args.epochs)
    for K in args.sizes:
        run = CodecRunConfig(config=args.config, codebook_size=K, epochs=args.epochs, bs=args.bs, lr=args.lr,
                             epoch_length=steps_per_epoch*args.bs, valid_length=args.valid_length, workers=0,
                             out=str(out/f'K{K}-run'), overwrite=True)
        t = time.time()
        learn = train_codec(*train, run, valid_sources=valid, show_progress=False,
                            augment=Augmentations.none(gain_p=0.5, swap_p=0.5, polarity_p=0.5))
        model, history, config = learn.model, learn.codec_history, learn.config
        train_seconds = time.time() - t
        save_codec(model, out/f'K{K}', meta=dict(steps=len(history), batch_size=args.bs, train_seconds=train_seconds))
        t = time.time()
        summary, per_song = measure(FrameCodec(model.eval(), args.device), songs)
        last = history[-50:]
        results['rows'].append(dict(
            codec=f'K={K}' if K else 'continuous (no quantization)', codebook_size=K,
            bits_per_second=config.bits_per_second if K else None, parameters=count_parameters(model), **summary,
            train_l2_last50=float(np.mean([h['reconstruction'] for h in last])),
            train_perplexity_last50=float(np.mean([h['perplexity'] for h in last])) if K else None,
            restarts=history[-1]['restarts'], train_seconds=train_seconds, eval_seconds=time.time() - t,
            checkpoint=str(out/f'K{K}'), per_song=per_song,
            curve=[dict(step=h['step'], l2=h['reconstruction']) for h in history[9::10]]))
        print(results['rows'][-1]['codec'], {k: round(v, 3) for k, v in summary.items()},
              f"train {train_seconds:.0f} s", flush=True)
        write()
    return results


if __name__ == '__main__': main()
