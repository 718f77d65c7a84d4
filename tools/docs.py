#!/usr/bin/env python
"""Build the documentation site from the notebooks, offline, without Quarto.

    python tools/docs.py build            # nbs/ -> _proc/ (nbdev) -> build/docs_src/ -> site/
    python tools/docs.py build --force    # ignore nbdev's cache of processed notebooks
    python tools/docs.py serve            # preview site/ on http://127.0.0.1:8000 (after a build)

The steps:
1. nbdev does what `nbdev-docs` does before it calls Quarto: refresh `nbs/_quarto.yml` and `nbs/nbdev.yml`
   (kept, so `nbdev-docs` still works wherever Quarto is installed), write `nbs/sidebar.yml` (the notebook
   order), and process the notebooks into `_proc/` (frontmatter, `#| hide`, `show_doc` for every exported
   name, executed `show_doc` cells, doc links). We skip only `nbdev-proc-nbs`'s attempt to install Quarto.
2. Each processed notebook is turned into a page for Sphinx + myst-nb: the frontmatter becomes the title and
   description, Quarto cell options (`echo`, `output`, `include`, `code-fold`) become myst-nb tags, links into
   the published site become relative links, and every `show_doc` heading gets the anchor Quarto would give it
   (so `audio.html#load_audio` works here as it does on the Quarto site).
3. One page per console script in pyproject's [project.scripts], with its `--help`.
4. Sphinx renders everything (theme Furo) into `site/`; pictures and audio players are the saved outputs.
"""
import argparse, http.server, json, os, re, shutil, subprocess, sys, time, tomllib
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT/'build'/'docs_src'
SITE = ROOT/'site'
HTML = ROOT/'build'/'docs_html'
CONF = ROOT/'docs'
HOME_NB = 'index'               # nbs/index.ipynb is the home page (nbdev's readme_nb)
FIRST_PAGES = ['getting_started']  # pages that come right after the home page, whatever their file name

def log(*a): print('[docs]', *a, flush=True)

# ---------------------------------------------------------------- step 1: nbdev
def nbdev_process(force=False, n_workers=2):
    "Everything `nbdev_docs` does before rendering with Quarto; returns nbdev's config and the `_proc` path."
    os.chdir(ROOT)
    from nbdev.config import get_config
    from nbdev.quarto import refresh_quarto_yml, nbdev_sidebar
    from nbdev.serve import proc_nbs
    cfg = get_config()
    refresh_quarto_yml()
    nbdev_sidebar.__wrapped__()
    try: cache = proc_nbs(n_workers=n_workers, force=force)
    except Exception as e:
        # one notebook nbdev can't process (typically: a cell mixing imports with code that needs earlier,
        # unexported cells) must not take the whole site down: process the rest one by one, and that one
        # with its show_doc outputs made from the exported module instead of from the notebook's cells.
        log(f'warning: nbdev could not process every notebook ({str(e).splitlines()[0]}); retrying one by one')
        cache = _proc_one_by_one(cfg)
    return cfg, Path(cache)

def _proc_one_by_one(cfg):
    from nbdev.doclinks import nbglob
    from nbdev.processors import FilterDefaults, exec_show_docs
    from nbdev.serve import _proc_file
    import nbdev.serve_drv as drv
    cache, path = cfg.config_path/'_proc', cfg.nbs_path
    class NoExec(FilterDefaults):
        def base_procs(self): return [p for p in super().base_procs() if p is not exec_show_docs]
    for s in nbglob(path, func=Path, file_glob='', file_re=''):
        job = _proc_file(s, cache, path)
        if not job: continue
        s, d, x = job
        if s.suffix != '.ipynb':
            drv.main(job); continue
        try: drv.main(job)
        except Exception as e:
            FAILED.append(s.name)
            log(f'warning: {s.name}: nbdev could not execute its show_doc cells: {str(e).splitlines()[0]} ... '
                f'{str(e).strip().splitlines()[-1]}; documenting its exports from the installed module instead')
            drv.main((s, d, NoExec))
            _fill_show_docs(s, d)
        finally: os.environ.pop('IN_TEST', None)
    (cache/'_quarto.yml').exists() or shutil.copy(path/'_quarto.yml', cache/'_quarto.yml')
    return cache

FAILED = []

