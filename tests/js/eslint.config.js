// eslint (flat config) for the web map's script and its tests. Run from the
// repository root: `make lint` (or tests/js/node_modules/.bin/eslint --config
// tests/js/eslint.config.js src/strukturbild/render/assets/map.js tests/js).
"use strict";

const js = require("@eslint/js");
const globals = require("globals");

// Rules beyond eslint's recommended set that find defects in a page's script.
const DEFECTS = {
  eqeqeq: "error",
  "block-scoped-var": "error",   // a var declared in a block and used outside it
  "no-loop-func": "error",       // a closure in a loop that reads the loop's variables
  "no-implicit-globals": "error",
  "no-eval": "error",            // the page shows the data's text: no code from strings
  "no-implied-eval": "error",
  "no-new-func": "error",
  "no-script-url": "error",
  "no-throw-literal": "error",
  "no-self-compare": "error",
  "no-sequences": "error",
  "no-unused-expressions": "error",
  "no-unmodified-loop-condition": "error",
  "no-template-curly-in-string": "error",
  "array-callback-return": "error",
  radix: "error",
  curly: "error",
  "max-len": ["error", {code: 100}],  // as ruff's line length for the Python
};

module.exports = [
  {
    // the page's script: ES5 in strict mode, run in the browser with Leaflet's L
    files: ["src/strukturbild/render/assets/map.js"],
    languageOptions: {
      ecmaVersion: 5,
      sourceType: "script",
      // module: only read by the guarded export for these tests (tests/js)
      globals: {...globals.browser, L: "readonly", module: "readonly"},
    },
    rules: {
      ...js.configs.recommended.rules,
      ...DEFECTS,
      strict: ["error", "function"],
      // ES5 has no `catch {}`: a catch must name the error it does not use
      "no-unused-vars": ["error", {caughtErrors: "none"}],
      // Not enabled, on purpose:
      // - no-shadow: handlers and helpers reuse names of the draw function's `var`s
      //   (j, f, key, n); each is local and read as such.
      // - no-use-before-define: the script's closures read `var`s assigned after them
      //   (hoisted), as ES5 code does.
    },
  },
  {
    // the tests: node, CommonJS
    files: ["tests/js/**/*.js"],
    languageOptions: {ecmaVersion: 2022, sourceType: "commonjs", globals: globals.node},
    rules: {...js.configs.recommended.rules, ...DEFECTS, strict: ["error", "global"]},
  },
];
