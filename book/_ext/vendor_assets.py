"""Keep the vendored JavaScript in ``_static/vendor/`` off pages that don't need it.

Jupyter Book 1.x adds *every* ``*.js``/``*.css`` file found under ``_static/`` to
``html_js_files``/``html_css_files``, i.e. to every page. The vendored files in
``_static/vendor/`` must only be loaded where they are needed:

* ``vendor/mathjax/tex-mml-chtml.js`` through ``mathjax_path`` (sphinx.ext.mathjax
  adds it to pages with math), which then loads its own fonts/extensions;
* ``vendor/requirejs/require.js`` and ``vendor/html-manager/embed-amd.js`` through
  myst-nb's ``nb_ipywidgets_js`` (only pages whose notebook stores widget state).

Loading require.js or the MathJax extension files globally would break other scripts.

It also blanks the only external script URL that Jupyter Book 1.x still writes into
every page: sphinx-thebe's hard-coded ``THEBE_JS_URL`` (unpkg.com), which would only
be fetched when a reader clicks a Thebe "live code" button. Thebe is not enabled in
this book (it needs a Binder server, i.e. the network), so the URL is emptied.
"""

VENDOR_PREFIX = "vendor/"


def _drop_vendor(entries):
    kept = []
    for entry in entries:
        name = entry[0] if isinstance(entry, (tuple, list)) else entry
        if not str(name).startswith(VENDOR_PREFIX):
            kept.append(entry)
    return kept


def _config_inited(app, config):
    config.html_js_files = _drop_vendor(config.html_js_files)
    config.html_css_files = _drop_vendor(config.html_css_files)


_EXTERNAL_INLINE_URLS = ("https://unpkg.com/thebe@",)


# Runs early (priority 400): Sphinx emits html-page-context with emit_firstresult, so a
# late handler may be skipped when a theme handler returns a template name.


def _blank_external_inline_urls(app, pagename, templatename, context, doctree):
    for script in context.get("script_files", []):
        attributes = getattr(script, "attributes", None)
        body = attributes.get("body") if isinstance(attributes, dict) else None
        if not body:
            continue
        for prefix in _EXTERNAL_INLINE_URLS:
            while prefix in body:
                start = body.index(prefix)
                end = body.index('"', start)  # the URL sits in a "..." JS string
                body = body[:start] + body[end:]
        attributes["body"] = body
    # sphinx-thebe registers its inline config script once per read phase, so it can
    # appear twice -> "Identifier 'THEBE_JS_URL' has already been declared".
    seen, unique = set(), []
    for script in context.get("script_files", []):
        attributes = getattr(script, "attributes", None)
        body = attributes.get("body") if isinstance(attributes, dict) else None
        # inline scripts only (filename None or ""); the duplicates differ in filename
        key = body if body and not getattr(script, "filename", None) else None
        if key is not None and key in seen:
            continue
        if key is not None:
            seen.add(key)
        unique.append(script)
    if "script_files" in context:
        # in place: it is the builder's own list, to which later handlers still append
        context["script_files"][:] = unique


def setup(app):
    app.connect("config-inited", _config_inited)
    app.connect("html-page-context", _blank_external_inline_urls, priority=400)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
