#!/usr/bin/env python
"""Write README.md from nbs/index.ipynb (what nbdev-readme does with Quarto, without Quarto).

    python tools/readme.py          # write README.md
    python tools/readme.py --check  # exit 1 if README.md is not what index.ipynb gives
"""
import json, re, sys
from pathlib import Path

root = Path(__file__).resolve().parent.parent

def _source(cell): return ''.join(cell['source']) if isinstance(cell['source'], list) else cell['source']

def _directives(src): return {l[3:].strip().split(':')[0].strip() for l in src.splitlines() if l.startswith('#|')}

def render(nb_path=root/'nbs'/'index.ipynb'):
    "Markdown of the index notebook: markdown cells as they are, shown code cells fenced, text outputs fenced."
    nb = json.loads(Path(nb_path).read_text())
    parts = ['<!-- Generated from nbs/index.ipynb by tools/readme.py: edit the notebook, not this file. -->']
    for cell in nb['cells']:
        src = _source(cell).strip()
        if cell['cell_type'] == 'markdown':
            parts.append(src)
        elif cell['cell_type'] == 'code' and src:
            d = _directives(src)
            if d & {'hide', 'export', 'exporti', 'default_exp'}: continue
            code = '\n'.join(l for l in src.splitlines() if not l.startswith('#|')).strip()
            if code: parts.append(f'```python\n{code}\n```')
            for out in cell.get('outputs', []):
                text = ''.join(out.get('text', '')) or ''.join(out.get('data', {}).get('text/plain', ''))
                if text.strip() and 'image/png' not in out.get('data', {}): parts.append(f'```\n{text.rstrip()}\n```')
    text = '\n\n'.join(parts) + '\n'
    return re.sub(r'\]\((?!https?:|#|/)([^)]+\.ipynb)\)', r'](nbs/\1)', text)  # notebook links from the repo root

if __name__ == '__main__':
    text, readme = render(), root/'README.md'
    if '--check' in sys.argv:
        if not readme.exists() or readme.read_text() != text:
            sys.exit('README.md is out of date with nbs/index.ipynb: run `python tools/readme.py`')
        print('README.md matches nbs/index.ipynb')
    else:
        readme.write_text(text)
        print(f'wrote {readme}')
