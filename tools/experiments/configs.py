#!/usr/bin/env python
"""Which model configuration should the campaign's long run train? Each one trained for the same minutes, from scratch.

Weights only accumulate within one configuration, so the campaign picks it once. This trains the campaign's
configuration (`small`, batches of 4 crops of 128 frames) and alternatives with the campaign's recipe (warmup-stable-
decay, lr 5e-4, 200 warmup steps, 10 % decay, seed 0) for the same wall-clock minutes on the same machine, one after
another under the same load, and leaves each run's decayed candidate in OUT/NAME/candidate to score with `ft-eval`:

    OMP_NUM_THREADS=1 python tools/experiments/configs.py CORPUS OUT --minutes 17 [--only small,crop256]
    ft-eval TESTSET -c OUT/NAME/candidate --name NAME --methods model -o EVAL      # per run and test set
    python tools/default_model.py table results/configs.json 'v2 test songs=EVAL' ...  # the table, paired per song
    python tools/experiments/configs.py CORPUS OUT --minutes 17 --record results/configs.json   # with each run's setup

CORPUS is a corpus built by `ft-corpus build`. Each run also writes OUT/NAME/setup.json: its configuration, its
parameters and float16 size, steps and the command. nbs/31_default_model.ipynb shows the comparison
(results/configs.json, made with `python tools/default_model.py table`).
"""
import argparse, dataclasses, json, os, shlex, sys
from pathlib import Path


def alternatives():
    "The configurations compared: name -> (model configuration, batch size, crop frames)."
    from frame_transformer.model import get_config
    small = get_config('small')
    return {
        'small': (small, 4, 128),                                               # the campaign's run
        'crop256': (small, 2, 256),                                             # the same frames per batch, twice the context
        'small-5': (dataclasses.replace(small, name='small-5', channels=small.channels + (32,),      # one level deeper
                                        features=small.features + (16,), transformer_layers=small.transformer_layers + (1,)), 4, 128),
    }


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('corpus', help='a corpus built by ft-corpus build')
    p.add_argument('out', help='a folder for the runs, one subfolder each')
    p.add_argument('--minutes', type=float, default=17, help='wall-clock minutes of each run, decay included')
    p.add_argument('--epoch-length', type=int, default=256,
                   help='examples per epoch: a run stops at the last epoch end inside its minutes, so short epochs use them evenly')
    p.add_argument('--valid-length', type=int, default=32, help='validation examples, after every epoch')
    p.add_argument('--only', default=None, help='comma-separated names of the configurations to train (default: all)')
    p.add_argument('--record', default=None, help="add each run's setup.json in OUT to this JSON (made by default_model.py table) and train nothing")
    argv = sys.argv[1:] if argv is None else list(argv)
    args = p.parse_args(argv)
    options = [a for a in argv if a not in (args.corpus, args.out)]       # the command's options, without the two folders
    if args.record:
        record = json.loads(Path(args.record).read_text())
        record['runs'] = {setup['name']: setup for setup in (json.loads(p.read_text()) for p in sorted(Path(args.out).glob('*/setup.json')))}
        record['minutes'] = args.minutes
        Path(args.record).write_text(json.dumps(record, indent=1) + '\n')
        return print(f"{args.record}: {', '.join(record['runs'])}")

    import torch
    from frame_transformer.learner import TrainConfig, train_vocal_remover
    from frame_transformer.model import FrameTransformer, count_parameters
    torch.set_num_threads(int(os.environ.get('OMP_NUM_THREADS', 1)))
    corpus = Path(args.corpus)/'audio'/'train'
    runs = alternatives()
    for name in (args.only.split(',') if args.only else runs):
        config, bs, crop = runs[name]
        out = Path(args.out)/name
        run = TrainConfig(config=config, bs=bs, crop=crop, loss='sdr', schedule='wsd', lr=5e-4, warmup=200, decay=0.1,
                          minutes=args.minutes, epoch_length=args.epoch_length, valid_length=args.valid_length, workers=1, seed=0, out=str(out))
        train_vocal_remover(corpus/'instrumental', corpus/'vocals', run, show_progress=False)
        stint = json.loads((out/'stints.json').read_text())['stints'][-1]
        parameters = count_parameters(FrameTransformer(config))
        setup = dict(name=name, config=config.to_dict(), bs=bs, crop=crop, parameters=parameters,
                     float16_mib=round(parameters*2/2**20, 2), wall_minutes=round(stint['wall_minutes'], 1),
                     steps=stint['total_steps'], examples=stint['examples'] + stint['decay_steps']*bs,
                     steady_steps=stint['steps'], decay_steps=stint['decay_steps'], candidate_validation=stint['candidate'],
                     command=f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '(unset)')} python tools/experiments/configs.py " +
                             shlex.join(['CORPUS', 'OUT'] + options))         # no machine's paths in a result
        (out/'setup.json').write_text(json.dumps(setup, indent=1))
        print(json.dumps(setup), flush=True)


if __name__ == '__main__': main()
