#!/usr/bin/env python
"""One GPU lease, one command: train the vocal remover from the bundled weights on the training pack, for a fixed
wall-clock budget, with voxaug on the GPU; leave at most 8 files of at most 16 MiB in --out (on the device: $OUT).

    python tools/gpu_train.py --pack pack --out $OUT            # on the GPU machine: see DEVELOPERS.md for the call
    python tools/gpu_train.py --check-carry                      # here: the bytes that call would carry (limit 64 MiB)
    python tools/gpu_train.py --rehearse --out /tmp/rehearsal    # here and in CI: the same code path, on the CPU

The run, in phases, each timed in the report:
  setup       check the device (refuses without CUDA, except --rehearse), load the initial weights (--init: the
              bundled model by default; --init none: random weights)
  data        decode the pack once into the cache, then into 16-bit tensors on the GPU (voxaug on the device)
  calibrate   time training steps for a few seconds on a copy of the model (data time and model time apart), and
              one validation pass, which also scores the initial weights
  train       one stint of ft-train's warmup-stable-decay schedule (`learner.run_training` with `TrainConfig.minutes`,
              see nbs/16_stints.ipynb), in bf16, ending inside --minutes of the start: epochs of about
              --epoch-seconds (sized from the calibration) at the stable rate, then a decayed copy, the candidate.
              After every epoch (the candidate's too) the best weights so far go to OUT/model.safetensors +
              model.json (float16, the checkpoint the Separator loads) and the report is rewritten, so that a run
              killed at any point still returns a model and its figures. The run's own folder (last.*, its state,
              stints.json) stays outside OUT (--run-dir; a temporary one by default)
  bench       optional (--bench-model, --bench-separate), only while time remains before --stop-minutes; a failure
              there never touches the trained model
The files: model.safetensors, model.json, report.json, gpu_train.log, preview.png, and bench.txt with --bench-*.
"""
import argparse, contextlib, copy, dataclasses, json, math, os, platform, subprocess, sys, tempfile, time, traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path: sys.path.insert(0, str(ROOT))

CARRY_LIMIT = 64*2**20                 # what one device call carries: tracked + untracked-not-ignored files + carry paths
FILE_LIMIT, MAX_FILES = 16*2**20, 8    # what comes back from $OUT
DEFAULT_CARRY = ('.whl', 'pack')
REPORT_KEYS = ('device', 'config', 'phases_s', 'calibration', 'training', 'baseline', 'history', 'best', 'files')


# ---------------------------------------------------------------------------------------------- carry check
def travelling_files(root=ROOT):
    "Files a device call sends besides its carry paths: tracked and untracked-but-not-ignored files of the checkout."
    out = subprocess.run(['git', 'ls-files', '-z', '--cached', '--others', '--exclude-standard'], cwd=root,
                         capture_output=True, check=True).stdout.decode()
    return [root/p for p in out.split('\0') if p and (root/p).is_file()]

def tree_bytes(path):
    path = Path(path)
    if path.is_file(): return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob('*') if p.is_file())

def check_carry(carry=DEFAULT_CARRY, root=ROOT, limit=CARRY_LIMIT):
    "Print the bytes a device call carrying `carry` would send; return True if they fit `limit`."
    tracked = sum(p.stat().st_size for p in travelling_files(root))
    rows, ok = [('tracked and untracked files', tracked)], True
    for c in carry:
        path = root/c
        if not path.exists(): print(f"carry: {c} does not exist (wheels: bash tools/fetch_wheels.sh; pack: see DEVELOPERS.md)"); ok = False; continue
        ignored = subprocess.run(['git', 'check-ignore', '-q', c], cwd=root).returncode == 0
        if not ignored: print(f"carry: {c} is not ignored by git: add '/{c}/' to .git/info/exclude"); ok = False
        rows.append((c + ('/*.whl' if c == '.whl' else '/'), tree_bytes(path)))
    total = sum(b for _, b in rows)
    for name, b in rows: print(f"{name:30s} {b:>12,d} bytes  {b/2**20:7.2f} MiB")
    print(f"{'total':30s} {total:>12,d} bytes  {total/2**20:7.2f} MiB  (limit {limit/2**20:.0f} MiB, "
          f"margin {(limit - total)/2**20:.2f} MiB)")
    if total > limit: print("carry: OVER THE LIMIT"); ok = False
    return ok


