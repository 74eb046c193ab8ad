// ESLint (flat config) with typescript-eslint; `npm run lint` (part of `npm test`) allows no warning.
'use strict';
const js = require('@eslint/js');
const tseslint = require('typescript-eslint');

module.exports = tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'data/**', 'dashboard/**', 'examples/**', 'flows/**', 'coverage/**'] },
  { linterOptions: { reportUnusedDisableDirectives: 'error' } },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      // unused parameters / destructured leftovers are named _x on purpose (Express error handlers, Node-RED callbacks)
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', destructuredArrayIgnorePattern: '^_' }],
      // `import fs = require('fs')` compiles to a plain require (gatepost-lpr's start-up), and is typed
      '@typescript-eslint/no-require-imports': ['error', { allowAsImport: true }],
      // `const node = this` is the Node-RED idiom for a node's constructor; `self` in the emulators
      '@typescript-eslint/no-this-alias': ['error', { allowedNames: ['node', 'self'] }],
      // `any` is allowed at the untyped boundaries (Node-RED messages and node objects, Express, parsed JSON);
      // the domain code below keeps it out
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
  {
    // the domain core, device drivers and services are typed through: no `any`
    files: ['src/core/**/*.ts', 'src/devices/**/*.ts', 'src/services/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'error' },
  },
  {
    // require() on purpose: lazy loading for start-up time (gatepost-lpr's normal path loads only fs, path
    // and net), optional modules (dotenv, aedes, tls), and paths known only at run time (settings.js,
    // bench modules, the dashboard sources, test fixtures); CommonJS scripts
    files: ['src/cli/**/*.ts', 'src/runtime/broker.ts', 'src/runtime/config.ts', 'src/runtime/main.ts', 'src/runtime/node-red.ts', 'bench/**/*.ts', 'tests/**/*.ts', '**/*.js'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // heavy optional modules required on first use through lazy() (src/core/lazy.ts), so a runtime
    // without their feature never loads them (tests/integration/footprint.test.ts)
    files: [
      'src/devices/ivms-source.ts',
      'src/services/telegram-bot.ts',
      'src/services/upload-service.ts',
      'src/ops/doctor.ts',
      'src/api/people.ts',
      'src/media/qr-decoder.ts',
      'src/media/face-recogniser.ts',
    ],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // its topic checks look for control characters on purpose
    files: ['src/runtime/mqtt-acl.ts'],
    rules: { 'no-control-regex': 'off' },
  },
  {
    files: ['**/*.js'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: {
        require: 'readonly',
        module: 'writable',
        exports: 'writable',
        process: 'readonly',
        __dirname: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        setImmediate: 'readonly',
        URL: 'readonly',
      },
    },
  },
);
