# Sphinx configuration for the offline documentation site (`python tools/docs.py build`).
# The pages themselves are generated from nbdev's processed notebooks by tools/docs.py into
# build/docs_src/; this file only says how to render them. nbdev's own Quarto setup
# (nbs/_quarto.yml, nbs/nbdev.yml) is untouched, so `nbdev-docs` still works where Quarto exists.
import json, os
from pathlib import Path

_meta = json.loads(os.environ.get('FT_DOCS_META', '{}'))
project = _meta.get('title', 'frame-transformer')
html_title = project
version = release = _meta.get('version', '')
author = 'frame-transformer maintainers'
copyright = 'frame-transformer maintainers, MIT licence'

extensions = ['myst_nb']
# The notebooks are rendered with the outputs they were saved with (nbdev-test --save); nothing runs here.
nb_execution_mode = 'off'
nb_output_stderr = 'show'
# show_doc's output is markdown; parse it like the notebook's own markdown, so its headings get anchors.
nb_render_markdown_format = 'myst'
nb_merge_streams = True
# No ipywidgets JavaScript from a CDN: the site must work offline (tools/docs.py drops widget views).
nb_ipywidgets_js = {}
myst_enable_extensions = ['amsmath', 'attrs_block', 'attrs_inline', 'colon_fence', 'deflist', 'dollarmath', 'html_image', 'strikethrough']
myst_heading_anchors = 3
# Links are written as they'd be on the Quarto site (`separate.html#separator`) and kept as they are:
# tools/docs.py turns links to notebooks (`22_separate.ipynb`) into links to their pages.
myst_all_links_external = True
suppress_warnings = ['myst.header', 'misc.highlighting_failure', 'toc.not_included']
exclude_patterns = ['_build', '**.ipynb_checkpoints', 'jupyter_execute']
html_theme = 'furo'
html_static_path = [str(Path(__file__).parent/'_static')]
html_css_files = ['ft.css']
html_favicon = str(Path(__file__).parent/'_static'/'favicon.svg')
html_show_sourcelink = False
html_copy_source = False
html_last_updated_fmt = None
html_theme_options = {'navigation_with_keys': True}
pygments_style = 'friendly'

# Math ($...$ in the notebooks) becomes MathML at build time (latex2mathml), which browsers draw natively:
# no MathJax from a CDN, so pages work offline. TeX that latex2mathml can't convert is shown as code.
html_math_renderer = 'ft_mathml'

def _mathml(tex, display):
    import html
    try:
        from latex2mathml.converter import convert
        return convert(tex.strip(), display='block' if display else 'inline')
    except Exception:
        return f'<code class="ft-tex">{html.escape(tex)}</code>'

def _visit_math(self, node):
    self.body.append(_mathml(node.astext(), False)); raise __import__('docutils').nodes.SkipNode

def _visit_math_block(self, node):
    self.body.append(f'<div class="math ft-math">{_mathml(node.astext(), True)}</div>')
    raise __import__('docutils').nodes.SkipNode

def setup(app):
    app.add_html_math_renderer('ft_mathml', (_visit_math, None), (_visit_math_block, None))
