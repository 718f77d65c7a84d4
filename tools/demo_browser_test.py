#!/usr/bin/env python
"""Open the demo notebook in JupyterLab in headless Chromium, run it, and use the app as a person would.

    pip install -e ".[demo,docs]" && python tools/demo_browser_test.py [--shots DIR] [--keep]

Starts JupyterLab from this Python environment on 127.0.0.1 (a free port, a random token; a copy of
nbs/90_demo.ipynb in a throwaway folder, with throwaway Jupyter config, data, runtime and settings folders),
drives Debian's `chromium` through `chromedriver` (selenium), and checks:
- the notebook opens straight into its kernel (no "Select Kernel" dialog), and Run All finishes with no error
  and nothing on stderr in any cell;
- the app is drawn as controls (buttons, a slider), not as `VBox(...)` text, and shows no picture (no
  broken-image icon) before the first separation;
- one click on Separate (the example song is preselected) gives three players and a picture that is drawn;
- switching stems while playing keeps the position and plays on;
- moving the knob (arrow keys on the slider) redraws players and picture, keeps the stem, the position and
  playing, and the status line names the value shown, also when a value heard before is reused; after
  several quick moves the last one is what is shown;
- a 5-second excerpt gives 5-second players and a picture that is fully drawn;
- Save writes both stems (read back from disk), and saving again names the Overwrite checkbox;
- the browser's console has no errors.
Saves screenshots of the app after Separate and after a knob move (default folder build/demo_screenshots/).
Exit code 0 only if every check passed; the last line reads 'demo: N checks passed, M failed'.
"""
import argparse, io, json, os, secrets, shutil, socket, subprocess, sys, tempfile, time, urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT/'tools'))
import docs_browser_test as browser  # the docs' browser test: the same Chromium, flags and checks
from selenium.webdriver.common.keys import Keys

# media elements may play without a click in the page (the test starts the player from a script)
browser.CHROME_FLAGS = browser.CHROME_FLAGS + ['--autoplay-policy=no-user-gesture-required']
NOTEBOOK = ROOT/'nbs'/'90_demo.ipynb'

def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

