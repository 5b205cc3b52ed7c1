/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }],
    '/node_modules/(mime|unixcrypt)/.+\\.js$': '<rootDir>/test/support/esm-transform.cjs',
  },
  // Packages the handler bundles that ship only ES modules.
  transformIgnorePatterns: ['/node_modules/(?!(mime|unixcrypt)/)'],
  // As scripts/build.mjs aliases it: unixcrypt's ES module, which the handler require()s.
  moduleNameMapper: { '^unixcrypt$': '<rootDir>/node_modules/unixcrypt/dist/index.js' },
  testTimeout: 30000,
};
