#!/usr/bin/env python
"""Does denoising pretraining help the vocal remover? (see nbs/41_pretrain.ipynb)

Pretrain a FrameTransformer as a denoiser on the corpus's train split (instrumentals, vocals, voxaug mixtures) for N
steps; then train the vocal remover for M steps from the pretrained weights and from random weights, with the same
data, seed and one-cycle schedule; optionally also from the pretrained weights with a fresh output layer, and from
random weights for N + M steps (the same compute as pretraining + fine-tuning). Validation loss and the learner's SDR
metrics are recorded before training and after every epoch; the final models are scored on the test songs like ft-eval.

    OMP_NUM_THREADS=1 python tools/experiments/pretrain.py --corpus CORPUS --testset TESTSET \\
        --out runs/pretrain/exp --results results/pretrain.json

Results (curves, scores, setup, command, hardware) go to --results as JSON, written after every arm.
"""
import argparse, dataclasses, json, os, shlex, sys, time
from pathlib import Path

import numpy as np
import torch

root = Path(__file__).resolve().parents[2]

ARMS = {'pretrained': 'pretrained (denoising)', 'random': 'random init',
        'pretrained-reset-output': 'pretrained, output layer re-initialised', 'random-long': 'random init, N + M steps'}


def curve_rows(before, history, steps_per_epoch, names):
    rows = [dict(step=0, **dict(zip(names, map(float, before))))]
    for r in history:
        rows.append(dict(step=(r['epoch'] + 1)*steps_per_epoch, **{k: r[k] for k in names if k in r}, seconds=r.get('seconds')))
    return rows


def score(checkpoint, testset, n_songs, museval):
    "ft-eval on the first `n_songs` test songs (the mixture itself when `checkpoint` is None): museval median and whole-track mean SDR per stem."
    from frame_transformer.separate import Separator
    from frame_transformer.evaluate import evaluate, stem_scores
    separator = Separator(checkpoint, device=None, half=False) if checkpoint else None
    return stem_scores(evaluate(testset, separator, methods=('model',) if checkpoint else ('mixture',), museval=museval, limit=n_songs))


