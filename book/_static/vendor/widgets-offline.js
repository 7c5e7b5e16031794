/*
 * Offline set-up for the ipywidgets html-manager (vendor/html-manager/embed-amd.js).
 * Not a vendored file: it is part of this book. myst-nb loads it (nb_ipywidgets_js in
 * book/_config.yml) on pages with widget state, after require.js and before embed-amd.js.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  var here = script.src.replace(/[?#].*$/, "");
  var vendor = here.slice(0, here.lastIndexOf("/") + 1); // absolute URL of _static/vendor/

  // 1. embed-amd.js defines named AMD modules ("@jupyter-widgets/base", ".../controls",
  //    ".../html-manager", ".../html-manager/dist/libembed-amd", ...). Each bundled webpack
  //    runtime derives its public path (Font Awesome fonts etc.) from its module's URL,
  //    which require.js would otherwise resolve relative to the *page*. Map them all to
  //    files in vendor/html-manager/ (the modules are already defined: nothing is fetched).
  var hm = vendor + "html-manager/";
  var paths = { "@jupyter-widgets/html-manager/dist": hm.slice(0, -1) };
  ["base", "base7", "controls", "controls7", "html-manager"].forEach(function (name) {
    paths["@jupyter-widgets/" + name] = hm + name;
  });
  window.requirejs.config({ paths: paths });

  // 2. Widget modules that embed-amd.js does not bundle (anything but @jupyter-widgets/
  //    base, controls and output) are fetched from "<cdn><pkg>@<version>/dist/<file>.js".
  //    Point that at a local folder (absolute URL, so it works at any page depth): vendor
  //    such modules into _static/vendor/npm/. Missing ones 404 locally — never a CDN.
  script.setAttribute("data-jupyter-widgets-cdn", vendor + "npm/");

  // 3. @jupyter-widgets/base's typeset() still calls the MathJax 2 API
  //    (MathJax.Hub.Queue); the book uses MathJax 3. Provide a tiny shim.
  window.addEventListener("load", function () {
    var mj = window.MathJax;
    if (!mj || mj.Hub || !mj.startup || !mj.typesetPromise) { return; }
    mj.Hub = {
      Queue: function (command) {
        var element = Array.isArray(command) ? command[2] : undefined;
        mj.startup.promise = mj.startup.promise
          .then(function () { return mj.typesetPromise(element ? [element] : undefined); })
          .catch(function (err) { console.warn("MathJax typeset of widget failed", err); });
      }
    };
  });
})();