def _fill_show_docs(src, dst):
    "Give `show_doc(...)` cells without output their markdown, evaluated against the notebook's exported module."
    import importlib
    from nbdev.showdoc import show_doc
    from nbdev.config import get_config
    m = re.search(r'#\|\s*default_exp\s+([\w.]+)', src.read_text())
    ns = {'show_doc': show_doc}
    if m:
        mod = importlib.import_module(f'{get_config().lib_path.name}.{m.group(1)}')
        ns.update({k: getattr(mod, k) for k in dir(mod) if not k.startswith('__')})
    nb = json.loads(dst.read_text())
    for c in nb['cells']:
        src_ = _text(c.get('source', ''))
        if c['cell_type'] != 'code' or c.get('outputs') or not re.search(r'^\s*show_doc\(', src_, flags=re.M): continue
        try: res = eval(_split_directives(src_)[1].strip(), ns)
        except Exception as e:
            log(f'warning: {src.name}: {src_.strip()} failed: {e}'); continue
        c['outputs'] = [{'output_type': 'execute_result', 'execution_count': None, 'metadata': {},
                         'data': {'text/markdown': res._repr_markdown_(), 'text/plain': repr(res)}}]
    dst.write_text(json.dumps(nb))

def sidebar_order(nbs_path):
    "The notebooks in nbdev's sidebar order (nbs/sidebar.yml): a list of (section or None, relative path)."
    import yaml
    side = yaml.safe_load((nbs_path/'sidebar.yml').read_text())
    out = []
    def walk(items, section):
        for it in items:
            if isinstance(it, str): out.append((section, it))
            elif isinstance(it, dict):
                if 'href' in it: out.append((it.get('section'), it['href']))
                walk(it.get('contents', []), it.get('section', section))
    walk(side['website']['sidebar']['contents'], None)
    return out

# ---------------------------------------------------------------- step 2: notebooks -> pages
_re_directive = re.compile(r'^\s*#\|\s*([\w-]+)\s*:?\s*(.*?)\s*$')

def _split_directives(src):
    "Quarto/nbdev `#| key: value` lines at the top of a cell -> (dict, remaining source)."
    lines, opts = src.splitlines(), {}
    i = 0
    while i < len(lines):
        m = _re_directive.match(lines[i])
        if not m: break
        opts[m.group(1)] = m.group(2).strip().strip('"\'')
        i += 1
    return opts, '\n'.join(lines[i:])

def _false(v): return str(v).lower() in ('false', 'no', '0')

def quarto_id(text):
    "The id Quarto (pandoc) gives a heading: lower case, spaces to dashes, keeping letters, digits, `_-.`."
    text = re.sub(r'<[^>]+>', '', text).strip().lower()
    text = re.sub(r'[^\w\s.-]', '', text)
    return re.sub(r'\s+', '-', text)

def _text(x): return ''.join(x) if isinstance(x, list) else (x or '')

