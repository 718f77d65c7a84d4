"""Examples/s of whole `ft-train` epochs (data, step and validation, as the campaign runs them), for two versions of the
code and two ways to use a 2-core CPU, measured back to back in one run (nbs/15_training_bench.ipynb):

    python tools/experiments/epoch_speed.py INSTRUMENTALS VOCALS --before COMMIT --out results/training_epochs.json

`--before` is checked out in a temporary git worktree; `after` is this checkout; each runs through PYTHONPATH.
Each run is one epoch of `--examples` examples (validation on 8) in a fresh folder, timed by ft-train's own epoch
line (its training loss beside it: the same seeded examples give the same loss when only speed changed); the runs
alternate between the versions so that a drift of the machine touches both. One epoch of a minute
moves by 10-20 % between runs on a 2-core machine: take `--rounds 2` or more of longer epochs (`--examples 960`), and
`--ways`/`--codes` (or `--only before:0,after:1`, just the pairs a target compares) to keep such a run short. Run
it alone.
"""
import argparse, itertools, json, os, re, statistics, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WAYS = {  # name -> (processes, threads each, batch each, data workers each)
    'one process, 2 threads, data in 1 worker, batches of 4': (1, 2, 4, 1),
    'two DDP processes (torchrun, gloo), 1 thread each, data in the main process, batches of 2 each': (2, 1, 2, 0),
    'two DDP processes (torchrun, gloo), 1 thread each, data in 1 worker each, batches of 2 each': (2, 1, 2, 1),
}

def epoch_line(log):
    "The epoch's time in seconds and its training loss, from ft-train's line `epoch 0  train_loss L ... time mm:ss`."
    found = re.findall(r'^epoch 0 .*time (\d+):(\d+)\s*$', log, re.M)
    if not found: raise RuntimeError('no epoch line in the log:\n' + log[-3000:])
    minutes, seconds = map(int, found[-1])
    loss = re.findall(r'^epoch 0 .*train_loss (-?[\d.]+)', log, re.M)
    return 60*minutes + seconds, (float(loss[-1]) if loss else None)

def run_epoch(code, way, instrumentals, vocals, examples, out):
    procs, threads, bs, workers = WAYS[way]
    launch = [sys.executable, '-m', 'torch.distributed.run', '--standalone', f'--nproc_per_node={procs}'] if procs > 1 else [sys.executable]
    args = launch + ['-m', 'frame_transformer.cli', 'ft-train', str(instrumentals), str(vocals), '--config', 'small', '--crop', '128',
                     '--bs', str(bs), '--epochs', '1', '--epoch-length', str(examples), '--valid-length', '8',
                     '--workers', str(workers), '--seed', '0', '--out', str(out)]
    env = {**os.environ, 'OMP_NUM_THREADS': str(threads), 'MKL_NUM_THREADS': str(threads), 'PYTHONUNBUFFERED': '1'}
    if code is not None: env['PYTHONPATH'] = str(code)
    result = subprocess.run(args, capture_output=True, text=True, env=env)
    if result.returncode: raise RuntimeError(f'{way} failed:\n{result.stderr[-3000:]}')
    return epoch_line(result.stdout)

def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('instrumentals'); parser.add_argument('vocals')
    parser.add_argument('--before', required=True, help='the commit to compare with (checked out in a temporary worktree)')
    parser.add_argument('--examples', type=int, default=480, help='examples in the timed epoch')
    parser.add_argument('--out', help='write the runs and ratios to this JSON file')
    parser.add_argument('--ways', default=','.join(map(str, range(len(WAYS)))), help='which ways to run, by number (0: one process, 1: DDP, data in the main process, 2: DDP, a worker each)')
    parser.add_argument('--rounds', type=int, default=1, help='run the whole alternation this many times')
    parser.add_argument('--codes', default='before,after', help="'before,after', or one of them alone")
    parser.add_argument('--only', help="run just these code:way pairs of the others, e.g. 'before:0,after:1' (the target's ratio)")
    a = parser.parse_args()
    ways = [list(WAYS)[int(i)] for i in a.ways.split(',')]
    wanted = a.codes.split(',')
    if not wanted or set(wanted) - {'before', 'after'}: parser.error(f"--codes takes 'before', 'after' or both, not {a.codes!r}")
    pairs = None
    if a.only:
        try: pairs = [(code, list(WAYS)[int(way)]) for code, way in (pair.split(':') for pair in a.only.split(','))]
        except (ValueError, IndexError): parser.error(f"--only takes code:way pairs such as 'before:0,after:1', not {a.only!r}")
        if {code for code, _ in pairs} - {'before', 'after'}: parser.error(f"--only names the codes 'before' and 'after', not {a.only!r}")
        wanted, ways = [c for c in ('before', 'after') if c in {code for code, _ in pairs}], [w for w in WAYS if w in {way for _, way in pairs}]
    sys.path.insert(0, str(ROOT))
    from frame_transformer.device import describe_hardware
    rev = lambda ref: subprocess.run(['git', '-C', str(ROOT), 'rev-parse', '--short', ref], capture_output=True, text=True, check=True).stdout.strip()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        codes = {k: v for k, v in {'before': tmp/'before', 'after': ROOT}.items() if k in wanted}
        if 'before' in codes:        # checked out only when it runs
            subprocess.run(['git', '-C', str(ROOT), 'worktree', 'add', '--detach', '-q', str(tmp/'before'), a.before], check=True)
        try:
            runs = []
            for round_, way, (version, code) in itertools.product(range(a.rounds), ways, codes.items()):
                if pairs is not None and (version, way) not in pairs: continue
                seconds, loss = run_epoch(code, way, a.instrumentals, a.vocals, a.examples, tmp/f'run{len(runs)}')
                runs.append(dict(way=way, code=version, epoch_seconds=seconds, examples_s=round(a.examples/seconds, 2), round=round_,
                                 train_loss=loss))
                print(f"{version:6s} {way:96s} {seconds:4d} s  {a.examples/seconds:5.2f} examples/s  train_loss {loss}", flush=True)
        finally:
            if 'before' in codes: subprocess.run(['git', '-C', str(ROOT), 'worktree', 'remove', '--force', str(tmp/'before')], check=False)
    first = [r['examples_s'] for r in runs if (r['way'], r['code']) == (runs[0]['way'], runs[0]['code'])]
    base = statistics.median(first)                        # the first row's median over the rounds
    for r in runs: r['ratio'] = round(r['examples_s']/base, 2)
    short = lambda way: way.replace(' (torchrun, gloo)', '').split(', batches')[0]
    print('ratios to the first row: ' + ', '.join(f"{r['code']}, {short(r['way'])}: {r['ratio']:.2f}" for r in runs))
    if a.out:
        named = {a.instrumentals: 'INSTRUMENTALS', a.vocals: 'VOCALS', a.out: 'OUT'}
        Path(a.out).write_text(json.dumps(dict(
            what=f'one epoch of {a.examples} examples of ft-train (small, crops of 128 frames, validation on 8 examples), '
                 f"timed by its epoch line; {' and '.join(codes)} and the ways alternate, {a.rounds} round(s)",
            command='python tools/experiments/epoch_speed.py ' + ' '.join(named.get(x, x) for x in sys.argv[1:]),
            before=rev(a.before) if 'before' in codes else None, after=rev('HEAD') if 'after' in codes else None, hardware=describe_hardware(), date=time.strftime('%Y-%m-%d'),
            runs=runs), indent=1) + '\n')

if __name__ == '__main__': main()
