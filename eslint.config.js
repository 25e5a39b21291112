// The one-way dependencies of docs/architecture.md (docs/design.md §8), enforced here so a wrong import fails `npm test`.
import tseslint from 'typescript-eslint';

const NODE_BUILTINS = ['node:*', 'fs', 'path', 'os', 'crypto', 'child_process', 'net', 'http', 'https', 'dgram'];
const forbid = (groups, message) => ({ group: groups, message });
const server = forbid(['**/src-server/**'], 'Only tests may import the server.');
const agent = forbid(['**/src-main/**'], 'Only tests may import the agent.');
const renderer = forbid(['**/src-renderer/**'], 'The renderer is loaded by a shell, never imported.');
const sharedCrypto = forbid(
  ['**/src-shared/crypto/**', '**/crypto/**'],
  'The renderer never imports src-shared/crypto.',
);

// SQL lives in src-server/db only (migrations and db/queries/<table>.ts): a string or template literal that starts
// like a statement anywhere else in the server fails lint. Upper-case keywords followed by a space, so prose and the
// HTTP method 'DELETE' pass.
const SQL_START = '/^\\s*(SELECT|INSERT|UPDATE|DELETE|WITH)\\s/';
const SQL_MESSAGE =
  'SQL belongs in src-server/db/queries/<table>.ts (one module per table); call a query function instead.';
const noSqlOutsideDb = {
  files: ['src-server/**/*.ts'],
  ignores: [
    'src-server/db/**',
    // Not moved yet, and on no table of the schema: the sealer's PostgreSQL session probes (pg_stat_activity,
    // advisory locks) and the CLI's engine-to-engine data copy, which walks every table by name. Next: db/.
    'src-server/services/audit-sealer.ts',
    'src-server/cli/**',
  ],
  rules: {
    'no-restricted-syntax': [
      'error',
      { selector: `Literal[value=${SQL_START}]`, message: SQL_MESSAGE },
      { selector: `TemplateLiteral > TemplateElement:first-child[value.raw=${SQL_START}]`, message: SQL_MESSAGE },
    ],
  },
};

function restrict(files, patterns, paths = [], allowTypeImports = false) {
  return {
    files,
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: paths.map((name) => ({
            name,
            message: `${name} is not allowed here (docs/architecture.md)`,
            allowTypeImports,
          })),
          patterns: patterns.map((p) => ({ ...p, allowTypeImports })),
        },
      ],
    },
  };
}

export default tseslint.config(
  {
    ignores: [
      'node_modules/**',
      'dist/**',
      'data/**',
      'test-results/**',
      'playwright-report/**',
      'src-renderer/dist/**',
      'src-server/console/dist/**',
    ],
  },
  ...tseslint.configs.recommended,
  // CommonJS hooks that electron-builder loads with require().
  {
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
    },
  },
  restrict(
    ['src-shared/**/*.ts'],
    [
      server,
      agent,
      renderer,
      forbid(
        NODE_BUILTINS.filter((n) => n !== 'node:*'),
        'src-shared imports no Node built-ins (only src-shared/crypto may use node:crypto).',
      ),
      forbid(
        ['node:*', 'electron'],
        'src-shared is runtime-neutral: no Node built-ins or Electron outside src-shared/crypto.',
      ),
    ],
  ),
  // The one exception: the shared crypto constructions use node:crypto and nothing else from Node.
  {
    files: ['src-shared/crypto/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            server,
            agent,
            renderer,
            forbid(['node:*', '!node:crypto', 'electron'], 'src-shared/crypto may use node:crypto only.'),
          ],
        },
      ],
    },
  },
  restrict(
    ['src-renderer/**/*.ts'],
    [server, agent, sharedCrypto, forbid([...NODE_BUILTINS, 'electron'], 'The renderer is DOM-only.')],
  ),
  restrict(['src-server/**/*.ts'], [agent, renderer, forbid(['electron'], 'The server never imports Electron.')]),
  noSqlOutsideDb,
  // The console's browser app: DOM-only like the renderer, and of the rest of src-server nothing but types (erased
  // from the bundle). `up` is the climb out of console/web from that folder depth; src-shared (not its crypto) stays open.
  ...[
    ['src-server/console/web/*.ts', '\\.\\./'],
    ['src-server/console/web/pages/*.ts', '\\.\\./\\.\\./'],
  ].map(([files, up]) =>
    restrict(
      [files],
      [
        agent,
        renderer,
        sharedCrypto,
        forbid([...NODE_BUILTINS, 'electron'], 'The console web app is DOM-only.'),
        {
          regex: `^${up}(?!(\\.\\./)*src-shared/)`,
          message: 'The console web app imports only console/web and src-shared.',
        },
      ],
      [],
      true,
    ),
  ),
  // The core may use Electron's types (for the ports the shell fills) but never Electron at run time.
  restrict(
    ['src-main/core/**/*.ts'],
    [
      server,
      renderer,
      forbid(
        ['**/electron/**', '**/browser-shell/**', '**/preload/**'],
        'The core is imported by the shells, never the other way round.',
      ),
      forbid(['electron'], 'The core runs in plain Node: Electron types only.'),
    ],
    [],
    true,
  ),
  restrict(
    ['src-main/electron/**/*.ts'],
    [server, renderer, forbid(['**/browser-shell/**'], 'The browser shell is not part of packaged builds.')],
  ),
  restrict(
    ['src-main/preload/**/*.ts'],
    [
      server,
      renderer,
      forbid(['**/core/**', '**/browser-shell/**'], 'The preload exposes the contract only.'),
      forbid(NODE_BUILTINS, 'The sandboxed preload has no Node built-ins.'),
    ],
  ),
  restrict(
    ['src-main/browser-shell/**/*.ts'],
    [
      server,
      renderer,
      forbid(['**/electron/**', '**/preload/**'], 'The browser shell stands beside the Electron shell, not on it.'),
      forbid(['electron'], 'The browser shell runs without Electron.'),
    ],
  ),
);