# ---------------------------------------------------------------------------------------------- the run's record
class Run:
    "The log (stdout and OUT/gpu_train.log, line by line) and the report (OUT/report.json, rewritten as it grows)."
    def __init__(self, out):
        self.out = Path(out); self.out.mkdir(parents=True, exist_ok=True)
        self.start = time.time()
        self.log_file = open(self.out/'gpu_train.log', 'a', buffering=1)
        self.report = dict(phases_s={}, started=time.strftime('%Y-%m-%d %H:%M:%S'))

    def elapsed(self): return time.time() - self.start
    def log(self, *args):
        line = f"[{self.elapsed():6.1f}s] " + ' '.join(str(a) for a in args)
        print(line, flush=True); self.log_file.write(line + '\n')

    def save(self):
        from frame_transformer.audio import write_atomically
        self.report['files'] = {p.name: p.stat().st_size for p in sorted(self.out.iterdir()) if p.is_file() and not p.name.startswith('.')}
        write_atomically(self.out/'report.json', lambda p: Path(p).write_text(json.dumps(self.report, indent=1, default=str)))

    @contextlib.contextmanager
    def phase(self, name):
        t = time.time(); self.log(f"## {name}")
        try: yield
        finally:
            self.report['phases_s'][name] = round(time.time() - t, 2); self.save()


# ---------------------------------------------------------------------------------------------- callbacks
def callbacks():
    "The run's fastai callbacks (imported late: --check-carry needs no torch)."
    import torch
    from fastai.callback.core import Callback, CancelFitException

    def sync(device):
        if device.type == 'cuda': torch.cuda.synchronize(device)

    class StepTimes(Callback):
        "Data time (waiting for the batch) and model time (forward, backward, step) of every `every`-th training step, synchronised."
        order = -5
        def __init__(self, device, every=20, skip=3): self.device, self.every, self.skip, self.data, self.model, self.steps = device, every, skip, [], [], 0
        def _sampled(self, i): return i >= self.skip and i % self.every == 0
        def after_batch(self):
            if not self.training: return
            self.steps += 1                                   # every training step, those of an epoch cut short too
            if getattr(self, 't1', None) is not None:
                sync(self.device); self.model.append(time.perf_counter() - self.t1); self.t1 = None
            if self._sampled(self.iter + 1): sync(self.device); self.t0 = time.perf_counter()
        def before_batch(self):
            if self.training and getattr(self, 't0', None) is not None and self._sampled(self.iter):
                sync(self.device); self.t1 = time.perf_counter(); self.data.append(self.t1 - self.t0); self.t0 = None
        def before_epoch(self): self.t0 = self.t1 = None

    class StopAfter(Callback):
        "End the calibration's fit (cleanly) once `time.time()` passes `deadline` after at least `min_steps` steps."
        order = 99
        def __init__(self, deadline, min_steps=0): self.deadline, self.min_steps = deadline, min_steps
        def after_batch(self):
            if time.time() > self.deadline and self.train_iter >= self.min_steps: raise CancelFitException()

    class HardStop(Callback):
        """End the steady training at `time.time()` `at`, even inside an epoch (a run much slower than calibrated), so
        that the report and the return fit the device call; the decay that follows always runs (its own time-capped
        steps, at least one, and a validation), so the candidate has its figures."""
        order = 99
        def __init__(self, at): self.at = at
        def after_batch(self):
            decaying = any(type(cb).__name__ == 'DecayRate' for cb in self.learn.cbs)
            if not decaying and time.time() > self.at: raise CancelFitException()

    return StepTimes, StopAfter, HardStop


