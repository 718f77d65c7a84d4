"""The GPU training run of issue 3: benchmark every configuration, then train `small` for about `--minutes` on real
music, and print (and save to OUT/gpu_report.json) examples/s, frames/s, the fraction of bf16 peak, GPU memory and
the validation loss / SDR curve.

    python tools/train_gpu.py --corpus /data/corpus --minutes 15            # a corpus built by `ft-corpus build`
    python tools/train_gpu.py --instrumentals music/inst --vocals music/voc  # or any two folders

With --corpus, the corpus' own train/valid split is used (its manifest); Opus tar bundles from `ft-corpus export`
are unpacked first if the folder holds `corpus-*.tar` files. Runs on CPU too (slowly), which is how it is smoke-tested.
"""
import argparse, json, os, tarfile, time
from pathlib import Path

import torch

from frame_transformer.learner import bench, data_bench, train_step_benchmark, train_vocal_remover, bare_model
from frame_transformer.model import get_config


def corpus_sources(root):
    "Train and valid file lists (instrumentals, vocals) of a corpus folder, unpacking tar bundles if needed."
    from frame_transformer.corpus import corpus_files, MANIFEST
    root = Path(root)
    bundles = sorted(root.glob('corpus-*.tar'))
    if bundles and not (root/'unpacked'/MANIFEST).exists():
        for b in bundles:
            with tarfile.open(b) as t: t.extractall(root/'unpacked', filter='data')
    if bundles: root = root/'unpacked'
    files = {(s, k): corpus_files(root, s, k) for s in ('train', 'valid') for k in ('instrumental', 'vocals')}
    for (s, k), f in files.items(): print(f'{s} {k}: {len(f)} files')
    return (files['train', 'instrumental'], files['train', 'vocals']), (files['valid', 'instrumental'], files['valid', 'vocals'])


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--corpus'); p.add_argument('--instrumentals'); p.add_argument('--vocals')
    p.add_argument('--config', default='small'); p.add_argument('--bs', type=int, default=16)
    p.add_argument('--minutes', type=float, default=15); p.add_argument('--epochs', type=int, default=15)
    p.add_argument('--lr', type=float, default=1e-3); p.add_argument('--out', default='runs/small-gpu')
    p.add_argument('--workers', type=int, default=None); p.add_argument('--bench-configs', default='tiny,small,large')
    p.add_argument('--bench-bs', default='64,16,4'); p.add_argument('--cache', default=None)
    p.add_argument('--loss', default='sdr', choices=['l1', 'sdr'], help="the vocal remover's loss (sdr: see nbs/11_learner.ipynb; l1 drifts towards keeping everything)")
    a = p.parse_args()

    print('## training-step benchmark'); bench(a.bench_configs, a.bench_bs, steps=20, warmup=5)
    config = get_config(a.config)
    step = train_step_benchmark(config, a.bs, steps=10, warmup=3)
    # epochs of equal length filling the time budget at the measured model speed (the data pipeline may be slower:
    # the real wall time is reported below)
    epoch_length = max(a.bs, int(step['examples_s']*a.minutes*60/a.epochs*0.85)//a.bs*a.bs)
    print(f"{config.name}: {step['examples_s']:.1f} examples/s in the benchmark -> {a.epochs} epochs of {epoch_length} examples")

    if a.corpus: (train_i, train_v), valid = corpus_sources(a.corpus)
    else: (train_i, train_v), valid = (a.instrumentals, a.vocals), None
    print('## data pipeline (examples/s the workers deliver, spectrograms on the GPU)')
    n_workers = a.workers if a.workers is not None else min(8, (os.cpu_count() or 2) - 1)
    data_bench(train_i, train_v, config.name, a.bs, f'{max(n_workers//2, 1)},{n_workers}', batches=10,
               gpu_stft=torch.cuda.is_available(), cache=a.cache)
    if torch.cuda.is_available(): torch.cuda.reset_peak_memory_stats()
    start = time.time()
    learn = train_vocal_remover(train_i, train_v, config, epochs=a.epochs, bs=a.bs, lr=a.lr, out=a.out,
                                epoch_length=epoch_length, valid_sources=valid, valid_files=0.1 if valid is None else 0,
                                workers=a.workers, cache_dir=a.cache, loss=a.loss)
    wall = time.time() - start
    history = learn.history_rows
    train_seconds = sum(r['seconds'] for r in history)
    examples_s = a.epochs*epoch_length/train_seconds
    flops_per_example = step['tflops']*1e12/step['examples_s']
    peak = step['tflops']/step['bf16_peak_fraction'] if step['bf16_peak_fraction'] else None
    report = dict(config=config.name, parameters=sum(p.numel() for p in bare_model(learn.model).parameters()),
                  precision=learn.precision, bs=a.bs, crop_frames=config.crop_frames, epochs=a.epochs,
                  epoch_length=epoch_length, wall_seconds=wall, examples_s=examples_s,
                  frames_s=examples_s*config.crop_frames,
                  bf16_peak_fraction=(examples_s*flops_per_example/1e12/peak) if peak else None,
                  gpu_peak_memory_mib=torch.cuda.max_memory_allocated()/2**20 if torch.cuda.is_available() else None,
                  device=torch.cuda.get_device_name() if torch.cuda.is_available() else 'cpu', history=history)
    Path(a.out, 'gpu_report.json').write_text(json.dumps(report, indent=1))
    print('\n## training run')
    for k, v in report.items():
        if k != 'history': print(f'{k}: {v}')
    print('epoch  valid_loss  sdr_instrumental  sdr_vocals  seconds')
    for r in history: print(f"{r['epoch']:5d}  {r['valid_loss']:.5f}  {r['sdr_instrumental']:16.2f}  {r['sdr_vocals']:10.2f}  {r['seconds']:7.1f}")


if __name__ == '__main__': main()
