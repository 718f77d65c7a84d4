#!/usr/bin/env python
"""How the bundled default model is made, step by step, with the exact commands (see nbs/31_default_model.ipynb).

    python tools/default_model.py testset CORPUS DEST [N [TYPES]]  # held-out test songs from the corpus's validation split
                                                           # (N: that many, stratified over sources and voices;
                                                           # TYPES: only these kinds of voice, e.g. sung,produced)
    python tools/default_model.py bundle RUN_DIR EVAL_DIR COMMAND HARDWARE [EXAMPLES_PER_EPOCH BATCH_SIZE]  # best checkpoint -> frame_transformer/assets/default.*
    python tools/default_model.py bundle-campaign RUN_DIR CAMPAIGN.json HARDWARE  # the campaign's last candidate -> frame_transformer/assets/default.*
    python tools/default_model.py table OUT.json TEST_SET=EVAL_DIR... [--rename=OLD=NEW]... [--only=TEST_SET=SONG,...]...  # ft-eval summaries of several runs, by test set, in one JSON
    python tools/default_model.py stint RUN_DIR CAMPAIGN.json TEST_SET=EVAL_DIR... [--only=TEST_SET=SONG,...]... [--corpus=NAME] [--note=TEXT]  # a campaign stint's record (RUN_DIR/stints.json) and its candidate's scores, added to CAMPAIGN.json

Training itself is `ft-train` (`--init CHECKPOINT` continues from the bundled weights) (the command used is in the model card and in frame_transformer/assets/default.json),
and scoring is `ft-eval`.
"""
import json, sys
from pathlib import Path
import numpy as np

root = Path(__file__).resolve().parent.parent

def _rms(x): return float(np.sqrt(np.mean(x**2)) + 1e-12)