def lease_checkpoint(run, meta):
    "After each training epoch: the epoch's row in the report and log; the best weights so far (float16) and a preview."
    import torch
    from fastai.callback.core import Callback
    from frame_transformer.model import save_checkpoint
    from frame_transformer.checkpoints import bare_model
    from frame_transformer.learner import preview_figure
    from frame_transformer.losses import dataset_of

    class LeaseCheckpoint(Callback):
        "After each training epoch of the stint, steady or the decay's ('decay'): its row; the best weights so far to OUT/model."
        order = 65                                    # after the Recorder (50)
        def __init__(self): self.best, self.history, self.meta = float('inf'), [], meta
        def before_epoch(self): self.trained, self.t = False, time.time()
        def before_train(self): self.trained = True
        def after_epoch(self):
            if not self.trained: return
            names = self.recorder.metric_names[1:-1]
            decay = any(type(cb).__name__ == 'DecayRate' for cb in self.learn.cbs)
            row = dict(epoch='decay' if decay else self.epoch, **{k: float(v) for k, v in zip(names, self.recorder.values[-1])},
                       lr=float(self.opt.hypers[-1]['lr']), seconds=round(time.time() - self.t, 1),
                       examples=len(self.dls.train)*self.dls.train.bs)
            self.history.append(row)
            run.report['history'] = self.history
            improved = row['valid_loss'] < self.best
            if improved:
                self.best = row['valid_loss']
                model = bare_model(self.model)
                save_checkpoint(model, run.out/'model', dtype=torch.float16,
                                meta=dict(self.meta, best_epoch=row['epoch'], history=self.history,
                                          wall_minutes=round(run.elapsed()/60, 2)))
                run.report['best'] = dict(row)
                try:
                    import matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot as plt
                    fig = preview_figure(model, dataset_of(self.dls.valid), 0, f"epoch {row['epoch']}")
                    fig.savefig(run.out/'preview.png', dpi=50); plt.close(fig)
                except Exception as e: run.log(f"preview failed ({type(e).__name__}: {e}); the model is saved")
            if improved: run.log(f"epoch {row['epoch']}: best so far (valid_loss {row['valid_loss']:.4g}) -> model.safetensors")
            run.save()
    return LeaseCheckpoint()


# ---------------------------------------------------------------------------------------------- the run
# The training settings a lease shares with ft-train and the library are TrainConfig fields (declared there once);
# these are the lease's own defaults for some of them. Its other options are its budget and timing.
SHARED = ('config', 'crop', 'bs', 'lr', 'warmup', 'decay', 'loss', 'valid_length', 'seed', 'init')
LEASE_DEFAULTS = dict(bs=128, init='default')

def add_train_options(parser):
    "The `SHARED` TrainConfig fields as options, with the lease's defaults and TrainConfig's help."
    import typing
    from frame_transformer.learner import TrainConfig
    hints = typing.get_type_hints(TrainConfig, include_extras=True)
    for f in dataclasses.fields(TrainConfig):
        if f.name not in SHARED: continue
        meta = getattr(hints[f.name], '__metadata__', ('',))
        help_ = meta[0] + (" ('default': the bundled model; 'none': random weights)" if f.name == 'init' else '')
        kind = {'bs': int, 'crop': int, 'valid_length': int, 'seed': int, 'warmup': int, 'lr': float, 'decay': float}.get(f.name, str)
        extra = meta[1] if len(meta) > 1 else {}
        parser.add_argument('--' + f.name.replace('_', '-'), type=kind, default=LEASE_DEFAULTS.get(f.name, f.default),
                            help=help_, **{k: v for k, v in extra.items() if k == 'choices'})

def lease_train_config(a, cuda, run_dir):
    """The run's `TrainConfig`: what `ft-train --schedule wsd --resume` would be given for the same training (bf16 on
    the GPU, fp32 in rehearsal), in the run folder `run_dir`; its minutes and epoch length come from the calibration."""
    from frame_transformer.learner import TrainConfig
    from frame_transformer.assets import asset
    init = {'none': None, 'default': str(asset('default.json').with_suffix(''))}.get(a.init, a.init)
    return TrainConfig(**{k: getattr(a, k) for k in SHARED if k != 'init'}, init=init, precision='bf16' if cuda else 'fp32',
                       schedule='wsd', resume=True, out=str(run_dir), workers=0)