class PageMaker:
    def __init__(self, cfg):
        host = (cfg.get('doc_host', '') + cfg.get('doc_baseurl', '')).rstrip('/')
        # links nbdev writes into the published site (`add_links`) -> relative links within this site
        self.re_site = re.compile(re.escape(host) + r'/') if host else None

    nb_pages = {}   # notebook path relative to nbs/ -> page name, for links between notebooks

    def relink(self, md):
        "Links into the published site become relative; links to notebooks become links to their pages."
        if self.re_site: md = self.re_site.sub('', md)
        def nb_link(m):
            page = self.nb_pages.get(m.group(2).lstrip('./'))
            return f'{m.group(1)}{page}.html{m.group(3) or ""})' if page else m.group(0)
        return re.sub(r'(\]\()([\w./-]+\.ipynb)(#[^)\s]*)?\)', nb_link, md)

    def show_doc_md(self, md):
        "show_doc's markdown: drop its leading `---` (the rule is CSS here) and anchor each heading like Quarto."
        md = re.sub(r'^\s*---\s*\n', '', self.relink(md))
        # nbdev's "source" link carries Quarto attributes (float right): make it a link with a class for our CSS
        md = re.sub(r'\[source\]\(([^)\s]+)\)\{[^}]*\}', r'<a class="ft-source" href="\1" target="_blank">source</a>', md)
        def anchor(m):
            qid, text = quarto_id(m.group(2)), m.group(2).strip()
            slug = re.sub(r'\s', '-', re.sub(r'[^\w\s-]', '', text.lower()))  # the id myst_heading_anchors gives
            return f'{m.group(1)} {text}\n' + ('' if qid == slug else f'\n<span id="{qid}"></span>\n')
        return re.sub(r'^(#{2,6})\s+(.+?)\s*$', anchor, md, count=0, flags=re.M)

    def convert(self, nb):
        "A processed notebook (dict) -> (notebook for myst-nb, title)."
        import yaml
        cells, fm = [], {}
        for c in nb['cells']:
            if c['cell_type'] == 'raw' and not fm:
                src = _text(c['source']).strip()
                if src.startswith('---'):
                    try: fm = yaml.safe_load(src.strip('-\n')) or {}
                    except yaml.YAMLError: fm = {}
                    continue
            cells.append(c)
        out = []
        title = fm.get('title')
        has_h1 = any(c['cell_type'] == 'markdown' and re.match(r'\s*# ', _text(c['source'])) for c in cells[:3])
        if title and not has_h1:
            head = f'# {title}\n'
            if fm.get('description'):
                head += f'\n{{.ft-description}}\n{fm["description"]}\n'
            out.append({'cell_type': 'markdown', 'metadata': {}, 'source': head})
        for c in cells:
            src = _text(c['source'])
            if c['cell_type'] == 'markdown':
                if '<!-- WARNING: THIS FILE WAS AUTOGENERATED' in src and len(src) < 80: continue
                out.append({'cell_type': 'markdown', 'metadata': {}, 'source': self.relink(src)})
                if not title:
                    m = re.search(r'^# (.+)$', src, flags=re.M)
                    if m: title = m.group(1).strip()
                continue
            if c['cell_type'] == 'raw':
                out.append({'cell_type': 'raw', 'metadata': c.get('metadata', {}), 'source': src}); continue
            opts, body = _split_directives(src)
            tags = set(c.get('metadata', {}).get('tags', []))
            if _false(opts.get('include', 'true')): continue
            if _false(opts.get('echo', 'true')): tags.add('remove-input')
            if _false(opts.get('output', 'true')): tags.add('remove-output')
            if 'code-fold' in opts and not _false(opts['code-fold']): tags.add('hide-input')
            is_sd = c.get('has_sd') or re.search(r'^\s*show_doc\(', body, flags=re.M)
            outputs = [self.output(o, is_sd) for o in c.get('outputs', [])]
            outputs = [o for o in outputs if o]
            if is_sd: tags.add('ft-api')
            if not body.strip() and not outputs: continue
            if not body.strip(): tags.add('remove-input')
            md = {'tags': sorted(tags)} if tags else {}
            out.append({'cell_type': 'code', 'metadata': md, 'source': body, 'outputs': outputs,
                        'execution_count': None})
        meta = {k: v for k, v in nb.get('metadata', {}).items() if k in ('kernelspec', 'language_info')}
        meta.setdefault('kernelspec', {'name': 'python3', 'display_name': 'Python 3', 'language': 'python'})
        for i, c in enumerate(out): c['id'] = f'cell-{i}'
        return {'cells': out, 'metadata': meta, 'nbformat': 4, 'nbformat_minor': 5}, title or None

    def output(self, o, is_sd):
        o = {k: v for k, v in o.items() if k != 'transient'}
        data = o.get('data')
        if data is not None:
            data = dict(data)
            if 'application/vnd.jupyter.widget-view+json' in data:
                # an interactive widget: it needs a live kernel; say so instead of printing its repr
                return {'output_type': 'display_data', 'metadata': {}, 'data': {'text/html':
                        '<p class="ft-widget-note">(An interactive widget is shown here when the notebook runs '
                        'in Jupyter.)</p>'}}
            if 'text/markdown' in data:
                md = _text(data['text/markdown'])
                data['text/markdown'] = self.show_doc_md(md) if is_sd else self.relink(md)
            o['data'] = data
            o.setdefault('metadata', {})
        if o.get('output_type') == 'execute_result': o['execution_count'] = None
        return o

def page_name(rel, fm_output):
    "The page's file name: nbdev's `output-file` (e.g. `audio.html`) when there is one, else the notebook's stem."
    if fm_output: return Path(fm_output).stem
    return Path(rel).stem

def read_frontmatter(nb):
    import yaml
    for c in nb['cells']:
        if c['cell_type'] == 'raw' and _text(c['source']).strip().startswith('---'):
            try: return yaml.safe_load(_text(c['source']).strip().strip('-\n')) or {}
            except yaml.YAMLError: return {}
        if c['cell_type'] != 'raw': break
    return {}

# ---------------------------------------------------------------- step 3: command-line tools
def console_scripts():
    proj = tomllib.loads((ROOT/'pyproject.toml').read_text()).get('project', {})
    return proj.get('scripts', {})

