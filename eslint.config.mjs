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
    // The message's path (per request, per push, per write window, per stored batch): no named
    // closure made per call. The build keeps function names (esbuild `keepNames`, and tsx when run
    // from source), which wraps each one in a defineProperty call every time it is made: ~2 µs a
    // request in ingest (docs/BENCHMARKS.md, "Names kept per call"). Pass closures unnamed where
    // they are made, or make them methods or module functions. Constructors run once: not checked.
    files: [
      'apps/ingest/src/routes/messages.ts',
      'apps/ingest/src/sending/**/*.ts',
      'apps/ingest/src/events/event-outbox.ts',
      'apps/gateway/src/sessions/session.ts',
      'apps/gateway/src/sessions/hub.ts',
      'apps/gateway/src/delivery/{drain,pending-queue,body-store,live-router}.ts',
      'apps/gateway/src/exposure/**/*.ts',
      'apps/gateway/src/acks/**/*.ts',
      'apps/gateway/src/frames/**/*.ts',
      'libs/redis/src/{send-batch,send-chunk,acked-ids,inbox,resp-writer,encoded-script,category-log,exposure-wal,write-window}.ts',
      'libs/pubsub/src/batch-publisher.ts',
      'apps/exposure-consumer/src/db/{batch-statement,event-writer}.ts',
      'apps/exposure-consumer/src/ingest/{batch-writer,exposure-subscriber,shared-message,parse-event,parse-exposure,parse-fields}.ts',
    ],
    ignores: ['**/*.spec.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: ":function VariableDeclarator > :matches(ArrowFunctionExpression, FunctionExpression).init:not(MethodDefinition[kind='constructor'] *)",
          message: 'A named closure made per call costs a defineProperty in the build (keepNames): pass it unnamed, or make it a method or a module function.',
        },
        {
          selector: ":function FunctionDeclaration:not(MethodDefinition[kind='constructor'] *)",
          message: 'A function declared inside another costs a defineProperty per call in the build (keepNames): move it to the module.',
        },
        {
          selector: ':function :matches(ClassDeclaration, ClassExpression)',
          message: 'A class made inside a function costs a defineProperty per call in the build (keepNames): move it to the module.',
        },
        {
          selector: ":function Property > :matches(ArrowFunctionExpression, FunctionExpression).value:not(MethodDefinition[kind='constructor'] *)",
          message: "An object literal's function made per call costs a defineProperty in the build (keepNames): make it a method or a module function.",
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
