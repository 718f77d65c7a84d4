#!/usr/bin/env python
"""Why does the vocal remover's mask drift towards 1 (keep everything) while its L1 loss keeps falling?

Train the `small` vocal remover with the same data, seed and one-cycle schedule under one loss per process
(`--loss l1|sdr`), record the validation metrics after every epoch, and score the final model on the test songs
like `ft-eval`. The hypothesis: an L1 loss on magnitudes is minimised by the conditional *median*, and a bin that holds
vocals only some of the time has a median of "all instrumental", so L1 rewards masks near 1; SDR is an energy
(L2) measure, and a loss built like it (`MagnitudeSDRLoss`: per example and stem, 10·log10 of error energy over
target energy) should not drift.

    OMP_NUM_THREADS=1 python tools/experiments/loss.py --corpus CORPUS --testset TESTSET --loss l1  --out runs/loss/l1
    OMP_NUM_THREADS=1 python tools/experiments/loss.py --corpus CORPUS --testset TESTSET --loss sdr --out runs/loss/sdr

CORPUS is a corpus built by `ft-corpus build` (audio/{train,valid}/{instrumental,vocals}); TESTSET a folder of test
songs as `ft-eval` reads them. Each run writes `result.json` (curve, test scores, command, hardware) to its --out
folder; results/loss.json holds the two runs shown in nbs/11_losses.ipynb.
"""
import argparse, dataclasses, json, os, shlex, sys, time
from pathlib import Path

import torch


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--loss', default='l1', choices=['l1', 'sdr'])
    p.add_argument('--corpus', required=True, help='a corpus built by ft-corpus build')
    p.add_argument('--testset', required=True, help='a folder of test songs, as ft-eval reads them')
    p.add_argument('--crop', type=int, default=128)
    p.add_argument('--bs', type=int, default=4)
    p.add_argument('--steps', type=int, default=600)
    p.add_argument('--epochs', type=int, default=6)
    p.add_argument('--lr', type=float, default=5e-4)
    p.add_argument('--valid-length', type=int, default=32)
    p.add_argument('--test-songs', type=int, default=8)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--out', required=True)
    args = p.parse_args(argv)

    from frame_transformer.model import get_config
    from frame_transformer.voxaug import voxaug_dataloaders
    from fastai.callback.core import Callback
    from frame_transformer.learner import vocal_remover_learner, fit_run
    from frame_transformer.losses import mean_mask
    from frame_transformer.separate import Separator
    from frame_transformer.evaluate import evaluate, stem_scores
    from frame_transformer.device import describe_hardware
    torch.set_num_threads(int(os.environ.get('OMP_NUM_THREADS', 1)))
    corpus, out = Path(args.corpus)/'audio', Path(args.out)
    config = dataclasses.replace(get_config('small'), crop_frames=args.crop)
    dls = voxaug_dataloaders(corpus/'train'/'instrumental', corpus/'train'/'vocals', config, bs=args.bs,
                             epoch_length=args.bs*args.steps//args.epochs, valid_length=args.valid_length,
                             valid_sources=[corpus/'valid'/'instrumental', corpus/'valid'/'vocals'], seed=args.seed)
    learn = vocal_remover_learner(dls, config, out=out, seed=args.seed, preview=False, loss=args.loss)
    started = time.time()
    with learn.no_bar(): before = learn.validate()
    curve = [dict(step=0, mean_mask=mean_mask(learn.model, learn.dls.valid)[0])]
    class Record(Callback):
        order = 100
        def after_epoch(self):
            m, ideal = mean_mask(self.learn.model, self.learn.dls.valid)
            curve.append(dict(step=(self.epoch + 1)*args.steps//args.epochs, mean_mask=m, ideal_mean_mask=ideal))
    learn.add_cb(Record())
    with learn.no_bar(): fit_run(learn, args.epochs, args.lr)
    history = json.loads((out/'history.json').read_text())
    for row, h in zip(curve[1:], history): row.update({k: h[k] for k in ('valid_loss', 'l1', 'sdr_instrumental', 'sdr_vocals') if k in h})
    minutes = (time.time() - started)/60
    result = dict(loss=args.loss, curve=curve, train_minutes=round(minutes, 2),
                  test=stem_scores(evaluate(args.testset, Separator(out/'last', half=False), methods=('model',),
                                            limit=args.test_songs)),
                  command=f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '(unset)')} python tools/experiments/loss.py " +
                          ' '.join(map(shlex.quote, sys.argv[1:])),
                  hardware=describe_hardware(), setup=vars(args))
    (out/'result.json').write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))


if __name__ == '__main__': main()
