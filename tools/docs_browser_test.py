#!/usr/bin/env python
"""Open the built documentation site in headless Chromium and check it as a reader would.

    python tools/docs.py build && python tools/docs_browser_test.py [--shots DIR]

Serves site/ on 127.0.0.1 (a free port), drives Debian's `chromium` through `chromedriver` (selenium), and checks:
- every page (home, notebooks, command-line tools, search, index) loads with no console error;
- the navigation on the home page reaches every notebook page, and "next" links walk them in notebook order;
- every image has loaded and has a non-zero size; every audio player has loaded a sound with a duration;
- stem players (the demo) switch stems at the same playback position;
- every link inside the site points at a page that exists and, if it names an anchor, at an anchor that exists;
- every exported function and class (each module's `__all__`) has an API entry (a `show_doc` anchor) on some page.
Saves screenshots of the home page and one tool page (default folder build/docs_screenshots/).
Exit code 0 only if every check passed; the last line reads 'docs: N checks passed, M failed'.
"""
import argparse, inspect, json, shutil, sys, tempfile, threading, time, importlib
from pathlib import Path
from urllib.parse import urljoin, urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT/'tools'))
import docs  # tools/docs.py

CHROME_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run',
                '--disable-quic', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage',
                '--window-size=1366,900', '--hide-scrollbars']

def find_exe(*names):
    for n in names:
        p = shutil.which(n) or (n if Path(n).exists() else None)
        if p: return p
    sys.exit(f'none of {names} found: install the Debian packages chromium and chromium-driver')

def make_driver(profile):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    opts = webdriver.ChromeOptions()
    opts.binary_location = find_exe('chromium', '/usr/bin/chromium', 'chromium-browser')
    for f in CHROME_FLAGS + [f'--user-data-dir={profile}']: opts.add_argument(f)
    opts.set_capability('goog:loggingPrefs', {'browser': 'ALL'})
    # an explicit chromedriver: selenium must not try to download one
    service = Service(executable_path=find_exe('chromedriver', '/usr/bin/chromedriver'))
    d = webdriver.Chrome(options=opts, service=service)
    d.set_page_load_timeout(60)
    d.set_script_timeout(30)
    return d

PAGE_INFO_JS = r"""
const done = arguments[arguments.length - 1];
const waitAudio = a => new Promise(res => {
  if (a.readyState >= 1) return res();
  a.addEventListener('loadedmetadata', () => res(), {once: true});
  a.addEventListener('error', () => res(), {once: true});
  if (a.preload === 'none') a.load();
  setTimeout(res, 10000);
});
const waitImg = i => i.complete ? Promise.resolve() : new Promise(res => {
  i.addEventListener('load', res, {once: true}); i.addEventListener('error', res, {once: true}); setTimeout(res, 10000); });
const imgs = [...document.images], auds = [...document.querySelectorAll('audio')];
Promise.all(imgs.map(waitImg).concat(auds.map(waitAudio))).then(() => {
  done({
    title: document.title,
    ids: [...document.querySelectorAll('[id]')].map(e => e.id),
    links: [...document.querySelectorAll('a[href]')].map(a => a.getAttribute('href')),
    nav: [...document.querySelectorAll('.sidebar-tree a.reference')].map(a => a.getAttribute('href')),
    next: (document.querySelector('a.next-page') || {}).href || null,
    images: imgs.map(i => ({src: (i.currentSrc || i.src).slice(0, 120), w: i.naturalWidth, h: i.naturalHeight,
                            shown_w: i.getBoundingClientRect().width, visible: i.offsetParent !== null})),
    audio: auds.map(a => ({duration: a.duration, ready: a.readyState, error: a.error ? a.error.code : null})),
    text: document.body.innerText.length,
    stems: document.querySelectorAll('.ft-stems').length,
  });
});
"""

SWITCH_JS = r"""
const done = arguments[arguments.length - 1];
const box = document.querySelector('.ft-stems');
const first = [...box.querySelectorAll('audio')].find(a => a.style.display !== 'none');
const go = () => {
  first.currentTime = 1.5;
  setTimeout(() => {
    box.querySelector('button[data-stem=instrumental]').click();
    const shown = [...box.querySelectorAll('audio')].filter(a => a.style.display !== 'none');
    done({shown: shown.map(a => a.dataset.stem).join(','), time: shown.length ? shown[0].currentTime : -1});
  }, 200);
};
if (first.readyState >= 1) go(); else first.addEventListener('loadedmetadata', go, {once: true});
"""

class Checks:
    def __init__(self): self.passed, self.failed = 0, []
    def check(self, ok, what):
        if ok: self.passed += 1
        else:
            self.failed.append(what); print('FAIL', what, flush=True)
        return ok

