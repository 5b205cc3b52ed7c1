/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }],
    '/node_modules/mime/.+\\.js$': '<rootDir>/test/support/esm-transform.cjs',
  },
  // Packages the handler bundles that ship only ES modules.
  transformIgnorePatterns: ['/node_modules/(?!mime/)'],
  testTimeout: 30000,
};
