// Flat config: typescript-eslint's recommended rules on every TypeScript file of the project.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', '.cache/', 'helm/', 'crds/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Machines stay pure: no Kubernetes client and no wall clock (design.md, "Machines are pure").
    files: ['machines/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['@kubernetes/client-node'], message: 'Machines decide; src/effects talks to Kubernetes.' },
            // Types of the API are shared; nothing else of src/ may reach the machines.
            { group: ['**/src/**'], message: 'Machines may only use types from src/api.', allowTypeImports: true },
          ],
        },
      ],
      'no-restricted-syntax': [
        'error',
        {
          selector: "CallExpression[callee.object.name='Date'][callee.property.name='now']",
          message: 'Time comes in events or context.',
        },
        {
          selector: "NewExpression[callee.name='Date'][arguments.length=0]",
          message: 'Time comes in events or context.',
        },
        {
          selector: 'CallExpression[callee.name=/^set(Timeout|Interval)$/]',
          message: 'Machines schedule nothing themselves.',
        },
      ],
    },
  },
);