def warm_cache(files, cache, sr, workers):
    "Decode the pack's files into the audio cache, `workers` processes at a time (AudioLibrary then finds them there)."
    from concurrent.futures import ProcessPoolExecutor
    from frame_transformer.library import AudioLibrary
    chunks = [files[i::workers] for i in range(workers) if files[i::workers]]
    if workers <= 1 or len(chunks) <= 1: return
    with ProcessPoolExecutor(len(chunks)) as pool:
        list(pool.map(_cache_chunk, [(c, cache, sr) for c in chunks]))

def _cache_chunk(args):
    import warnings
    from frame_transformer.library import AudioLibrary
    files, cache, sr = args
    with warnings.catch_warnings():
        warnings.simplefilter('ignore'); AudioLibrary(files, sr=sr, cache_dir=cache)

def flops_per_example(model, config, frames, device):
    "Floating-point operations of one training example (forward and backward), counted by torch."
    import torch
    from torch.utils.flop_counter import FlopCounterMode
    m = copy.deepcopy(model).to(device).train()
    x = torch.rand(1, config.in_channels, config.bins, frames, device=device)
    with FlopCounterMode(display=False) as counter: m(x).mean().backward()
    return counter.get_total_flops()

def train(a, run):
    import numpy as np, torch
    from frame_transformer.model import count_parameters, seeded_model
    from frame_transformer.learner import vocal_remover_learner, prepare_run, run_training
    from frame_transformer.checkpoints import initial_model
    from frame_transformer.device import datasheet_bf16_tflops
    from frame_transformer.voxaug import voxaug_dataloaders
    from frame_transformer.pack import pack_files
    StepTimes, StopAfter, HardStop = callbacks()
    deadline = run.start + a.minutes*60
    with run.phase('setup'):
        cuda = torch.cuda.is_available()
        if not cuda and not a.rehearse:
            raise SystemExit("gpu_train: no CUDA device: this script trains on a GPU (run it with --rehearse to try it on the CPU)")
        run_dir = Path(a.run_dir or tempfile.mkdtemp(prefix='ft-gpu-run-'))
        if (run_dir/'last.safetensors').exists(): raise SystemExit(f"gpu_train: {run_dir} holds a run: give an empty or new --run-dir")
        tc = lease_train_config(a, cuda, run_dir)
        config, device, _ = prepare_run(tc)                   # the same checks and model configuration as ft-train
        name = torch.cuda.get_device_name(device) if cuda else f'cpu ({torch.get_num_threads()} threads)'
        peak = datasheet_bf16_tflops(device)
        model = initial_model(tc.init, config) if tc.init is not None else seeded_model(config, tc.seed).train()
        run.report.update(device=name, torch=torch.__version__, python=platform.python_version(), config=config.to_dict(),
                          parameters=count_parameters(model), init=str(tc.init) if tc.init else 'none', bs=tc.bs, lr=tc.lr,
                          loss=tc.loss, precision=tc.precision, minutes=a.minutes, peak_bf16_tflops=peak,
                          command=' '.join(sys.argv), rehearsal=bool(a.rehearse), run_dir=str(run_dir))
        run.log(f"{name}, torch {torch.__version__}, {config.name} ({count_parameters(model):,} parameters, {config.crop_frames} frames), "
                f"init {run.report['init']}, {tc.precision}, batch {tc.bs}")
    with run.phase('data'):
        files = {(s, k): pack_files(a.pack, s, k) for s in ('train', 'valid') for k in ('instrumental', 'vocals')}
        info = json.loads((Path(a.pack)/'pack.json').read_text()) if (Path(a.pack)/'pack.json').exists() else {}
        run.report['pack'] = {k: info.get(k) for k in ('corpus', 'kbps', 'seconds', 'files', 'bytes', 'seconds_per_stratum')}
        tc = dataclasses.replace(tc, cache=str(Path(a.cache or tempfile.mkdtemp(prefix='ft-gpu-cache-'))), epoch_length=tc.bs)
        t = time.time()
        warm_cache([p for f in files.values() for p in f], tc.cache, config.sample_rate, a.workers)
        run.log(f"pack {a.pack}: {sum(map(len, files.values()))} files decoded into {tc.cache} in {time.time() - t:.1f} s")
        dls = voxaug_dataloaders(files['train', 'instrumental'], files['train', 'vocals'], config, **tc.data_options(),
                                 valid_sources=(files['valid', 'instrumental'], files['valid', 'vocals']),
                                 device=device, on_device=True)
        train_ds = dls.train.dataset
        run.report['data'] = dict(device_library_mib=round((train_ds.instrumentals.nbytes + train_ds.vocals.nbytes)/2**20, 1),
                                  lowpass_p=train_ds.source.lowpass_p, valid_examples=len(dls.valid.dataset))
        run.log(f"on {device}: {train_ds.instrumentals}, {train_ds.vocals}; low-pass probability {train_ds.source.lowpass_p:.2f}")
    with run.phase('calibrate'):
        source = train_ds.source
        source.epoch_length = tc.bs*100000
        probe = vocal_remover_learner(dls, config, model=copy.deepcopy(model), **dict(tc.learner_options(), out=None),
                                      preview=False, metrics=False, cbs=[StepTimes(device, every=1, skip=3),
                                                                         StopAfter(time.time() + a.calibrate_seconds, min_steps=8)])
        probe.logger = lambda *args: None                       # the epoch table goes to the run's log, once
        with probe.no_bar(): probe.fit(1, tc.lr/25)             # the warmup's starting rate; the copy is thrown away
        times = probe.cbs.filter(lambda c: type(c).__name__ == 'StepTimes')[0]
        if len(times.model) < 2: raise SystemExit(f"gpu_train: calibration measured {len(times.model)} steps in {a.calibrate_seconds} s")
        step_data, step_model = float(np.median(times.data)), float(np.median(times.model))
        probe_steps = probe.train_iter
        del probe
        if cuda: torch.cuda.empty_cache()
        ck, hard = lease_checkpoint(run, meta={}), HardStop(float('inf'))
        learn = vocal_remover_learner(dls, config, model=model, **tc.learner_options(), preview=False,
                                      cbs=[StepTimes(device, every=a.time_every), ck, hard])
        t = time.time()
        with learn.no_bar(), learn.no_logging(): baseline = learn.validate()
        valid_seconds = time.time() - t
        names = learn.recorder.metric_names[2:-1]
        run.report['baseline'] = dict(zip(names, map(float, baseline)))
        flops = flops_per_example(model, config, config.crop_frames, device)
        step = step_data + step_model
        run.report['calibration'] = dict(steps=probe_steps, data_s_per_step=step_data, model_s_per_step=step_model,
                                         examples_s=tc.bs/step, validation_s=valid_seconds, flops_per_example=flops)
        run.log(f"step {1e3*step:.1f} ms ({1e3*step_data:.1f} data + {1e3*step_model:.1f} model, synchronised) -> "
                f"{tc.bs/step:.0f} examples/s; validation {valid_seconds:.1f} s; initial weights: " +
                ', '.join(f'{k} {v:.3f}' for k, v in run.report['baseline'].items()))
    with run.phase('train'):
        # the stint ends inside the budget, but trains at least --min-train-seconds (a slow setup eats the margin instead);
        # its steady share in epochs of about --epoch-seconds, each with its validation
        deadline = max(deadline, time.time() + a.min_train_seconds)
        budget = max(deadline - time.time() - 5, 1.)
        steady = budget*(1 - tc.decay)
        epochs = max(1, round(steady/a.epoch_seconds))
        per_epoch = steady/epochs - valid_seconds - 1
        steps = max(1, int(per_epoch/step*0.95))           # steps run unsynchronised while training, a little faster than calibrated
        source.epoch_length = steps*tc.bs
        tc = dataclasses.replace(tc, minutes=round(budget/60, 3), epoch_length=source.epoch_length)
        run.report['train_config'] = dataclasses.asdict(tc)
        run.report['schedule'] = dict(kind='warmup-stable-decay', epochs=epochs, steps_per_epoch=steps, epoch_length=source.epoch_length,
                                      lr=tc.lr, warmup=tc.warmup, decay=tc.decay, budget_s=round(budget, 1))
        run.log(f"one stint: about {epochs} epochs of {steps} steps ({source.epoch_length} examples) at lr {tc.lr:g} "
                f"(warmup {tc.warmup} steps), then {100*tc.decay:.0f} % decay, in {budget:.0f} s")
        if cuda: torch.cuda.reset_peak_memory_stats(device)
        hard.at = max(deadline, run.start + a.stop_minutes*60 - 45)     # the report and the return need the last 45 s
        ck.meta = dict(training=dict(
            command=run.report['command'], hardware=name, torch=torch.__version__, python=platform.python_version(),
            schedule=f'warmup-stable-decay (lr {tc.lr:g}, warmup {tc.warmup} steps, decay {100*tc.decay:.0f} %)',
            examples_per_epoch=source.epoch_length, batch_size=tc.bs, crop_frames=config.crop_frames,
            lr=tc.lr, loss=tc.loss, precision=tc.precision, init=run.report['init'], minutes_budget=a.minutes,
            data=f"pack of {run.report['pack'].get('corpus')} ({(run.report['pack'].get('seconds') or 0)/60:.0f} min, Opus "
                 f"{run.report['pack'].get('kbps')} kbit/s), voxaug on the device",
            stored='float16 (loaded as float32)'))
        t = time.time()
        run_training(learn, tc, device, show_progress=False, log=run.log)     # ft-train's driver: one stint of tc
        train_seconds = time.time() - t
        stint = learn.stint
        times = learn.cbs.filter(lambda c: type(c).__name__ == 'StepTimes')[0]
        steps_done = times.steps                           # the stint's record counts whole epochs only
        examples = steps_done*tc.bs
        ex_s = examples/max(train_seconds - valid_seconds*len(ck.history), 1e-9)
        data_s, model_s = (float(np.median(times.data)) if times.data else None), (float(np.median(times.model)) if times.model else None)
        run.report['stint'] = {k: v for k, v in stint.items() if k in ('steps', 'decay_steps', 'last_epoch', 'steady_minutes',
                                                                      'decay_minutes', 'wall_minutes', 'candidate')}
        run.report['training'] = dict(
            steps=steps_done, examples=examples, seconds=round(train_seconds, 1), examples_s=ex_s,
            frames_s=ex_s*config.crop_frames, tflops=flops*ex_s/1e12,
            bf16_peak_fraction=(flops*ex_s/1e12/peak) if peak else None,
            data_s_per_step=data_s, model_s_per_step=model_s,
            data_over_model=(data_s/model_s) if data_s and model_s else None,
            gpu_peak_memory_mib=torch.cuda.max_memory_allocated(device)/2**20 if cuda else None)
        tr = run.report['training']
        run.log(f"trained {steps_done} steps ({steps_done - stint['decay_steps']} steady + {stint['decay_steps']} decay, {examples} examples) in "
                f"{train_seconds:.0f} s: {ex_s:.0f} examples/s, {tr['frames_s']:.0f} frames/s, {tr['tflops']:.2f} TFLOP/s" +
                (f" ({100*tr['bf16_peak_fraction']:.2f}% of the {peak:.0f} TFLOP/s bf16 peak)" if peak else '') +
                (f"; per step {1e3*data_s:.1f} ms data, {1e3*model_s:.1f} ms model" if data_s and model_s else '') +
                (f"; peak GPU memory {tr['gpu_peak_memory_mib']:.0f} MiB" if cuda else ''))
        run.save()
        if not a.run_dir: import shutil; shutil.rmtree(run_dir, ignore_errors=True)
    return device