def stratified_picks(corpus, n_songs, seed=0, vocal_types=None):
    """(instrumental, vocal) validation files for `n_songs` test songs: instrumentals taken in turn from each source,
    vocals in turn from each kind of voice (speech, re-sung, synthetic), or with `vocal_types` from each of those kinds
    of each source (speaker set) in turn, each a seeded choice within its group."""
    from frame_transformer.corpus import read_manifest
    rng = np.random.default_rng(seed)
    entries = [e for e in read_manifest(corpus) if e.split == 'valid' and
               (e.kind == 'instrumental' or vocal_types is None or e.vocal_type in vocal_types)]
    def turns(kind, key):
        groups = {}
        for e in sorted(entries, key=lambda e: e.file):
            if e.kind == kind: groups.setdefault(key(e), []).append(Path(corpus)/e.file)
        order = [list(rng.permutation(len(files))) for files in groups.values()]
        return [files[order[g][(i // len(groups)) % len(files)]]
                for i, (g, files) in ((i, list(enumerate(groups.values()))[i % len(groups)]) for i in range(n_songs))]
    voice = ((lambda e: f'{e.vocal_type} {e.source}') if vocal_types else     # each kind of voice of each source in turn
             (lambda e: getattr(e, 'vocal_type', '') or e.generator))
    return list(zip(turns('instrumental', lambda e: e.source), turns('vocals', voice)))

def write_validation_test_set(corpus, dest, n_songs=8, seconds=30., seed=0, sr=44100, stratified=False, vocal_types=None):
    """Test songs (mixture, instrumental, vocals) from whole validation files of the corpus, vocals at -3..+3 dB to the
    instrumental. `stratified`: spread over every instrumental source and every kind of voice (corpus version 2's test
    set; with `vocal_types`, those kinds only: version 3's sung test set is `sung,produced`); otherwise the first
    validation instrumentals in file order with random vocals (corpus version 1's)."""
    from frame_transformer.corpus import corpus_files
    from frame_transformer.audio import load_audio, save_audio
    rng = np.random.default_rng(seed)
    instrumentals = sorted(corpus_files(corpus, 'valid', 'instrumental'))
    vocals = sorted(corpus_files(corpus, 'valid', 'vocals'))
    picks = stratified_picks(corpus, n_songs, seed, vocal_types) if stratified else None
    n = int(seconds*sr)
    dest = Path(dest)
    for i in range(n_songs):
        inst_path, voc_path = picks[i] if picks else (instrumentals[i % len(instrumentals)], vocals[rng.integers(len(vocals))])
        inst, voc = load_audio(inst_path, sr), load_audio(voc_path, sr)
        inst = inst[:, (s := rng.integers(0, max(1, inst.shape[1] - n))):s + n]
        # the loudest of 8 candidate windows of the vocal track, so the song really has singing in it
        starts = rng.integers(0, max(1, voc.shape[1] - n), size=8)
        start = max(starts, key=lambda s: _rms(voc[:, s:s + n]))
        voc = voc[:, start:start + n]
        m = min(inst.shape[1], voc.shape[1])
        inst, voc = inst[:, :m], voc[:, :m]
        voc = voc*_rms(inst)/_rms(voc)*10**(rng.uniform(-3, 3)/20)
        gain = min(1., 0.9/np.abs(inst + voc).max())
        song = dest/f'song_{i:02d}'
        song.mkdir(parents=True, exist_ok=True)
        for stem, wave in [('instrumental', inst*gain), ('vocals', voc*gain), ('mixture', (inst + voc)*gain)]:
            save_audio(song/f'{stem}.flac', wave, sr, subtype='24')
        (song/'source.json').write_text(json.dumps({'instrumental': str(Path(inst_path).relative_to(corpus)),
                                                    'vocals': str(Path(voc_path).relative_to(corpus))}, indent=1))
    print(f'wrote {n_songs} test songs of {seconds:.0f} s to {dest}')

def bundle(run_dir, eval_dir, command, hardware, examples_per_epoch=256, batch_size=4):
    "Save the run's best checkpoint in half precision as the bundled default model, with its training and scores."
    import platform, torch
    from frame_transformer.model import load_checkpoint, save_checkpoint
    run_dir, eval_dir = Path(run_dir), Path(eval_dir)
    model = load_checkpoint(run_dir/'best')
    history = json.loads((run_dir/'history.json').read_text())
    rows = history['rows'] if isinstance(history, dict) and 'rows' in history else history
    evaluation = json.loads((eval_dir/'results.json').read_text())
    best = min(rows, key=lambda r: r['valid_loss'])
    training = dict(command=command, hardware=hardware, torch=torch.__version__, python=platform.python_version(),
                    epochs=len(rows), examples_per_epoch=int(examples_per_epoch), batch_size=int(batch_size),
                    steps=len(rows)*int(examples_per_epoch)//int(batch_size), crop_frames=model.config.crop_frames,
                    wall_minutes=round(sum(r.get('seconds', 0) for r in rows)/60, 1), best_epoch=best['epoch'],
                    stored='float16 (loaded as float32)')
    meta = dict(training=training, history=rows, evaluation={'summary': evaluation['summary']},
                data='frame-transformer corpus (Debian packages, see nbs/30_corpus.ipynb), train split')
    paths = save_checkpoint(model, root/'frame_transformer'/'assets'/'default', meta=meta, dtype=torch.float16)
    for p in paths: print(f'{p}: {p.stat().st_size/1e6:.1f} MB')

def bundle_campaign(run_dir, campaign, hardware, test_set='v2 test songs'):
    """Save the campaign's last candidate (`run_dir/candidate`) in half precision as the bundled default model, with the
    campaign's record (`campaign`, results/campaign.json: every stint, the validation curve, the test scores)."""
    import platform, torch
    from frame_transformer.model import load_checkpoint, save_checkpoint
    run_dir, info = Path(run_dir), json.loads(Path(campaign).read_text())
    model, last = load_checkpoint(run_dir/'candidate'), info['stints'][-1]
    previous = json.loads((root/'frame_transformer'/'assets'/'default.json').read_text())['meta']['training']
    training = dict(command='bash tools/campaign_stint.sh CORPUS RUN MINUTES, once a stint (ft-train CORPUS/audio/train/instrumental '
                            'CORPUS/audio/train/vocals --config small --crop 128 --bs 4 --loss sdr --schedule wsd --lr 5e-4 --warmup 200 '
                            '--decay 0.1 --minutes MINUTES --resume --init bundled --epoch-length 1200 --valid-length 64 --workers 1 --seed 0); '
                            "the bundled weights are the last stint's decayed candidate",
                    hardware=hardware, torch=torch.__version__, python=platform.python_version(), schedule=info['schedule'],
                    init=previous['init'] if 'stints' in previous else      # the campaign's starting point, kept
                         f"the earlier bundled model ({previous.get('steps')} steps, {previous.get('wall_minutes')} minutes)",
                    stints=len(info['stints']), runs=len({s.get('run', 0) for s in info['stints']}),
                    steps=last.get('campaign_first_step', last['first_step']) + last['steady_steps'] + last['decay_steps'],
                    examples=info['total_examples'], batch_size=4, crop_frames=model.config.crop_frames,
                    total_cpu_hours=info['total_cpu_hours'], stored='float16 (loaded as float32)')
    stints = [{k: v for k, v in s.items() if k != 'test'} | {'test': {t: {k: r[k] for k in ('songs', 'rows', 'paired')} | ({'only': r['only']} if 'only' in r else {})
                                                                       for t, r in s['test'].items()}} for s in info['stints']]
    meta = dict(training=training, history=info['epochs'], campaign=stints,
                evaluation={'test set': test_set, 'summary': last['test'][test_set]['rows']},
                data=f"frame-transformer corpus {last.get('corpus', 'version 2')} (Debian packages, see nbs/30_corpus.ipynb), train split")
    paths = save_checkpoint(model, root/'frame_transformer'/'assets'/'default', meta=meta, dtype=torch.float16)
    for p in paths: print(f'{p}: {p.stat().st_size/1e6:.1f} MB')

def _paired(diff):
    "Per-song differences of two models: their mean and on how many songs the second is better."
    return {'mean': round(float(diff.mean()), 3), 'songs better': f'{int((diff > 0).sum())}/{len(diff)}'}

def table(out, *evaluations, rename=(), only=()):
    """One JSON of `ft-eval` summaries: `evaluations` are `TEST_SET=EVAL_DIR` (several folders may share a test set,
    e.g. the baselines' and each model's); rows are the method names `ft-eval` wrote, columns its figures.
    `only`: `TEST_SET=SONG,SONG,...` scores that test set on those songs alone (summaries recomputed from the
    per-song results). Each test set also gets, for every pair of models, the per-song differences of the second
    minus the first: mean and how many songs improved."""
    import pandas as pd
    from frame_transformer.evaluate import summarize, METHOD_NAMES
    names = dict(r.split('=', 1) for r in rename)
    keep = {t: set(songs.split(',')) for t, _, songs in (o.partition('=') for o in only)}
    tables, per_song = {}, {}
    for item in evaluations:
        test_set, _, folder = item.partition('=')
        if not folder: raise SystemExit(f'table: expected TEST_SET=EVAL_DIR, got {item!r}')
        results = pd.DataFrame(json.loads((Path(folder)/'results.json').read_text())['songs'])
        results['method'] = results['method'].map(lambda m: names.get(m, m))
        if test_set in keep: results = results[results.song.isin(keep[test_set])]
        if results.empty: raise SystemExit(f'table: no songs of {test_set!r} in {folder}')
        entry = tables.setdefault(test_set, {'songs': None, 'rows': {}})
        entry['songs'] = int(results.song.nunique())
        if test_set in keep: entry['only'] = sorted(keep[test_set])
        entry['rows'].update(summarize(results).T.to_dict())
        per_song.setdefault(test_set, []).append(results)
    for test_set, frames in per_song.items():
        results = pd.concat(frames)
        models = [m for m in dict.fromkeys(results.method)
                  if m not in {v for k, v in METHOD_NAMES.items() if k != 'model'}]          # the baselines
        pairs = {}
        for i, a in enumerate(models):
            for b in models[i + 1:]:
                x = results[results.method == a].set_index(['song', 'stem'])
                y = results[results.method == b].set_index(['song', 'stem'])
                d = (y[['sdr_museval', 'sdr_whole']] - x[['sdr_museval', 'sdr_whole']]).dropna()
                pairs[f'{b} minus {a}'] = {f'{stem} {k}': _paired(d.xs(stem, level='stem')[k])
                                          for stem in ('vocals', 'instrumental') for k in ('sdr_museval', 'sdr_whole')}
        tables[test_set]['paired'] = pairs
    Path(out).write_text(json.dumps({'command': 'python tools/default_model.py table ' + ' '.join(sys.argv[2:]),
                                     'test_sets': tables}, indent=1) + '\n')
    for name, t in tables.items(): print(f'{name}: {len(t["rows"])} rows, {t["songs"]} songs -> {out}')

CANDIDATE, BUNDLED = 'campaign candidate', 'bundled model'      # ft-eval --name and --baseline bundled

def _run_of(stints, last):
    """(run, step offset) of the stint `last` (a run's `stints.json` entry) after the campaign's `stints`: a stint that
    resumed belongs to the run before it; one that did not starts a new run (a new machine: warm-started from the
    bundled model, the last candidate), whose steps count on from that candidate's."""
    runs = [s.get('run', 0) for s in stints]
    if not stints: return 0, 0
    if last['resumed']: return runs[-1], stints[-1].get('campaign_first_step', stints[-1]['first_step']) - stints[-1]['first_step']
    end = stints[-1]
    return runs[-1] + 1, end.get('campaign_first_step', end['first_step']) + end['steady_steps'] + end['decay_steps']

def stint(run_dir, campaign, *evaluations, only=(), corpus=None, note=None):
    """Add the last stint of the training campaign in `run_dir` (its `stints.json`) to `campaign` (results/campaign.json):
    steps, examples, wall minutes, and per test set (`TEST_SET=EVAL_DIR`, each an `ft-eval ... --name 'campaign candidate'
    --baseline bundled` folder, or several folders of one test set that hold them between them) the candidate's and the bundled model's summaries with their paired per-song differences.
    Campaign hours are hours of the 2-core machine's wall clock (both cores training)."""
    import pandas as pd
    from frame_transformer.evaluate import summarize, METHOD_NAMES
    record = json.loads((Path(run_dir)/'stints.json').read_text())
    last = record['stints'][-1]
    if 'candidate' not in last: raise SystemExit(f'stint: the last stint in {run_dir} has no candidate (did it finish?)')
    keep = {t: set(songs.split(',')) for t, _, songs in (o.partition('=') for o in only)}
    scores, frames, folders = {}, {}, {}
    for item in evaluations:                     # a test set's methods may come from several ft-eval folders
        test_set, _, folder = item.partition('=')
        frames.setdefault(test_set, []).append(pd.DataFrame(json.loads((Path(folder)/'results.json').read_text())['songs']))
        folders.setdefault(test_set, []).append(Path(folder).name)     # names, not this machine's paths
    for test_set, parts in frames.items():
        results = pd.concat(parts)
        if test_set in keep: results = results[results.song.isin(keep[test_set])]
        methods = set(results.method)
        if not {CANDIDATE, BUNDLED} <= methods: raise SystemExit(f"stint: {test_set} lacks {CANDIDATE!r} or {BUNDLED!r} (has {sorted(methods)})")
        def paired(other):
            x = results[results.method == other].set_index(['song', 'stem'])
            y = results[results.method == CANDIDATE].set_index(['song', 'stem'])
            d = (y[['sdr_museval', 'sdr_whole']] - x[['sdr_museval', 'sdr_whole']]).dropna()
            return {f'{stem} {k}': _paired(d.xs(stem, level='stem')[k]) for stem in ('vocals', 'instrumental') for k in ('sdr_museval', 'sdr_whole')}
        baselines = {v for k, v in METHOD_NAMES.items() if k != 'model'}
        others = sorted(methods - {CANDIDATE, BUNDLED} - baselines)   # e.g. the model bundled now, scored beside
        scores[test_set] = dict(songs=int(results.song.nunique()), eval_dirs=folders[test_set], rows=summarize(results).T.to_dict(),
                                paired=paired(BUNDLED), **({'paired_with': {m: paired(m) for m in others}} if others else {}),
                                **({'only': sorted(keep[test_set])} if test_set in keep else {}))
    path = Path(campaign)
    info = json.loads(path.read_text()) if path.exists() else dict(stints=[])
    before = [s for s in info['stints'] if s['started'] != last['started']]
    run, offset = _run_of(before, last)
    entry = dict(run=run, run_stint=last['stint'], campaign_first_step=offset + last['first_step'], started=last['started'],
                 resumed=last['resumed'], first_step=last['first_step'],
                 steady_steps=last['steps'], decay_steps=last['decay_steps'], examples=last['examples'],
                 wall_minutes=last['wall_minutes'], candidate_validation=last['candidate'], test=scores,
                 **({'corpus': corpus} if corpus else {}), **({'note': note} if note else {}))
    info['stints'] = before + [entry]
    info['schedule'] = record['schedule']
    # every run's validation after every epoch; a run's steps counted on from the candidate it started from
    info['epochs'] = [e for e in info.get('epochs', []) if e.get('run', 0) != run] + [
        dict(e, run=run, campaign_step=offset + e['step'], campaign_stint=len(before) - last['stint'] + e['stint']) for e in record['epochs']]
    info['total_cpu_hours'] = round(sum(s['wall_minutes'] for s in info['stints'])/60, 3)
    info['steady_step'] = entry['first_step'] + entry['steady_steps']          # where the steady run stands now
    info['total_examples'] = sum(s['examples'] + s['decay_steps']*(s['examples']//max(s['steady_steps'], 1)) for s in info['stints'])
    path.write_text(json.dumps(info, indent=1) + '\n')
    for t, v in scores.items():
        for other, pairs in {BUNDLED: v['paired'], **v.get('paired_with', {})}.items():
            print(f"{t}: {v['songs']} songs, candidate minus {other}: " + ', '.join(f"{k} {p['mean']:+.2f} dB ({p['songs better']})" for k, p in pairs.items()))
    print(f"{path}: {len(info['stints'])} stints, {info['total_cpu_hours']} h")

if __name__ == '__main__':
    cmd, *args = sys.argv[1:] or ['--help']
    if cmd == 'testset':
        write_validation_test_set(*args[:2], **({'n_songs': int(args[2]), 'stratified': True} if len(args) > 2 else {}),
                                  **({'vocal_types': args[3].split(',')} if len(args) > 3 else {}))
    elif cmd == 'bundle': bundle(*args[:6])
    elif cmd == 'bundle-campaign': bundle_campaign(*args[:4])
    elif cmd == 'table':
        opt = lambda name: [a.split('=', 1)[1] for a in args if a.startswith(f'--{name}=')]
        table(*[a for a in args if not a.startswith('--')], rename=opt('rename'), only=opt('only'))
    elif cmd == 'stint':
        stint(*[a for a in args if not a.startswith('--')], only=[a.split('=', 1)[1] for a in args if a.startswith('--only=')],
              corpus=next((a.split('=', 1)[1] for a in args if a.startswith('--corpus=')), None),
              note=next((a.split('=', 1)[1] for a in args if a.startswith('--note=')), None))
    else: print(__doc__)