def script_help(name, target):
    "The `--help` of console script `name` (`module:function`), run through a wrapper like the one pip installs."
    mod, func = target.split(':')
    wrapper = ROOT/'build'/'docs_cli'/name   # named like the script: argparse and fastcore take `prog` from it
    wrapper.parent.mkdir(parents=True, exist_ok=True)
    wrapper.write_text(f'import sys\nfrom {mod} import {func.split(".")[0]}\n'
                       f'if __name__ == "__main__":\n    sys.exit({func}())\n')
    env = dict(os.environ, COLUMNS='88', MPLBACKEND='Agg')
    try:
        r = subprocess.run([sys.executable, str(wrapper), '--help'], capture_output=True, text=True, timeout=120,
                           env=env, cwd=ROOT)
    except subprocess.TimeoutExpired: return None, 'timed out'
    return (r.stdout if r.returncode == 0 and r.stdout.strip() else None), (r.stderr.strip().splitlines() or ['?'])[-1]

def tool_pages(module_pages):
    "One markdown page per console script; returns their page names in order."
    scripts, names = console_scripts(), []
    if not scripts: return names
    (SRC/'cli').mkdir(parents=True, exist_ok=True)
    for name, target in scripts.items():
        mod = target.split(':')[0]
        helptext, err = script_help(name, target)
        page = f'cli/{name}'
        md = [f'# {name}\n']
        nbpage = module_pages.get(mod)
        link = f'[the `{mod.split(".")[-1]}` notebook](../{nbpage}.html)' if nbpage else f'`{mod}`'
        md.append(f'Command-line tool, installed with the package. It runs `{target}`; {link} explains how it works '
                  'and shows it in use.\n')
        if helptext: md.append(f'```text\n$ {name} --help\n{helptext.rstrip()}\n```\n')
        else:
            log(f'warning: `{name} --help` failed: {err}')
            md.append(f'`{name} --help` could not be run when these pages were built ({err}).\n')
        (SRC/f'{page}.md').write_text('\n'.join(md))
        names.append(page)
    return names