def exported_names():
    "module -> names in its __all__, for every module in the package's nbdev index."
    from frame_transformer._modidx import d
    out = {}
    for mod in d['syms']:
        try: m = importlib.import_module(mod)
        except Exception as e:  # a module that does not import is a test failure of its own notebook
            print(f'note: cannot import {mod}: {e}'); continue
        # nbdev's show_doc documents functions and classes; exported constants are described in the prose
        out[mod] = [n for n in getattr(m, '__all__', []) if inspect.isclass(getattr(m, n, None))
                    or inspect.isroutine(getattr(m, n, None))]
    return out

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--shots', default=str(ROOT/'build'/'docs_screenshots'), help='folder for the screenshots')
    p.add_argument('--tool-page', default=None, help='page to screenshot as the tool page (default: cli/ft-separate, '
                   'else the separate notebook, else the first command-line tool page)')
    a = p.parse_args(argv)
    t0 = time.time()
    site = docs.SITE
    pages = json.loads((site/'pages.json').read_text())
    srv = docs.server(port=0)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    base = f'http://127.0.0.1:{srv.server_address[1]}/'
    profile = tempfile.mkdtemp(prefix='ft-docs-chromium-')
    c = Checks()
    driver = make_driver(profile)
    shots = Path(a.shots); shots.mkdir(parents=True, exist_ok=True)
    try:
        driver.get_log('browser')  # start with an empty console log
        expected = ['index'] + pages['notebooks'] + pages['tools'] + ['search', 'genindex']
        info = {}
        for name in expected:
            url = urljoin(base, f'{name}.html')
            driver.get(url)
            r = driver.execute_async_script(PAGE_INFO_JS)
            logs = [e for e in driver.get_log('browser') if e['level'] in ('SEVERE', 'ERROR')]
            info[name] = r
            c.check(not logs, f'{name}.html: console errors: {[e["message"][:200] for e in logs]}')
            c.check(r['text'] > 200 and r['title'], f'{name}.html: page is (nearly) empty')
            bad = [i for i in r['images'] if not (i['w'] > 0 and i['h'] > 0 and (i['shown_w'] > 0 or not i['visible']))]
            c.check(not bad, f'{name}.html: images that did not render: {bad}')
            badau = [x for x in r['audio'] if x['error'] is not None or not (x['duration'] and x['duration'] > 0)]
            c.check(not badau, f'{name}.html: audio players without sound: {badau}')
            print(f'{name}.html: {len(r["images"])} images, {len(r["audio"])} audio players, '
                  f'{len(r["links"])} links, {len(logs)} console errors', flush=True)
        # stem players (the demo): switching stems keeps the playback position
        for name, r in info.items():
            if not r.get('stems'): continue
            driver.get(urljoin(base, f'{name}.html'))
            driver.execute_async_script(PAGE_INFO_JS)
            res = driver.execute_async_script(SWITCH_JS)
            c.check(res.get('shown') == 'instrumental' and abs(res.get('time', -1) - 1.5) < 0.05,
                    f'{name}.html: switching stems did not keep the position: {res}')
            print(f'{name}.html: stem switch kept the position ({res})', flush=True)
        # navigation: the home page's sidebar reaches every notebook and tool page
        nav = {urlparse(urljoin(base + 'index.html', h)).path.lstrip('/') for h in info['index']['nav']}
        for name in pages['notebooks'] + pages['tools']:
            c.check(f'{name}.html' in nav, f'navigation on the home page does not reach {name}.html')
        # ... and "next" walks the notebooks in notebook order
        order, url = [], urljoin(base, 'index.html')
        for _ in range(len(expected) + 2):
            nxt = info.get(Path(urlparse(url).path.lstrip('/')).with_suffix('').as_posix(), {}).get('next')
            if not nxt: break
            url = nxt; order.append(Path(urlparse(nxt).path.lstrip('/')).with_suffix('').as_posix())
        c.check(order[:len(pages['notebooks'])] == pages['notebooks'],
                f'"next" links do not follow notebook order: {order} vs {pages["notebooks"]}')
        # links inside the site: target page exists and so does the anchor
        nbad = 0
        for name, r in info.items():
            for h in r['links']:
                u = urlparse(urljoin(urljoin(base, f'{name}.html'), h))
                if u.scheme not in ('http', 'https') or u.netloc != urlparse(base).netloc: continue
                target = u.path.lstrip('/') or 'index.html'
                tname = Path(target).with_suffix('').as_posix()
                if tname in info:
                    ok = not u.fragment or u.fragment in info[tname]['ids']
                else: ok = (site/target).exists()
                if not ok: nbad += 1
                c.check(ok, f'{name}.html: broken link {h}')
        # API reference: every exported name has an anchor somewhere
        ids = {i for r in info.values() for i in r['ids']}
        for mod, names in exported_names().items():
            missing = [n for n in names if n.lower() not in ids and n.lower().replace('_', '-') not in ids]
            c.check(not missing, f'{mod}: exported names without an API entry in the docs: {missing}')
        # screenshots: the home page and one tool page
        tool = a.tool_page or next((p for p in ['cli/ft-separate', 'separate'] if p in info),
                                   pages['tools'][0] if pages['tools'] else pages['notebooks'][-1])
        for nm, fn, height in [('index', 'home.png', 900), (tool, 'tool.png', 2400)]:
            driver.set_window_size(1366, height)
            driver.get(urljoin(base, f'{nm}.html'))
            driver.execute_async_script(PAGE_INFO_JS)
            full = driver.execute_script('return document.documentElement.scrollHeight')
            if full < height: driver.set_window_size(1366, max(900, full))
            driver.save_screenshot(str(shots/fn))
            c.check((shots/fn).stat().st_size > 10_000, f'screenshot {fn} of {nm}.html is blank')
        print(f'screenshots: {shots/"home.png"} (home), {shots/"tool.png"} ({tool}.html)')
    finally:
        driver.quit(); srv.shutdown(); shutil.rmtree(profile, ignore_errors=True)
    print(f'browser test of {len(info)} pages took {time.time()-t0:.1f} s')
    print(f'docs: {c.passed} checks passed, {len(c.failed)} failed')
    return 1 if c.failed else 0

if __name__ == '__main__': sys.exit(main())