def mask_stats(args):
    "Add to the results the mean instrumental mask each final model puts on the validation mixtures (1 = keep everything)."
    from frame_transformer.model import load_checkpoint
    from frame_transformer.voxaug import voxaug_dataloaders
    results_path = Path(args.results)
    results = json.loads(results_path.read_text())
    corpus, out = Path(args.corpus)/'audio', Path(args.out)
    train = [corpus/'train'/'instrumental', corpus/'train'/'vocals']
    valid = [corpus/'valid'/'instrumental', corpus/'valid'/'vocals']
    for arm, entry in results['arms'].items():
        model = load_checkpoint(out/arm/'last')
        dls = voxaug_dataloaders(*train, model.config, bs=args.bs, epoch_length=args.bs, valid_length=args.valid_length,
                                 valid_sources=valid, seed=args.seed)
        masks, ideal = [], []
        with torch.no_grad():
            for mixture, instrumental, vocals, _ in dls.valid:
                mask = model(mixture)
                weight = mixture/mixture.sum()                  # magnitude-weighted: what the loud bins get
                masks.append(float((mask*weight).sum())*len(mixture)); ideal.append(float((instrumental.clamp(max=mixture)/mixture.clamp_min(1e-8)*weight).sum())*len(mixture))
        n = sum(len(b[0]) for b in dls.valid)
        entry['valid_mask_mean'] = sum(masks)/n
        entry['valid_ideal_mask_mean'] = sum(ideal)/n
        print(arm, entry['valid_mask_mean'], entry['valid_ideal_mask_mean'], flush=True)
    results['mask_stats_command'] = 'OMP_NUM_THREADS=' + os.environ.get('OMP_NUM_THREADS', '(unset)') + ' python ' + ' '.join(
        shlex.quote(a) for a in [str(Path(sys.argv[0]).resolve().relative_to(root))] + sys.argv[1:])
    tmp = results_path.with_name(results_path.name + '.part')
    tmp.write_text(json.dumps(results, indent=1)); os.replace(tmp, results_path)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--corpus', required=True, help='a corpus built by ft-corpus build')
    p.add_argument('--testset', help='a folder of test songs, as ft-eval reads them (needed unless --mask-stats)')
    p.add_argument('--config', default='small')
    p.add_argument('--crop', type=int, default=128)
    p.add_argument('--bs', type=int, default=4)
    p.add_argument('--pretrain-steps', type=int, default=300)
    p.add_argument('--finetune-steps', type=int, default=300)
    p.add_argument('--epochs', type=int, default=6, help='epochs of the fine-tuning (and the pretraining) run')
    p.add_argument('--pretrain-lr', type=float, default=1e-3)
    p.add_argument('--lr', type=float, default=5e-4, help='max learning rate of the vocal-remover runs')
    p.add_argument('--gamma', default='cosine')
    p.add_argument('--valid-length', type=int, default=32)
    p.add_argument('--arms', default='pretrained,random,pretrained-reset-output,random-long')
    p.add_argument('--loss', default='l1', choices=['l1', 'sdr'], help="the vocal remover's loss (see nbs/11_losses.ipynb)")
    p.add_argument('--pretrained', default=None, help='reuse this pretrained checkpoint instead of pretraining again')
    p.add_argument('--test-songs', type=int, default=8)
    p.add_argument('--no-museval', action='store_true')
    p.add_argument('--workers', type=int, default=0)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--out', default='runs/pretrain-experiment')
    p.add_argument('--results', default=str(root/'results'/'pretrain.json'))
    p.add_argument('--mask-stats', action='store_true', help='only add the mean masks of the finished arms to --results')
    args = p.parse_args(argv)
    if args.mask_stats: return mask_stats(args)
    if not args.testset: p.error('--testset is needed to score the models')
    from frame_transformer.device import describe_hardware

    from frame_transformer.model import get_config, load_checkpoint, count_parameters, FrameTransformer
    from frame_transformer.voxaug import voxaug_dataloaders
    from frame_transformer.learner import vocal_remover_learner, fit_run
    from frame_transformer.pretrain import denoising_dataloaders, pretrain_learner, pretrained_model, denoising_figure

    corpus, out = Path(args.corpus)/'audio', Path(args.out)
    train = [corpus/'train'/'instrumental', corpus/'train'/'vocals']
    valid = [corpus/'valid'/'instrumental', corpus/'valid'/'vocals']
    config = dataclasses.replace(get_config(args.config), crop_frames=args.crop)
    device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    gamma = args.gamma if args.gamma == 'cosine' else float(args.gamma)
    E, N, M = args.epochs, args.pretrain_steps, args.finetune_steps
    if N % E or M % E: raise SystemExit(f'--pretrain-steps and --finetune-steps must be multiples of --epochs ({E})')
    arms = [a for a in args.arms.split(',') if a]
    results_path = Path(args.results)
    results = dict(
        command='OMP_NUM_THREADS=' + os.environ.get('OMP_NUM_THREADS', '(unset)') + ' python ' +
                ' '.join(shlex.quote(a) for a in [str(Path(sys.argv[0]).resolve().relative_to(root)) if Path(sys.argv[0]).resolve().is_relative_to(root) else sys.argv[0]] + sys.argv[1:]),
        hardware=describe_hardware(), started=time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime()),
        setup=dict(config=config.name, parameters=count_parameters(FrameTransformer(config)), crop_frames=args.crop,
                   batch_size=args.bs, pretrain_steps=N, finetune_steps=M, epochs=E, pretrain_lr=args.pretrain_lr,
                   lr=args.lr, loss=args.loss, gamma=args.gamma, seed=args.seed, valid_crops=args.valid_length,
                   data='corpus train split (instrumentals, vocals, voxaug mixtures for pretraining); validation: corpus valid split',
                   test=f'first {args.test_songs} songs of {args.testset}, {"museval + " if not args.no_museval else ""}whole-track SDR'),
        pretraining={}, arms={})
    def save():
        results_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = results_path.with_name(results_path.name + '.part')
        tmp.write_text(json.dumps(results, indent=1)); os.replace(tmp, results_path)
    torch.set_num_threads(int(os.environ.get('OMP_NUM_THREADS', 1)))

    # 0. the do-nothing reference on the test songs
    started = time.time()
    results['mixture_baseline'] = score(None, args.testset, args.test_songs, not args.no_museval)
    print('mixture baseline', results['mixture_baseline'], f'{time.time() - started:.0f} s', flush=True)

    # 1. pretraining
    needs_pretraining = any(a.startswith('pretrained') for a in arms)
    pretrained = Path(args.pretrained) if args.pretrained else out/'pretrain'/'last'
    if args.pretrained: results['pretraining'] = dict(reused=str(pretrained))
    if needs_pretraining and not args.pretrained:
        started = time.time()
        dls = denoising_dataloaders(train, config, bs=args.bs, epoch_length=args.bs*N//E, valid_length=args.valid_length,
                                    valid_sources=valid, gamma=gamma, seed=args.seed, num_workers=args.workers, device=device)
        learn = pretrain_learner(dls, config, out=out/'pretrain', seed=args.seed)
        with learn.no_bar(): before = learn.validate()
        with learn.no_bar(): fit_run(learn, E, args.pretrain_lr)
        history = json.loads((out/'pretrain'/'history.json').read_text())
        results['pretraining'] = dict(curve=curve_rows(before, history, N//E, ['valid_loss']), minutes=round((time.time() - started)/60, 2),
                                      sources=dls.train_ds.sources, checkpoint=str(out/'pretrain'/'last'))
        print('pretraining', results['pretraining']['curve'], flush=True)
        fig = denoising_figure(learn.model, dls.valid_ds, index=1, levels=(0.9, 0.5, 0.2), max_khz=11)
        fig.savefig(results_path.with_name('pretrain_denoising.jpg'), dpi=45, pil_kwargs={'quality': 70})
        save()

    # 2. the vocal remover from each start
    for arm in arms:
        started = time.time()
        steps = N + M if arm == 'random-long' else M
        epochs = E*steps//M
        dls = voxaug_dataloaders(*train, config, bs=args.bs, epoch_length=args.bs*M//E, valid_length=args.valid_length,
                                 valid_sources=valid, seed=args.seed, num_workers=args.workers, device=device)
        model = None
        if arm.startswith('pretrained'):
            model = pretrained_model(pretrained, config, reset_output=arm == 'pretrained-reset-output', seed=args.seed)
        learn = vocal_remover_learner(dls, config, model=model, out=out/arm, seed=args.seed, preview=False, loss=args.loss,
                                      meta=dict(init=arm))
        with learn.no_bar(): before = learn.validate()
        with learn.no_bar(): fit_run(learn, epochs, args.lr)
        history = json.loads((out/arm/'history.json').read_text())
        entry = dict(label=ARMS.get(arm, arm), total_steps=steps + (N if arm.startswith('pretrained') else 0),
                     curve=curve_rows(before, history, M//E, ['valid_loss', 'l1', 'sdr_instrumental', 'sdr_vocals']),
                     train_minutes=round((time.time() - started)/60, 2))
        results['arms'][arm] = entry; save()
        started = time.time()
        entry['test'] = score(out/arm/'last', args.testset, args.test_songs, not args.no_museval)
        entry['test_minutes'] = round((time.time() - started)/60, 2)
        print(arm, entry['curve'][-1], entry['test'], flush=True)
        save()
    results['finished'] = time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())
    save()


if __name__ == '__main__': main()