# ---------------------------------------------------------------- build
def build(force=False, n_workers=2, quiet=True):
    t0 = time.time()
    cfg, cache = nbdev_process(force=force, n_workers=n_workers)
    t1 = time.time()
    log(f'nbdev processed the notebooks into {cache.relative_to(ROOT)}/ in {t1-t0:.1f} s')
    if SRC.exists(): shutil.rmtree(SRC)
    SRC.mkdir(parents=True)
    maker = PageMaker(cfg)
    pages, module_pages, seen = [], {}, set()   # pages: (section, page name, title)
    order = sidebar_order(cfg.nbs_path)
    for _, rel in order:
        if (cache/rel).suffix == '.ipynb' and (cache/rel).exists():
            fm = read_frontmatter(json.loads((cache/rel).read_text()))
            maker.nb_pages[rel] = (Path(rel).parent/page_name(rel, fm.get('output-file'))).as_posix()
    for section, rel in order:
        src = cache/rel
        if not src.exists() or src.suffix != '.ipynb':
            if src.suffix in ('.md', '.qmd') and src.exists():
                name = Path(rel).with_suffix('').as_posix()
                (SRC/name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(src, SRC/f'{name}.md'); pages.append((section, name, None))
            else: log(f'warning: {rel} is in the sidebar but was not processed; skipped')
            continue
        nb = json.loads(src.read_text())
        fm = read_frontmatter(nb)
        name = (Path(rel).parent/page_name(rel, fm.get('output-file'))).as_posix()
        if Path(rel).stem == HOME_NB and Path(rel).parent == Path('.'): name = 'index'
        if name in seen: name = Path(rel).with_suffix('').as_posix()
        seen.add(name)
        page, title = maker.convert(nb)
        (SRC/name).parent.mkdir(parents=True, exist_ok=True)
        (SRC/f'{name}.ipynb').write_text(json.dumps(page))
        pages.append((section, name, title))
        m = re.search(r'^#\|\s*default_exp\s+(\S+)', ''.join(_text(c['source']) for c in nb['cells'][:40]
                                                             if c['cell_type'] == 'code'), flags=re.M)
        # nbdev removes `default_exp` while processing; read it from the source notebook instead
        srcnb = cfg.nbs_path/rel
        if srcnb.exists():
            m = re.search(r'#\|\s*default_exp\s+([\w.]+)', srcnb.read_text())
            if m: module_pages[f'{cfg.lib_path.name}.{m.group(1)}'] = name
    tools = tool_pages(module_pages)
    # navigation: home, the first pages, then the notebooks in nbdev's order, then the tools
    first = [p for p in pages if p[1] in FIRST_PAGES]
    rest = [p for p in pages if p[1] not in FIRST_PAGES and p[1] != 'index']
    has_home = any(p[1] == 'index' for p in pages)
    groups, cur = [], None
    for section, name, _ in first + rest:
        sec = section or ('Guides' if name in FIRST_PAGES else 'Notebooks')
        if not groups or groups[-1][0] != sec: groups.append((sec, []))
        groups[-1][1].append(name)
    if tools: groups.append(('Command-line tools', tools))
    toc = '\n'.join(f'```{{toctree}}\n:hidden:\n:caption: {sec}\n\n' + '\n'.join(names) + '\n```\n'
                    for sec, names in groups)
    if has_home:
        home = json.loads((SRC/'index.ipynb').read_text())
        home['cells'].append({'cell_type': 'markdown', 'metadata': {}, 'source': toc})
        (SRC/'index.ipynb').write_text(json.dumps(home))
    else:
        desc = cfg.get('description', '')
        links = '\n'.join(f'- [{t or n}]({n}.ipynb)' for _, n, t in first + rest)
        (SRC/'index.md').write_text(f'# {cfg.get("title", cfg.lib_name)}\n\n{desc}\n\n{links}\n\n{toc}')
    (SRC/'pages.json').write_text(json.dumps(
        {'home': 'index', 'notebooks': [n for _, n, _ in first + rest], 'tools': tools}, indent=1))
    t2 = time.time()
    meta = {'title': cfg.get('title', cfg.lib_name), 'version': _version()}
    env = dict(os.environ, FT_DOCS_META=json.dumps(meta))
    if SITE.exists(): shutil.rmtree(SITE)
    cmd = [sys.executable, '-m', 'sphinx', '-b', 'html', '-c', str(CONF), '-j', str(max(1, n_workers)),
           '-w', str(ROOT/'build'/'docs_warnings.txt'), '-E', '-d', str(ROOT/'build'/'docs_doctrees')
           ] + (['-q'] if quiet else []) + [str(SRC), str(HTML)]
    if HTML.exists(): shutil.rmtree(HTML)
    # myst-nb writes the notebooks' images next to the output folder (build/jupyter_execute), so render
    # inside build/ and move the finished site into place
    subprocess.run(cmd, check=True, env=env, cwd=ROOT)
    shutil.move(HTML, SITE)
    shutil.copy(SRC/'pages.json', SITE/'pages.json')
    warns = (ROOT/'build'/'docs_warnings.txt').read_text().strip().splitlines()
    size = sum(f.stat().st_size for f in SITE.rglob('*') if f.is_file())
    log(f'sphinx rendered {len(pages) + len(tools) + (0 if has_home else 1)} pages in {time.time()-t2:.1f} s '
        f'({len(warns)} warning lines, see build/docs_warnings.txt); site/ is {size/2**20:.1f} MiB; '
        f'total {time.time()-t0:.1f} s')
    return SITE

def _version():
    m = re.search(r"__version__\s*=\s*['\"]([^'\"]+)", (ROOT/'frame_transformer'/'__init__.py').read_text())
    return m.group(1) if m else ''

# ---------------------------------------------------------------- serve
class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a): pass

def server(port=8000, host='127.0.0.1', quiet=True):
    "An HTTP server for site/ (not started); `port=0` picks a free port."
    if not (SITE/'index.html').exists(): sys.exit('site/ has no index.html: run `python tools/docs.py build` first')
    handler = partial(_Quiet if quiet else http.server.SimpleHTTPRequestHandler, directory=str(SITE))
    return http.server.ThreadingHTTPServer((host, port), handler)

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest='cmd', required=True)
    b = sub.add_parser('build', help='build the site into site/')
    b.add_argument('--force', action='store_true', help="reprocess every notebook (ignore nbdev's _proc cache)")
    b.add_argument('--workers', type=int, default=2, help='processes for nbdev and Sphinx (default 2)')
    b.add_argument('--verbose', action='store_true', help="show Sphinx's progress")
    s = sub.add_parser('serve', help='preview site/ in a browser')
    s.add_argument('--port', type=int, default=8000)
    s.add_argument('--host', default='127.0.0.1')
    a = p.parse_args(argv)
    if a.cmd == 'build': build(force=a.force, n_workers=a.workers, quiet=not a.verbose)
    else:
        srv = server(a.port, a.host, quiet=False)
        log(f'serving {SITE} on http://{a.host}:{srv.server_address[1]}/ (Ctrl-C stops)')
        try: srv.serve_forever()
        except KeyboardInterrupt: pass

if __name__ == '__main__': main()
