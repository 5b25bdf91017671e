import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'test-output/', 'web/dist/', 'bench/results/', '.notes/'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
      'no-restricted-imports': [
        'error',
        {
          paths: [
            { name: 'child_process', message: 'Run commands through the Host port (src/host/).' },
            { name: 'node:child_process', message: 'Run commands through the Host port (src/host/).' },
          ],
        },
      ],
    },
  },
  {
    // The Host port and the scripts are the only places allowed to touch the machine directly.
    files: ['src/host/**', 'scripts/**', 'test/**', 'bench/**', 'src/**/*.test.ts', 'src/test-support/**'],
    rules: { 'no-restricted-imports': 'off' },
  },
  {
    // Tests read JSON bodies of many shapes; typing each would add noise, not safety.
    files: ['test/**', 'src/**/*.test.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off', '@typescript-eslint/no-non-null-assertion': 'off' },
  },
);
