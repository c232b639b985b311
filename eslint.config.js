// ESLint (flat config): typescript-eslint's recommended rules, functions of at most 80 lines in src/, and the
// layering of src/ (docs/architecture.md): each layer imports only from the layers below it.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** src/ folders from the bottom up; a folder may import from itself and the folders before it. */
const LAYERS = [
  ['core', 'util', 'errors.ts'],
  ['reference', 'measure'],
  ['kernels'],
  ['gpu'],
  ['suites', 'results', 'peer'],
  ['run', 'tune', 'profile', 'report'],
  ['cli', 'commands', 'index.ts'],
];

/** What a layer's files may not import: every folder of the layers above it. */
function layerRules() {
  return LAYERS.slice(0, -1).map((layer, index) => {
    const above = LAYERS.slice(index + 1).flat();
    return {
      files: layer.map((folder) => (folder.endsWith('.ts') ? `src/${folder}` : `src/${folder}/**/*.ts`)),
      rules: {
        'no-restricted-imports': [
          'error',
          {
            patterns: [
              {
                regex: `^(\\.\\./)+(${above.map((f) => f.replace('.ts', '')).join('|')})(/|\\.js$)`,
                message: `${layer.join(', ')} is below ${above.join(', ')}: import downwards only (docs/architecture.md)`,
              },
            ],
          },
        ],
      },
    };
  });
}

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'results/**', '.device/**', '.peers/**', 'assets/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' },
      ],
    },
  },
  {
    files: ['src/**/*.ts'],
    rules: { 'max-lines-per-function': ['error', { max: 80, skipBlankLines: true, skipComments: true }] },
  },
  ...layerRules(),
  // The report layer reads results files only: never the GPU, the kernels or the runner.
  {
    files: ['src/report/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { regex: '^(\\.\\./)+(gpu|run|profile|kernels)(/|\\.js$)', message: 'report reads results files only (docs/architecture.md)' },
          ],
        },
      ],
    },
  },
  {
    files: ['scripts/**/*.{js,mjs}', 'bin/**/*.js', 'test/**/*.mjs', 'eslint.config.js'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly', require: 'readonly', module: 'writable' } },
  },
);