def benchmarks(a, run, device):
    "The model and separation benchmarks, each in a subprocess bounded by the time left; output to OUT/bench.txt."
    stop = run.start + a.stop_minutes*60
    with run.phase('bench'):
        jobs = ([('model', [sys.executable, '-m', 'frame_transformer.bench', '--device', device.type, '--dtype', 'bf16'
                            if device.type == 'cuda' else 'fp32', '--configs', 'tiny,small' if a.rehearse else 'tiny,small,large'])]
                if a.bench_model else [])
        report = dict(minutes=0.2, methods=('ft:small',), batch_size=8) if a.rehearse else {}   # else gpu_report's defaults:
        jobs += ([('separation', [sys.executable, '-c', 'from frame_transformer.bench_separate import gpu_report; '   # 4 min,
                                  f'gpu_report(device={device.type!r}, **{report!r})'])]               # batches of 64, half,
                 if a.bench_separate else [])                                                       # with the peers
        run.report['benchmarks'] = {}
        for name, cmd in jobs:
            left = stop - time.time()
            if left < 20: run.log(f"{name} benchmark skipped: {left:.0f} s left"); run.report['benchmarks'][name] = 'skipped: no time left'; continue
            run.log(f"{name} benchmark: {' '.join(cmd[1:])} (at most {left:.0f} s)")
            try:
                r = subprocess.run(cmd, capture_output=True, text=True, timeout=left, cwd=ROOT,
                                   env=dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT)] + sys.path[1:])))
                text = r.stdout + (f"\n(exit {r.returncode})\n{r.stderr[-2000:]}" if r.returncode else '')
            except subprocess.TimeoutExpired as e: text = f"(stopped after {left:.0f} s)\n{(e.stdout or b'')[-4000:]}"
            except Exception as e: text = f"(failed: {type(e).__name__}: {e})"
            with open(run.out/'bench.txt', 'a') as f: f.write(f"## {name}\n{text}\n")
            run.report['benchmarks'][name] = text[-3000:]
            for line in text.strip().splitlines()[-12:]: run.log('  ' + line)


