import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import nx from '@nx/eslint-plugin';

export default tseslint.config(
  { ignores: ['**/node_modules/**', '**/dist/**', '**/.herald/**', '**/*.js', '**/*.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    plugins: { '@nx': nx },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-empty': ['error', { allowEmptyCatch: false }],
      '@nx/enforce-module-boundaries': [
        'error',
        {
          allow: [],
          depConstraints: [
            { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:util', 'type:data-access'] },
            { sourceTag: 'type:data-access', onlyDependOnLibsWithTags: ['type:util', 'type:data-access'] },
            { sourceTag: 'type:util', onlyDependOnLibsWithTags: ['type:util'] },
            // Herald as processes on one machine (libs/stack), shared by `npm run dev` and the tests.
            { sourceTag: 'type:stack', onlyDependOnLibsWithTags: ['type:util', 'type:data-access', 'type:stack'] },
            // What a person runs or what builds the images (tools/dev, tools/build): never a test helper.
            { sourceTag: 'type:product-tool', onlyDependOnLibsWithTags: ['type:util', 'type:data-access', 'type:stack'] },
            { sourceTag: 'type:test-util', onlyDependOnLibsWithTags: ['type:util', 'type:data-access', 'type:tool', 'type:stack', 'type:test-util'] },
            { sourceTag: 'type:tool', onlyDependOnLibsWithTags: ['type:util', 'type:data-access', 'type:tool', 'type:stack', 'type:test-util'] },
          ],
        },
      ],
    },
  },
  {
    // Tests may use the test helpers; production code may not.
    files: ['**/*.spec.ts', '**/test/**/*.ts'],
    rules: {
      '@nx/enforce-module-boundaries': [
        'error',
        {
          depConstraints: [{ sourceTag: '*', onlyDependOnLibsWithTags: ['*'] }],
          // Tests are not bundled: they may import a library statically that the code under test
          // loads lazily (the CLI's commands import their heavy libraries when they run).
          checkDynamicDependenciesExceptions: ['@herald/*'],
        },
      ],
    },
  },
);