def start_lab(folder, log):
    "JupyterLab serving `folder`, isolated from the user's Jupyter setup; returns (process, url of the notebook)."
    port, token = free_port(), secrets.token_hex(16)
    cfg = {k: folder/'.jupyter'/v for k, v in dict(JUPYTER_CONFIG_DIR='config', JUPYTER_DATA_DIR='data',
           JUPYTER_RUNTIME_DIR='runtime', JUPYTERLAB_SETTINGS_DIR='settings', JUPYTERLAB_WORKSPACES_DIR='workspaces',
           IPYTHONDIR='ipython').items()}
    # no news or update checks (they would ask for the network, and put a notice over the app)
    note = cfg['JUPYTERLAB_SETTINGS_DIR']/'@jupyterlab'/'apputils-extension'/'notification.jupyterlab-settings'
    note.parent.mkdir(parents=True)
    note.write_text(json.dumps({'fetchNews': 'false', 'checkForUpdates': False}))
    env = dict(os.environ, **{k: str(v) for k, v in cfg.items()}, MPLBACKEND='module://matplotlib_inline.backend_inline')
    cmd = [sys.executable, '-m', 'jupyter', 'lab', '--no-browser', '--ip=127.0.0.1', f'--port={port}',
           f'--IdentityProvider.token={token}', f'--ServerApp.root_dir={folder}', '--LabApp.expose_app_in_browser=True',
           '--LabApp.extension_manager=readonly', '--LabApp.news_url=',
           '--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate']
    if hasattr(os, 'getuid') and os.getuid() == 0: cmd.append('--allow-root')     # CI containers run as root
    proc = subprocess.Popen(cmd, env=env, cwd=folder, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 120
    while True:
        try:
            urllib.request.urlopen(f'http://127.0.0.1:{port}/api/status?token={token}', timeout=5); break
        except OSError:
            if proc.poll() is not None: raise RuntimeError(f'JupyterLab exited with code {proc.returncode}; see {log.name}')
            if time.time() > deadline: raise RuntimeError(f'JupyterLab did not answer in 120 s; see {log.name}')
            time.sleep(0.3)
    return proc, f'http://127.0.0.1:{port}/lab/tree/{NOTEBOOK.name}?token={token}'

def wait_for(what, probe, timeout=60, every=0.2):
    "Poll `probe()` until it returns something truthy; returns it, or raises TimeoutError naming `what`."
    deadline = time.time() + timeout
    while True:
        value = probe()
        if value: return value
        if time.time() > deadline: raise TimeoutError(f'{what}: not within {timeout} s (last: {value!r})')
        time.sleep(every)

NOTEBOOK_JS = r"""
const nb = jupyterapp.shell.currentWidget;
if (!nb || !nb.content || !nb.content.model || !nb.sessionContext) return null;
const kernel = nb.sessionContext.session && nb.sessionContext.session.kernel;
const cells = nb.content.model.cells, out = {kernel: kernel ? kernel.status : null, code: 0, done: 0, stderr: [], errors: []};
for (let i = 0; i < cells.length; i++) {
  const c = cells.get(i);
  if (c.type !== 'code') continue;
  out.code++; if (c.executionCount) out.done++;
  for (let j = 0; j < c.outputs.length; j++) {
    const o = c.outputs.get(j).toJSON();
    const text = [].concat(o.text || '').join('');
    if (o.output_type === 'stream' && o.name === 'stderr') out.stderr.push(`cell ${i}: ${text.slice(0, 300)}`);
    if (o.output_type === 'error') out.errors.push(`cell ${i}: ${o.ename}: ${o.evalue}`.slice(0, 300));
  }
}
out.dialogs = [...document.querySelectorAll('.jp-Dialog')].map(d => d.innerText.slice(0, 200));
return out;
"""

STATE_JS = r"""
const app = document.querySelector('.ft-demo');
if (!app) return null;
const img = app.querySelector('img.ft-picture'), status = app.querySelector('.ft-status');
const auds = [...app.querySelectorAll('.ft-stems audio')];
return {
  status: status ? status.textContent.trim() : '',
  audio: auds.map(a => ({stem: a.dataset.stem, visible: a.style.display !== 'none', t: a.currentTime, paused: a.paused,
                        duration: a.duration, ready: a.readyState, fresh: !a.__ftSeen, error: a.error ? a.error.code : null})),
  bold: [...app.querySelectorAll('.ft-stems button')].filter(b => b.style.fontWeight === 'bold').map(b => b.dataset.stem),
  picture: img ? {shown: getComputedStyle(img).display !== 'none' && img.getBoundingClientRect().height > 0,
                  src: img.src || '', complete: img.complete, w: img.naturalWidth, h: img.naturalHeight} : null,
  knob: (app.querySelector('.widget-slider .widget-readout') || {}).textContent || '',
  buttons: app.querySelectorAll('button').length, sliders: app.querySelectorAll('.widget-slider').length,
};
"""

# how much of the picture is drawn (not near-white), after the browser has decoded it
PICTURE_JS = r"""
const done = arguments[arguments.length - 1];
const img = document.querySelector('.ft-demo img.ft-picture');
img.decode().then(() => {
  const c = document.createElement('canvas'); c.width = img.naturalWidth; c.height = img.naturalHeight;
  const g = c.getContext('2d'); g.drawImage(img, 0, 0);
  const px = g.getImageData(0, 0, c.width, c.height).data;
  let ink = 0; for (let i = 0; i < px.length; i += 4) if (px[i] < 230 || px[i+1] < 230 || px[i+2] < 230) ink++;
  done({ink: ink / (px.length / 4), w: c.width, h: c.height, src: img.src});
}).catch(e => done({error: String(e)}));
"""

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--shots', default=str(ROOT/'build'/'demo_screenshots'), help='folder for the screenshots')
    p.add_argument('--notebook', default=str(NOTEBOOK), help='the notebook to open (default: %(default)s)')
    p.add_argument('--keep', action='store_true', help="keep the throwaway folder (the notebook copy, saved stems, server log)")
    a = p.parse_args(argv)
    t0 = time.time()
    folder = Path(tempfile.mkdtemp(prefix='ft-demo-lab-'))
    shutil.copy(a.notebook, folder/NOTEBOOK.name)        # Run All and autosave write to the copy, never to nbs/
    shots = Path(a.shots); shots.mkdir(parents=True, exist_ok=True)
    log = open(folder/'jupyterlab.log', 'w')
    c, times, driver, proc = browser.Checks(), {}, None, None
    def lap(name): times[name] = time.time() - t0
    def state(): return driver.execute_script(STATE_JS)
    def click(label, scope='.ft-demo'):
        el = driver.execute_script(f"return [...document.querySelectorAll({json.dumps(scope + ' button')})]"
                                   ".find(b => b.textContent.trim() === arguments[0])", label)
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", el)
        el.click()
    def screenshot(path):
        "The app alone, in 64 colours (small enough to keep in the repository)."
        from PIL import Image
        app = driver.find_element('css selector', '.ft-demo')
        driver.execute_script("arguments[0].scrollIntoView({block: 'start'})", app)
        time.sleep(0.3)
        Image.open(io.BytesIO(app.screenshot_as_png)).convert('RGB').quantize(64).save(path, optimize=True)
    def shown(s): return next((x for x in s['audio'] if x['visible']), None)
    def mark_players(): driver.execute_script("document.querySelectorAll('.ft-demo audio').forEach(a => a.__ftSeen = true)")
    def redrawn(knob, stem=None):
        "The state once the status names `knob`, the players are new and loaded (and, if `stem`, playing it)."
        def probe():
            s = state()
            v = shown(s)
            if (f'aggressiveness {knob}:' in s['status'] and 'separating' not in s['status'] and len(s['audio']) == 3
                    and all(x['fresh'] and x['ready'] >= 1 for x in s['audio']) and v and (stem is None or v['stem'] == stem)
                    and s['picture']['complete'] and s['picture']['w'] > 0): return s
        return wait_for(f'players and picture at aggressiveness {knob}', probe, timeout=120)
    def picture_check(what, before_src=None):
        r = driver.execute_async_script(PICTURE_JS)
        c.check('error' not in r and r['ink'] > 0.3, f'{what}: the picture is not fully drawn: {r.get("error") or round(r["ink"], 3)}')
        if before_src is not None: c.check(r.get('src') != before_src, f'{what}: the picture was not redrawn')
        return r
    def press(key, times_=1):
        handle = driver.find_element('css selector', '.ft-demo .widget-slider .noUi-handle')
        for _ in range(times_): handle.send_keys(getattr(Keys, key))
    try:
        proc, url = start_lab(folder, log)
        lap('JupyterLab up')
        profile = tempfile.mkdtemp(prefix='ft-demo-chromium-')
        driver = browser.make_driver(profile)
        driver.set_window_size(1366, 1300)              # the whole app fits in the notebook's view (for the screenshots)
        driver.get(url)
        nb = wait_for('the notebook and its kernel', lambda: (r := _notebook(driver)) and (r['kernel'] == 'idle' or r['dialogs']) and r, timeout=120)
        if not c.check(not nb['dialogs'], f'a dialog came first: {nb["dialogs"]}'): raise RuntimeError('cannot go on')
        lap('notebook open, kernel idle')
        # a fresh run, as after opening a clean notebook: no outputs or execution counts from before
        driver.execute_script("jupyterapp.commands.execute('notebook:clear-all-cell-outputs')"
                              ".then(() => jupyterapp.commands.execute('notebook:run-all-cells'))")
        def finished():
            r = _notebook(driver)
            if r and (r['errors'] or (r['done'] == r['code'] and r['kernel'] == 'idle')): return r
        nb = wait_for('Run All', finished, timeout=600, every=0.5)
        lap('Run All')
        c.check(not nb['errors'], f'Run All: errors in cells: {nb["errors"]}')
        c.check(nb['done'] == nb['code'], f'Run All: {nb["code"] - nb["done"]} of {nb["code"]} code cells did not run')
        c.check(not nb['stderr'], f'Run All: stderr output in cells: {nb["stderr"]}')
        texts = driver.execute_script("return [...document.querySelectorAll('.jp-OutputArea-output')].map(e => e.textContent)"
                                      ".filter(t => /^(VBox|HBox|FloatSlider|Button)\\(|Error displaying widget|Loading widget/.test(t.trim()))")
        c.check(not texts, f'widgets shown as text instead of controls: {[t[:120] for t in texts]}')
        driver.execute_script("document.querySelector('.ft-demo').scrollIntoView({block: 'start'})")
        s = wait_for('the app', state, timeout=30)
        c.check(s['buttons'] >= 4 and s['sliders'] == 1, f'the app has no controls: {s["buttons"]} buttons, {s["sliders"]} sliders')
        c.check(not s['audio'] and s['picture'] and not s['picture']['shown'],
                f'before Separate: players or a (broken) picture are shown: {s["audio"]}, {s["picture"]}')
        c.check('Press Separate' in s['status'] and 'example_mixture' in s['status'], f'the status does not offer the example: {s["status"]!r}')

        # Separate: one click, the example is preselected
        click('Separate')
        s = redrawn('+0.0')
        lap('Separate')
        v = shown(s)
        c.check(len(s['audio']) == 3 and not any(x['error'] for x in s['audio']), f'players: {s["audio"]}')
        c.check(abs(v['duration'] - 24.0) < 0.1, f'the example plays {v["duration"]} s, not 24 s')
        pic = picture_check('after Separate')
        c.check(s['picture']['shown'] and (s['picture']['w'], s['picture']['h']) == (720, 403),
                f'the picture is not shown at its size: {s["picture"]}')
        print(f'separated: status {s["status"]!r}; picture {pic.get("w")}x{pic.get("h")}, {pic.get("ink", 0):.0%} drawn', flush=True)
        screenshot(shots/'demo_separated.png')

        # play, then switch stems while playing: same position, still playing
        driver.execute_script("[...document.querySelectorAll('.ft-demo audio')].find(a => a.style.display !== 'none').play()")
        wait_for('the mixture playing past 2 s', lambda: (v := shown(state())) and not v['paused'] and v['t'] > 2.0 and v, timeout=20)
        before = shown(state())
        click('Vocals', '.ft-demo .ft-stems')
        s = state(); v = shown(s)
        c.check(v['stem'] == 'vocals' and s['bold'] == ['vocals'], f'switching to Vocals shows {v["stem"]}, bold {s["bold"]}')
        c.check(before['t'] - 0.05 <= v['t'] < before['t'] + 1.0, f'switching stems moved from {before["t"]:.2f} s to {v["t"]:.2f} s')
        time.sleep(0.6); v2 = shown(state())
        c.check(not v2['paused'] and v2['t'] > v['t'] + 0.2, f'the vocals do not play on after the switch: {v} then {v2}')
        print(f'switch: mixture at {before["t"]:.2f} s -> vocals at {v["t"]:.2f} s, playing', flush=True)

        # the knob: redraws players and picture, keeps the stem, the position and playing
        old_src = state()['picture']['src']
        mark_players()
        before, w0 = shown(state()), time.time()
        press('ARROW_RIGHT')
        s = redrawn('+0.1')
        # the players report their metadata (readyState) a moment before their loadedmetadata handler seeks and plays:
        # read the position once the new player plays (a player that never goes on fails here)
        v = wait_for('the redrawn player going on', lambda: (x := shown(state())) and not x['paused'] and x, timeout=10)
        w1 = time.time()
        lap('knob +0.1')
        c.check(s['knob'].strip() in ('0.10', '0.1'), f'the knob reads {s["knob"]!r}')
        c.check(v['stem'] == 'vocals' and s['bold'] == ['vocals'], f'after the knob: {v["stem"]} shown, {s["bold"]} bold, not vocals')
        time.sleep(0.5); v2 = shown(state())
        c.check(not v2['paused'] and v2['t'] > v['t'], f'after the knob the vocals do not play on: {v} then {v2}')
        expected = before['t'] + (w1 - w0)
        c.check(abs(v['t'] - expected) < 1.5 and v['t'] > before['t'],
                f'after the knob the position is {v["t"]:.2f} s, expected about {expected:.2f} s (was {before["t"]:.2f} s)')
        picture_check('after the knob', old_src)
        print(f'knob +0.1: vocals at {v["t"]:.2f} s (expected ~{expected:.2f} s), playing; status {s["status"]!r}', flush=True)
        screenshot(shots/'demo_knob.png')

        # back to a value heard before: reused, and the status says which value is shown
        mark_players(); old_src = state()['picture']['src']
        press('ARROW_LEFT')
        s = redrawn('+0.0', 'vocals')
        c.check('shown again' in s['status'], f'a reused result is not named in the status: {s["status"]!r}')
        picture_check('back to +0.0', old_src)
        # quick moves: the last one is what ends up shown, and stays
        mark_players()
        press('ARROW_RIGHT', 3)
        s = redrawn('+0.3', 'vocals')
        time.sleep(2.0); s2 = state()
        c.check('+0.3:' in s2['status'] and shown(s2)['stem'] == 'vocals' and s2['knob'].strip() in ('0.30', '0.3'),
                f'after quick moves the app shows {s2["status"]!r}, knob {s2["knob"]!r}')
        picture_check('after quick moves')
        lap('knob moves')
        driver.execute_script("document.querySelectorAll('.ft-demo audio').forEach(a => a.pause())")

        # a 5-second excerpt from 10 s: nothing stale shown meanwhile, then 5-second players and a full picture
        for label, value in (('Start (s)', '10'), ('Length (s)', '5')):
            box = driver.execute_script("return [...document.querySelectorAll('.ft-demo .widget-text')].find(w => "
                                        "w.querySelector('label') && w.querySelector('label').textContent.trim() === arguments[0])"
                                        ".querySelector('input')", label)
            box.send_keys(Keys.CONTROL, 'a'); box.send_keys(value, Keys.ENTER)
        s = wait_for('the new excerpt', lambda: (s := state()) and 'excerpt is now 5.0 s from 10.0 s' in s['status'] and s, timeout=20)
        c.check(not s['audio'] and not s['picture']['shown'], 'after a new excerpt the old players or picture are still shown')
        mark_players(); click('Separate')
        s = redrawn('+0.3')
        v = shown(s)
        c.check(v['stem'] == 'vocals' and abs(v['duration'] - 5.0) < 0.1, f'the 5-second excerpt: {v}')
        picture_check('a 5-second excerpt')
        lap('5-second excerpt')

        # Save: both files on disk; again: the message names the Overwrite checkbox
        click('Save stems')
        s = wait_for('saving', lambda: (s := state()) and ('saved' in s['status'] or 'not saved' in s['status']) and s, timeout=60)
        out = {stem: folder/'separated'/f'example_mixture_{stem}.wav' for stem in ('Instruments', 'Vocals')}
        import soundfile as sf
        for stem, path in out.items():
            ok = path.is_file()
            c.check(ok, f'Save did not write {path} ({s["status"]!r})')
            if ok:
                info = sf.info(str(path))
                c.check(info.channels == 2 and abs(info.frames/info.samplerate - 5.0) < 0.01, f'{path.name}: {info}')
        click('Save stems')
        s = wait_for('saving again', lambda: (s := state()) and 'not saved' in s['status'] and s, timeout=30)
        c.check('tick Overwrite' in s['status'] and '--overwrite' not in s['status'], f'saving again says {s["status"]!r}')
        lap('Save')
        print(f'saved: {", ".join(p.name for p in out.values())}; again: {s["status"]!r}', flush=True)

        logs = [e for e in driver.get_log('browser') if e['level'] in ('SEVERE', 'ERROR')]
        c.check(not logs, f'console errors: {[e["message"][:300] for e in logs]}')
        for name in ('demo_separated.png', 'demo_knob.png'):
            c.check((shots/name).stat().st_size > 10_000, f'screenshot {name} is blank')
        print(f'screenshots: {shots/"demo_separated.png"}, {shots/"demo_knob.png"}')
    except Exception as e:
        c.check(False, f'{type(e).__name__}: {e}')
        if driver is not None:
            try: driver.save_screenshot(str(shots/'demo_failure.png')); print(f'screenshot of the failure: {shots/"demo_failure.png"}')
            except Exception: pass
    finally:
        if driver is not None: driver.quit()
        if proc is not None:
            proc.terminate()
            try: proc.wait(30)
            except subprocess.TimeoutExpired: proc.kill()
        log.close()
        if c.failed: print(f'JupyterLab log (last lines of {log.name}):\n' + ''.join(open(log.name).readlines()[-30:]))
        if a.keep: print(f'kept {folder}')
        else: shutil.rmtree(folder, ignore_errors=True)
    print('times (s since start): ' + ', '.join(f'{k} {v:.1f}' for k, v in times.items()))
    print(f'demo browser test took {time.time()-t0:.1f} s')
    print(f'demo: {c.passed} checks passed, {len(c.failed)} failed')
    return 1 if c.failed else 0

def _notebook(driver):
    return driver.execute_script("if (!window.jupyterapp) return null;\n" + NOTEBOOK_JS)

if __name__ == '__main__': sys.exit(main())