def check_outputs(out, rehearse=False):
    "The checks a returned run must pass: file count and sizes, report keys, a checkpoint the Separator loads and runs."
    import numpy as np
    from frame_transformer.separate import Separator
    out, problems = Path(out), []
    files = [p for p in out.rglob('*') if p.is_file()]
    if len(files) > MAX_FILES: problems.append(f"{len(files)} files (at most {MAX_FILES} come back)")
    problems += [f"{p.name}: {p.stat().st_size/2**20:.1f} MiB (at most 16)" for p in files if p.stat().st_size > FILE_LIMIT]
    report = json.loads((out/'report.json').read_text())
    problems += [f"report.json: no '{k}'" for k in REPORT_KEYS if k not in report]
    try:
        sep = Separator(out/'model', device='cpu')
        wave = np.random.default_rng(0).standard_normal((2, sep.sample_rate)).astype(np.float32)*0.1
        stems = sep.separate(wave, sep.sample_rate)
        if not all(np.isfinite(np.asarray(s)).all() for s in (stems.values() if isinstance(stems, dict) else stems)):
            problems.append("the separated stems are not finite")
    except Exception as e: problems.append(f"model: the Separator cannot use it ({type(e).__name__}: {e})")
    return files, problems


def rehearsal_inputs(work):
    "A pack made from synthetic fixtures and a tiny random-weight checkpoint to start from: what --rehearse trains on."
    import torch
    from frame_transformer.pack import write_fixture_corpus, pack
    from frame_transformer.model import FrameTransformer, get_config, save_checkpoint
    work = Path(work)
    corpus = write_fixture_corpus(work/'corpus', seconds=6.)
    pack(corpus, work/'pack', max_mib=1, kbps=48, min_seconds=2, log=lambda *a: None)
    torch.manual_seed(0)
    save_checkpoint(FrameTransformer(get_config('tiny')), work/'init', meta=dict(note='random weights, rehearsal'))
    return work/'pack', work/'init'


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--pack', default=str(ROOT/'pack'), help='training pack (ft-corpus pack); default: ./pack')
    p.add_argument('--out', default=os.environ.get('OUT'), help='output folder (default: $OUT; with --rehearse: a temporary one)')
    p.add_argument('--minutes', type=float, default=7., help='wall-clock budget of setup, data, calibration and training')
    p.add_argument('--stop-minutes', type=float, default=9., help='no optional benchmark starts past this (the device call allows 10)')
    add_train_options(p)
    p.add_argument('--epoch-seconds', type=float, default=60., help='about how long an epoch (and so a checkpoint) takes')
    p.add_argument('--calibrate-seconds', type=float, default=15.)
    p.add_argument('--min-train-seconds', type=float, default=60., help='train at least this long, even past --minutes')
    p.add_argument('--time-every', type=int, default=20, help='time (synchronised) one training step in this many')
    p.add_argument('--workers', type=int, default=min(16, os.cpu_count() or 1), help='processes decoding the pack')
    p.add_argument('--cache', default=None, help='audio cache folder (default: a temporary one, never under --out)')
    p.add_argument('--run-dir', default=None, help="the run's own folder (last.*, its state, stints.json; default: a temporary "
                                                   "one, removed at the end); never under --out, which keeps only the returned files")
    p.add_argument('--bench-model', action='store_true', help='then run python -m frame_transformer.bench, if time remains')
    p.add_argument('--bench-separate', action='store_true', help='then run frame_transformer.bench_separate, if time remains')
    p.add_argument('--check-carry', action='store_true', help='print the bytes the device call carries and fail over 64 MiB')
    p.add_argument('--carry', default=','.join(DEFAULT_CARRY), help='carried paths for --check-carry')
    p.add_argument('--rehearse', action='store_true',
                   help='the same run on the CPU: tiny configuration, a pack of synthetic fixtures, a 30-second budget, then check the files')
    a = p.parse_args(argv)
    if a.check_carry: return 0 if check_carry([c for c in a.carry.split(',') if c]) else 1
    work = None
    if a.rehearse:
        work = Path(tempfile.mkdtemp(prefix='ft-rehearsal-'))
        if not a.out: a.out = str(work/'out')            # checked, then removed with the rest of the rehearsal
    if not a.out: p.error('--out is needed (or $OUT)')
    if a.rehearse:
        a.pack, a.init = map(str, rehearsal_inputs(work))
        a.config, a.cache = 'tiny', str(work/'cache')
        small = dict(minutes=0.5, stop_minutes=1.5, bs=8, valid_length=8, epoch_seconds=8., calibrate_seconds=3.,
                     time_every=5, workers=2, min_train_seconds=20.)
        for k, v in small.items():                      # the rehearsal's scale, unless asked otherwise
            if getattr(a, k) == p.get_default(k): setattr(a, k, v)
    out = Path(a.out)
    if out.exists() and any(out.iterdir()): p.error(f"{out} is not empty: give an empty or new folder")
    run = Run(out)
    status = 0
    try:
        device = train(a, run)
        if a.bench_model or a.bench_separate: benchmarks(a, run, device)
    except SystemExit as e:
        run.log(str(e)); run.report['error'] = str(e); status = 2
    except BaseException as e:
        run.log(f"FAILED: {type(e).__name__}: {e}\n{traceback.format_exc()}"); run.report['error'] = f"{type(e).__name__}: {e}"; status = 1
    finally:
        run.report['wall_s'] = round(run.elapsed(), 1); run.save()
        run.log(f"done in {run.elapsed():.0f} s: " + ', '.join(f'{k} ({v/2**20:.2f} MiB)' for k, v in run.report['files'].items()))
    if a.rehearse and status == 0:
        files, problems = check_outputs(out, rehearse=True)
        for line in problems: run.log(f"rehearsal: {line}")
        run.log(f"rehearsal: {len(files)} files, {'OK' if not problems else 'FAILED'}")
        status = 1 if problems else 0
        import shutil; shutil.rmtree(work, ignore_errors=True)
    run.log_file.close()
    return status


if __name__ == '__main__': sys.exit(main())
